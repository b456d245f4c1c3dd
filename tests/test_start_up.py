"""Start-up: each command imports what it uses when it runs, so `--help` loads no catalog,
render or review code (nor pydantic), and `validate` no review, cost or chart code."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PLATFORM_FIXTURE, REPO

PROBE = """
import contextlib, io, json, sys
from components.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(*argv: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=PLATFORM_FIXTURE, capture_output=True,
                            text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_help_imports_no_catalog_render_or_review_code():
    loaded = modules_after("--help")
    assert not {m for m in loaded if m.startswith(("components.catalog", "components.render", "components.review",
                                                     "pydantic", "yaml", "importlib.metadata"))}


def test_validate_imports_no_review_or_chart_code():
    loaded = modules_after("validate")
    assert "components.catalog.model_spec" in loaded  # it did validate
    assert not {m for m in loaded if m.startswith(("components.review", "components.charts", "components.cli.codeowners",
                                                     "components.catalog.json_schema"))}

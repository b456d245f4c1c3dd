"""The layering contract: the pure layers and the CLI never need ``pulumi``."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

from tests.conftest import REPO

PURE_PACKAGES = ("components/catalog", "components/render", "components/review")
PURE_MODULES = (
    "components/__init__.py", "components/platform_names.py", "components/pins.py", "components/cli.py",
    "components/inputs.py", "components/codeowners.py",
)


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def pure_files():
    for package in PURE_PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))
    for module in PURE_MODULES:
        yield REPO / module


def test_pure_layers_do_not_import_pulumi():
    offenders = [
        str(path.relative_to(REPO))
        for path in pure_files()
        if any(name == "pulumi" or name.startswith(("pulumi.", "pulumi_")) for name in imported_modules(path))
    ]
    assert offenders == []


def test_pure_layers_import_with_pulumi_unavailable():
    """Importing with ``pulumi`` blocked proves no indirect import drags it in either."""
    code = (
        "import sys\n"
        "for name in ('pulumi', 'pulumi_aws', 'pulumi_kubernetes'):\n"
        "    sys.modules[name] = None\n"
        "import components.catalog, components.render.stack_render, components.cli\n"
        "import components.review.compare, components.review.endpoints, components.codeowners\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_render_does_not_reach_into_the_cli():
    for path in sorted((REPO / "components/render").rglob("*.py")):
        assert "components.cli" not in imported_modules(path), path
    for path in sorted((REPO / "components/catalog").rglob("*.py")):
        assert not any(m.startswith(("components.render", "components.cli")) for m in imported_modules(path)), path

"""Property: whatever a catalog pull request puts in a model, team or stack file, validate, render
and diff answer with exit code 0, 1 or 3 and never a traceback, take seconds at most, and write
nothing when they refuse.

The suite runs a few dozen mutated inputs (MODELPLANE_FUZZ_EXAMPLES, default 25); `make fuzz` runs
the same property for as long as it is given (tests/fuzz.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.cli.main import main
from tests.conftest import MODEL, STACK_CONFIG, TEAM

EXAMPLES = int(os.environ.get("MODELPLANE_FUZZ_EXAMPLES", "25"))
# Not a speed target: a runaway check (quadratic, unbounded) shows up as minutes, not seconds.
RUNAWAY_SECONDS = 20.0

FILES = {
    "models/fraud/team.yaml": TEAM,
    "models/fraud/scorer.yaml": MODEL,
    "stacks/Pulumi.dev.yaml": {"config": STACK_CONFIG},
}
HOSTILE_TEXT = [
    "", " ", "\x00", "\r\n# heading", "```", "<!--", "${aws:username}", "*", "../..", "/etc/passwd",
    "s3://acme-pulumi-state/.pulumi/", "s3://models-bucket/fraud/../search/", "9" * 400, "1e400", "-1",
    ".inf", ".nan", "!!python/object:os.system", "yes", "null", "~", "0x10", "1_000", "1Ei", "99999999Pi",
    "system:authenticated", "@org/`team`", "K_SERVICE", "a" * 5000,
]
hostile_values = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(HOSTILE_TEXT), max_size=4),
    st.dictionaries(st.sampled_from(HOSTILE_TEXT + ["cpu", "gpu", "name"]), st.sampled_from(HOSTILE_TEXT), max_size=3),
)


@dataclass(frozen=True)
class Mutation:
    file: str
    kind: str  # value, delete, add, text
    path_choice: int
    value: Any
    text_position: int
    text_insert: str
    with_diff: bool


mutations = st.builds(
    Mutation,
    file=st.sampled_from(sorted(FILES)),
    kind=st.sampled_from(["value", "value", "delete", "add", "text"]),
    path_choice=st.integers(min_value=0, max_value=10_000),
    value=hostile_values,
    text_position=st.integers(min_value=0, max_value=10_000),
    text_insert=st.one_of(st.sampled_from(["\n", ": ", "- ", "{", "[", "&a ", "*a", "!!str ", "\t", "'", '"', "%", "---\n"]),
                          st.text(max_size=8)),
    with_diff=st.booleans(),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a parsed file, containers and leaves alike."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutated_text(mutation: Mutation) -> str:
    document = yaml.safe_load(yaml.safe_dump(FILES[mutation.file]))
    text = yaml.safe_dump(document, sort_keys=False)
    if mutation.kind == "text":
        at = mutation.text_position % (len(text) + 1)
        return text[:at] + mutation.text_insert + text[at:]
    paths = _paths(document)
    path = paths[mutation.path_choice % len(paths)]
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if mutation.kind == "delete":
        del parent[path[-1]]
    elif mutation.kind == "add" and isinstance(parent, dict):
        parent[f"unexpected_{mutation.path_choice}"] = mutation.value
    else:
        parent[path[-1]] = mutation.value
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _run(root: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        os.chdir(previous)
    return code, out.getvalue(), err.getvalue()


def _git(root: Path, *argv: str) -> None:
    subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True)


def _assert_refused_cleanly(code: int, out: str, err: str) -> None:
    if code == 1:
        assert out == "", "output on failure"
        assert err.strip(), "a refusal without a message"
        assert "Traceback" not in err


def check_mutation(mutation: Mutation) -> None:
    with tempfile.TemporaryDirectory(prefix="modelplane-fuzz-") as tmp:
        root = Path(tmp)
        for relative, content in FILES.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        if mutation.with_diff:
            _git(root, "init", "-q", "-b", "main")
            _git(root, "add", "-A")
            _git(root, "-c", "user.email=f@example.com", "-c", "user.name=f", "commit", "-q", "-m", "base")
        (root / mutation.file).write_text(_mutated_text(mutation), encoding="utf-8")

        started = time.monotonic()
        code, out, err = _run(root, "validate")
        assert code in (0, 1)
        _assert_refused_cleanly(code, out, err)

        rendered = root / "rendered"
        code, out, err = _run(root, "render", "--stack", "dev", "--out", str(rendered))
        assert code in (0, 1)
        _assert_refused_cleanly(code, out, err)
        if code == 1:
            assert not rendered.exists(), "render wrote output it then refused"

        if mutation.with_diff:
            code, out, err = _run(root, "diff", "--stack", "dev", "--base", "main")
            assert code in (0, 1, 3)
            _assert_refused_cleanly(code, out, err)
        assert time.monotonic() - started < RUNAWAY_SECONDS


def property_test(examples: int):
    """The property as a Hypothesis test of ``examples`` inputs (no example database: the runs of
    `make fuzz` start afresh)."""
    return settings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(mutation=mutations)(check_mutation))


test_mutated_catalog_files_never_crash = property_test(EXAMPLES)

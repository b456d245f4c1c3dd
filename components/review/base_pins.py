"""The pins of a git ref: the base side of ``diff`` and ``review`` rendered with the versions
``components/pins.py`` held there, so a pin-bump pull request shows object by object.

The base's ``pins.py`` is read, not run: every module-level constant must be a literal, a tuple,
list or dict of them, an f-string of constants defined above it, or ``ChartPin(...)`` of those.
Running a file from another ref would execute whatever it holds; reading it runs nothing.
"""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path
from typing import Any, Iterator

from components import pins
from components.catalog.problems import InputError, Problem
from components.review.git_base import file_at_ref

PINS_FILE = "components/pins.py"


class _NotALiteral(Exception):
    pass


def _value(node: ast.expr, known: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_value(item, known) for item in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_value(k, known): _value(v, known) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and part.conversion == -1 and part.format_spec is None:
                parts.append(str(_value(part.value, known)))
            elif isinstance(part, ast.Constant):
                parts.append(str(part.value))
            else:
                raise _NotALiteral
        return "".join(parts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "ChartPin":
        return pins.ChartPin(*(_value(arg, known) for arg in node.args),
                             **{keyword.arg: _value(keyword.value, known) for keyword in node.keywords if keyword.arg})
    raise _NotALiteral


def read_pins(text: str, origin: str) -> dict[str, Any]:
    """Every upper-case module-level constant of a ``pins.py`` text, by name."""
    try:
        module = ast.parse(text)
    except SyntaxError as error:
        raise InputError([Problem(origin, f"line {error.lineno}", f"is not Python: {error.msg}")]) from None
    known: dict[str, Any] = {}
    problems = []
    for statement in module.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id.isupper()):
            continue
        try:
            known[target.id] = _value(value, known)
        except (_NotALiteral, TypeError):
            problems.append(Problem(origin, target.id, (
                "cannot be read without running the file: a pin must be a literal, an f-string of the "
                "constants above it or ChartPin(...) of those; write the version out"
            )))
    if problems:
        raise InputError(problems)
    return known


def pins_at_ref(anchor: Path, ref: str) -> dict[str, Any] | None:
    """The pins of ``components/pins.py`` at ``ref`` in the repository holding ``anchor``, or
    ``None`` when that repository has no such file there (a platform repository that installs
    modelplane: both sides then use the installed pins)."""
    text = file_at_ref(anchor, ref, PINS_FILE)
    return None if text is None else read_pins(text, f"{ref}:{PINS_FILE}")


@contextlib.contextmanager
def rendering_with(base_pins: dict[str, Any] | None) -> Iterator[None]:
    """Render with ``base_pins`` in place of the running pins (the renderer reads ``pins.X`` when it
    runs), restored afterwards. A constant the running code lacks, or of another type, is left out:
    the current render code cannot use it."""
    if not base_pins:
        yield
        return
    saved = {}
    for name, value in base_pins.items():
        current = getattr(pins, name, None)
        if current is not None and type(current) is type(value):
            saved[name] = current
    try:
        for name in saved:
            setattr(pins, name, base_pins[name])
        yield
    finally:
        for name, value in saved.items():
            setattr(pins, name, value)

"""How one field change reads in the text and markdown diffs, in full.

Short values print on the line of their path; long strings, embedded JSON or YAML and whole list
items print as diff lines below it (a unified diff of their lines when both sides exist), so what
changed is always visible, never cut off.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from components.review import markdown
from components.review.field_changes import ADDED, CHANGED, REMOVED, FieldChange, comparable_text, escape_controls, line_diff

# Values up to this long print on the line of their path.
INLINE_WIDTH = 80
# Markdown folds diff blocks longer than this under a summary.
FOLD_LINES = 20
_WORD = {ADDED: "added ", REMOVED: "removed ", CHANGED: ""}


def inline_value(value: Any) -> str | None:
    """``value`` as JSON on one line (``"1"`` and ``1`` differ), or None when it is too long or
    has lines of its own."""
    if isinstance(value, str) and "\n" in value:
        return None
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= INLINE_WIDTH else None


def block_text(value: Any) -> str:
    """``value`` as lines to compare: a string as it is (embedded JSON pretty-printed), anything
    else as YAML, in the order it is rendered."""
    if isinstance(value, str):
        return comparable_text(value)
    dumped = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1_000_000)
    return dumped.removesuffix("\n").removesuffix("\n...")


def diff_lines(change: FieldChange) -> list[str]:
    """The change as lines of a diff: ``+``/``-`` before each line of an added or removed value,
    a unified diff of the lines of a changed one."""
    if change.action == ADDED:
        return ["+" + escape_controls(line) for line in block_text(change.after).split("\n")]
    if change.action == REMOVED:
        return ["-" + escape_controls(line) for line in block_text(change.before).split("\n")]
    return line_diff(block_text(change.before), block_text(change.after))


def _inline_pair(change: FieldChange) -> tuple[str | None, str | None] | None:
    """The before and after values to print on one line, or None when either needs a block."""
    before = inline_value(change.before) if change.action != ADDED else None
    after = inline_value(change.after) if change.action != REMOVED else None
    if (change.action != ADDED and before is None) or (change.action != REMOVED and after is None):
        return None
    return before, after


def text_lines(change: FieldChange) -> list[str]:
    """The change in the text diff: one line, or a headline with diff lines indented below."""
    path = escape_controls(change.path)
    mark = {ADDED: "+ ", REMOVED: "- ", CHANGED: ""}[change.action]
    pair = _inline_pair(change)
    if pair is not None:
        before, after = pair
        shown = f"{before} -> {after}" if change.action == CHANGED else (after if change.action == ADDED else before)
        return [f"{mark}{path}: {shown}"]
    return [f"{mark}{path}:"] + ["    " + line for line in diff_lines(change)]


def markdown_lines(change: FieldChange) -> list[str]:
    """The change as a markdown list item; a value too long for one line follows in a fenced diff
    block, folded when long."""
    headline = f"- {_WORD[change.action]}{markdown.code(change.path)}"
    pair = _inline_pair(change)
    if pair is not None:
        before, after = pair
        if change.action == CHANGED:
            return [f"{headline}: {markdown.code(before)} → {markdown.code(after)}"]
        return [f"{headline}: {markdown.code(after if change.action == ADDED else before)}"]
    lines = diff_lines(change)
    block = markdown.code_block(lines, "diff")
    if len(lines) > FOLD_LINES:
        block = markdown.folded(f"{len(lines)} lines", block)
    # The blank line after the block ends it (an HTML block runs to the next blank line).
    return [f"{headline}:", ""] + markdown.indented(block, "  ") + [""]

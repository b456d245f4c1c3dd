"""Markdown that stays well-formed whatever the values in it contain.

The review is posted as a pull-request comment, and values come from catalog files, stack settings
and Helm values: a backtick run, ``<!--`` or a line break in one must not close a code block, hide
the rest of the comment or start a heading of its own.
"""

from __future__ import annotations

import html
import re

from components.review.field_changes import escape_controls

# Characters that Markdown would read as emphasis, code, links or table cells.
_MARKUP = re.compile(r"([\\`*_\[\]|])")
_BACKTICKS = re.compile(r"`+")


def text(value: str) -> str:
    """Plain text on one line: no raw HTML (``<``, ``>``, ``&`` as entities), no markup."""
    return _MARKUP.sub(r"\\\1", html.escape(escape_controls(value), quote=False))


def _longest_backtick_run(lines: list[str]) -> int:
    return max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)


def code(value: str) -> str:
    """An inline code span that no backtick in ``value`` can close."""
    content = escape_controls(value)
    fence = "`" * (_longest_backtick_run([content]) + 1)
    # One space on each side is stripped by the reader; it keeps a backtick at either end apart
    # from the fence.
    if content.startswith(("`", " ")) or content.endswith(("`", " ")):
        content = f" {content} "
    return f"{fence}{content}{fence}"


def code_block(lines: list[str], info: str = "") -> list[str]:
    """A fenced code block longer than any backtick run inside, so no line of it can close it."""
    content = [escape_controls(line) for line in lines]
    fence = "`" * max(3, _longest_backtick_run(content) + 1)
    return [fence + info, *content, fence]


def folded(summary: str, lines: list[str]) -> list[str]:
    """``lines`` folded under a one-line ``summary``."""
    return [f"<details><summary>{html.escape(escape_controls(summary), quote=False)}</summary>", "", *lines, "", "</details>"]


def indented(lines: list[str], prefix: str) -> list[str]:
    """``lines`` nested under a list item (blank lines stay empty)."""
    return [prefix + line if line else "" for line in lines]

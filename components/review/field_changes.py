"""Field-level differences between two renders of one object, as a reviewer reads them.

Lists are compared item by item rather than as one value: items that Kubernetes, Prometheus or IAM
know by a field (a container's ``name``, a rule's ``alert``) are matched on it, plain values (the
Gateway's hosts) by value, anything else by position. Matched items are compared field by field,
so one changed rule among twenty shows as that rule's changed field.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
# The fields that identify an item of a list, the first one present wins: `name` in most
# Kubernetes lists (containers, env, ports, volumes, HTTP routes, rule groups), the alert or record
# name of a Prometheus rule, the Sid of an IAM statement.
IDENTITY_FIELDS = ("name", "alert", "record", "Sid")
# modelplane renders one rule of each name per model or GPU pool; these labels tell them apart.
RULE_SUBJECT_LABELS = ("model", "node_pool", "resource")


@dataclass(frozen=True)
class FieldChange:
    """One difference at ``path``: a field or list item ``added`` (``before`` is None) or
    ``removed`` (``after`` is None), or a value ``changed``.

    A list item's path ends with how it is known (``rules[alert=ModelLatencyHigh,model=scorer]``)
    or its position (``[2]``, in the head for added and changed items, in the base for removed
    ones); a plain value added to or removed from a list has the list's path.
    """

    path: str
    before: Any
    after: Any
    action: str = CHANGED


def field_changes(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Every difference between ``before`` and ``after``, down to the changed leaves."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                changes.append(FieldChange(sub, None, after[key], ADDED))
            elif key not in after:
                changes.append(FieldChange(sub, before[key], None, REMOVED))
            else:
                changes.extend(field_changes(before[key], after[key], sub))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = _list_changes(before, after, path)
        # The same items in another order: the order is the change.
        if not changes and before != after:
            return [FieldChange(path, before, after)]
        return changes
    return [] if before == after else [FieldChange(path, before, after)]


def item_identity(item: Any) -> str | None:
    """How a list item is known, e.g. ``name=kserve-container`` or
    ``alert=ModelLatencyHigh,model=scorer``; None when it has no identifying field."""
    if not isinstance(item, dict):
        return None
    for field in IDENTITY_FIELDS:
        value = item.get(field)
        if isinstance(value, str):
            parts = [f"{field}={value}"]
            labels = item.get("labels")
            if field in ("alert", "record") and isinstance(labels, dict):
                parts += [f"{label}={labels[label]}" for label in RULE_SUBJECT_LABELS if label in labels]
            return ",".join(parts)
    return None


def _by_identity(items: list[Any]) -> dict[str, Any] | None:
    """The items keyed by their identity; None unless every item has one of its own."""
    keyed = {}
    for item in items:
        identity = item_identity(item)
        if identity is None or identity in keyed:
            return None
        keyed[identity] = item
    return keyed


def _is_plain(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _list_changes(before: list[Any], after: list[Any], path: str) -> list[FieldChange]:
    old, new = _by_identity(before), _by_identity(after)
    if old is not None and new is not None:
        changes = []
        for identity, item in new.items():
            item_path = f"{path}[{identity}]"
            if identity in old:
                changes.extend(field_changes(old[identity], item, item_path))
            else:
                changes.append(FieldChange(item_path, None, item, ADDED))
        changes += [FieldChange(f"{path}[{identity}]", item, None, REMOVED) for identity, item in old.items() if identity not in new]
        return changes
    if all(_is_plain(item) for item in before + after):
        removed, added = Counter(before) - Counter(after), Counter(after) - Counter(before)
        changes = [FieldChange(path, item, None, REMOVED) for item in _take(before, removed)]
        return changes + [FieldChange(path, None, item, ADDED) for item in _take(after, added)]
    changes = []
    for index, (old_item, new_item) in enumerate(zip(before, after)):
        changes.extend(field_changes(old_item, new_item, f"{path}[{index}]"))
    changes += [FieldChange(f"{path}[{i}]", None, item, ADDED) for i, item in enumerate(after) if i >= len(before)]
    changes += [FieldChange(f"{path}[{i}]", item, None, REMOVED) for i, item in enumerate(before) if i >= len(after)]
    return changes


def _take(items: list[Any], wanted: Counter) -> list[Any]:
    """The items counted in ``wanted``, in their order in ``items``."""
    left = Counter(wanted)
    taken = []
    for item in items:
        if left[item] > 0:
            left[item] -= 1
            taken.append(item)
    return taken


def comparable_text(value: str) -> str:
    """A string as its lines are best compared: embedded JSON pretty-printed with sorted keys (a
    dashboard's one changed panel is then a few lines), anything else as it is."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if not isinstance(parsed, (dict, list)):
        return value
    return json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False)


def line_diff(before: str, after: str, context: int = 3) -> list[str]:
    """A unified diff of two texts' lines (hunk headers and lines, no file header).

    Only ``\\n`` ends a line; other control characters, a carriage return among them, are shown as
    escapes in the line they are in."""
    old, new = comparable_text(before).split("\n"), comparable_text(after).split("\n")
    return [escape_controls(line) for line in difflib.unified_diff(old, new, lineterm="", n=context)][2:]


def escape_controls(text: str) -> str:
    """``text`` on one line: line breaks and other control characters (but tabs) written as
    escapes such as ``\\r``, so a value cannot start a line of its own in what prints it."""
    return "".join(
        char.encode("unicode_escape").decode("ascii") if char != "\t" and unicodedata.category(char) in _BREAKING else char
        for char in text
    )


# Control characters, and the Unicode line and paragraph separators.
_BREAKING = ("Cc", "Zl", "Zp")

"""Strict reading of user-written YAML files.

PyYAML's safe loader quietly accepts things that hide mistakes in a reviewed catalog: a repeated
key (the last one wins), anchors and aliases (a small file can expand to gigabytes), tabs (a
confusing scanner error). This reader turns each into one clear :class:`Problem`.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from components.catalog.problems import WHOLE_FILE, Problem

# Model and team files are a screenful of YAML; anything this large is a mistake (a data file or
# a model artifact committed in the wrong place).
MAX_FILE_BYTES = 256 * 1024


class _StrictConstruction:
    """Duplicate keys refused, dates read as text: the constructing half of both strict loaders."""

    # No field of the catalog or a stack file is a date: `2026-01-01` stays the text it looks
    # like instead of becoming a datetime that no message or schema expects.
    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
            try:
                hash(key)
            except TypeError:
                raise _StrictYamlError(
                    key_node.start_mark.line + 1, "a mapping key must be plain text"
                ) from None
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _StrictYamlError(
                    line, f'duplicate key "{key}" (first on line {seen[key]}); keep only one'
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _StrictLoader(_StrictConstruction, yaml.SafeLoader):
    """A safe loader that rejects duplicate keys, aliases and explicit tags, and reads dates as text."""

    def compose_node(self, parent, index):  # type: ignore[override]
        tagged = self.peek_event()
        if not isinstance(tagged, yaml.AliasEvent) and getattr(tagged, "tag", None) is not None:
            # `!!bool`, `!!binary`, `!!timestamp`, `!custom`: a tag overrides what the text says,
            # which a reviewer reads; plain values only.
            raise _StrictYamlError(
                tagged.start_mark.line + 1,
                f"YAML tag {tagged.tag} is not supported; write the plain value (quote it to keep it text)",
            )
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _StrictYamlError(
                event.start_mark.line + 1,
                "YAML anchors and aliases are not supported; write the value out in full",
            )
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _StrictYamlError(
                event.start_mark.line + 1,
                f"YAML anchor &{anchor} is not supported; write the value out in full",
            )
        return super().compose_node(parent, index)


class _FastStrictLoader(_StrictConstruction, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same checks over LibYAML's composer, for text that cannot hold tags, anchors or aliases.

    LibYAML composes in C, so :meth:`_StrictLoader.compose_node` never runs here: the text is only
    given to this loader when it has no ``!``, ``&`` or ``*`` at all (see :func:`_fits_libyaml`).
    The resolvers are the same, so are the tags; documents are built directly from the nodes
    (mappings, sequences and strings here, every other scalar by PyYAML's constructor), which is
    what PyYAML's constructor does for such documents, in a fraction of its time. A merge key
    (``<<``) or a duplicate or unhashable key raises, and any failure is parsed again by
    :class:`_StrictLoader`, so every message stays the same.
    """

    def construct_document(self, node):  # type: ignore[override]
        return self._build(node)

    def _build(self, node):
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if tag == _MAP_TAG:
            mapping = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    raise _LeftToPurePython
                key = self._build(key_node)
                if key in mapping:  # unhashable keys raise TypeError here
                    raise _LeftToPurePython
                mapping[key] = self._build(value_node)
            return mapping
        if tag == _SEQ_TAG:
            return [self._build(item) for item in node.value]
        if isinstance(node, yaml.ScalarNode):
            return self.construct_object(node, deep=True)
        raise _LeftToPurePython


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _LeftToPurePython(Exception):
    """Something the LibYAML path does not build itself; the pure-Python loader reads the file."""


# Anything outside printable ASCII and newlines (tabs, carriage returns, control and non-ASCII
# characters, where the two readers differ in what they accept), tags, anchors and aliases, and
# directives: such text goes to the pure-Python loader.
_NEEDS_PURE_LOADER = re.compile(r"[^\n\x20-\x7e]|[!&*%]")
# LibYAML composes recursively in C, without Python's recursion limit; the pure-Python loader
# refuses deep nesting (RecursionError) at a few hundred levels. Text that might nest deeper than
# this goes to the pure-Python loader, so both the refusal and its message stay the same.
_LIBYAML_MAX_DEPTH = 64


def _fits_libyaml(text: str) -> bool:
    """Whether ``text`` can be composed by LibYAML with the same outcome as :class:`_StrictLoader`.

    The nesting bound: along a chain of nested block collections the start column grows at least
    every second level (a sequence may sit at its key's column once), so the collections that start
    within the deepest indentation number at most ``2 * (indent + 1)``; deeper ones all start on one
    line, each after a ``-``, ``?`` or ``:`` of it. Each flow collection needs a bracket.
    """
    if _NEEDS_PURE_LOADER.search(text):
        return False
    deepest_indent = indicators = 0
    for line in text.split("\n"):
        deepest_indent = max(deepest_indent, len(line) - len(line.lstrip(" ")))
        indicators = max(indicators, line.count("-") + line.count("?") + line.count(":"))
    depth = 2 * (deepest_indent + 1) + indicators + text.count("[") + text.count("{")
    return depth <= _LIBYAML_MAX_DEPTH


class _StrictYamlError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


SYMLINK_REFUSED = (
    "is a symbolic link; the catalog is read from real files and folders inside the repository "
    "only, so replace the link with what it points to"
)


def symlink_problem(path: Path, shown_as: str) -> Problem | None:
    """A problem when ``path`` itself is a symbolic link (where it points is never read)."""
    return Problem(shown_as, WHOLE_FILE, SYMLINK_REFUSED) if path.is_symlink() else None


def read_yaml_file(path: Path, shown_as: str) -> tuple[Any, list[Problem]]:
    """Read one YAML document from ``path``.

    Returns ``(data, problems)``; when ``problems`` is not empty ``data`` is ``None``. ``shown_as``
    is the path printed in problems (relative, as the user would type it). Only a regular file is
    read, never through a symbolic link, and never more than the size limit: a pull request may
    put a link to ``/etc/passwd``, ``/dev/zero`` or a FIFO where a model file belongs.
    """
    raw, problem = read_regular_file(path, shown_as)
    if problem is not None:
        return None, [problem]
    return parse_yaml_text(raw, shown_as)


def read_regular_file(path: Path, shown_as: str) -> tuple[bytes, Problem | None]:
    """The bytes of ``path`` under the rules of :func:`read_yaml_file`, or the problem."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return b"", Problem(shown_as, WHOLE_FILE, SYMLINK_REFUSED)
        # O_NOFOLLOW closes the gap between the check and the open; O_NONBLOCK keeps a FIFO from
        # hanging the open, and the fstat below refuses it.
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return b"", Problem(shown_as, WHOLE_FILE, f"cannot read file: {error.strerror}")
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return b"", Problem(shown_as, WHOLE_FILE, "is not a regular file; the catalog holds YAML files only")
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return b"", Problem(
            shown_as,
            WHOLE_FILE,
            f"file is over the {MAX_FILE_BYTES} byte limit for catalog files; keep only the "
            "settings here and model artifacts in storage",
        )
    return raw, None


def parse_yaml_text(raw: bytes, shown_as: str) -> tuple[Any, list[Problem]]:
    """Parse ``raw`` bytes as one strict YAML document; see :func:`read_yaml_file`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [
            Problem(
                shown_as,
                WHOLE_FILE,
                f"file is not UTF-8 text (invalid byte at offset {error.start}); "
                "save it as UTF-8",
            )
        ]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return None, [
                Problem(shown_as, f"line {number}", "tab used for indentation; indent with spaces")
            ]
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        return None, [Problem(shown_as, WHOLE_FILE, "file is empty; expected a YAML mapping")]
    if _fits_libyaml(text):
        try:
            documents = list(yaml.load_all(text, Loader=_FastStrictLoader))  # noqa: S506 - strict safe loader
        except Exception:  # noqa: BLE001 - parsed again below, for the pure-Python loader's message
            pass
        else:
            return _one_document(documents, shown_as)
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))  # noqa: S506 - strict safe loader
    except _StrictYamlError as error:
        return None, [Problem(shown_as, f"line {error.line}", error.message)]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}" if mark is not None else WHOLE_FILE
        what = error.problem or error.context or "invalid YAML"
        if "cannot start any token" in what:
            # YAML reserves @ and ` at the start of a plain value (GitHub owners start with @).
            what += "; put the value in quotes"
        return None, [Problem(shown_as, where, f"invalid YAML: {what}")]
    except yaml.YAMLError as error:
        return None, [Problem(shown_as, WHOLE_FILE, f"invalid YAML: {' '.join(str(error).split())}")]
    except RecursionError:
        return None, [Problem(shown_as, WHOLE_FILE, "values are nested too deeply; flatten the file")]
    except ValueError:
        # PyYAML hands values such as a number of thousands of digits to Python, which refuses them.
        return None, [Problem(shown_as, WHOLE_FILE, "a value cannot be read (a number far too long?); fix or quote it")]
    return _one_document(documents, shown_as)


def _one_document(documents: list[Any], shown_as: str) -> tuple[Any, list[Problem]]:
    if len(documents) != 1:
        return None, [
            Problem(
                shown_as,
                WHOLE_FILE,
                f"file holds {len(documents)} YAML documents; put exactly one in each file",
            )
        ]
    return documents[0], []

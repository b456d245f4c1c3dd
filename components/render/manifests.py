"""Rendered objects as text: one YAML stream, or one file per object. Byte-stable."""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator, Mapping

import yaml

from components.render.objects import KubeObject


# LibYAML's emitter writes the same bytes as the pure-Python one (the golden files pin it), five
# times faster; PyYAML's wheels carry it.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Block style everywhere, never aliases (two equal dicts must not become &id001 / *id001)."""

    def ignore_aliases(self, data) -> bool:  # type: ignore[override]
        return True


def _dump_with_pyyaml(obj: Any) -> str:
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=4096, allow_unicode=True
    )


def dump_object(obj: Mapping) -> str:
    """One object as a YAML document, exactly as :func:`_dump_with_pyyaml` writes it.

    PyYAML's representer is Python and visits every node through several layers; most objects are
    plain dicts, lists, short strings, ints, booleans and None, which are written here directly,
    each distinct string's written form worked out once (by PyYAML itself for any string that is
    not obviously plain). Anything else (floats, long or multi-line strings, other types) is left to
    PyYAML for the whole object, so the bytes are always PyYAML's."""
    if type(obj) is not dict or not obj:
        return _dump_with_pyyaml(obj)
    out: list[str] = []
    try:
        _write_mapping(obj, 0, out, first_inline=False)
    except _NotPlain:
        return _dump_with_pyyaml(obj)
    return "".join(out)


def dump_objects(objects: Iterable[KubeObject]) -> str:
    """A multi-document YAML stream, each document starting with ``---``."""
    return "".join(iter_documents(objects))


def iter_documents(objects: Iterable[KubeObject]) -> Iterator[str]:
    """The documents of :func:`dump_objects` one at a time (to write a large stream as it is made)."""
    for obj in objects:
        yield f"---\n{dump_object(obj)}"


class _NotPlain(Exception):
    """A value this writer leaves to PyYAML."""


# PyYAML's emitter (lib/yaml/emitter.py at 6.0.3, ``analyze_scalar`` and ``choose_scalar_style``)
# writes a one-line string of printable ASCII plain, unless one of these says it would read as
# YAML syntax, and otherwise in single quotes. Anything else (other characters, line breaks) is
# written by PyYAML once and memoised.
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
_NOT_PLAIN = re.compile(r"^(?:---|\.\.\.|[#,\[\]{}&*!|>'\"%@`]|[?:-](?: |$)| )|: |:$| #| $")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# Longer strings could be folded at the 4096 width depending on their column; PyYAML writes them.
_LONGEST_CACHED = 2000
_MOST_CACHED = 200_000
_value_forms: dict[str, str] = {}
_key_forms: dict[str, str] = {}
assert None not in _RESOLVER.yaml_implicit_resolvers  # no resolver for every first character


def _reads_as_text(text: str) -> bool:
    """Whether the resolver reads ``text`` unquoted as a string (not ``true``, ``1``, a date)."""
    # The resolver only looks at the patterns listed under the first character.
    return text[0] not in _RESOLVER.yaml_implicit_resolvers or (
        _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    )


def _one_line_form(text: str) -> str | None:
    """How PyYAML writes a non-empty, one-line, printable ASCII string; ``None`` for other strings."""
    if not _PRINTABLE_ASCII.fullmatch(text):
        return None
    if not _NOT_PLAIN.search(text) and _reads_as_text(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _value_form(text: str) -> str:
    form = _value_forms.get(text)
    if form is None:
        if len(text) > _LONGEST_CACHED:
            raise _NotPlain
        form = _one_line_form(text)
        if form is None:
            dumped = _dump_with_pyyaml({"k": text})
            if not dumped.startswith("k: ") or dumped.count("\n") != 1:
                raise _NotPlain  # written over several lines, which depends on the indentation
            form = dumped[3:-1]
        if len(_value_forms) > _MOST_CACHED:
            _value_forms.clear()
        _value_forms[text] = form
    return form


def _key_form(key: Any) -> str:
    if type(key) is not str:
        raise _NotPlain
    form = _key_forms.get(key)
    if form is None:
        # A simple key is under 128 characters; longer ones are written as `? key`.
        form = _one_line_form(key) if len(key) < 128 else None
        if form is None:
            dumped = _dump_with_pyyaml({key: None})
            if not dumped.endswith(": null\n") or dumped.count("\n") != 1:
                raise _NotPlain
            form = dumped[:-7]
        if len(_key_forms) > _MOST_CACHED:
            _key_forms.clear()
        _key_forms[key] = form
    return form


def _scalar_form(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _value_form(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is dict and not value:
        return "{}"
    if kind is list and not value:
        return "[]"
    raise _NotPlain


def _write_mapping(mapping: dict, indent: int, out: list[str], first_inline: bool) -> None:
    """Block mapping at column ``indent``; ``first_inline``: its first key follows a ``- ``."""
    pad = " " * indent
    for number, (key, value) in enumerate(sorted(mapping.items(), key=_by_key)):
        if number or not first_inline:
            out.append(pad)
        out.append(_key_form(key))
        kind = type(value)
        if kind is dict and value:
            out.append(":\n")
            _write_mapping(value, indent + 2, out, first_inline=False)
        elif kind is list and value:
            out.append(":\n")
            # PyYAML writes a sequence inside a mapping at the mapping's own indentation.
            _write_sequence(value, indent, out, first_inline=False)
        else:
            out.append(": ")
            out.append(_scalar_form(value))
            out.append("\n")


def _write_sequence(items: list, indent: int, out: list[str], first_inline: bool) -> None:
    pad = " " * indent
    for number, item in enumerate(items):
        if number or not first_inline:
            out.append(pad)
        out.append("- ")
        kind = type(item)
        if kind is dict and item:
            _write_mapping(item, indent + 2, out, first_inline=True)
        elif kind is list and item:
            _write_sequence(item, indent + 2, out, first_inline=True)
        else:
            out.append(_scalar_form(item))
            out.append("\n")


def _by_key(item: tuple[Any, Any]) -> Any:
    # PyYAML sorts the (key, value) pairs; keys are unique, so comparing keys alone is the same
    # order (and every key is a string here: anything else went to PyYAML already).
    if type(item[0]) is not str:
        raise _NotPlain
    return item[0]


def object_file_name(obj: Mapping) -> str:
    """Relative path of an object's file: ``<namespace>/<kind>-<name>.yaml`` (``_cluster`` when
    cluster-scoped)."""
    meta = obj["metadata"]
    folder = meta.get("namespace", "_cluster")
    return f"{folder}/{obj['kind'].lower()}-{meta['name']}.yaml"

"""Strict YAML on LibYAML: the same data and the same messages as the pure-Python strict loader.

``parse_yaml_text`` composes with LibYAML when a cheap scan shows the text cannot hold tags,
anchors, aliases or deep nesting, and falls back to the pure-Python loader otherwise and on any
failure. These tests compare it with the pure-Python loader alone on every kind of input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.catalog import yaml_files
from components.catalog.yaml_files import _fits_libyaml, parse_yaml_text

FIXTURES = Path(__file__).parent / "catalogs"

VALID = (FIXTURES / "platform" / "models" / "fraud" / "fraud-detector-v2.yaml").read_bytes()

TRICKY = [
    "name: a\nname: b\n",  # duplicate key
    "a:\n  b: 1\n  b: 2\n",
    "? [a, b]\n: 1\n",  # a key that is not plain text
    "{[a]: 1}\n",
    "a: [1, 2\n",  # unclosed flow sequence
    "a: b: c\n",
    "a:\n- b\n - c\n",
    "owners: @team\n",  # cannot start any token
    "owners: `team`\n",
    "a: 1\n---\nb: 2\n",  # two documents
    "---\n...\n",
    "a: " + "9" * 5000 + "\n",  # a number Python refuses to convert
    "a: 0x" + "f" * 5000 + "\n",
    "[" * 40 + "]" * 40 + "\n",  # nested, within LibYAML's bound
    "[" * 400 + "]" * 400 + "\n",  # nested too deeply for the pure-Python loader
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)) + "\n",
    "- " * 200 + "x\n",
    "a: 'unterminated\n",
    'a: "\\q"\n',
    "a: |\n  text\n b: 1\n",
    "a: >-\n  folded\n  text\n",
    "version: 2026-01-01\nyes: no\nnull: ~\n1: 2\n",
    "%YAML 1.1\n---\na: 1\n",
    "%YAML 2.0\n---\na: 1\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a:\tb\n",
    "a: b\r\nc: d\r\n",
    "a: caf\u00e9\n",
    "a: b\ufeff\n",
    "a: b\x85c\n",
    "a: b\u2028c: d\n",
    "a: b\x07\n",
    ": x\n",
    "? a\n",
    "- a\nb: 1\n",
    "a: {b: [c, {d: e}]}\n",
    "'a': \"b\"\n'a': c\n",
    "a: 1\n<<: {b: 2}\n",  # a merge key
    "<<: [{a: 1}, {b: 2}]\nc: 3\n",
    "=: 1\n",  # the value key
    "a: =\n",
]


def pure_only(raw: bytes, monkeypatch) -> tuple:
    with monkeypatch.context() as patched:
        patched.setattr(yaml_files, "_fits_libyaml", lambda text: False)
        return parse_yaml_text(raw, "x.yaml")


@pytest.mark.parametrize("text", TRICKY)
def test_libyaml_and_pure_python_give_the_same_data_and_messages(text, monkeypatch):
    raw = text.encode("utf-8")
    assert parse_yaml_text(raw, "x.yaml") == pure_only(raw, monkeypatch)


def test_every_fixture_file_reads_the_same(monkeypatch):
    files = sorted(FIXTURES.rglob("*.yaml"))
    assert files
    for path in files:
        raw = path.read_bytes()
        assert parse_yaml_text(raw, str(path)) == pure_only(raw, monkeypatch), path


@pytest.mark.parametrize("text", [
    "a: &x 1\n", "a: *x\n", "a: !!str 1\n", "a: !t 1\n", "%YAML 1.1\n---\na: 1\n",
    "a:\tb\n", "a: b\r\n", "a: caf\u00e9\n", "a: b\x07\n",
    "[" * 70 + "]" * 70 + "\n",
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40)),
    "- " * 70 + "x\n",
])
def test_text_that_could_hold_tags_anchors_or_deep_nesting_goes_to_the_pure_loader(text):
    assert not _fits_libyaml(text)


def test_an_ordinary_model_file_is_composed_by_libyaml():
    assert _fits_libyaml(VALID.decode())


# Bytes that matter to YAML's grammar, spliced into a valid model file.
_SIGNIFICANT = st.sampled_from(list(":-?[]{},#'\"|>&*!%@` \n\t\\") + ["  ", "\n  ", "\n- ", ": ", "0x", "1e3"])


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID)), _SIGNIFICANT), min_size=1, max_size=4))
def test_mutated_model_files_read_the_same(splices):
    raw = VALID
    for position, piece in sorted(splices, reverse=True):
        raw = raw[:position] + piece.encode() + raw[position:]
    text = raw.decode("utf-8")
    fast = parse_yaml_text(raw, "x.yaml")
    original = yaml_files._fits_libyaml
    yaml_files._fits_libyaml = lambda text: False
    try:
        pure = parse_yaml_text(raw, "x.yaml")
    finally:
        yaml_files._fits_libyaml = original
    assert fast == pure, text


def test_contract_libyaml_composes_but_pyyaml_resolves_and_constructs_scalars():
    """PyYAML 6.0.3 (constraints.txt), lib/yaml/cyaml.py: ``class CSafeLoader(CParser,
    SafeConstructor, Resolver)``; yaml/_yaml.pyx ``_compose_scalar_node`` calls ``self.resolve``
    for an untagged scalar (so the subclass's resolvers without timestamps apply and node tags are
    those the pure-Python composer gives), and ``_compose_node`` recurses in C without a depth
    limit (hence the nesting bound). Mappings, sequences and strings are built from the nodes;
    other scalars by SafeConstructor, as in the pure-Python loader."""
    assert yaml.__version__ == "6.0.3" and yaml.__with_libyaml__
    loader = yaml_files._FastStrictLoader
    assert issubclass(loader, yaml.CSafeLoader)
    assert loader.construct_yaml_int is yaml.constructor.SafeConstructor.construct_yaml_int
    assert list(yaml.load_all("a: 2026-01-01\nb: [1, 1.5, true, null, '1']\n", Loader=loader)) == [
        {"a": "2026-01-01", "b": [1, 1.5, True, None, "1"]}]
    # A duplicate key or a merge key is left to the pure-Python loader, whose message names the line.
    for text in ("a: 1\nb: 2\na: 3\n", "a: 1\n<<: {b: 2}\n"):
        with pytest.raises(yaml_files._LeftToPurePython):
            list(yaml.load_all(text, Loader=loader))
    assert parse_yaml_text(b"a: 1\nb: 2\na: 3\n", "x.yaml")[1][0].field == "line 3"

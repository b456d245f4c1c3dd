"""The direct YAML writer of rendered objects writes exactly PyYAML's bytes (the golden files pin
the whole render; this pins the writer on values the fixtures do not have)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from components.render import manifests
from components.render.manifests import _dump_with_pyyaml, dump_object, dump_objects, iter_documents

_TEXT = st.one_of(
    st.sampled_from(["", "true", "no", "~", "null", "1", "1.5", "1_000", "0x1f", "2026-01-01", "-x", "- x",
                     ".inf", "a: b", "a #b", "#a", "@a", "`a", "'a'", '"a"', "a\nb", " a", "a ", "é", "a\tb",
                     "x" * 127, "x" * 128, "x" * 2001, "y " * 2100, "%a", "!a", "&a", "*a", "{a}", "[a]", "a,b"]),
    st.text(alphabet=st.sampled_from(list("ab0-._/: #'\"\n\\é{}[],!&*?|>@`%")), max_size=12),
)
_SCALAR = st.one_of(_TEXT, st.integers(-10**20, 10**20), st.booleans(), st.none(),
                    st.floats(allow_nan=True), st.just({}), st.just([]))
_TREE = st.recursive(
    _SCALAR,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_TEXT, children, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, database=None)
@given(st.dictionaries(_TEXT, _TREE, min_size=1, max_size=5))
def test_the_direct_writer_writes_what_pyyaml_writes(obj):
    manifests._value_forms.clear()
    manifests._key_forms.clear()
    assert dump_object(obj) == _dump_with_pyyaml(obj)
    # Again, from the memoised forms.
    assert dump_object(obj) == _dump_with_pyyaml(obj)


def test_a_plain_object_is_written_without_pyyaml(monkeypatch):
    def refuse(obj):
        raise AssertionError("PyYAML was asked to write a plain object")

    monkeypatch.setattr(manifests, "_dump_with_pyyaml", refuse)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"team": "fraud"}},
           "data": {"replicas": "3"} | {"list": "x"}, "spec": {"ports": [{"port": 80}, {"port": 443}], "on": True}}
    # Memoised: a string that reads as a number or a boolean is quoted.
    monkeypatch.setattr(manifests, "_value_forms", {"3": "'3'"})
    monkeypatch.setattr(manifests, "_key_forms", {"on": "'on'"})
    assert dump_object(obj) == (
        "apiVersion: v1\ndata:\n  list: x\n  replicas: '3'\nkind: ConfigMap\nmetadata:\n  labels:\n"
        "    team: fraud\n  name: a\nspec:\n  'on': true\n  ports:\n  - port: 80\n  - port: 443\n"
    )


def test_the_stream_is_its_documents_in_order():
    objects = [{"kind": "A", "n": 1}, {"kind": "B", "n": [2]}]
    assert dump_objects(objects) == "".join(iter_documents(objects)) == "---\nkind: A\nn: 1\n---\nkind: B\nn:\n- 2\n"


@settings(max_examples=300, deadline=None, database=None)
@given(st.recursive(
    st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**63, 2**64 - 1), st.booleans(),
              st.none(), _TEXT, st.text(max_size=5)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)),
    max_leaves=30,
))
def test_dashboard_json_is_what_json_dumps_writes(value):
    import json

    from components.render.json_text import sorted_json

    assert sorted_json(value) == json.dumps(value, sort_keys=True, indent=2)


def test_dashboard_json_falls_back_where_orjson_writes_otherwise():
    import json

    from components.render.json_text import sorted_json

    for value in ({"a": 1e-05}, {"a": [1e-07, 1.5e300]}, {"é": "ü"}, {"a": "\x7f"}, {1: 2}, {"a": 2**70}):
        assert sorted_json(value) == json.dumps(value, sort_keys=True, indent=2)

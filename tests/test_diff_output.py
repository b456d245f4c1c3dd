"""What the diff and the review show of a change: lists item by item, long strings and embedded
JSON as line diffs, nothing cut off, in text, markdown and JSON; markdown that hostile values
cannot break."""

from __future__ import annotations

import json

from components.cli.inputs import Paths
from components.cli.main import main
from components.review.compare import compare_stack
from components.review.field_changes import ADDED, CHANGED, REMOVED, FieldChange, field_changes
from tests.conftest import Workspace, commit_as_base

ALERTS = "spec.groups[name=modelplane.fraud.alerts].rules"
LATENCY_RULE = f"{ALERTS}[alert=ModelLatencyHigh,model=scorer]"
SCORER = "InferenceService/team-fraud/scorer"


def fields_of(workspace: Workspace, key: str, stack: str = "dev") -> tuple[FieldChange, ...]:
    diff = compare_stack(Paths(workspace.models, workspace.stacks), stack, "base").diff
    return next(change.fields for change in diff.changes if change.key == key)


def run(capsys, *args: str) -> str:
    main(list(args))
    return capsys.readouterr().out


# Lists, item by item.

def test_items_with_a_name_are_matched_by_it_and_compared_field_by_field():
    before = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    after = {"env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}
    assert field_changes(before, after) == [
        FieldChange("env[name=B].value", "2", "3"),
        FieldChange("env[name=C]", None, {"name": "C", "value": "4"}, ADDED),
        FieldChange("env[name=A]", {"name": "A", "value": "1"}, None, REMOVED),
    ]


def test_rules_are_known_by_their_name_and_the_model_or_pool_they_are_about():
    def rule(model: str, threshold: str) -> dict:
        return {"alert": "ModelLatencyHigh", "expr": f"latency > {threshold}", "labels": {"model": model}}

    before = {"rules": [rule("a", "1"), rule("b", "1")]}
    after = {"rules": [rule("a", "1"), rule("b", "0.25"), rule("c", "1")]}
    assert field_changes(before, after) == [
        FieldChange("rules[alert=ModelLatencyHigh,model=b].expr", "latency > 1", "latency > 0.25"),
        FieldChange("rules[alert=ModelLatencyHigh,model=c]", None, rule("c", "1"), ADDED),
    ]


def test_items_without_an_identity_of_their_own_are_matched_by_position():
    same_name = [{"name": "x", "port": 1}, {"name": "x", "port": 2}]
    assert field_changes(same_name, [{"name": "x", "port": 1}, {"name": "x", "port": 3}, {"port": 4}]) == [
        FieldChange("[1].port", 2, 3),
        FieldChange("[2]", None, {"port": 4}, ADDED),
    ]


def test_plain_values_are_matched_by_value_and_a_new_order_is_a_change():
    hosts = ["a.example.com", "b.example.com"]
    assert field_changes({"hosts": hosts}, {"hosts": ["b.example.com", "c.example.com"]}) == [
        FieldChange("hosts", "a.example.com", None, REMOVED),
        FieldChange("hosts", None, "c.example.com", ADDED),
    ]
    assert field_changes({"hosts": hosts}, {"hosts": hosts[::-1]}) == [FieldChange("hosts", hosts, hosts[::-1])]


def test_a_changed_slo_is_the_changed_fields_of_one_rule(repo):
    repo.model(slo={"p95_latency_ms": 250})
    fields = {f.path: f for f in fields_of(repo, "PrometheusRule/team-fraud/modelplane-fraud")}
    assert set(fields) == {f"{LATENCY_RULE}.expr", f"{LATENCY_RULE}.annotations.summary",
                           f"{LATENCY_RULE}.annotations.description"}
    expr = fields[f"{LATENCY_RULE}.expr"]
    assert (expr.action, expr.before.endswith("> 1"), expr.after.endswith("> 0.25")) == (CHANGED, True, True)


def test_json_shows_list_items_added_and_removed_in_full(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    repo.model(env={"WORKERS": "2"})
    repo.model(name="ranker")
    commit_as_base(repo)
    repo.model(env={"WORKERS": "4", "LOG_LEVEL": "debug"})
    (repo.models / "fraud" / "ranker.yaml").unlink()
    repo.model(name="embedder")
    document = json.loads(run(capsys, "diff", "--stack", "dev", "--base", "base", "--format", "json"))
    changes = {c["key"]: c["fields"] for c in document["changes"]}
    assert changes[SCORER] == [
        {"path": "spec.predictor.model.env[name=LOG_LEVEL]", "action": "added", "before": None,
         "after": {"name": "LOG_LEVEL", "value": "debug"}},
        {"path": "spec.predictor.model.env[name=WORKERS].value", "action": "changed", "before": "2", "after": "4"},
    ]
    rules = {(f["action"], f["path"]): f for f in changes["PrometheusRule/team-fraud/modelplane-fraud"]}
    removed = rules[(REMOVED, f"{ALERTS}[alert=ModelLatencyHigh,model=ranker]")]
    added = rules[(ADDED, f"{ALERTS}[alert=ModelLatencyHigh,model=embedder]")]
    assert (removed["after"], added["before"]) == (None, None)
    # The whole rule, not a shortened repr of it.
    assert added["after"]["expr"] == 'modelplane:latency_seconds:p95_5m{namespace="team-fraud", model="embedder"} > 1'
    assert set(added["after"]["annotations"]) == {"summary", "description", "runbook_url"}
    assert removed["before"]["labels"]["model"] == "ranker"

"""What a catalog author writes reaches the rendered YAML, PromQL and Grafana JSON only as data:
free text is serialised (YAML and JSON escape it), and everything that goes into a PromQL selector,
a label or a name is a validated DNS label or label value."""

from __future__ import annotations

import json
import re

import yaml

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.stack_render import render_stack
from components.cli.main import main

HOSTILE = "x\n---\nkind: Secret\nmetadata: {name: stolen}\n\"} or vector(1) # ${aws:username} `<!--` \r\x1b[2J"
SELECTOR_VALUE = re.compile(r'(\w+)\s*(=~|!=|=)\s*"([^"]*)"')
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _rendered(workspace):
    catalog = load_catalog(workspace.models, "models")
    stack = load_stack(workspace.stacks, "dev", "stacks")
    return render_stack(resolve_deployment(catalog, stack, stack_names(workspace.stacks)))


def test_hostile_text_round_trips_through_the_rendered_yaml(basic_workspace, monkeypatch, capsys):
    basic_workspace.model(env={"GREETING": HOSTILE}, description=HOSTILE)
    monkeypatch.chdir(basic_workspace.root)
    assert main(["render", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    documents = [d for d in yaml.safe_load_all(out) if d]
    # No document was injected: the value is one string inside the InferenceService.
    assert not any(d.get("kind") == "Secret" for d in documents)
    isvc = next(d for d in documents if d.get("kind") == "InferenceService")
    env = {e["name"]: e.get("value") for e in isvc["spec"]["predictor"]["model"].get("env", [])}
    assert env["GREETING"] == HOSTILE
    # Raw control characters never reach the terminal: the YAML writes them as escapes.
    assert "\x1b" not in out and "\r" not in out


def test_promql_selectors_hold_only_validated_names(basic_workspace):
    basic_workspace.model(env={"GREETING": HOSTILE}, description=HOSTILE)
    rendered = _rendered(basic_workspace)
    expressions = []
    for obj in rendered.objects:
        if obj["kind"] == "PrometheusRule":
            expressions += [rule["expr"] for group in obj["spec"]["groups"] for rule in group["rules"]]
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("modelplane-dashboard"):
            for text in obj["data"].values():
                dashboard = json.loads(text)
                expressions += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert expressions
    checked = 0
    for expr in expressions:
        assert "${" not in expr and "`" not in expr and "\n" not in expr.strip()
        for label, _, value in SELECTOR_VALUE.findall(expr):
            if label in ("namespace", "model", "team", "pool", "stack"):
                assert DNS_LABEL.fullmatch(value) or value.startswith(("$", ".*")), (label, value, expr)
                checked += 1
    assert checked > 10  # the selectors of the model's alerts and panels were seen

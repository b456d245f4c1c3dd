"""What the diff and the review show of a change: lists item by item, long strings and embedded
JSON as line diffs, nothing cut off, in text, markdown and JSON; markdown that hostile values
cannot break."""

from __future__ import annotations

import json
import re

import pytest

from components.cli.inputs import Paths
from components.cli.main import main
from components.review import markdown
from components.review.compare import compare_stack
from components.review.field_changes import ADDED, CHANGED, REMOVED, FieldChange, field_changes
from tests.conftest import Workspace, commit_as_base, git

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


# Text and markdown: long strings and embedded JSON as line diffs, nothing cut off.

EXPR_BEFORE = 'modelplane:latency_seconds:p95_5m{namespace="team-fraud", model="scorer"} > 1'
DESCRIPTION = ("The 95th percentile of request latency over the last 5 minutes is above the model's "
               "p95_latency_ms objective of {} ms.")


def slo_change(repo: Workspace, monkeypatch) -> None:
    monkeypatch.chdir(repo.root)
    repo.model(slo={"p95_latency_ms": 250})


def test_text_diff_shows_long_strings_and_the_dashboard_as_line_diffs(repo, monkeypatch, capsys):
    slo_change(repo, monkeypatch)
    out = run(capsys, "diff", "--stack", "dev", "--base", "base")
    lines = out.splitlines()
    expr = lines.index(f"        {LATENCY_RULE}.expr:")
    assert lines[expr + 1:expr + 4] == [
        "            @@ -1 +1 @@", f"            -{EXPR_BEFORE}", f"            +{EXPR_BEFORE[:-1]}0.25",
    ]
    assert f"            -{DESCRIPTION.format(1000)}" in lines and f"            +{DESCRIPTION.format(250)}" in lines
    assert (f'        {LATENCY_RULE}.annotations.summary: "fraud/scorer answers slower than 1000 ms at p95" -> '
            '"fraud/scorer answers slower than 250 ms at p95"') in lines
    # The dashboard is JSON of some 500 lines; its one changed threshold is one hunk.
    start = lines.index("        data.modelplane-dashboard-fraud.json:")
    end = lines.index("    ~ PrometheusRule/team-fraud/modelplane-fraud")
    dashboard = [line.removeprefix(" " * 12) for line in lines[start + 1:end]]
    assert len(dashboard) == 1 + 3 + 2 + 3 and dashboard[0].startswith("@@ ")
    assert [(line[0], line[1:].strip()) for line in dashboard if line[0] in "+-"] == [
        ("-", '"value": 1.0'), ("+", '"value": 0.25'),
    ]
    assert "..." not in out


def test_markdown_diff_puts_long_values_in_diff_blocks_and_folds_big_ones(repo, monkeypatch, capsys):
    slo_change(repo, monkeypatch)
    out = run(capsys, "diff", "--stack", "dev", "--base", "base", "--format", "markdown")
    assert_well_formed(out)
    assert (f"  - `{LATENCY_RULE}.expr`:\n\n    ```diff\n    @@ -1 +1 @@\n    -{EXPR_BEFORE}\n"
            f"    +{EXPR_BEFORE[:-1]}0.25\n    ```\n") in out
    assert (f"  - `{LATENCY_RULE}.annotations.summary`: `\"fraud/scorer answers slower than 1000 ms at p95\"` → "
            "`\"fraud/scorer answers slower than 250 ms at p95\"`") in out
    assert "<details><summary>" not in out.split("<details><summary>Changes</summary>")[1]
    # A new model adds a row of panels to its team's dashboard: hundreds of lines, folded.
    repo.model(name="ranker")
    out = run(capsys, "diff", "--stack", "dev", "--base", "base", "--format", "markdown")
    assert_well_formed(out)
    folded = out.split("  - `data.modelplane-dashboard-fraud.json`:\n\n")[1]
    assert folded.startswith("    <details><summary>") and " lines</summary>\n\n    ```diff\n    @@ " in folded
    assert f'+{" " * 14}"expr": "sum(modelplane:ready_replicas{{namespace=\\"team-fraud\\", model=\\"ranker\\"}})",' in folded


def test_gateway_hosts_added_show_one_by_one(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    repo.team("risk", storage={"s3_prefixes": ["s3://models-bucket/risk/"]})
    repo.model(team="risk", name="credit-scorer", storage_uri="s3://models-bucket/risk/credit/v1/")
    text = run(capsys, "diff", "--stack", "dev", "--base", "base").splitlines()
    gateway = text.index("    ~ Gateway/istio-ingress/modelplane-gateway")
    assert text[gateway + 1:gateway + 3] == [
        '        + spec.servers[0].hosts: "team-risk/models.test.example.com"',
        '        + spec.servers[0].hosts: "team-risk/*.models.test.example.com"',
    ]
    markdown = run(capsys, "diff", "--stack", "dev", "--base", "base", "--format", "markdown")
    assert '  - added `spec.servers[0].hosts`: `"team-risk/*.models.test.example.com"`\n' in markdown


# Markdown that values cannot break.

HOSTILE = "ok ``` ````````\r\n<!-- hidden -->\n# heading\n</details><script>x</script>&amp; | done"
ALLOWED_HTML = re.compile(r"</?details>|<summary>|</summary>")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")


def assert_well_formed(markdown: str, headings: tuple[str, ...] = ()) -> None:
    """Every code fence closes, and outside code there is no raw HTML but the review's own
    folding, no carriage return and no heading but ``headings``."""
    assert "\r" not in markdown
    fence = None
    for line in markdown.split("\n"):
        stripped = line.lstrip(" ")
        if fence is not None:
            # CommonMark: a fence closes only on a line of at least as many backticks and nothing else.
            if re.fullmatch(f"`{{{len(fence)},}} *", stripped):
                fence = None
            continue
        opening = re.match(r"`{3,}", stripped)
        if opening:
            fence = opening.group(0)
            continue
        outside_code = CODE_SPAN.sub("", line)
        assert "`" not in outside_code, line
        assert "<" not in ALLOWED_HTML.sub("", outside_code), line
        if stripped.startswith("#"):
            assert stripped in headings, line
    assert fence is None, "a code fence is left open"


def test_hostile_values_cannot_break_the_markdown(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    repo.model(env={"GREETING": "hello\n```\n<!--", "SHORT": "a"})
    commit_as_base(repo)
    repo.model(env={"GREETING": HOSTILE, "SHORT": "a`b<!-- x"})
    repo.stack(addons={"kube-prometheus-stack": {"values": {"grafana": {"x`<!--\r\n# y": HOSTILE}}}})
    out = run(capsys, "review", "--base", "base")
    assert_well_formed(out, headings=("### modelplane review against `base`", "#### stack dev"))
    # Shown, not dropped: in code, with the line break and carriage return as escapes.
    assert "    -```\n    -<!--\n    +ok ``` ````````\\r\n    +<!-- hidden -->\n    +# heading\n" in out
    assert "    `````````diff\n" in out  # longer than the run of eight backticks inside
    assert '  - `spec.predictor.model.env[name=SHORT].value`: `"a"` → ``"a`b<!-- x"``' in out
    assert "  - added ``values.grafana.x`<!--\\r\\n# y``:" in out


def test_markdown_escapes_text_outside_code():
    assert markdown.text("a <!-- b --> & `c` *d* | e\r\n# f") == (
        "a &lt;!-- b --&gt; &amp; \\`c\\` \\*d\\* \\| e\\\\r\\\\n# f"
    )
    assert markdown.code("`edge`") == "`` `edge` ``"
    assert markdown.code_block(["```` four"], "diff") == ["`````diff", "```` four", "`````"]


def test_the_well_formedness_check_catches_what_the_old_diff_printed():
    broken = [
        "- `values.x`: `a`b`",  # the value's backtick ends the code span early
        "```\nbad value 'x\n```\n<!-- hidden'\n```",  # the value closes the fence; the rest is raw HTML
        "- :warning: pool <!-- x",
        "**stack dev**\r\n# injected",
    ]
    for text in broken:
        with pytest.raises(AssertionError):
            assert_well_formed(text)


def test_a_hostile_problem_or_ref_cannot_break_the_review_comment(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    git(repo, "tag", "-f", "a`b<!--", "base")
    repo.model(format="x````\n# heading <!--")
    out = run(capsys, "review", "--base", "a`b<!--")
    assert_well_formed(out, headings=("### modelplane review against ``a`b<!--``", "#### stack dev"))
    assert "format" in out

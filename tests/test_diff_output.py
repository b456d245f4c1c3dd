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

CATALOG_RULES = "spec.groups[name=modelplane.fraud.catalog].rules"
OBJECTIVE_RULES = "spec.groups[name=modelplane.fraud.objectives].rules"
INFO_RULE = f"{CATALOG_RULES}[record=modelplane:model_info,model=scorer]"
LATENCY_RULE = f"{OBJECTIVE_RULES}[record=modelplane:slo_latency_threshold_seconds]"
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


def test_a_changed_slo_is_the_changed_fields_of_the_model_s_info_and_threshold_rules(repo):
    """The alerts compare with threshold series: a model's objective is a label of its info series
    and the threshold rule of that value; no alert and no dashboard changes."""
    repo.model(slo={"p95_latency_ms": 250})
    fields = {f.path: f for f in fields_of(repo, "PrometheusRule/team-fraud/modelplane-fraud")}
    assert set(fields) == {f"{INFO_RULE}.labels.slo_p95_latency_ms", f"{LATENCY_RULE}.expr",
                           f"{LATENCY_RULE}.labels.slo_p95_latency_ms"}
    assert (fields[f"{INFO_RULE}.labels.slo_p95_latency_ms"].before, fields[f"{INFO_RULE}.labels.slo_p95_latency_ms"].after) == ("1000", "250")
    expr = fields[f"{LATENCY_RULE}.expr"]
    assert (expr.action, expr.before.startswith("1 * "), expr.after.startswith("0.25 * ")) == (CHANGED, True, True)
    diff = compare_stack(Paths(repo.models, repo.stacks), "dev", "base").diff
    assert {change.key for change in diff.changes} == {"PrometheusRule/team-fraud/modelplane-fraud"}


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
    # A model's one rule is its info series, told apart from the others by its model label.
    assert set(rules) == {(REMOVED, f"{CATALOG_RULES}[record=modelplane:model_info,model=ranker]"),
                          (ADDED, f"{CATALOG_RULES}[record=modelplane:model_info,model=embedder]")}
    removed = rules[(REMOVED, f"{CATALOG_RULES}[record=modelplane:model_info,model=ranker]")]
    added = rules[(ADDED, f"{CATALOG_RULES}[record=modelplane:model_info,model=embedder]")]
    assert (removed["after"], added["before"]) == (None, None)
    # The whole rule, not a shortened repr of it.
    assert added["after"]["expr"] == "vector(1)"
    assert added["after"]["labels"]["slo_p95_latency_ms"] == "1000"
    assert removed["before"]["labels"]["model"] == "ranker"


# Text and markdown: long strings and embedded JSON as line diffs, nothing cut off.

EXPR_BEFORE = ('1 * group by (namespace, team, model) (modelplane:model_info{namespace="team-fraud", '
               'slo_p95_latency_ms="1000"})')
EXPR_AFTER = ('0.25 * group by (namespace, team, model) (modelplane:model_info{namespace="team-fraud", '
              'slo_p95_latency_ms="250"})')


def slo_change(repo: Workspace, monkeypatch) -> None:
    monkeypatch.chdir(repo.root)
    repo.model(slo={"p95_latency_ms": 250})


def test_text_diff_shows_long_strings_and_the_dashboard_as_line_diffs(repo, monkeypatch, capsys):
    slo_change(repo, monkeypatch)
    # The team's only model moves off KServe's Python servers: its dashboard loses the model
    # server latency line.
    repo.model(slo={"p95_latency_ms": 250}, format="mlflow")
    out = run(capsys, "diff", "--stack", "dev", "--base", "base")
    lines = out.splitlines()
    expr = lines.index(f"        {LATENCY_RULE}.expr:")
    assert lines[expr + 1:expr + 4] == ["            @@ -1 +1 @@", f"            -{EXPR_BEFORE}", f"            +{EXPR_AFTER}"]
    # The dashboard is JSON of some 500 lines; its one removed query is one hunk.
    start = lines.index("        data.modelplane-dashboard-fraud.json:")
    end = next(index for index in range(start + 1, len(lines)) if not lines[index].startswith(" " * 12))
    dashboard = [line.removeprefix(" " * 12) for line in lines[start + 1:end]]
    assert dashboard[0].startswith("@@ ") and sum(line.startswith("@@ ") for line in dashboard) == 1
    changed = [(line[0], line[1:].strip()) for line in dashboard if line[0] in "+-"]
    assert ("-", '"legendFormat": "p95 model server",') in changed
    # Removed lines, and the objective's query taking the freed refId.
    assert all(sign == "-" or text.startswith('"refId"') for sign, text in changed), changed
    assert "..." not in out


def test_markdown_diff_puts_long_values_in_diff_blocks_and_folds_big_ones(repo, monkeypatch, capsys):
    slo_change(repo, monkeypatch)
    out = run(capsys, "diff", "--stack", "dev", "--base", "base", "--format", "markdown")
    assert_well_formed(out)
    assert (f"  - `{LATENCY_RULE}.expr`:\n\n    ```diff\n    @@ -1 +1 @@\n    -{EXPR_BEFORE}\n"
            f"    +{EXPR_AFTER}\n    ```\n") in out
    assert (f'  - `{INFO_RULE}.labels.slo_p95_latency_ms`: `"1000"` → `"250"`') in out
    assert "<details><summary>" not in out.split("<details><summary>Changes</summary>")[1]
    # The stack's last model on a KServe Python server goes: the overview loses a whole panel,
    # a diff of more than 20 lines, folded.
    repo.model(format="mlflow")
    out = run(capsys, "diff", "--stack", "dev", "--base", "base", "--format", "markdown")
    assert_well_formed(out)
    folded = out.split("  - `data.modelplane-dashboard-overview.json`:\n\n")[1]
    assert folded.startswith("    <details><summary>") and " lines</summary>\n\n    ```diff\n    @@ " in folded
    assert '-      "title": "Model server p95 latency by model",' in folded


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

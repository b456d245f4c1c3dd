"""Pull-request review: diff against a git ref in throwaway repositories, cost, capacity, CODEOWNERS."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment
from components.cli.main import main
from components.cli.codeowners import render_codeowners
from components.cli.inputs import Paths
from components.review.compare import compare_stack
from components.review.diff import ADDED, CHANGED, REMOVED, REPLACED, FieldChange
from tests.conftest import MODELS_DIR, STACK_CONFIG, Workspace, commit_as_base, git


def diff_of(workspace: Workspace, stack: str = "dev", allow_delete: bool = False):
    review = compare_stack(Paths(workspace.models, workspace.stacks), stack, "base", allow_delete)
    return review.diff


def actions(diff) -> set[tuple[str, str]]:
    return {(change.action, change.key) for change in diff.changes}


def model_objects(namespace: str, model: str) -> set[str]:
    return {f"InferenceService/{namespace}/{model}", f"VirtualService/{namespace}/{model}-route"}


def test_no_change(repo):
    diff = diff_of(repo)
    assert (diff.changes, diff.warnings, diff.errors, diff.cost_delta) == ((), (), (), Decimal(0))


def test_model_added(repo):
    repo.model(name="ranker")
    diff = diff_of(repo)
    assert actions(diff) == {
        (ADDED, "InferenceService/team-fraud/ranker"),
        (ADDED, "VirtualService/team-fraud/ranker-route"),
        # The team's rules gain the model's info series; its dashboard lists models from
        # Prometheus, so it does not change.
        (CHANGED, "PrometheusRule/team-fraud/modelplane-fraud"),
    }
    added = [c for c in diff.changes if c.action == ADDED]
    assert {(c.team, c.model) for c in added} == {("fraud", "ranker")}
    assert diff.cost_delta > 0
    assert diff.errors == () and diff.warnings == ()


def test_field_changed(repo):
    repo.model(scaling={"min_replicas": 0, "max_replicas": 3})
    diff = diff_of(repo)
    changed = {c.key: c.fields for c in diff.changes}
    assert changed["InferenceService/team-fraud/scorer"] == (FieldChange("spec.predictor.maxReplicas", 1, 3),)
    assert set(changed) == {"InferenceService/team-fraud/scorer"}


def test_model_removed_is_flagged_and_needs_acknowledging_in_prod(repo):
    repo.stack("prod", environment="prod")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "prod stack")
    git(repo, "tag", "-f", "base")
    (repo.models / "fraud" / "scorer.yaml").unlink()
    dev = diff_of(repo, "dev")
    assert {key for action, key in actions(dev) if action == REMOVED} == model_objects("team-fraud", "scorer") | {
        "PodMonitor/team-fraud/model-servers", "PrometheusRule/team-fraud/modelplane-fraud",
        "ConfigMap/monitoring/modelplane-dashboard-fraud",
    }
    assert dev.warnings == ("5 resource(s) deleted or replaced in stack dev",) and dev.errors == ()
    prod = diff_of(repo, "prod")
    assert len(prod.errors) == 1
    assert prod.errors[0].startswith("5 resource(s) deleted or replaced in stack prod (")
    assert prod.errors[0].endswith(
        "in a prod stack need acknowledging: keep a removed model's file with retired: true for one "
        "release, or pass --allow-delete (the allow-prod-delete label)"
    )
    acknowledged = diff_of(repo, "prod", allow_delete=True)
    assert acknowledged.errors == () and acknowledged.warnings == ("5 resource(s) deleted or replaced in stack prod (acknowledged)",)


def test_retiring_a_model_acknowledges_its_deletion(repo):
    repo.stack("prod", environment="prod")
    repo.model(name="keep")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "prod stack")
    git(repo, "tag", "-f", "base")
    repo.model(retired=True)
    prod = diff_of(repo, "prod")
    assert {key for action, key in actions(prod) if action == REMOVED} == model_objects("team-fraud", "scorer")
    assert prod.errors == ()


def test_team_added(repo):
    repo.team("risk", storage={"s3_prefixes": ["s3://models-bucket/risk/"]})
    repo.model(team="risk", name="credit-scorer", storage_uri="s3://models-bucket/risk/credit/v1/")
    diff = diff_of(repo)
    added = {key for action, key in actions(diff) if action == ADDED}
    assert {
        "Namespace/team-risk", "ResourceQuota/team-risk/team-quota", "ServiceAccount/team-risk/model-server",
        "Role/team-risk/model-owners", "RoleBinding/team-risk/model-owners", "IamRole/modelplane-dev-risk-models",
        "InferenceService/team-risk/credit-scorer", "PodMonitor/team-risk/model-servers",
    } <= added
    gateway = next(c for c in diff.changes if c.key == "Gateway/istio-ingress/modelplane-gateway")
    assert gateway.action == CHANGED
    # The gateway's hosts gain the team's, item by item.
    assert gateway.fields == (
        FieldChange("spec.servers[0].hosts", None, "team-risk/models.test.example.com", ADDED),
        FieldChange("spec.servers[0].hosts", None, "team-risk/*.models.test.example.com", ADDED),
    )


def test_stack_setting_changed(repo):
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    pools["gpu"]["max_size"] = 4
    repo.stack(node_pools=pools)
    diff = diff_of(repo)
    pool = next(c for c in diff.changes if c.key == "NodePool/gpu")
    assert pool.action == CHANGED and pool.fields == (FieldChange("max_size", 2, 4),)
    # The GPU capacity the alerts compare with follows the pool.
    rules = next(c for c in diff.changes if c.key == "PrometheusRule/monitoring/modelplane-models")
    assert [f.after for f in rules.fields] == ["vector(4)"]
    pools["gpu"]["instance_types"] = ["g6.xlarge"]
    pools["gpu"]["gpu"] = {"model": "L4", "per_node": 1}
    repo.stack(node_pools=pools)
    assert next(c for c in diff_of(repo).changes if c.key == "NodePool/gpu").action == REPLACED


def test_rename_is_a_deletion_and_a_creation(repo):
    (repo.models / "fraud" / "scorer.yaml").unlink()
    repo.model(name="scorer-v2")
    diff = diff_of(repo)
    assert diff.renames == (("fraud/scorer", "fraud/scorer-v2"),)
    assert model_objects("team-fraud", "scorer") <= {key for action, key in actions(diff) if action == REMOVED}
    assert model_objects("team-fraud", "scorer-v2") <= {key for action, key in actions(diff) if action == ADDED}


def test_new_stack_is_all_added(repo):
    repo.stack("qa")
    diff = diff_of(repo, "qa")
    assert diff.new_stack and diff.count(ADDED) == len(diff.changes) > 20


def test_the_work_tree_is_not_touched(repo):
    repo.model(scaling={"min_replicas": 0, "max_replicas": 3})
    before = git(repo, "status", "--porcelain")
    diff_of(repo)
    assert git(repo, "status", "--porcelain") == before
    assert "max_replicas: 3" in (repo.models / "fraud" / "scorer.yaml").read_text()


def test_cli_exit_codes_and_formats(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    assert main(["diff", "--stack", "dev", "--base", "base"]) == 0
    assert capsys.readouterr().out == "stack dev (dev): +0 ~0 -0, cost +$0.00/month\n"
    repo.model(scaling={"min_replicas": 0, "max_replicas": 3})
    assert main(["diff", "--stack", "dev", "--base", "base"]) == 3
    text = capsys.readouterr().out.splitlines()
    assert text[1:] == [
        "  fraud:",
        "    model scorer:",
        "      ~ InferenceService/team-fraud/scorer",
        "          spec.predictor.maxReplicas: 1 -> 3",
    ]
    assert main(["diff", "--stack", "dev", "--base", "base", "--format", "json"]) == 3
    document = json.loads(capsys.readouterr().out)
    assert (document["changed"], document["changes"][0]["fields"]) == (
        1, [{"path": "spec.predictor.maxReplicas", "action": "changed", "before": 1, "after": 3}],
    )
    assert main(["review", "--base", "base"]) == 3
    review = capsys.readouterr().out
    assert review.startswith("### modelplane review against `base`\n\n- :white_check_mark: stack dev (dev): +0 ~1 -0")
    assert "<details><summary>Changes</summary>" in review and "one model per pod" in review
    assert main(["diff", "--stack", "dev", "--base", "no-such-ref"]) == 1
    assert capsys.readouterr().err.startswith(
        "--base: (file): 'no-such-ref' is not a commit of this repository; fetch it first"
    )


def test_cli_exit_codes_for_no_change_and_for_an_unacknowledged_deletion(repo, monkeypatch, capsys):
    # 0 no change, 3 changes, 1 a prod deletion until acknowledged: CI passes on 0 and 3 only.
    monkeypatch.chdir(repo.root)
    repo.stack("prod", environment="prod")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "prod stack")
    git(repo, "tag", "-f", "base")
    assert main(["review", "--base", "base"]) == 0
    assert main(["diff", "--stack", "prod", "--base", "base"]) == 0
    capsys.readouterr()
    (repo.models / "fraud" / "scorer.yaml").unlink()
    assert main(["diff", "--stack", "prod", "--base", "base"]) == 1
    assert capsys.readouterr().err.startswith("stack prod: 5 resource(s) deleted or replaced in stack prod (")
    assert main(["review", "--base", "base", "--format", "text"]) == 1
    assert main(["diff", "--stack", "dev", "--base", "base"]) == 3  # dev deletions need no acknowledging
    assert main(["diff", "--stack", "prod", "--base", "base", "--allow-delete"]) == 3
    assert main(["review", "--base", "base", "--allow-delete"]) == 3


def test_review_reports_an_invalid_catalog_in_the_comment(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    repo.model(format="sklaern")
    assert main(["review", "--base", "base"]) == 1
    out = capsys.readouterr().out
    assert "- :x: stack dev: 1 problem(s) in the catalog or stack" in out
    assert "models/fraud/scorer.yaml: format: the text 'sklaern' is not allowed" in out


# Canaries: KServe splits traffic only once a revision has been rolled out (kserve/kserve @ v0.20.0
# pkg/controller/v1beta1/inferenceservice/reconcilers/knative/ksvc_reconciler.go:134-164: with an
# empty LatestRolledoutRevision the latest revision gets 100%), so a canary on a model's first
# deployment in a stack would take all of its traffic.

CANARY = {"storage_uri": "s3://models-bucket/fraud/scorer/v2/", "traffic_percent": 10}
FIRST_CANARY = (
    "models/fraud/{model}.yaml: canary: KServe splits traffic only once a revision of the model has "
    "been rolled out, so on the first deployment of {model} in stack {stack} the canary "
    "(s3://models-bucket/fraud/scorer/v2/) gets all of the traffic and storage_uri never runs; deploy "
    "the model without canary first and add the canary in a second pull request"
)


def errors_of(repo: Workspace, stack: str = "dev") -> tuple[str, ...]:
    """The diff's errors, with the files named as from the repository root (as the CLI does)."""
    return tuple(error.removeprefix(f"{repo.root}/") for error in diff_of(repo, stack).errors)


def test_a_canary_on_a_running_model_is_a_change(repo):
    repo.model(canary=CANARY)
    diff = diff_of(repo)
    assert diff.errors == ()
    changed = {c.key: c.fields for c in diff.changes}
    assert FieldChange("spec.predictor.canaryTrafficPercent", None, 10, ADDED) in changed["InferenceService/team-fraud/scorer"]


def test_a_canary_on_a_new_model_is_refused(repo, monkeypatch, capsys):
    repo.model(name="ranker", canary=CANARY)
    assert errors_of(repo) == (FIRST_CANARY.format(model="ranker", stack="dev"),)
    monkeypatch.chdir(repo.root)
    assert main(["diff", "--stack", "dev", "--base", "base"]) == 1
    assert capsys.readouterr().err == f"stack dev: {FIRST_CANARY.format(model='ranker', stack='dev')}\n"
    assert main(["review", "--base", "base"]) == 1
    assert ":x: stack dev (dev)" in capsys.readouterr().out
    # Without the canary the same model is an ordinary addition.
    repo.model(name="ranker")
    assert diff_of(repo).errors == ()


def test_a_canary_on_a_model_new_to_the_stack_is_refused(repo):
    # Enabled in a stack for the first time (or the stack itself is new): no rolled-out revision there.
    repo.model(environments={"prod": {"enabled": False}})
    repo.stack("prod", environment="prod")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "prod stack without the scorer")
    git(repo, "tag", "-f", "base")
    repo.model(canary=CANARY)
    assert diff_of(repo, "dev").errors == ()
    assert errors_of(repo, "prod") == (FIRST_CANARY.format(model="scorer", stack="prod"),)
    repo.stack("qa")
    assert errors_of(repo, "qa") == (FIRST_CANARY.format(model="scorer", stack="qa"),)


def test_validate_and_plan_only_warn_about_canaries(repo, monkeypatch, capsys):
    # They have no base to compare with, so they cannot tell a first deployment.
    repo.model(canary=CANARY)
    monkeypatch.chdir(repo.root)
    warning = "warning: " + FIRST_CANARY.format(model="scorer", stack="dev").replace(
        "canary: KServe", "canary: if the model is not running yet: KServe")
    assert main(["validate"]) == 0
    assert capsys.readouterr().err == warning + "\n"
    assert main(["plan", "--stack", "dev"]) == 0
    assert capsys.readouterr().err == warning + "\n"


def test_a_canary_of_a_versioned_model_needs_its_own_version(repo):
    repo.model(version="1.0.0", canary=CANARY)
    with pytest.raises(InputError) as caught:
        resolve_deployment(load_catalog(repo.models, "models"), load_stack(repo.stacks, "dev", "stacks"), ["dev"])
    assert [str(p) for p in caught.value.problems] == [
        "models/fraud/scorer.yaml: canary.version: the model is version 1.0.0 and the canary runs other "
        "artifacts; give the canary its own version (its pods and metrics carry it), e.g. the one its "
        "storage_uri holds"
    ]


# Capacity.

def test_min_replicas_that_do_not_fit_fail_validation(workspace):
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(gpu={"count": 1}, scaling={"min_replicas": 3, "max_replicas": 3})
    workspace.stack()
    with pytest.raises(InputError) as caught:
        resolve_deployment(load_catalog(workspace.models), load_stack(workspace.stacks, "dev", "stacks"), ["dev"])
    assert [str(p) for p in caught.value.problems] == [
        "stacks/Pulumi.dev.yaml: modelplane:node_pools.gpu.max_size: the minimum replicas of GPU models need "
        "3 nvidia.com/gpu in pool gpu, 1 more than its 2 node(s) at max_size offer (1 per node); raise "
        "max_size to at least 3 or lower the min_replicas of fraud/scorer (3)"
    ]


def test_capacity_report_and_warning(workspace, monkeypatch, capsys):
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 5})
    workspace.stack()
    monkeypatch.chdir(workspace.root)
    assert main(["plan", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "  gpu nvidia.com/gpu: 1 / 5 of 2" in out
    assert "  warning: pool gpu: at max replicas the models need 5 nvidia.com/gpu, 3 more than the 2 it offers at max size" in out
    assert "one model per pod" in out


# CODEOWNERS.

def test_codeowners_of_the_fixture_catalog():
    catalog = load_catalog(MODELS_DIR, "models")
    expected = render_codeowners(catalog, ["@acme/ml-platform"])
    assert expected.splitlines()[3:5] == ["* @acme/ml-platform", "/models/forecasting/ @acme/forecasting"]
    assert "/models/fraud/ @acme/ml-fraud" in expected.splitlines()


def test_team_without_reviewers_falls_back_to_the_platform(basic_workspace):
    text = render_codeowners(load_catalog(basic_workspace.models), ["@acme/platform"])
    assert text.splitlines()[-2:] == ["* @acme/platform", "/models/fraud/ @acme/platform"]


def test_reviewers_must_be_github_owners(basic_workspace):
    basic_workspace.team(reviewers=["ml-fraud"])
    with pytest.raises(InputError) as caught:
        load_catalog(basic_workspace.models, "models")
    assert [str(p) for p in caught.value.problems] == [
        "models/fraud/team.yaml: reviewers[0]: 'ml-fraud' is not a GitHub owner; write @user, @org/team "
        "or an e-mail address"
    ]


def test_model_fields_for_cost_are_validated(basic_workspace):
    basic_workspace.model(usage={"active_hours_per_day": 25})
    with pytest.raises(InputError) as caught:
        load_catalog(basic_workspace.models, "models")
    assert [str(p) for p in caught.value.problems] == [
        "models/fraud/scorer.yaml: usage.active_hours_per_day: must be at most 24, got the number 25"
    ]


# Warnings belong to the change.

def _short_gpu_pool(workspace: Workspace, max_replicas: int) -> None:
    """A GPU model whose max replicas need more GPUs than the dev stack's gpu pool (2) offers."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": max_replicas})


def test_a_warning_the_base_had_is_still_present_not_news(repo):
    _short_gpu_pool(repo, max_replicas=5)
    commit_as_base(repo)
    repo.model(name="ranker")  # an unrelated change
    diff = diff_of(repo)
    assert diff.warnings == ()
    assert len(diff.still_present) == 1 and "pool gpu: at max replicas the models need 5 nvidia.com/gpu" in diff.still_present[0]


def test_a_warning_the_change_brings_or_worsens_is_new(repo):
    _short_gpu_pool(repo, max_replicas=2)
    commit_as_base(repo)
    _short_gpu_pool(repo, max_replicas=5)  # now short of GPUs at max replicas
    brought = diff_of(repo)
    assert brought.still_present == () and len(brought.warnings) == 1
    assert "stacks/Pulumi.dev.yaml: modelplane:node_pools.gpu.max_size: pool gpu:" in brought.warnings[0]
    commit_as_base(repo)
    _short_gpu_pool(repo, max_replicas=6)  # short by one GPU more: the change makes it worse
    worsened = diff_of(repo)
    assert worsened.still_present == () and "need 6 nvidia.com/gpu" in worsened.warnings[0]


def test_still_present_warnings_in_every_format(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    _short_gpu_pool(repo, max_replicas=5)
    commit_as_base(repo)
    repo.model(name="ranker")
    assert main(["diff", "--stack", "dev", "--base", "base"]) == 3
    text = capsys.readouterr().out
    assert "1 warning(s) still present" in text.splitlines()[0] and "  STILL PRESENT: stacks/Pulumi.dev.yaml:" in text
    assert "WARNING:" not in text
    main(["review", "--base", "base"])
    comment = capsys.readouterr().out
    # The stack is not flagged for a warning the pull request did not bring; the warning is folded.
    assert "- :white_check_mark: stack dev (dev):" in comment
    assert "<details><summary>1 warning(s) still present (the base has them too)</summary>" in comment
    main(["diff", "--stack", "dev", "--base", "base", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert document["warnings"] == [] and len(document["warnings_still_present"]) == 1


def test_text_review_has_the_sections_of_the_markdown_one(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo.root)
    _short_gpu_pool(repo, max_replicas=5)
    assert main(["review", "--base", "base", "--format", "text"]) == 3
    text = capsys.readouterr().out
    main(["review", "--base", "base", "--format", "markdown"])
    comment = capsys.readouterr().out
    for section in ("Serving 1 models on the shared platform", "one model per pod, always on",
                    "pool gpu: at max replicas the models need 5 nvidia.com/gpu"):
        assert section in text and section in comment, section
    # The packing behind the cost: nodes per pool at always-on and peak, and what does not fit.
    unfit = "does not fit at peak replicas: fraud/scorer: pool gpu is at its max_size of 2 nodes"
    assert "Packing at peak replicas:" in text and f"  {unfit}" in text
    assert "| state | pool | nodes (min-max) | CPU | memory | GPU / MIG |" in comment and f"- {unfit}" in comment
    assert "GPU capacity (demanded at min / at max replicas, offered at max size):" in text
    assert "\\n" not in text  # the sections keep their lines
    assert "<summary>GPU capacity</summary>" in comment
    assert text.splitlines()[0] == "modelplane review against base" and text.splitlines()[1].startswith("  stack dev (dev): +")

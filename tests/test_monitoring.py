"""Generated monitoring, checked with the real Prometheus tooling (promtool).

`promtool check rules` validates every generated group. `promtool test rules` runs the per-team
alerts side by side with the per-model alerts they replaced (tests/legacy_model_alerts.py) on
the same synthetic series, and proves they are pending and firing at the same times with the same
labels and annotations: errors and both burn rates, latency, zero replicas, idle models, a
canary, and two teams with a model of the same name. The synthetic series carry exactly the
labels the generated PodMonitor writes onto scraped series.

promtool comes from Debian's `prometheus` package; `.ci/run` installs it and sets
MODELPLANE_REQUIRE_PROMTOOL=1, so in CI these tests fail rather than skip without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.monitoring import SERIES_LABELS, render_monitoring_objects
from components.render.objects import object_id
from components.render.stack_render import render_stack_objects
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACKS_DIR

from tests.legacy_model_alerts import model_alert_rules
from tests.promtool import needs_promtool, promtool


def objects_of(stack: str) -> dict[str, dict]:
    catalog = load_catalog(MODELS_DIR, "models")
    deployment = resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR))
    return {object_id(obj): obj for obj in render_stack_objects(deployment)}


def rule_groups(objects: dict[str, dict]) -> list[dict]:
    return [group for obj in objects.values() if obj["kind"] == "PrometheusRule" for group in obj["spec"]["groups"]]


def write_rules(tmp_path: Path, stack: str) -> Path:
    path = tmp_path / f"rules-{stack}.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(objects_of(stack))}, sort_keys=False))
    return path




@needs_promtool
@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_promtool_accepts_every_rule_group(tmp_path, stack):
    result = promtool("check", "rules", str(write_rules(tmp_path, stack)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_rejects_a_broken_rule(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "x", "expr": "sum(rate(y[5m])"}]}]}))
    assert promtool("check", "rules", str(path)).returncode != 0


def scraped(namespace: str, team: str, model: str, **extra: str) -> str:
    """Labels of a scraped series: namespace (Prometheus adds it) and the PodMonitor's targets."""
    assert {"team", "model"} <= set(SERIES_LABELS.values())
    labels = {"namespace": namespace, "team": team, "model": model, **extra}
    body = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return "{" + body + "}"


def requests(namespace, team, model, code, values):
    return {"series": f"kn_serving_invocation_duration_seconds_count{scraped(namespace, team, model, http_response_status_code=code)}", "values": values}


def replicas(namespace, model, values):
    return {"series": f'kube_deployment_status_replicas_ready{{namespace="{namespace}", deployment="{model}-predictor-00001-deployment"}}', "values": values}


def alert_rule(objects, namespace, alert, model) -> dict:
    for group in rule_groups(objects):
        for rule in group["rules"]:
            if rule.get("alert") == alert and rule["labels"].get("model", model) == model:
                if rule["labels"].get("namespace", namespace) == namespace:
                    return rule
    raise AssertionError(f"no alert {alert} for {model}")


def run_cases(tmp_path: Path, stack: str, cases: list[dict], evaluation_interval: str = "1m") -> None:
    rules = write_rules(tmp_path, stack)
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [rules.name],
        "evaluation_interval": evaluation_interval,
        "tests": cases,
    }, sort_keys=False))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def case(series: list[dict], alert: str, eval_time: str, fires: list[dict], interval: str = "1m") -> dict:
    return {
        "interval": interval,
        "input_series": series,
        "alert_rule_test": [{"eval_time": eval_time, "alertname": alert, "exp_alerts": fires}],
    }


def firing(rule: dict, **series_labels: str) -> dict:
    """The alert promtool must see: the series' labels and the rule's, and the rule's annotations
    with their label templates filled in."""
    labels = {**series_labels, **rule["labels"]}
    annotations = {}
    for key, text in rule["annotations"].items():
        for name, value in labels.items():
            text = text.replace("{{ $labels.%s }}" % name, value)
        annotations[key] = text
    return {"exp_labels": labels, "exp_annotations": annotations}


PROD = "prod"


# The redesigned rules against the per-model rules they replace (tests/legacy_model_alerts.py), on a
# catalog made for it: two teams with a model of the same name (fraud/scorer: critical, its own
# strict objectives; risk/scorer: none, the stack's defaults), and a canary (fraud/ranker).
LEGACY_PREFIX = "Legacy"
NEW_ALERTS = f'ALERTS{{alertname!~"{LEGACY_PREFIX}.+|GpuPoolNearCapacity"}}'
OLD_ALERTS = (f'label_replace(ALERTS{{alertname=~"{LEGACY_PREFIX}.+"}}, "alertname", "$1", '
              f'"alertname", "{LEGACY_PREFIX}(.+)")')


@pytest.fixture
def two_teams(workspace):
    workspace.team("fraud")
    workspace.team("risk", cost_center="CC-2", owners=["ml-risk"], storage={"s3_prefixes": ["s3://models-bucket/risk/"]})
    workspace.model("fraud", "scorer", critical=True, scaling={"min_replicas": 1, "max_replicas": 2},
                    slo={"p95_latency_ms": 250, "error_rate": 0.01, "availability": 0.999})
    workspace.model("fraud", "ranker", storage_uri="s3://models-bucket/fraud/ranker/v1/",
                    canary={"storage_uri": "s3://models-bucket/fraud/ranker/v2/", "traffic_percent": 10})
    workspace.model("risk", "scorer", storage_uri="s3://models-bucket/risk/scorer/v1/")
    workspace.stack("prod", environment="prod")
    catalog = load_catalog(workspace.models, "models")
    return resolve_deployment(catalog, load_stack(workspace.stacks, "prod", "stacks"), ["prod"])


def model_of(deployment, namespace: str, name: str):
    return next(m for m in deployment.models if (m.namespace, m.name) == (namespace, name))


def legacy_rules(deployment) -> list[dict]:
    """The per-model alerts of main, renamed so that both sets can run side by side."""
    rules = []
    for model in deployment.models:
        for rule in model_alert_rules(model, deployment):
            rules.append({**rule, "alert": LEGACY_PREFIX + rule["alert"]})
    return rules


def run_side_by_side(tmp_path: Path, deployment, cases: list[dict], evaluation_interval: str = "1m") -> None:
    groups = [group for obj in render_monitoring_objects(deployment) if obj["kind"] == "PrometheusRule"
              for group in obj["spec"]["groups"]]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups + [{"name": "legacy", "rules": legacy_rules(deployment)}]},
                                    sort_keys=False))
    test_file = tmp_path / "tests.yaml"
    # promtool orders groups it is not told the order of at random at every run (prometheus
    # v2.42.0, the Debian promtool here, cmd/promtool/unittest.go:409-418, orderedGroups: a sort
    # on an empty group_eval_order over a map); in file order every rule
    # reads the series of this evaluation that it depends on, as it does within Prometheus' lookback.
    order = [group["name"] for group in groups] + ["legacy"]
    test_file.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": evaluation_interval,
                                         "group_eval_order": order, "tests": cases}, sort_keys=False))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def same_alerts_at(eval_times: list[str]) -> list[dict]:
    """At each time, the redesigned rules' alerts (pending or firing) and the legacy ones are the
    same set of label sets: neither fires, nor is pending, where the other is not.

    From the second evaluation on: at the very first one (t=0, an empty database) the groups that
    read each other's series find none yet, in an order that differs between the two rule sets.
    In a running Prometheus the series of the previous evaluation are there.
    """
    none = [{"labels": "{}", "value": 0}]
    return [
        {"expr": f"count({first} unless {second}) or vector(0)", "eval_time": at, "exp_samples": none}
        for at in eval_times
        for first, second in ((NEW_ALERTS, OLD_ALERTS), (OLD_ALERTS, NEW_ALERTS))
    ]


def expected_alert(deployment, of: tuple[str, str], alert: str, **series_labels: str) -> dict:
    """The alert as the legacy rule of model ``of`` (namespace, name) raised it: its labels and
    annotations word for word."""
    (rule,) = [r for r in model_alert_rules(model_of(deployment, *of), deployment) if r["alert"] == alert]
    return {"exp_labels": {**series_labels, **rule["labels"]}, "exp_annotations": rule["annotations"]}


def keys(namespace: str, model: str) -> dict[str, str]:
    return {"namespace": namespace, "team": namespace.removeprefix("team-"), "model": model}


def latency_buckets(namespace, team, model, seconds: float, **extra: str) -> list[dict]:
    """Histogram buckets where every request took ``seconds``."""
    return [
        {"series": f"kn_serving_invocation_duration_seconds_bucket{scraped(namespace, team, model, le=le, **extra)}",
         "values": "0+60x120" if float(le.replace("+Inf", "inf")) >= seconds else "0+0x120"}
        for le in ("0.1", "0.5", "1", "2.5", "10", "+Inf")
    ]


EVERY_5M = [f"{minute}m" for minute in range(5, 125, 5)]


@needs_promtool
def test_error_alerts_fire_exactly_where_the_per_model_rules_did(tmp_path, two_teams):
    """3% errors from minute 20 on both scorers: above fraud/scorer's 1% objective (and its burn
    rates at 99.9%), below risk/scorer's default 5%; the canary's 10% errors (its revision's only)
    are above the default and the slow burn rate. Same model name, two teams: no cross-matching."""
    d = two_teams
    series = [
        requests("team-fraud", "fraud", "scorer", "200", "0+97x120"),
        requests("team-fraud", "fraud", "scorer", "500", "0x20 0+3x100"),
        requests("team-risk", "risk", "scorer", "200", "0+97x120"),
        requests("team-risk", "risk", "scorer", "500", "0x20 0+3x100"),
        # Up all along: the critical model's zero-replica alert is not what this test is about.
        replicas("team-fraud", "scorer", "2x120"),
        {"series": "kn_serving_invocation_duration_seconds_count" + scraped(
            "team-fraud", "fraud", "ranker", http_response_status_code="200", revision="ranker-predictor-00001"),
         "values": "0+90x120"},
        {"series": "kn_serving_invocation_duration_seconds_count" + scraped(
            "team-fraud", "fraud", "ranker", http_response_status_code="500", revision="ranker-predictor-00002"),
         "values": "0x20 0+10x100"},
    ]
    fraud, ranker = keys("team-fraud", "scorer"), keys("team-fraud", "ranker")
    run_side_by_side(tmp_path, d, [{
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": same_alerts_at(EVERY_5M),
        "alert_rule_test": [
            {"eval_time": "60m", "alertname": "ModelErrorRateHigh", "exp_alerts": [
                expected_alert(d, ("team-fraud", "ranker"), "ModelErrorRateHigh", **ranker),
                expected_alert(d, ("team-fraud", "scorer"), "ModelErrorRateHigh", **fraud),
            ]},
            {"eval_time": "60m", "alertname": "ModelErrorBudgetBurnFast", "exp_alerts": [
                expected_alert(d, ("team-fraud", "scorer"), "ModelErrorBudgetBurnFast", **fraud),
            ]},
            # The six-hour ratio of the canary's 10% passes 6 x 1% once the errors are most of the data.
            {"eval_time": "120m", "alertname": "ModelErrorBudgetBurnSlow", "exp_alerts": [
                expected_alert(d, ("team-fraud", "ranker"), "ModelErrorBudgetBurnSlow", **ranker),
                expected_alert(d, ("team-fraud", "scorer"), "ModelErrorBudgetBurnSlow", **fraud),
            ]},
            # Pending (for: 5m), not firing yet, two minutes after the errors began.
            {"eval_time": "23m", "alertname": "ModelErrorRateHigh", "exp_alerts": []},
        ],
    }, {
        # Healthy: nothing anywhere.
        "interval": "1m",
        "input_series": [series[0], series[2], series[4], series[5]],
        "promql_expr_test": same_alerts_at(["30m", "90m"]) + [
            {"expr": "count(ALERTS) or vector(0)", "eval_time": "90m", "exp_samples": [{"labels": "{}", "value": 0}]},
        ],
    }])


@needs_promtool
def test_a_lingering_old_objective_does_not_silence_the_team(tmp_path, two_teams):
    """fraud/scorer's error_rate and availability objectives were changed (1% from 5%, 99.9% from
    99%), and the old values' threshold series are still inside the lookback (after a Prometheus
    restart no stale marker ends them). Two series on group_left's "one" side would fail the rule
    for the whole team ("found duplicate series for the match group", prometheus v3.14.0
    promql/engine.go:3213-3227; a failed rule sends no alert, rules/group.go:533-553): the alerts
    compare with the strictest, so they fire as before, with the strictest in their annotations."""
    d = two_teams
    fraud_scorer = 'namespace="team-fraud", team="fraud", model="scorer"'
    series = [
        requests("team-fraud", "fraud", "scorer", "200", "0+97x120"),
        requests("team-fraud", "fraud", "scorer", "500", "0x20 0+3x100"),
        replicas("team-fraud", "scorer", "2x120"),
        {"series": f'modelplane:slo_error_rate_threshold_ratio{{{fraud_scorer}, slo_error_rate="0.05"}}',
         "values": "0.05x120"},
        {"series": f'modelplane:slo_error_budget_ratio{{{fraud_scorer}, slo_availability="0.99"}}',
         "values": "0.01x120"},
    ]
    fraud = keys("team-fraud", "scorer")
    run_side_by_side(tmp_path, d, [{
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": same_alerts_at(["30m", "60m"]),
        "alert_rule_test": [
            {"eval_time": "60m", "alertname": "ModelErrorRateHigh", "exp_alerts": [
                expected_alert(d, ("team-fraud", "scorer"), "ModelErrorRateHigh", **fraud),
            ]},
            {"eval_time": "60m", "alertname": "ModelErrorBudgetBurnFast", "exp_alerts": [
                expected_alert(d, ("team-fraud", "scorer"), "ModelErrorBudgetBurnFast", **fraud),
            ]},
        ],
    }])


@needs_promtool
def test_latency_alerts_fire_exactly_where_the_per_model_rules_did(tmp_path, two_teams):
    """Every request takes 0.4 s (p95 0.48 s): above fraud/scorer's 250 ms, below risk/scorer's
    default 1000 ms, although both are called scorer."""
    d = two_teams
    series = [
        requests("team-fraud", "fraud", "scorer", "200", "0+60x120"),
        requests("team-risk", "risk", "scorer", "200", "0+60x120"),
        replicas("team-fraud", "scorer", "2x120"),
        *latency_buckets("team-fraud", "fraud", "scorer", 0.4),
        *latency_buckets("team-risk", "risk", "scorer", 0.4),
    ]
    run_side_by_side(tmp_path, d, [{
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": same_alerts_at(EVERY_5M),
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "ModelLatencyHigh", "exp_alerts": [
                expected_alert(d, ("team-fraud", "scorer"), "ModelLatencyHigh", **keys("team-fraud", "scorer")),
            ]},
        ],
    }])


@needs_promtool
def test_zero_replica_alerts_fire_exactly_where_the_per_model_rules_did(tmp_path, two_teams):
    """fraud/scorer (critical, min 1) goes to zero at minute 10; risk/scorer, same name, is at zero
    all along and is not critical; then fraud/scorer's Deployment is gone entirely."""
    d = two_teams
    fraud_keys = keys("team-fraud", "scorer")
    run_side_by_side(tmp_path, d, [{
        "interval": "1m",
        "input_series": [replicas("team-fraud", "scorer", "2x10 0x30"), replicas("team-risk", "scorer", "0x40")],
        "promql_expr_test": same_alerts_at([f"{minute}m" for minute in range(3, 45, 3)]),
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "CriticalModelAtZeroReplicas", "exp_alerts": [
                expected_alert(d, ("team-fraud", "scorer"), "CriticalModelAtZeroReplicas", **fraud_keys)]},
            {"eval_time": "8m", "alertname": "CriticalModelAtZeroReplicas", "exp_alerts": []},
        ],
    }, {
        "interval": "1m",
        "input_series": [replicas("team-risk", "scorer", "2x40")],
        "promql_expr_test": same_alerts_at(["10m", "30m"]),
        "alert_rule_test": [
            # Never came up: the legacy rule's absent() had only namespace and model from the series.
            {"eval_time": "30m", "alertname": "CriticalModelAtZeroReplicas", "exp_alerts": [
                expected_alert(d, ("team-fraud", "scorer"), "CriticalModelAtZeroReplicas",
                               namespace="team-fraud", model="scorer")]},
        ],
    }, {
        "interval": "1m",
        "input_series": [replicas("team-fraud", "scorer", "1x40"), replicas("team-risk", "scorer", "0x40")],
        "promql_expr_test": same_alerts_at(["10m", "30m"]) + [
            {"expr": "count(ALERTS) or vector(0)", "eval_time": "30m", "exp_samples": [{"labels": "{}", "value": 0}]},
        ],
    }])


@needs_promtool
def test_idle_alerts_fire_exactly_where_the_per_model_rules_did(tmp_path, two_teams):
    """31 days, evaluated hourly: fraud/scorer never used, risk/scorer always, fraud/ranker only
    yesterday. A model added a week ago (at 7 days every model) is not idle yet."""
    d = two_teams
    hours = 31 * 24
    series = [
        requests("team-risk", "risk", "scorer", "200", f"0+100x{hours}"),
        requests("team-fraud", "fraud", "ranker", "200", f"0x{hours - 24} 1+1x24"),
        # Keeps fraud/scorer at a replica: its zero-replica alert is not what this test is about.
        replicas("team-fraud", "scorer", f"1x{hours}"),
    ]
    idle = 'ALERTS{alertname="ModelIdle30Days", alertstate="firing"}'
    run_side_by_side(tmp_path, d, [{
        "interval": "1h",
        "input_series": series,
        # promtool's alert_rule_test misses alerts under an hourly evaluation interval: read ALERTS.
        "promql_expr_test": same_alerts_at(["7d", "30d", "31d"]) + [
            {"expr": idle, "eval_time": "31d", "exp_samples": [{
                "labels": "ALERTS" + scraped("team-fraud", "fraud", "scorer", alertname="ModelIdle30Days",
                                             alertstate="firing", cost_center="CC-1", severity="info"),
                "value": 1}]},
            {"expr": f"count({idle}) or vector(0)", "eval_time": "7d", "exp_samples": [{"labels": "{}", "value": 0}]},
        ],
    }], evaluation_interval="1h")


def test_alert_rules_do_not_grow_with_the_team_s_models(workspace):
    """Ten models with the stack's objectives, or eleven: the same alert rules, one more info series."""
    workspace.team()
    for index in range(10):
        workspace.model(name=f"model-{index}")
    workspace.stack()

    def team_groups():
        catalog = load_catalog(workspace.models, "models")
        deployment = resolve_deployment(catalog, load_stack(workspace.stacks, "dev", "stacks"), ["dev"])
        (rules,) = [obj for obj in render_monitoring_objects(deployment) if obj["metadata"]["name"] == "modelplane-fraud"]
        return rules["spec"]["groups"]

    catalog_before, objectives_before, alerts_before = team_groups()
    workspace.model(name="model-10")
    catalog_after, objectives_after, alerts_after = team_groups()
    assert (objectives_after, alerts_after) == (objectives_before, alerts_before)
    added = [rule for rule in catalog_after["rules"] if rule not in catalog_before["rules"]]
    assert [(rule["record"], rule["labels"]["model"]) for rule in added] == [("modelplane:model_info", "model-10")]
    assert len(catalog_after["rules"]) == len(catalog_before["rules"]) + 1


@needs_promtool
def test_gpu_pool_alert(tmp_path):
    objects = objects_of(PROD)
    node = '{node="ip-10-0-1-1", label_modelplane_dev_node_pool="gpu-l40s"}'

    def gpu_requests(count: int) -> dict:
        return {"series": 'kube_pod_container_resource_requests{node="ip-10-0-1-1", resource="nvidia_com_gpu", namespace="team-search", pod="p"}', "values": f"{count}x60"}

    saturation = alert_rule(objects, "", "GpuPoolNearCapacity", "")
    run_cases(tmp_path, PROD, [
        # gpu-l40s offers 6 GPUs at its max size (6 x g6e.xlarge): 6 requested is saturated.
        case([{"series": f"kube_node_labels{node}", "values": "1x60"}, gpu_requests(6)], "GpuPoolNearCapacity", "30m",
             [firing(saturation, node_pool="gpu-l40s", resource="nvidia_com_gpu")]),
        case([{"series": f"kube_node_labels{node}", "values": "1x60"}, gpu_requests(2)], "GpuPoolNearCapacity", "30m", []),
    ])


@needs_promtool
def test_cold_starts_and_ready_replicas_are_recorded(tmp_path):
    ns, model = "team-fraud", "fraud-detector-v2"
    rules = write_rules(tmp_path, PROD)
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [replicas(ns, model, "0x5 1x5")],
            "promql_expr_test": [
                {"expr": f'modelplane:ready_replicas{{model="{model}"}}', "eval_time": "8m",
                 "exp_samples": [{"labels": f'modelplane:ready_replicas{{namespace="{ns}", team="fraud", model="{model}"}}', "value": 1}]},
                {"expr": f'count_over_time(modelplane:scaled_from_zero{{model="{model}"}}[10m])', "eval_time": "10m",
                 "exp_samples": [{"labels": f'{{namespace="{ns}", team="fraud", model="{model}"}}', "value": 1}]},
            ],
        }],
    }, sort_keys=False))
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_routes_to_a_team_and_links_a_runbook():
    for stack in FIXTURE_STACKS:
        for group in rule_groups(objects_of(stack)):
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["labels"]["team"] and rule["labels"]["severity"]
                    assert rule["annotations"]["summary"]
                    assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())
                    if rule["labels"]["team"] != "platform":
                        assert rule["labels"]["cost_center"]


def test_pod_monitor_copies_model_labels_onto_series():
    objects = objects_of(PROD)
    monitor = objects["PodMonitor/team-fraud/model-servers"]["spec"]
    queue_proxy, istio = monitor["podMetricsEndpoints"]
    assert (queue_proxy["port"], queue_proxy["path"]) == ("http-usermetric", "/metrics")
    targets = {r["targetLabel"]: r["sourceLabels"][0] for r in queue_proxy["relabelings"]}
    assert targets == {
        "team": "__meta_kubernetes_pod_label_modelplane_dev_team",
        "model": "__meta_kubernetes_pod_label_modelplane_dev_model",
        "model_version": "__meta_kubernetes_pod_label_app_kubernetes_io_version",
        "cost_center": "__meta_kubernetes_pod_label_modelplane_dev_cost_center",
        "revision": "__meta_kubernetes_pod_label_serving_knative_dev_revision",
    }
    assert istio["relabelings"][-1] == {
        "sourceLabels": ["__address__"], "regex": r"([^:]+)(?::\d+)?", "replacement": "$1:15020", "targetLabel": "__address__",
    }
    # The labels come from the pods: every model's predictor carries them.
    service = objects["InferenceService/team-fraud/fraud-detector-v2"]["spec"]["predictor"]
    assert {"modelplane.dev/team", "modelplane.dev/model", "modelplane.dev/cost-center"} <= set(service["labels"])
    annotations = service["annotations"]
    assert annotations["traffic.sidecar.istio.io/excludeInboundPorts"] == "9091"
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == ("8080", "/metrics")


def test_model_slo_overrides_the_stack_default():
    """transaction-scorer's file sets 250 ms; the other fraud models take the stack's 1000 ms."""
    objects = objects_of(PROD)
    catalog, objectives, _ = objects["PrometheusRule/team-fraud/modelplane-fraud"]["spec"]["groups"]
    info = {r["labels"]["model"]: r["labels"]["slo_p95_latency_ms"] for r in catalog["rules"]}
    assert info["transaction-scorer"] == "250" and info["fraud-detector-v2"] == "1000"
    thresholds = [r["expr"] for r in objectives["rules"] if r["record"] == "modelplane:slo_latency_threshold_seconds"]
    assert thresholds == [
        '0.25 * group by (namespace, team, model) (modelplane:model_info{namespace="team-fraud", slo_p95_latency_ms="250"})',
        '1 * group by (namespace, team, model) (modelplane:model_info{namespace="team-fraud", slo_p95_latency_ms="1000"})',
    ]

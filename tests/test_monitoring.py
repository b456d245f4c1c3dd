"""Generated monitoring, checked with the real Prometheus tooling (promtool).

`promtool check rules` validates every generated group; `promtool test rules` proves each alert
fires on a synthetic series that breaks its objective and stays silent on a healthy one, for a
scale-to-zero model, a critical model and a GPU model of the bundled catalog. The synthetic
series carry exactly the labels the generated PodMonitor writes onto scraped series.

promtool comes from Debian's `prometheus` package; `.ci/run` installs it and sets
MODELPLANE_REQUIRE_PROMTOOL=1, so in CI these tests fail rather than skip without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.monitoring import SERIES_LABELS
from components.render.objects import object_id
from components.render.stack_render import render_stack_objects
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACKS_DIR

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


def buckets(namespace, team, model, slow: bool):
    """Histogram buckets where every request took 2 s (slow) or 50 ms."""
    series = []
    for le in ("0.1", "0.5", "1", "2.5", "10", "+Inf"):
        fast_enough = float(le.replace("+Inf", "inf")) >= (2.0 if slow else 0.05)
        series.append({
            "series": f"kn_serving_invocation_duration_seconds_bucket{scraped(namespace, team, model, le=le)}",
            "values": "0+60x60" if fast_enough else "0+0x60",
        })
    return series


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


@needs_promtool
def test_scale_to_zero_model_alerts(tmp_path):
    objects = objects_of(PROD)
    ns, team, model = "team-fraud", "fraud", "fraud-detector-v2"
    healthy = [requests(ns, team, model, "200", "0+60x60")]
    failing = healthy + [requests(ns, team, model, "500", "0+30x60")]
    error_labels = alert_rule(objects, ns, "ModelErrorRateHigh", model)
    latency_labels = alert_rule(objects, ns, "ModelLatencyHigh", model)
    expected_keys = {"namespace": ns, "team": team, "model": model}
    run_cases(tmp_path, PROD, [
        case(failing, "ModelErrorRateHigh", "30m", [firing(error_labels, **expected_keys)]),
        case(healthy, "ModelErrorRateHigh", "30m", []),
        case(healthy + buckets(ns, team, model, slow=True), "ModelLatencyHigh", "30m",
             [firing(latency_labels, **expected_keys)]),
        case(healthy + buckets(ns, team, model, slow=False), "ModelLatencyHigh", "30m", []),
    ])
    # At zero replicas when idle is what a scale-to-zero model is for: it has no such alert.
    rules = [r for g in rule_groups(objects) for r in g["rules"] if r.get("labels", {}).get("model") == model]
    assert "CriticalModelAtZeroReplicas" not in {rule.get("alert") for rule in rules}


@needs_promtool
def test_idle_model_is_a_clean_up_candidate(tmp_path):
    objects = objects_of(PROD)
    ns, team, model = "team-fraud", "fraud", "churn-predictor-v1"
    rule = alert_rule(objects, ns, "ModelIdle30Days", model)
    # 31 days of hourly samples, rules evaluated hourly (promtool evaluates every group at each
    # step, so minute steps would take minutes): never a request for this model, while every
    # other model of the stack is used all the time.
    hours = 31 * 24
    others = [
        r["labels"] for group in rule_groups(objects) for r in group["rules"]
        if r.get("record") == "modelplane:model_info" and r["labels"]["model"] != model
    ]
    busy = [requests(o["namespace"], o["team"], o["model"], "200", f"0+100x{hours}") for o in others]
    used_yesterday = requests(ns, team, model, "200", f"0x{hours - 24} 1+1x24")
    # promtool's alert_rule_test misses alerts under an hourly evaluation interval, so the alert
    # is read from the ALERTS series Prometheus itself writes.
    firing_series = "ALERTS" + scraped(ns, team, model, alertname="ModelIdle30Days", alertstate="firing",
                                       cost_center=rule["labels"]["cost_center"], severity="info")
    idle_alerts = 'count(ALERTS{alertname="ModelIdle30Days", alertstate="firing"}) or vector(0)'

    def expect(series, eval_time, samples):
        return {"interval": "1h", "input_series": series,
                "promql_expr_test": [{"expr": expr, "eval_time": eval_time, "exp_samples": exp}
                                     for expr, exp in samples]}

    run_cases(tmp_path, PROD, [
        expect(busy, "31d", [
            ('ALERTS{alertname="ModelIdle30Days", alertstate="firing"}', [{"labels": firing_series, "value": 1}]),
        ]),
        expect(busy + [used_yesterday], "31d", [(idle_alerts, [{"labels": "{}", "value": 0}])]),
        # A model added a week ago is not idle yet.
        expect(busy, "7d", [(idle_alerts, [{"labels": "{}", "value": 0}])]),
    ], evaluation_interval="1h")


@needs_promtool
def test_critical_model_alerts(tmp_path):
    objects = objects_of(PROD)
    ns, team, model = "team-fraud", "fraud", "transaction-scorer"
    at_zero = alert_rule(objects, ns, "CriticalModelAtZeroReplicas", model)
    burn = alert_rule(objects, ns, "ModelErrorBudgetBurnFast", model)
    assert at_zero["labels"]["severity"] == "critical" and burn["labels"]["severity"] == "critical"
    keys = {"namespace": ns, "team": team, "model": model}
    traffic = [requests(ns, team, model, "200", "0+60x120")]
    # The other critical model of the prod stack stays up in every case.
    embedder_up = replicas("team-search", "query-embedder", "1x40")
    run_cases(tmp_path, PROD, [
        case([embedder_up, replicas(ns, model, "2x10 0x30")], "CriticalModelAtZeroReplicas", "30m",
             [firing(at_zero, **keys)]),
        case([embedder_up, replicas(ns, model, "2x40")], "CriticalModelAtZeroReplicas", "30m", []),
        # No deployment at all (it never came up) is also zero.
        case([embedder_up], "CriticalModelAtZeroReplicas", "30m", [firing(at_zero, namespace=ns, model=model)]),
        case(traffic + [requests(ns, team, model, "503", "0+60x120")], "ModelErrorBudgetBurnFast", "90m",
             [firing(burn, **keys)]),
        case(traffic + [requests(ns, team, model, "503", "0+0x120")], "ModelErrorBudgetBurnFast", "90m", []),
    ])


@needs_promtool
def test_gpu_model_and_pool_alerts(tmp_path):
    objects = objects_of(PROD)
    ns, team, model = "team-search", "search", "query-embedder"
    latency = alert_rule(objects, ns, "ModelLatencyHigh", model)
    healthy = [requests(ns, team, model, "200", "0+60x60")]
    node = '{node="ip-10-0-1-1", label_modelplane_dev_node_pool="gpu-l40s"}'

    def gpu_requests(count: int) -> dict:
        return {"series": f'kube_pod_container_resource_requests{{node="ip-10-0-1-1", resource="nvidia_com_gpu", namespace="{ns}", pod="p"}}', "values": f"{count}x60"}

    saturation = alert_rule(objects, "", "GpuPoolNearCapacity", "")
    run_cases(tmp_path, PROD, [
        # query-embedder's own objective: p95 under its SLO (the file sets none, so the default).
        case(healthy + buckets(ns, team, model, slow=True), "ModelLatencyHigh", "30m",
             [firing(latency, namespace=ns, team=team, model=model)]),
        case(healthy + buckets(ns, team, model, slow=False), "ModelLatencyHigh", "30m", []),
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
    objects = objects_of(PROD)
    scorer = [r for g in objects["PrometheusRule/team-fraud/modelplane-fraud"]["spec"]["groups"] for r in g["rules"]
              if r.get("alert") == "ModelLatencyHigh" and r["labels"]["model"] == "transaction-scorer"]
    assert scorer[0]["expr"].endswith("> 0.25")

"""Per-model monitoring generated from the catalog: scraping, recording rules and alerts.

Metrics relied on (pinned versions: Knative 1.23, KServe v0.20, Istio 1.30, kube-state-metrics of
kube-prometheus-stack 88):

* Knative queue-proxy, port 9091 (``request-metrics-protocol: prometheus``):
  ``kn_serving_invocation_duration_seconds_{bucket,count}`` with ``http_response_status_code``.
  Knative renamed its request metrics in the OpenTelemetry migration (1.18-1.21); these are the
  1.21+ names.
* The model server's own metrics, merged by Istio into the sidecar's port 15020:
  ``request_predict_seconds_bucket``, recorded only by KServe's Python servers (kserve/kserve @
  v0.20.0 ``python/kserve/kserve/metrics.py:25-27``, observed in ``model.py:242``; see
  ``ServingRuntime.predict_latency``). Triton, TorchServe, MLServer and TF Serving have no such
  series, so their models get no model-server latency rule, panel or query. Hugging Face models
  record it for the v1/v2 predict endpoints, not for the OpenAI-style ones.
* kube-state-metrics: ``kube_deployment_status_replicas_ready`` (Knative runs each revision as
  the Deployment ``<model>-predictor-<n>-deployment``), ``kube_pod_container_resource_requests``
  and ``kube_node_labels`` (with the node-pool label allow-listed).

Every scraped series carries ``namespace`` plus ``team``, ``model``, ``model_version``,
``cost_center`` and ``revision``, copied from the pod's labels by the PodMonitor. Recording rules
aggregate by ``namespace, team, model``; alerts match on ``namespace`` and ``model``.

Objectives are series, not numbers in expressions: each team's rules record, per objective, one
threshold series for every model (``modelplane:slo_*``, one rule per distinct value, selected by
the ``slo_*`` labels of the model's info series), and each alert is one rule per team (and
severity) comparing every model's series with its threshold ``on (namespace, model)``. Adding a
model adds its info series and nothing else, unless it brings a new objective value.
"""

from __future__ import annotations

import re
from typing import Any

from components.catalog.deployed import DeployedModel, StackDeployment
from components.catalog.placement import gpu_offer
from components.catalog.loader import CatalogTeam
from components.platform_names import COST_CENTER_LABEL, MODEL_LABEL, MONITORING_NAMESPACE, TEAM_LABEL
from components.render.objects import COMPONENT_LABEL, MONITORING_COMPONENT, KubeObject, metadata
from components.render.team_objects import team_labels

PODMONITOR_NAME = "model-servers"
RECORDING_RULES_NAME = "modelplane-models"

# Recorded series (the dashboards query only these).
REQUESTS_RATE = "modelplane:requests:rate5m"
ERROR_RATIO = "modelplane:error_ratio:rate{window}"
LATENCY = "modelplane:latency_seconds:p{quantile}_{window}"
PREDICT_LATENCY_P95 = "modelplane:predict_latency_seconds:p95_5m"
READY_REPLICAS = "modelplane:ready_replicas"
SCALED_FROM_ZERO = "modelplane:scaled_from_zero"
REQUESTS_HOURLY = "modelplane:requests:increase1h"
MODEL_INFO = "modelplane:model_info"
GPU_REQUESTS = "modelplane:gpu_requests:sum"
GPU_CAPACITY = "modelplane:gpu_capacity:max"
GPU_SATURATION = "modelplane:gpu_saturation:ratio"
# Each model's objectives in the stack as series (one per model, on namespace, team, model): the
# alerts compare with them, the team dashboard draws them.
LATENCY_THRESHOLD = "modelplane:slo_latency_threshold_seconds"
ERROR_RATE_THRESHOLD = "modelplane:slo_error_rate_threshold_ratio"
ERROR_BUDGET = "modelplane:slo_error_budget_ratio"

REQUEST_COUNT = "kn_serving_invocation_duration_seconds_count"
REQUEST_BUCKET = "kn_serving_invocation_duration_seconds_bucket"
PREDICT_BUCKET = "request_predict_seconds_bucket"
MODEL_KEYS = "namespace, team, model"
ERROR_WINDOWS = ("5m", "30m", "1h", "6h")
LATENCY_QUANTILES = ("50", "95", "99")
# Hourly request counts over 30 days, minus a day of slack: the model existed for the whole window.
IDLE_DAYS = 30
IDLE_MIN_HOURLY_SAMPLES = (IDLE_DAYS - 1) * 24
# Multi-window burn rates from the SRE workbook: 2% of a 30-day budget in an hour (page),
# 5% in six hours (ticket).
FAST_BURN, SLOW_BURN = 14.4, 6.0

# Pod label -> label on every scraped series.
SERIES_LABELS = {
    TEAM_LABEL: "team",
    MODEL_LABEL: "model",
    "app.kubernetes.io/version": "model_version",
    COST_CENTER_LABEL: "cost_center",
    "serving.knative.dev/revision": "revision",
}


def _meta_label(pod_label: str) -> str:
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9_]", "_", pod_label)


def extended_resource_label(resource: str) -> str:
    """How kube-state-metrics spells an extended resource: ``nvidia.com/mig-1g.10gb`` ->
    ``nvidia_com_mig_1g_10gb``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", resource)


def exports_predict_latency(model: DeployedModel) -> bool:
    """Whether the model's server records ``request_predict_seconds`` (KServe's Python servers)."""
    return model.spec.serving_runtime.predict_latency


def render_monitoring_objects(deployment: StackDeployment) -> list[KubeObject]:
    objects: list[KubeObject] = [render_recording_rules(deployment)]
    deployed_teams = {model.team.name for model in deployment.models}
    for team in deployment.teams:
        if team.name in deployed_teams:
            objects.append(render_pod_monitor(team))
            objects.append(render_team_rules(team, deployment))
    return objects


def render_pod_monitor(team: CatalogTeam) -> KubeObject:
    relabelings = [
        {"sourceLabels": [_meta_label(pod_label)], "targetLabel": target}
        for pod_label, target in SERIES_LABELS.items()
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": metadata(PODMONITOR_NAME, team.namespace, team_labels(team)),
        "spec": {
            "selector": {"matchExpressions": [{"key": MODEL_LABEL, "operator": "Exists"}]},
            "podMetricsEndpoints": [
                {
                    # Knative's queue-proxy: one series per request outcome, for every model.
                    "port": "http-usermetric",
                    "path": "/metrics",
                    "relabelings": relabelings,
                },
                {
                    # Istio's agent on 15020 serves Envoy's and the model server's metrics,
                    # merged, in plaintext. 15020 is not a declared port, so the target is
                    # the declared Envoy port with its address rewritten.
                    "port": "http-envoy-prom",
                    "path": "/stats/prometheus",
                    "relabelings": relabelings + [{
                        "sourceLabels": ["__address__"],
                        "regex": r"([^:]+)(?::\d+)?",
                        "replacement": "$1:15020",
                        "targetLabel": "__address__",
                    }],
                },
            ],
        },
    }


def _record(name: str, expr: str) -> dict[str, Any]:
    return {"record": name, "expr": expr}


def recording_groups(deployment: StackDeployment) -> list[dict[str, Any]]:
    """The rule groups every model shares; they yield one series per model."""
    requests = []
    requests.append(_record(REQUESTS_RATE, f"sum by ({MODEL_KEYS}) (rate({REQUEST_COUNT}[5m]))"))
    for window in ERROR_WINDOWS:
        total = f"sum by ({MODEL_KEYS}) (rate({REQUEST_COUNT}[{window}]))"
        errors = f'sum by ({MODEL_KEYS}) (rate({REQUEST_COUNT}{{http_response_status_code=~"5.."}}[{window}]))'
        # A model that never failed has no 5xx series; count it as zero errors, not as unknown.
        requests.append(_record(ERROR_RATIO.format(window=window), f"({errors} or 0 * {total}) / {total}"))
    for window in ("5m", "1h"):
        for quantile in LATENCY_QUANTILES:
            requests.append(_record(
                LATENCY.format(quantile=quantile, window=window),
                f"histogram_quantile(0.{quantile}, sum by ({MODEL_KEYS}, le) (rate({REQUEST_BUCKET}[{window}])))",
            ))
    if any(exports_predict_latency(model) for model in deployment.models):
        requests.append(_record(
            PREDICT_LATENCY_P95,
            f"histogram_quantile(0.95, sum by ({MODEL_KEYS}, le) (rate({PREDICT_BUCKET}[5m])))",
        ))
    ready = (
        'sum by (namespace, model) (label_replace('
        'kube_deployment_status_replicas_ready{deployment=~".+-predictor-[0-9]+-deployment"}, '
        '"model", "$1", "deployment", "(.+)-predictor-[0-9]+-deployment"))'
        f" * on (namespace, model) group_left (team) group by ({MODEL_KEYS}) ({MODEL_INFO})"
    )
    replicas = [
        _record(READY_REPLICAS, ready),
        # Present at the minute a model went from no ready replica to some: a cold start.
        _record(SCALED_FROM_ZERO, f"({READY_REPLICAS} > 0) and on ({MODEL_KEYS}) ({READY_REPLICAS} offset 1m == 0)"),
    ]
    usage = [_record(
        REQUESTS_HOURLY,
        # Scaled-to-zero models have no series at all; they count as zero, so "idle" is knowable.
        # The catalog's info series is written by another group; reading its last two hours keeps
        # every model even when that group ran longer ago than Prometheus' 5-minute lookback.
        f"sum by ({MODEL_KEYS}) (increase({REQUEST_COUNT}[1h]))"
        f" or sum by ({MODEL_KEYS}) (0 * max_over_time({MODEL_INFO}[2h]))",
    )]
    gpu = [
        _record(
            GPU_REQUESTS,
            'sum by (node_pool, resource) (kube_pod_container_resource_requests{resource=~"nvidia_com_.+"}'
            ' * on (node) group_left (node_pool) label_replace(kube_node_labels, "node_pool", "$1", '
            '"label_modelplane_dev_node_pool", "(.+)"))',
        ),
    ]
    settings = deployment.stack.settings
    for pool_name, pool in sorted(settings.node_pools.items()):
        for resource, per_node in sorted(gpu_offer(pool, settings.mig_strategy).items()):
            gpu.append({
                "record": GPU_CAPACITY,
                # What the pool offers at its max size: the autoscaler cannot add more.
                "expr": f"vector({per_node * pool.max_size})",
                "labels": {"node_pool": pool_name, "resource": extended_resource_label(resource)},
            })
    gpu.append(_record(GPU_SATURATION, f"{GPU_REQUESTS} / on (node_pool, resource) {GPU_CAPACITY}"))
    monitoring = settings.monitoring
    gpu_alert = {
        "alert": "GpuPoolNearCapacity",
        "expr": f"{GPU_SATURATION} > {monitoring.gpu_saturation_ratio:g}",
        "for": "15m",
        "labels": {"severity": "warning", "team": "platform"},
        "annotations": {
            "summary": "GPU pool {{ $labels.node_pool }} is near its max size",
            "description": (
                f"Pods request more than {monitoring.gpu_saturation_ratio:.0%} of the "
                "{{ $labels.resource }} the pool offers at its max size; new replicas of GPU models "
                "will stay pending. Raise the pool's max_size or move models to another pool."
            ),
            "runbook_url": f"{monitoring.runbook_url}#gpupoolnearcapacity",
        },
    }
    return [
        {"name": "modelplane.requests", "interval": "1m", "rules": requests},
        {"name": "modelplane.replicas", "interval": "1m", "rules": replicas},
        {"name": "modelplane.usage", "interval": "1h", "rules": usage},
        {"name": "modelplane.gpu", "interval": "1m", "rules": gpu + [gpu_alert]},
    ]


def render_recording_rules(deployment: StackDeployment) -> KubeObject:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(RECORDING_RULES_NAME, MONITORING_NAMESPACE, {COMPONENT_LABEL: MONITORING_COMPONENT}),
        "spec": {"groups": recording_groups(deployment)},
    }


def model_info_rule(model: DeployedModel) -> dict[str, Any]:
    """One always-present series per deployed model: the catalog, as Prometheus sees it. Its
    ``slo_*`` labels are the model's objectives in this stack, from which the threshold series
    are recorded (PromQL cannot turn a label into a value, so one rule per distinct value does)."""
    return {
        "record": MODEL_INFO,
        "expr": "vector(1)",
        "labels": {
            "namespace": model.namespace,
            "team": model.team.name,
            "model": model.name,
            "cost_center": model.team.spec.cost_center,
            "model_version": model.spec.version or "",
            "critical": "true" if model.spec.critical else "false",
            "min_replicas": str(model.min_replicas),
            "gpu": model.gpu.resource if model.gpu else "",
            **slo_labels(model),
        },
    }


def slo_labels(model: DeployedModel) -> dict[str, str]:
    """The model's objectives as ``model_info`` labels, spelt as the threshold rules select them."""
    return {
        # str() of a float is its shortest exact spelling: two objectives never share a label.
        "slo_p95_latency_ms": str(model.slo.p95_latency_ms),
        "slo_error_rate": str(model.slo.error_rate),
        "slo_availability": str(model.slo.availability),
    }


# (threshold series, model_info label it is recorded from, label value -> threshold value)
SLO_THRESHOLDS: tuple[tuple[str, str, Any], ...] = (
    (LATENCY_THRESHOLD, "slo_p95_latency_ms", lambda ms: int(ms) / 1000),
    (ERROR_RATE_THRESHOLD, "slo_error_rate", float),
    (ERROR_BUDGET, "slo_availability", lambda availability: 1 - float(availability)),
)


def threshold_rules(team: CatalogTeam, models: tuple[DeployedModel, ...]) -> list[dict[str, Any]]:
    """One rule per objective and distinct value among the team's models, emitting the threshold
    for every model whose info series carries that value: adding a model with the stack's default
    objectives adds no rule here."""
    rules = []
    for series, label, threshold_of in SLO_THRESHOLDS:
        for value in sorted({slo_labels(model)[label] for model in models}, key=float):
            info = f'{MODEL_INFO}{{namespace="{team.namespace}", {label}="{value}"}}'
            rules.append({
                "record": series,
                # 15 digits: 1 - 0.999 is written 0.001, not 0.0010000000000000009.
                "expr": f"{threshold_of(value):.15g} * group by ({MODEL_KEYS}) ({info})",
                # Distinct labels per rule (the namespace is the series' own): promtool reports
                # rules that record the same name with the same labels as conflicting.
                "labels": {"namespace": team.namespace, label: value},
            })
    return rules


def objective_template(expr: str, format_: str, label: str = "") -> str:
    """Alert-template text that prints the alerting model's objective, read back from the series the
    alert compared with (``expr`` is formatted with namespace and model), so the annotation says the
    number as the per-model rules did. ``label``: print that label of the series, not its value."""
    query = f'printf "{expr}" $labels.namespace $labels.model | query'
    shown = f'label "{label}"' if label else f'value | printf "{format_}"'
    return "{{ with " + query + " }}{{ . | first | " + shown + " }}{{ end }}"


def _series_of_model(series: str) -> str:
    return series + "{namespace=%q, model=%q}"


def _objective_of_model(series: str) -> str:
    # The strictest, as the alerts compare with (see ``strictest``).
    return "min(" + _series_of_model(series) + ")"


def team_alert_rules(team: CatalogTeam, models: tuple[DeployedModel, ...], deployment: StackDeployment) -> list[dict[str, Any]]:
    """Each alert once per team (per severity), comparing every model's series with its threshold
    series on (namespace, model): the expression does not grow with the team's models.

    Every alert is also restricted to the team's catalog models (``and on (namespace, model)``
    their info series): a model removed from the catalog stops alerting at once, as its per-model
    rules did, although its 6-hour or 30-day series linger.
    """
    runbook = deployment.stack.settings.monitoring.runbook_url
    ns = f'{{namespace="{team.namespace}"}}'
    where = "{{ $labels.team }}/{{ $labels.model }}"
    budget = objective_template(_objective_of_model(ERROR_BUDGET), "%.4g")
    availability = objective_template("1 - " + _objective_of_model(ERROR_BUDGET), "%.4g")
    error_rate = objective_template("100 * " + _objective_of_model(ERROR_RATE_THRESHOLD), "%.2f%%")
    latency_ms = objective_template("1000 * " + _objective_of_model(LATENCY_THRESHOLD), "%.0f")
    min_replicas = objective_template(_series_of_model(MODEL_INFO), "", label="min_replicas")
    criticality = sorted({model.spec.critical for model in models})

    def catalog_models(**matchers: str) -> str:
        selectors = ", ".join([f'namespace="{team.namespace}"'] + [f'{key}="{value}"' for key, value in matchers.items()])
        return f"on (namespace, model) {MODEL_INFO}{{{selectors}}}"

    def strictest(threshold: str) -> str:
        # One model can have two threshold series for a while: its objective changed, and the old
        # value's series is still inside the lookback (no stale marker after a Prometheus restart,
        # rules/group.go:139 @v3.14.0). Two series on the "one" side of group_left fail the whole
        # rule with "found duplicate series for the match group" (promql/engine.go:3213-3227), and a
        # failed rule alerts for none of the team's models; the strictest of them cannot fail.
        return f"min by (namespace, model) ({threshold})"

    def above(series: str, threshold: str) -> str:
        # group_left keeps the left side's labels (namespace, team, model); a one-to-one match
        # "on" would keep only namespace and model (prometheus v3.14.0 promql/engine.go:3382-3388).
        return f"{series}{ns} > on (namespace, model) group_left {strictest(threshold)}"

    def alert(name: str, condition: str, for_: str, severity: str, summary: str, description: str,
              **matchers: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": f"({condition}) and {catalog_models(**matchers)}",
            "for": for_,
            "labels": {"team": team.name, "cost_center": team.spec.cost_center, "namespace": team.namespace,
                       "severity": severity},
            "annotations": {
                "summary": summary,
                "description": description,
                "runbook_url": f"{runbook}#{name.lower()}",
            },
        }

    def paging(name: str, condition: str, for_: str, summary: str, description: str) -> list[dict[str, Any]]:
        """Critical for critical models, a warning for the others: one rule each the team needs."""
        return [
            alert(name, condition, for_, "critical" if critical else "warning", summary, description,
                  critical="true" if critical else "false")
            for critical in criticality
        ]

    def burning(long: str, short: str, factor: float) -> str:
        threshold = f"{ERROR_BUDGET}{ns} * {factor:g}"
        return (f"({above(ERROR_RATIO.format(window=long), threshold)})"
                f" and ({above(ERROR_RATIO.format(window=short), threshold)})")

    rules = [
        *paging(
            "ModelErrorBudgetBurnFast", burning("1h", "5m", FAST_BURN), "2m",
            f"{where} is burning its error budget fast",
            f"Failed requests over the last hour would spend the {IDLE_DAYS}-day budget of "
            f"{budget} ({availability} availability) in about two days.",
        ),
        alert(
            "ModelErrorBudgetBurnSlow", burning("6h", "30m", SLOW_BURN), "15m", "warning",
            f"{where} is burning its error budget",
            f"Failed requests over six hours would spend the {IDLE_DAYS}-day budget of {budget} "
            f"in about five days.",
        ),
        *paging(
            "ModelErrorRateHigh", above(ERROR_RATIO.format(window="5m"), f"{ERROR_RATE_THRESHOLD}{ns}"), "5m",
            f"{where} fails more than {error_rate} of requests",
            f"More than {error_rate} of requests returned a 5xx over the last 5 minutes "
            "(the model's error_rate objective).",
        ),
        *paging(
            "ModelLatencyHigh", above(LATENCY.format(quantile="95", window="5m"), f"{LATENCY_THRESHOLD}{ns}"), "10m",
            f"{where} answers slower than {latency_ms} ms at p95",
            f"The 95th percentile of request latency over the last 5 minutes is above the "
            f"model's p95_latency_ms objective of {latency_ms} ms.",
        ),
        alert(
            "ModelIdle30Days",
            f"sum_over_time({REQUESTS_HOURLY}{ns}[{IDLE_DAYS}d]) == 0"
            f" and count_over_time({REQUESTS_HOURLY}{ns}[{IDLE_DAYS}d]) >= {IDLE_MIN_HOURLY_SAMPLES}",
            "1h", "info",
            f"{where} received no request in {IDLE_DAYS} days",
            "The model is a clean-up candidate: remove its file from the catalog, or keep it and "
            "silence this alert.",
        ),
    ]
    if any(model.spec.critical and model.min_replicas >= 1 for model in models):
        # From the catalog's side: a model whose Deployment never came up has no series to be 0.
        rules.append(alert(
            "CriticalModelAtZeroReplicas",
            f"group by ({MODEL_KEYS}) ({MODEL_INFO}{{namespace=\"{team.namespace}\", critical=\"true\", min_replicas!=\"0\"}})"
            f" unless on (namespace, model) ({READY_REPLICAS}{ns} > 0)",
            "5m", "critical",
            f"critical model {where} has no ready replica",
            f"The model must keep at least {min_replicas} ready replica(s) in this stack; "
            "requests wait for a cold start or fail.",
            critical="true",
        ))
    return rules


def render_team_rules(team: CatalogTeam, deployment: StackDeployment) -> KubeObject:
    models = deployment.models_of(team)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(f"modelplane-{team.name}", team.namespace, team_labels(team)),
        "spec": {"groups": [
            # One rule per model here and nowhere else: a review lists an added model as one
            # added rule (the rules of this group are told apart by their model label).
            {"name": f"modelplane.{team.name}.catalog", "interval": "1m",
             "rules": [model_info_rule(model) for model in models]},
            {"name": f"modelplane.{team.name}.objectives", "interval": "1m", "rules": threshold_rules(team, models)},
            {"name": f"modelplane.{team.name}.alerts", "rules": team_alert_rules(team, models, deployment)},
        ]},
    }

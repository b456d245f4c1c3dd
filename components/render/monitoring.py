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


def _selector(model: DeployedModel) -> str:
    return f'{{namespace="{model.namespace}", model="{model.name}"}}'


def model_info_rule(model: DeployedModel) -> dict[str, Any]:
    """One always-present series per deployed model: the catalog, as Prometheus sees it."""
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
        },
    }


def model_alert_rules(model: DeployedModel, deployment: StackDeployment) -> list[dict[str, Any]]:
    slo = model.slo
    runbook = deployment.stack.settings.monitoring.runbook_url
    selector = _selector(model)
    labels = {
        "team": model.team.name,
        "cost_center": model.team.spec.cost_center,
        "namespace": model.namespace,
        "model": model.name,
    }
    budget = 1 - slo.availability
    page = "critical" if model.spec.critical else "warning"
    where = f"{model.team.name}/{model.name}"

    def alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": for_,
            "labels": {**labels, "severity": severity},
            "annotations": {
                "summary": summary,
                "description": description,
                "runbook_url": f"{runbook}#{name.lower()}",
            },
        }

    rules = [
        alert(
            "ModelErrorBudgetBurnFast",
            f"{ERROR_RATIO.format(window='1h')}{selector} > {FAST_BURN * budget:g}"
            f" and {ERROR_RATIO.format(window='5m')}{selector} > {FAST_BURN * budget:g}",
            "2m", page,
            f"{where} is burning its error budget fast",
            f"Failed requests over the last hour would spend the {IDLE_DAYS}-day budget of "
            f"{budget:.4g} ({slo.availability:.4g} availability) in about two days.",
        ),
        alert(
            "ModelErrorBudgetBurnSlow",
            f"{ERROR_RATIO.format(window='6h')}{selector} > {SLOW_BURN * budget:g}"
            f" and {ERROR_RATIO.format(window='30m')}{selector} > {SLOW_BURN * budget:g}",
            "15m", "warning",
            f"{where} is burning its error budget",
            f"Failed requests over six hours would spend the {IDLE_DAYS}-day budget of {budget:.4g} "
            f"in about five days.",
        ),
        alert(
            "ModelErrorRateHigh",
            f"{ERROR_RATIO.format(window='5m')}{selector} > {slo.error_rate:g}",
            "5m", page,
            f"{where} fails more than {slo.error_rate:.2%} of requests",
            f"More than {slo.error_rate:.2%} of requests returned a 5xx over the last 5 minutes "
            "(the model's error_rate objective).",
        ),
        alert(
            "ModelLatencyHigh",
            f"{LATENCY.format(quantile='95', window='5m')}{selector} > {slo.p95_latency_ms / 1000:g}",
            "10m", page,
            f"{where} answers slower than {slo.p95_latency_ms} ms at p95",
            f"The 95th percentile of request latency over the last 5 minutes is above the "
            f"model's p95_latency_ms objective of {slo.p95_latency_ms} ms.",
        ),
        alert(
            "ModelIdle30Days",
            f"sum_over_time({REQUESTS_HOURLY}{selector}[{IDLE_DAYS}d]) == 0"
            f" and count_over_time({REQUESTS_HOURLY}{selector}[{IDLE_DAYS}d]) >= {IDLE_MIN_HOURLY_SAMPLES}",
            "1h", "info",
            f"{where} received no request in {IDLE_DAYS} days",
            "The model is a clean-up candidate: remove its file from the catalog, or keep it and "
            "silence this alert.",
        ),
    ]
    if model.spec.critical and model.min_replicas >= 1:
        rules.append(alert(
            "CriticalModelAtZeroReplicas",
            f"({READY_REPLICAS}{selector} == 0) or absent({READY_REPLICAS}{selector})",
            "5m", "critical",
            f"critical model {where} has no ready replica",
            f"The model must keep at least {model.min_replicas} ready replica(s) in this stack; "
            "requests wait for a cold start or fail.",
        ))
    return rules


def render_team_rules(team: CatalogTeam, deployment: StackDeployment) -> KubeObject:
    models = deployment.models_of(team)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(f"modelplane-{team.name}", team.namespace, team_labels(team)),
        "spec": {"groups": [
            {"name": f"modelplane.{team.name}.catalog", "interval": "1m",
             "rules": [model_info_rule(model) for model in models]},
            {"name": f"modelplane.{team.name}.alerts",
             "rules": [rule for model in models for rule in model_alert_rules(model, deployment)]},
        ]},
    }


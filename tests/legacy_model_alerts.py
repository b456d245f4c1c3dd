"""The per-model alert rules modelplane generated before the threshold-series redesign (main at
854c757, ``components/render/monitoring.py``): one copy of every alert per model, its objective
written into the expression. Kept only as the reference the promtool tests compare the redesigned
rules with: both must fire, stay pending or stay silent on the same series, with the same labels
and annotations.
"""

from __future__ import annotations

from typing import Any

from components.catalog.deployed import DeployedModel, StackDeployment
from components.render.monitoring import (
    ERROR_RATIO,
    FAST_BURN,
    IDLE_DAYS,
    IDLE_MIN_HOURLY_SAMPLES,
    LATENCY,
    READY_REPLICAS,
    REQUESTS_HOURLY,
    SLOW_BURN,
)


def _selector(model: DeployedModel) -> str:
    return f'{{namespace="{model.namespace}", model="{model.name}"}}'


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

"""Grafana dashboards generated from the catalog: one platform overview and one per team.

Each dashboard is a ConfigMap for the dashboard sidecar of kube-prometheus-stack's Grafana, which
loads ConfigMaps labelled ``grafana_dashboard: "1"`` from every namespace into the folder named
by their ``grafana_folder`` annotation (see ``prometheus_stack`` in ``addons``).

Every query reads only the series recorded by :mod:`components.render.monitoring`, never a raw
metric: dashboards and alerts then agree on what "error ratio" or "latency" means, and a renamed
upstream metric is fixed in one recording rule. Per-model queries select by ``namespace`` and
``model``, the labels every recorded series carries: on a team dashboard the namespace is fixed
and the model is the ``$model`` template variable, whose values Prometheus lists from the
catalog's info series. No dashboard names a model, so none grows with the catalog. The objectives
are drawn from the threshold series the alerts compare with.

The JSON follows Grafana's dashboard model at schema version 41 (Grafana 11.6 and later load it
without migrating). Panels are laid out on Grafana's 24-column grid line by line, and ids are
numbered in reading order, so the text is the same on every run.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from components.catalog.deployed import DeployedModel, StackDeployment
from components.catalog.placement import gpu_offer
from components.catalog.loader import CatalogTeam
from components.platform_names import MONITORING_NAMESPACE
from components.render.json_text import sorted_json
from components.render.monitoring import (
    ERROR_RATE_THRESHOLD,
    ERROR_RATIO,
    GPU_CAPACITY,
    GPU_REQUESTS,
    GPU_SATURATION,
    LATENCY,
    LATENCY_THRESHOLD,
    MODEL_INFO,
    PREDICT_LATENCY_P95,
    READY_REPLICAS,
    REQUESTS_HOURLY,
    REQUESTS_RATE,
    SCALED_FROM_ZERO,
    exports_predict_latency,
)
from components.render.objects import COMPONENT_LABEL, MONITORING_COMPONENT, KubeObject, metadata
from components.render.team_objects import team_labels

Panel = dict[str, Any]

# What the Grafana sidecar looks for (values set in addons.prometheus_stack).
DASHBOARD_LABELS = {"grafana_dashboard": "1"}
FOLDER_ANNOTATIONS = {"grafana_folder": "modelplane"}
# kube-prometheus-stack provisions its Prometheus datasource with this uid.
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 41
TAGS = ["modelplane"]
GRID_COLUMNS = 24
# Grafana refuses dashboard uids longer than 40 characters.
UID_MAX_LENGTH = 40
OVERVIEW_NAME = "modelplane-dashboard-overview"
OVERVIEW_UID = "modelplane-overview"
TEAM_UID_PREFIX = "modelplane-team-"
# The team dashboard's variable of selected models; its per-model row repeats over it.
MODEL_VARIABLE = "model"

ERROR_RATIO_5M = ERROR_RATIO.format(window="5m")
LATENCY_5M = {quantile: LATENCY.format(quantile=quantile, window="5m") for quantile in ("50", "95", "99")}
# Recorded series are keyed by these labels; aggregating "by" them keeps one series per model
# and drops whatever else a series carries.
MODEL_KEYS = "namespace, team, model"
# The overview's team variable, applied to every per-model query there.
TEAM_VARIABLE_SELECTOR = '{team=~"$team"}'


def render_dashboard_objects(deployment: StackDeployment) -> list[KubeObject]:
    """The overview dashboard and one dashboard per team with models in the stack, as ConfigMaps.

    Neither lists models: the per-model panels are repeated by Grafana for the models selected in
    a variable that Prometheus fills in, so a dashboard's size does not depend on how many models
    there are, and adding a model changes no dashboard.
    """
    objects = [dashboard_config_map(OVERVIEW_NAME, {}, overview_dashboard(deployment))]
    for team in deployment.teams:
        models = deployment.models_of(team)
        if models:
            # Labelled with the team so it is listed, planned and owned with the team's objects.
            objects.append(dashboard_config_map(team_dashboard_name(team), team_labels(team), team_dashboard(team, models)))
    return objects


def team_dashboard_name(team: CatalogTeam) -> str:
    return f"modelplane-dashboard-{team.name}"


def team_dashboard_uid(team: CatalogTeam) -> str:
    """``modelplane-team-<team>``; a long name is cut and given a hash so uids stay unique."""
    uid = TEAM_UID_PREFIX + team.name
    if len(uid) <= UID_MAX_LENGTH:
        return uid
    digest = hashlib.sha256(team.name.encode()).hexdigest()[:8]
    return f"{uid[:UID_MAX_LENGTH - len(digest) - 1]}-{digest}"


def dashboard_config_map(name: str, labels: dict[str, str], dashboard: dict[str, Any]) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            name, MONITORING_NAMESPACE,
            {COMPONENT_LABEL: MONITORING_COMPONENT, **labels, **DASHBOARD_LABELS}, FOLDER_ANNOTATIONS,
        ),
        "data": {f"{name}.json": dashboard_json(dashboard)},
    }


def dashboard_json(dashboard: dict[str, Any]) -> str:
    """Sorted keys and a final newline: byte-identical on every run, readable in a diff."""
    return sorted_json(dashboard) + "\n"


def overview_dashboard(deployment: StackDeployment) -> dict[str, Any]:
    """Every model of the stack (filtered by the team variable) and the GPU pools."""
    where = TEAM_VARIABLE_SELECTOR
    lines = [
        [
            stat_panel("Requests/s", "How much traffic do the models serve right now?",
                       [query(f"sum({REQUESTS_RATE}{where})")], unit="reqps"),
            stat_panel("Error ratio", "What share of all requests fail (5xx), weighted by traffic?",
                       [query(traffic_weighted_error_ratio(where))], unit="percentunit"),
            stat_panel("Slowest p95 latency", "How slow is the slowest model at its 95th percentile?",
                       [query(f"max({LATENCY_5M['95']}{where})")], unit="s"),
            stat_panel("Models deployed", "How many models are deployed (of the selected teams)?",
                       [query(f"count({MODEL_INFO}{where})", instant=True)], unit="short", sparkline=False),
            stat_panel("Models at zero replicas", "How many models have no ready replica (scaled to zero or down)?",
                       [query(models_at_zero(where), instant=True)], unit="short", sparkline=False),
            stat_panel("Cold starts", "How often did a model start from zero replicas in the time range?",
                       [query(f"sum(count_over_time({SCALED_FROM_ZERO}{where}[$__range])) or vector(0)", instant=True)],
                       unit="short", sparkline=False),
        ],
        [model_table("Models", "Which model is busy, failing, slow or idle?", where)],
        [
            timeseries_panel("Requests/s by model", "Which models take the traffic?",
                             [query(f"sum by (team, model) ({REQUESTS_RATE}{where})", "{{team}}/{{model}}")],
                             unit="reqps", legend_as_table=True),
            timeseries_panel("Error ratio by model", "Which models fail requests, and since when?",
                             [query(f"max by (team, model) ({ERROR_RATIO_5M}{where})", "{{team}}/{{model}}")],
                             unit="percentunit", legend_as_table=True),
        ],
        latency_line(deployment, where),
        [
            timeseries_panel("Ready replicas by model", "How many replicas serve each model, and which are at zero?",
                             [query(f"sum by (team, model) ({READY_REPLICAS}{where})", "{{team}}/{{model}}")],
                             unit="short", legend_as_table=True),
            timeseries_panel("Cold starts per hour by model", "Which models keep scaling up from zero?",
                             [query(f"sum by (team, model) (count_over_time({SCALED_FROM_ZERO}{where}[1h]))",
                                    "{{team}}/{{model}}")],
                             unit="short", legend_as_table=True, bars=True),
        ],
    ]
    if stack_has_gpu_pools(deployment):
        saturation_alert = deployment.stack.settings.monitoring.gpu_saturation_ratio
        lines.append([
            timeseries_panel(
                "GPUs requested vs offered, by pool",
                "How many GPUs or MIG slices do pods request in each pool, against what the pool offers at "
                "its max size?",
                [
                    query(f"sum by (node_pool, resource) ({GPU_REQUESTS})", "{{node_pool}} {{resource}} requested"),
                    query(f"max by (node_pool, resource) ({GPU_CAPACITY})", "{{node_pool}} {{resource}} at max size"),
                ],
                unit="short", legend_as_table=True,
            ),
            timeseries_panel(
                "GPU saturation by pool",
                "How close is each pool to its max size? The line is the GpuPoolNearCapacity alert threshold.",
                [query(f"max by (node_pool, resource) ({GPU_SATURATION})", "{{node_pool}} {{resource}}")],
                unit="percentunit", legend_as_table=True, limit=saturation_alert,
            ),
        ])
    return dashboard(
        uid=OVERVIEW_UID,
        title="modelplane / overview",
        description=f"Every model of stack {deployment.stack.name}, and its GPU pools. Generated from the catalog.",
        panels=lay_out(lines),
        variables=[team_variable()],
    )


def latency_line(deployment: StackDeployment, where: str) -> list[Panel]:
    """End-to-end p95 by model, and beside it the model servers' own p95 when any model's server
    records it (KServe's Python servers only; see monitoring)."""
    end_to_end = timeseries_panel(
        "p95 latency by model", "Which models answer slowly, end to end?",
        [query(f"max by (team, model) ({LATENCY_5M['95']}{where})", "{{team}}/{{model}}")],
        unit="s", legend_as_table=True,
    )
    if not any(exports_predict_latency(model) for model in deployment.models):
        end_to_end["gridPos"]["w"] = GRID_COLUMNS
        return [end_to_end]
    return [end_to_end, timeseries_panel(
        "Model server p95 latency by model",
        "How long does the model server itself take, without queueing and cold starts? "
        "Only KServe's Python servers (sklearn, xgboost, lightgbm, pmml, paddle, huggingface) report it.",
        [query(f"max by (team, model) ({PREDICT_LATENCY_P95}{where})", "{{team}}/{{model}}")],
        unit="s", legend_as_table=True,
    )]


def team_dashboard(team: CatalogTeam, models: Iterable[DeployedModel]) -> dict[str, Any]:
    """The team's models at a glance, then a row of detail for each model selected in the Model
    variable (Grafana repeats the row per selected value).

    Every query carries the team's namespace as a fixed matcher, not as a variable: the dashboard
    shows no other team's series, whatever is put in its URL.
    """
    namespace = f'{{namespace="{team.namespace}"}}'
    table = model_table(f"Models of {team.name}", "Which of the team's models needs attention?", namespace)
    lines: list[list[Panel]] = [[table]]
    panels = lay_out(lines)
    row_top = bottom_of(panels)
    panels.append({
        "type": "row",
        "title": "$model",
        # One copy of the row and the panels below it (up to the next row) per selected model,
        # each with $model set to that model.
        "repeat": MODEL_VARIABLE,
        # Open: the panels sit below the row on the dashboard's grid, not inside it.
        "collapsed": False,
        "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": row_top},
        "panels": [],
    })
    panels.extend(lay_out(model_lines(team, any(exports_predict_latency(model) for model in models)), top=row_top + 1))
    return dashboard(
        uid=team_dashboard_uid(team),
        title=f"modelplane / team {team.name}",
        description=f"Models of team {team.name}; pick models in the Model variable for their details. "
                    "Generated from the catalog.",
        panels=panels,
        variables=[model_variable(team)],
    )


def model_lines(team: CatalogTeam, any_predict_latency: bool) -> list[list[Panel]]:
    """Traffic, errors, latency against the model's objectives, replicas, cold starts, version, for
    the model in ``$model``."""
    where = f'{{namespace="{team.namespace}", model="${MODEL_VARIABLE}"}}'
    latency = [query(f"max({LATENCY_5M[q]}{where})", f"p{q}") for q in ("50", "95", "99")]
    if any_predict_latency:
        # Only KServe's Python servers record request_predict_seconds; for the team's other models
        # the line stays empty.
        latency.append(query(f"max({PREDICT_LATENCY_P95}{where})", "p95 model server"))
    return [
        [
            timeseries_panel("Requests/s", "How much traffic does the model get?",
                             [query(f"sum({REQUESTS_RATE}{where})", "requests/s")], unit="reqps", width=8),
            with_objective(timeseries_panel(
                "Error ratio", "What share of requests fail? The dashed red line is the model's error_rate objective.",
                [query(f"max({ERROR_RATIO_5M}{where})", "5xx ratio")], unit="percentunit", width=8,
            ), f"max({ERROR_RATE_THRESHOLD}{where})"),
            with_objective(timeseries_panel(
                "Latency", "How long do requests take? The dashed red line is the model's p95_latency_ms objective.",
                latency, unit="s", width=8,
            ), f"max({LATENCY_THRESHOLD}{where})"),
        ],
        [
            timeseries_panel("Ready replicas", "How many replicas serve the model?",
                             [query(f"sum({READY_REPLICAS}{where})", "ready")], unit="short", width=10),
            timeseries_panel("Cold starts per hour", "How often does the model start from zero replicas?",
                             [query(f"sum(count_over_time({SCALED_FROM_ZERO}{where}[1h]))", "cold starts")],
                             unit="short", width=10, bars=True),
            version_panel(where),
        ],
    ]


OBJECTIVE_LEGEND = "objective"


def with_objective(panel: Panel, expr: str) -> Panel:
    """Add the model's objective, a recorded threshold series, as a dashed red line."""
    panel["targets"].append({**query(expr, OBJECTIVE_LEGEND), "refId": ref_id(len(panel["targets"]))})
    panel["fieldConfig"]["overrides"].append({
        "matcher": {"id": "byName", "options": OBJECTIVE_LEGEND},
        "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
        ],
    })
    return panel


def model_variable(team: CatalogTeam) -> dict[str, Any]:
    """The team's models, as Prometheus has them from the catalog's info series of its namespace."""
    return {
        "type": "query",
        "name": MODEL_VARIABLE,
        "label": "Model",
        "datasource": DATASOURCE,
        "query": f'label_values({MODEL_INFO}{{namespace="{team.namespace}"}}, model)',
        # Reload the list when the time range changes: a model added since shows up.
        "refresh": 2,
        "sort": 1,
        # Several models side by side, a row each; no "All", which would open a row per model.
        "multi": True,
        "includeAll": False,
        # Nothing chosen in the JSON (it would name a model): Grafana selects the first on load.
        "current": {},
    }


def dashboard(uid: str, title: str, description: str, panels: list[Panel], variables: list[dict]) -> dict[str, Any]:
    number_panels(panels)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "schemaVersion": SCHEMA_VERSION,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        # Shared crosshair: the same moment is marked on every panel.
        "graphTooltip": 1,
        # Generated: edits in Grafana would be overwritten, so the UI does not offer them.
        "editable": False,
        "links": [{
            "title": "modelplane dashboards",
            "type": "dashboards",
            "tags": TAGS,
            "asDropdown": True,
            "keepTime": True,
        }],
        "templating": {"list": variables},
        "panels": panels,
    }


def team_variable() -> dict[str, Any]:
    return {
        "type": "query",
        "name": "team",
        "label": "Team",
        "datasource": DATASOURCE,
        "query": f"label_values({MODEL_INFO}, team)",
        # Reload the list of teams when the time range changes.
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        # "All" as a regex rather than a list of every team: short queries, new teams included.
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def traffic_weighted_error_ratio(where: str) -> str:
    # A model without traffic has a 0/0 ratio (NaN); "> 0" drops it rather than poisoning the sum.
    return f"sum({ERROR_RATIO_5M}{where} * ({REQUESTS_RATE}{where} > 0)) / sum({REQUESTS_RATE}{where} > 0)"


def models_at_zero(where: str) -> str:
    # From the catalog's side, so a model whose Deployment is gone entirely also counts.
    return f"count({MODEL_INFO}{where} unless on (namespace, model) ({READY_REPLICAS} > 0)) or vector(0)"


def or_zero_per_model(expr: str, where: str) -> str:
    """``expr`` per model, and 0 for catalog models that have no such series (idle, scaled to zero)."""
    return f"sum by ({MODEL_KEYS}) ({expr}) or sum by ({MODEL_KEYS}) (0 * {MODEL_INFO}{where})"


def query(expr: str, legend: str = "", instant: bool = False) -> dict[str, Any]:
    """One Prometheus query; the panel gives it its refId."""
    target: dict[str, Any] = {"datasource": DATASOURCE, "expr": expr}
    if legend:
        target["legendFormat"] = legend
    if instant:
        # Only the latest value: tables and "right now" numbers.
        target.update({"instant": True, "range": False})
    return target


def panel(kind: str, title: str, description: str, targets: list[dict], unit: str,
          width: int, height: int, options: dict[str, Any]) -> Panel:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
        "targets": [{**target, "refId": ref_id(index)} for index, target in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds()}, "overrides": []},
        "options": options,
    }


def ref_id(index: int) -> str:
    return chr(ord("A") + index)


def thresholds(limit: float | None = None) -> dict[str, Any]:
    """Green, or green below ``limit`` and red from it on."""
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if limit is not None:
        steps.append({"color": "red", "value": limit})
    return {"mode": "absolute", "steps": steps}


def timeseries_panel(title: str, description: str, targets: list[dict], unit: str, width: int = 12,
                     height: int = 8, legend_as_table: bool = False, bars: bool = False,
                     limit: float | None = None) -> Panel:
    """A graph over time; ``limit`` draws an objective or alert threshold as a red line."""
    result = panel("timeseries", title, description, targets, unit, width, height, options={
        # A table legend with mean and max tells many models apart; a short list suits one model.
        "legend": {
            "displayMode": "table" if legend_as_table else "list",
            "placement": "right" if legend_as_table else "bottom",
            "showLegend": True,
            "calcs": ["mean", "max"] if legend_as_table else [],
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    })
    defaults = result["fieldConfig"]["defaults"]
    custom: dict[str, Any] = {}
    if bars:
        # Counts per hour read better as bars than as a line between hours.
        custom.update({"drawStyle": "bars", "fillOpacity": 80})
    if limit is not None:
        defaults["thresholds"] = thresholds(limit)
        custom["thresholdsStyle"] = {"mode": "line"}
    if unit == "percentunit":
        defaults["min"] = 0
    if custom:
        defaults["custom"] = custom
    return result


def stat_panel(title: str, description: str, targets: list[dict], unit: str, width: int = 4,
               height: int = 4, sparkline: bool = True) -> Panel:
    """One number: the last value, with its trend behind it when ``sparkline``."""
    return panel("stat", title, description, targets, unit, width, height, options={
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "graphMode": "area" if sparkline else "none",
        "colorMode": "none",
        "textMode": "value",
        "justifyMode": "auto",
        "orientation": "auto",
    })


def version_panel(where: str) -> Panel:
    """The model's version as Prometheus has it: the ``model_version`` label of its info series."""
    result = stat_panel("Version", "Which version of the model is deployed?",
                        [query(f"max by (model_version) ({MODEL_INFO}{where})", "{{model_version}}", instant=True)],
                        unit="short", height=8, sparkline=False)
    # The series' name (its legend, the version) is the answer; its value is always 1.
    result["options"]["textMode"] = "name"
    return result


def model_table_columns(where: str) -> list[tuple[str, str, str]]:
    """(header, unit, query) of each value column of the per-model table."""
    return [
        ("Requests/s", "reqps", or_zero_per_model(f"{REQUESTS_RATE}{where}", where)),
        ("Error ratio", "percentunit", f"max by ({MODEL_KEYS}) ({ERROR_RATIO_5M}{where})"),
        ("p95 latency", "s", f"max by ({MODEL_KEYS}) ({LATENCY_5M['95']}{where})"),
        ("Ready replicas", "short", or_zero_per_model(f"{READY_REPLICAS}{where}", where)),
        # The hourly counts are recorded once an hour, so 7 days are 168 cheap samples per model.
        ("Requests, 7 days", "short", f"sum by ({MODEL_KEYS}) (sum_over_time({REQUESTS_HOURLY}{where}[7d]))"),
    ]


def model_table(title: str, description: str, where: str) -> Panel:
    """One line per model, one column per question; models without traffic still have a line."""
    columns = model_table_columns(where)
    targets = [{**query(expr, instant=True), "format": "table"} for _, _, expr in columns]
    result = panel("table", title, description, targets, unit="short", width=GRID_COLUMNS, height=9, options={
        "showHeader": True,
        "sortBy": [{"displayName": "Requests/s", "desc": True}],
    })
    # Each query gives a table keyed by namespace, team and model, with its value in a column
    # "Value #<refId>": merge them into one table and name the value columns.
    result["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {
            "excludeByName": {"Time": True, "namespace": True},
            "indexByName": {"team": 0, "model": 1},
            "renameByName": {f"Value #{ref_id(index)}": header for index, (header, _, _) in enumerate(columns)},
        }},
    ]
    result["fieldConfig"]["overrides"] = [
        {"matcher": {"id": "byName", "options": header}, "properties": [{"id": "unit", "value": unit}]}
        for header, unit, _ in columns
    ]
    return result


def lay_out(lines: list[list[Panel]], top: int = 0) -> list[Panel]:
    """Place each line of panels side by side, left to right, below the previous line."""
    placed = []
    y = top
    for line in lines:
        x = 0
        for item in line:
            grid = item["gridPos"]
            if x + grid["w"] > GRID_COLUMNS:
                raise ValueError(f"panels of {item['title']!r}'s line are wider than {GRID_COLUMNS} columns")
            grid.update({"x": x, "y": y})
            x += grid["w"]
            placed.append(item)
        y += max(item["gridPos"]["h"] for item in line)
    return placed


def bottom_of(panels: list[Panel]) -> int:
    return max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=0)


def number_panels(panels: list[Panel]) -> None:
    """Ids 1, 2, 3, ... in reading order, a row's own panels right after it: unique per dashboard."""
    next_id = 1
    for item in panels:
        item["id"] = next_id
        next_id += 1
        for inner in item.get("panels", []):
            inner["id"] = next_id
            next_id += 1


def stack_has_gpu_pools(deployment: StackDeployment) -> bool:
    settings = deployment.stack.settings
    return any(gpu_offer(pool, settings.mig_strategy) for pool in settings.node_pools.values())

"""Generated Grafana dashboards: the sidecar's contract, the layout, the queries and Grafana's schema.

Grafana's schema is checked with the typed dashboard models of ``grafana-foundation-sdk`` (the
models Grafana generates from its own schema). They drop unknown fields silently and do not check
types, so each dashboard is round-tripped and compared with the original (a misspelt key shows as
a dropped field), and every value the typed models hold is checked against its annotation (a
misspelt enum value or a wrong type shows as a type error). A test breaks a dashboard on purpose
to prove both checks catch mistakes. Queries are parsed by promtool when it is installed, and the
aggregations that are easy to get wrong are evaluated on synthetic series.
"""

from __future__ import annotations

import copy
import enum
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import types
import typing
from typing import Any, Iterator

import pytest
import yaml
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import units as grafana_units
from grafana_foundation_sdk.models.dashboard import Dashboard, DataTransformerConfig

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.deployed import StackDeployment
from components.platform_names import MONITORING_NAMESPACE, TEAM_LABEL
from components.render import dashboards
from components.render.dashboards import render_dashboard_objects, team_dashboard_uid
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
    render_monitoring_objects,
)
from components.render.team_objects import team_labels
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, PLATFORM_FIXTURE, REPO, STACKS_DIR
from tests.schema_checks import check_core

ALLOWED_SERIES = {
    REQUESTS_RATE,
    ERROR_RATIO.format(window="5m"),
    *(LATENCY.format(quantile=quantile, window="5m") for quantile in ("50", "95", "99")),
    PREDICT_LATENCY_P95,
    READY_REPLICAS,
    SCALED_FROM_ZERO,
    REQUESTS_HOURLY,
    MODEL_INFO,
    GPU_REQUESTS,
    GPU_CAPACITY,
    GPU_SATURATION,
    LATENCY_THRESHOLD,
    ERROR_RATE_THRESHOLD,
}
# Prefixes of the raw metrics the recording rules read; a dashboard must not read them itself.
RAW_METRIC_PREFIXES = ("kn_serving_", "kube_", "istio_", "request_predict", "dcgm")
PANEL_TYPES = {"timeseries", "stat", "table", "row"}
MODEL_PANEL_TITLES = {"Requests/s", "Error ratio", "Latency", "Ready replicas", "Cold starts per hour", "Version"}
GRAFANA_UNITS = {value for value in vars(grafana_units).values() if isinstance(value, str)}
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


@functools.cache
def deployment_of(stack: str) -> StackDeployment:
    catalog = load_catalog(MODELS_DIR, "models")
    return resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR))


def dashboards_of(stack: str) -> dict[str, dict]:
    return dashboards_in(deployment_of(stack))


def dashboards_in(deployment: StackDeployment) -> dict[str, dict]:
    """Dashboard JSON by ConfigMap name."""
    return {obj["metadata"]["name"]: json.loads(dashboard_text(obj)) for obj in render_dashboard_objects(deployment)}


def deployment_in(workspace) -> StackDeployment:
    catalog = load_catalog(workspace.models, "models")
    return resolve_deployment(catalog, load_stack(workspace.stacks, "dev", "stacks"), stack_names(workspace.stacks))


def dashboard_text(obj: dict) -> str:
    (text,) = obj["data"].values()
    return text


def every_dashboard() -> Iterator[tuple[str, str, dict]]:
    for stack in FIXTURE_STACKS:
        for name, dashboard in dashboards_of(stack).items():
            yield stack, name, dashboard


def all_panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, a row's own panels right after the row."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def all_targets(dashboard: dict) -> Iterator[dict]:
    for panel in all_panels(dashboard):
        yield from panel.get("targets", [])


def all_queries(dashboard: dict) -> Iterator[str]:
    """Every PromQL text: the panels' targets and the template variables' queries."""
    for target in all_targets(dashboard):
        yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        yield variable["query"]


def series_in(expr: str) -> set[str]:
    """Names with a colon: recorded series (raw metrics, functions and labels have none)."""
    without_strings = STRING_LITERAL.sub('""', expr)
    return {token for token in IDENTIFIER.findall(without_strings) if ":" in token}


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_one_config_map_for_the_overview_and_one_per_team_with_models(stack):
    deployment = deployment_of(stack)
    objects = render_dashboard_objects(deployment)
    teams_with_models = [team for team in deployment.teams if deployment.models_of(team)]
    assert teams_with_models
    assert [obj["metadata"]["name"] for obj in objects] == [
        "modelplane-dashboard-overview",
        *(f"modelplane-dashboard-{team.name}" for team in teams_with_models),
    ]
    overview, *per_team = objects
    sidecar_labels = {
        "app.kubernetes.io/managed-by": "modelplane",
        "app.kubernetes.io/part-of": "modelplane",
        "grafana_dashboard": "1",
        "app.kubernetes.io/component": "monitoring",
    }
    assert overview["metadata"]["labels"] == sidecar_labels
    assert TEAM_LABEL not in overview["metadata"]["labels"]
    for team, obj in zip(teams_with_models, per_team):
        assert obj["metadata"]["labels"] == {**sidecar_labels, **team_labels(team)}
    for obj in objects:
        name = obj["metadata"]["name"]
        assert (obj["apiVersion"], obj["kind"]) == ("v1", "ConfigMap")
        assert obj["metadata"]["namespace"] == MONITORING_NAMESPACE
        assert obj["metadata"]["annotations"] == {"grafana_folder": "modelplane"}
        assert list(obj["data"]) == [f"{name}.json"]
        # The API server's own schema, strict: an unknown field fails.
        assert check_core(obj) == []


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_rendering_is_deterministic_and_canonical(stack):
    first = render_dashboard_objects(deployment_of(stack))
    # From a freshly loaded catalog, not the cached one.
    second = render_dashboard_objects(deployment_of.__wrapped__(stack))
    assert first == second
    for obj in first:
        text = dashboard_text(obj)
        assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_rendering_is_byte_identical_across_processes():
    """Another interpreter with another string-hash seed writes the same bytes."""
    code = (
        "import hashlib\n"
        "from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names\n"
        "from components.render.dashboards import render_dashboard_objects\n"
        "from pathlib import Path\n"
        "stack = load_stack(Path('stacks'), 'prod', 'stacks')\n"
        "deployment = resolve_deployment(load_catalog(Path('models'), 'models'), stack, stack_names(Path('stacks')))\n"
        "for obj in render_dashboard_objects(deployment):\n"
        "    (text,) = obj['data'].values()\n"
        "    print(hashlib.sha256(text.encode()).hexdigest())\n"
    )
    objects = render_dashboard_objects(deployment_of("prod"))
    here = [hashlib.sha256(dashboard_text(obj).encode()).hexdigest() for obj in objects]
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=PLATFORM_FIXTURE, capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed},
        )
        assert (result.returncode, result.stdout.split(), result.stderr) == (0, here, "")


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_uids_are_unique_and_short_enough(stack):
    found = dashboards_of(stack)
    uids = [dashboard["uid"] for dashboard in found.values()]
    assert len(set(uids)) == len(uids)
    assert all(len(uid) <= 40 for uid in uids)
    assert found["modelplane-dashboard-overview"]["uid"] == "modelplane-overview"
    for team in deployment_of(stack).teams:
        if deployment_of(stack).models_of(team):
            assert found[f"modelplane-dashboard-{team.name}"]["uid"] == f"modelplane-team-{team.name}"


def test_a_long_team_name_gets_a_short_distinct_uid():
    first = team_dashboard_uid(types.SimpleNamespace(name="recommendations-and-personalisation-emea"))
    second = team_dashboard_uid(types.SimpleNamespace(name="recommendations-and-personalisation-apac"))
    assert len(first) == len(second) == 40
    assert first != second
    assert first.startswith("modelplane-team-recommendations")


@pytest.mark.parametrize(("stack", "name", "dashboard"), list(every_dashboard()))
def test_dashboard_metadata(stack, name, dashboard):
    assert dashboard["schemaVersion"] == 41
    assert dashboard["tags"] == ["modelplane"]
    assert dashboard["title"] and dashboard["time"] and dashboard["refresh"]


@pytest.mark.parametrize(("stack", "name", "dashboard"), list(every_dashboard()))
def test_panel_ids_are_unique_and_panels_do_not_overlap(stack, name, dashboard):
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(set(ids)) == len(ids)
    for panel in all_panels(dashboard):
        assert panel["type"] in PANEL_TYPES
        grid = panel["gridPos"]
        assert all(isinstance(grid[key], int) for key in "hwxy")
        assert grid["h"] > 0 and grid["w"] > 0 and grid["x"] >= 0 and grid["y"] >= 0
        assert grid["x"] + grid["w"] <= 24
    # Top-level panels share the grid; an open row's panels are below it on the same grid.
    assert overlapping(dashboard["panels"]) == []
    for index, row in enumerate(dashboard["panels"]):
        if row["type"] == "row":
            assert row["collapsed"] is False and row["panels"] == []
            below = dashboard["panels"][index + 1:]
            assert below and min(panel["gridPos"]["y"] for panel in below) == row["gridPos"]["y"] + 1


def overlapping(panels: list[dict]) -> list[tuple[str, str]]:
    def cells(panel):
        grid = panel["gridPos"]
        columns = range(grid["x"], grid["x"] + grid["w"])
        return {(x, y) for x in columns for y in range(grid["y"], grid["y"] + grid["h"])}

    return [
        (first["title"], second["title"])
        for index, first in enumerate(panels)
        for second in panels[index + 1:]
        if cells(first) & cells(second)
    ]


@pytest.mark.parametrize(("stack", "name", "dashboard"), list(every_dashboard()))
def test_every_target_is_a_prometheus_query_with_ref_id(stack, name, dashboard):
    for panel in all_panels(dashboard):
        if panel["type"] == "row":
            assert "targets" not in panel
            continue
        targets = panel["targets"]
        assert targets, panel["title"]
        ref_ids = [target["refId"] for target in targets]
        assert len(set(ref_ids)) == len(ref_ids)
        for target in targets:
            assert target["expr"].strip()
            assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert panel["fieldConfig"]["defaults"]["unit"] in {"reqps", "s", "percentunit", "short"}


@pytest.mark.parametrize(("stack", "name", "dashboard"), list(every_dashboard()))
def test_queries_read_only_recorded_series(stack, name, dashboard):
    for expr in all_queries(dashboard):
        assert series_in(expr), expr
        assert series_in(expr) <= ALLOWED_SERIES, expr
        assert not any(prefix in expr.lower() for prefix in RAW_METRIC_PREFIXES), expr


def test_the_series_check_sees_a_raw_metric():
    assert series_in('sum(rate(kn_serving_invocation_duration_seconds_count{model="a:b"}[5m]))') == set()
    assert series_in("sum by (team) (modelplane:requests:rate1h)") == {"modelplane:requests:rate1h"}
    assert "modelplane:requests:rate1h" not in ALLOWED_SERIES


def recording_rules(deployment: StackDeployment) -> list[dict]:
    return [
        rule
        for obj in render_monitoring_objects(deployment) if obj["kind"] == "PrometheusRule"
        for group in obj["spec"]["groups"]
        for rule in group["rules"] if "record" in rule
    ]


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_every_series_the_dashboards_read_is_recorded(stack):
    recorded = {rule["record"] for rule in recording_rules(deployment_of(stack))}
    used = {series for dashboard in dashboards_of(stack).values() for expr in all_queries(dashboard)
            for series in series_in(expr)}
    assert used <= recorded


@pytest.mark.parametrize(("stack", "name", "dashboard"), list(every_dashboard()))
def test_units_are_grafana_units(stack, name, dashboard):
    for panel in all_panels(dashboard):
        field_config = panel.get("fieldConfig", {"defaults": {}, "overrides": []})
        units = [field_config["defaults"].get("unit")] + [
            prop["value"] for override in field_config["overrides"]
            for prop in override["properties"] if prop["id"] == "unit"
        ]
        assert set(filter(None, units)) <= GRAFANA_UNITS, panel["title"]


def model_panels(dashboard: dict) -> list[dict]:
    """The panels Grafana repeats per selected model: those below the repeated row."""
    (index,) = [i for i, panel in enumerate(dashboard["panels"]) if panel.get("repeat")]
    return dashboard["panels"][index + 1:]


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_team_dashboards_repeat_a_row_per_selected_model_of_the_team_only(stack):
    deployment = deployment_of(stack)
    found = dashboards_of(stack)
    namespaces = {team.namespace for team in deployment.teams}
    for team in deployment.teams:
        if not deployment.models_of(team):
            assert f"modelplane-dashboard-{team.name}" not in found
            continue
        board = found[f"modelplane-dashboard-{team.name}"]
        # The variable offers the models of the team's namespace only, as Prometheus lists them.
        (variable,) = board["templating"]["list"]
        assert variable["name"] == "model" and variable["type"] == "query"
        assert variable["query"] == f'label_values({MODEL_INFO}{{namespace="{team.namespace}"}}, model)'
        assert variable["multi"] is True and variable["includeAll"] is False and variable["current"] == {}
        # Grafana's row repeat: an open row owns the panels below it up to the next row, and a row
        # with "repeat" is copied with them once per selected value of the variable
        # (grafana/grafana public/app/features/dashboard-scene/serialization/
        # transformSaveModelToScene.ts, createSceneObjectsForPanels and createRowFromPanelModel;
        # read from a stored copy, as the v13.2.0 tag of kube-prometheus-stack 88.5.3's grafana
        # chart 12.11.1 is too large to mirror here). So the row is the last one: every panel below
        # it is per model. A query variable whose saved value is empty selects its first option.
        (row,) = [panel for panel in board["panels"] if panel["type"] == "row"]
        assert (row["repeat"], row["title"]) == ("model", "$model")
        assert {panel["title"] for panel in model_panels(board)} == MODEL_PANEL_TITLES
        own = f'namespace="{team.namespace}"'
        for panel in all_panels(board):
            for target in panel.get("targets", []):
                # Isolation: a fixed matcher on the team's namespace in every query, no other.
                assert own in target["expr"], target["expr"]
                assert set(re.findall(r'namespace="([^"]+)"', target["expr"])) == {team.namespace}
                assert "$namespace" not in target["expr"] and "team=" not in target["expr"]
        for panel in model_panels(board):
            assert all(f'{{{own}, model="$model"}}' in target["expr"] for target in panel["targets"]), panel["title"]
        assert namespaces - {team.namespace}, "the fixture has other teams to leak"
        # The objectives are drawn from the threshold series the alerts compare with.
        panels = {panel["title"]: panel for panel in model_panels(board)}
        for title, threshold in (("Latency", LATENCY_THRESHOLD), ("Error ratio", ERROR_RATE_THRESHOLD)):
            (objective,) = [t for t in panels[title]["targets"] if t.get("legendFormat") == "objective"]
            assert series_in(objective["expr"]) == {threshold}
            (override,) = panels[title]["fieldConfig"]["overrides"]
            assert override["matcher"] == {"id": "byName", "options": "objective"}
        exprs = " ".join(target["expr"] for target in panels["Latency"]["targets"])
        assert all(LATENCY.format(quantile=q, window="5m") in exprs for q in ("50", "95", "99"))


def test_a_team_dashboard_does_not_grow_with_its_models(workspace):
    """One model or eighty-five: the same dashboard, byte for byte (it used to be ~10 KB a model)."""
    workspace.team(quota={"cpu": "1000", "memory": "4000Gi"})
    workspace.model(name="model-00", version="1.0.0")
    workspace.stack()

    def team_dashboard_text() -> str:
        (obj,) = [obj for obj in render_dashboard_objects(deployment_in(workspace))
                  if obj["metadata"]["name"] == "modelplane-dashboard-fraud"]
        return dashboard_text(obj)

    one = team_dashboard_text()
    for index in range(1, 85):
        workspace.model(name=f"model-{index:02d}", version="1.0.0", slo={"p95_latency_ms": 100 + index})
    assert team_dashboard_text() == one
    assert len(one.encode()) < 32 * 1024


def test_a_stack_without_gpu_pools_has_no_gpu_panels(workspace):
    workspace.team()
    workspace.model()
    workspace.stack(node_pools={"system": {"instance_types": ["m6i.large"], "min_size": 1, "max_size": 2}})
    overview = dashboards_in(deployment_in(workspace))["modelplane-dashboard-overview"]
    assert not any("GPU" in panel["title"] for panel in all_panels(overview))
    with_gpus = dashboards_of("dev")["modelplane-dashboard-overview"]
    assert "GPU saturation by pool" in {panel["title"] for panel in all_panels(with_gpus)}


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_overview_covers_every_team(stack):
    deployment = deployment_of(stack)
    overview = dashboards_of(stack)["modelplane-dashboard-overview"]
    (variable,) = overview["templating"]["list"]
    assert (variable["name"], variable["allValue"]) == ("team", ".*")
    assert variable["query"] == f"label_values({MODEL_INFO}, team)"
    assert variable["current"]["value"] == ["$__all"]
    # Teams come from the catalog's info series, which has one series per deployed model.
    info_teams = {rule["labels"]["team"] for rule in recording_rules(deployment) if rule["record"] == MODEL_INFO}
    assert info_teams == {model.team.name for model in deployment.models}
    # Every per-model query is filtered by the variable only; the GPU queries are per pool.
    for panel in all_panels(overview):
        for target in panel["targets"]:
            gpu = series_in(target["expr"]) <= {GPU_REQUESTS, GPU_CAPACITY, GPU_SATURATION}
            assert gpu or '{team=~"$team"}' in target["expr"], target["expr"]
            assert "namespace=" not in target["expr"] and 'team="' not in target["expr"]
    titles = {panel["title"] for panel in all_panels(overview)}
    assert {"Models", "Models at zero replicas", "Cold starts", "GPU saturation by pool"} <= titles


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_the_docs_explain_every_panel(stack):
    docs = (REPO / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for dashboard in dashboards_of(stack).values():
        for panel in all_panels(dashboard):
            if panel["type"] != "row" and not panel["title"].startswith("Models of "):
                assert f"| {panel['title']} | {panel['type']} |" in docs, panel["title"]


def typed(dashboard: dict) -> Dashboard:
    register_default_plugins()  # panel options and Prometheus queries decode to their typed models
    result = Dashboard.from_json(copy.deepcopy(dashboard))
    for panel in result.panels or []:
        for inner in [panel, *getattr(panel, "panels", [])]:
            # Panel.from_json keeps transformations as plain dicts, although the SDK types them.
            if getattr(inner, "transformations", None):
                inner.transformations = [DataTransformerConfig.from_json(item) for item in inner.transformations]
    return result


def grafana_schema_errors(dashboard: dict) -> list[str]:
    model = typed(dashboard)
    round_tripped = json.loads(json.dumps(model, cls=JSONEncoder))
    return list(lost_in_round_trip(dashboard, round_tripped, "")) + type_errors_of(model, "")


def lost_in_round_trip(original: Any, round_tripped: Any, path: str) -> Iterator[str]:
    """What the typed model dropped or changed. It may add fields: those are its defaults."""
    if isinstance(original, dict) and isinstance(round_tripped, dict):
        for key, value in original.items():
            if key not in round_tripped:
                yield f"{path}.{key}: dropped by the typed model (unknown field)"
            else:
                yield from lost_in_round_trip(value, round_tripped[key], f"{path}.{key}")
    elif isinstance(original, list) and isinstance(round_tripped, list) and len(original) == len(round_tripped):
        for index, (before, after) in enumerate(zip(original, round_tripped)):
            yield from lost_in_round_trip(before, after, f"{path}[{index}]")
    elif original != round_tripped or type(original) is not type(round_tripped):
        yield f"{path}: {original!r} became {round_tripped!r}"


def type_errors_of(model: object, path: str) -> list[str]:
    """Every attribute of a typed model against its annotation (from_json checks none)."""
    hints = typing.get_type_hints(type(model))
    return [
        error for name, hint in hints.items() for error in type_errors(getattr(model, name), hint, f"{path}.{name}")
    ]


def type_errors(value: Any, hint: Any, path: str) -> list[str]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (typing.Any, object):
        # Panel options and custom field config: typed by the panel's plugin when it has one.
        return type_errors_of(value, path) if type(value).__module__.startswith("grafana_foundation_sdk.") else []
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return []
        options = [arg for arg in args if arg is not type(None)]
        # A decoded model (a Panel or a RowPanel) is checked against its own class.
        if type(value).__module__.startswith("grafana_foundation_sdk."):
            for option in options:
                if isinstance(option, type) and isinstance(value, option):
                    return type_errors(value, option, path)
        results = [type_errors(value, option, path) for option in options]
        return [] if any(not errors for errors in results) else results[0]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [error for index, item in enumerate(value) for error in type_errors(item, args[0], f"{path}[{index}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping, got {value!r}"]
        return [error for key, item in value.items() for error in type_errors(item, args[1], f"{path}.{key}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [] if value in {member.value for member in hint} else [f"{path}: {value!r} is not a {hint.__name__}"]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if hint in (str, bool):
        return [] if isinstance(value, hint) else [f"{path}: expected {hint.__name__}, got {value!r}"]
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return [f"{path}: expected {hint.__name__}, got {value!r}"]
        return type_errors_of(value, path)
    raise AssertionError(f"{path}: no check for annotation {hint!r}")


@pytest.mark.parametrize(("stack", "name", "dashboard"), list(every_dashboard()))
def test_dashboards_are_valid_for_grafanas_schema(stack, name, dashboard):
    assert grafana_schema_errors(dashboard) == []
    # Every panel's options and field config were decoded by a typed plugin model, not kept as is.
    register_default_plugins()
    for panel in all_panels(dashboard):
        if panel["type"] != "row":
            assert cogruntime.panelcfg_config(panel["type"]) is not None, panel["type"]


def first_team_dashboard() -> dict:
    return dashboards_of("prod")["modelplane-dashboard-fraud"]


def first_row_panel(dashboard: dict) -> dict:
    return model_panels(dashboard)[0]


@pytest.mark.parametrize(
    ("break_it", "error"),
    [
        pytest.param(lambda d: d.__setitem__("schemaVersoin", 41), ".schemaVersoin: dropped", id="dashboard key"),
        pytest.param(lambda d: d["panels"][0].__setitem__("gridPoss", d["panels"][0].pop("gridPos")),
                     ".panels[0].gridPoss: dropped", id="panel key"),
        pytest.param(lambda d: first_row_panel(d).__setitem__("gridPoss", {}),
                     ".panels[2].gridPoss: dropped", id="repeated panel key"),
        pytest.param(lambda d: d["panels"][1].__setitem__("repaet", "model"),
                     ".panels[1].repaet: dropped", id="row key"),
        pytest.param(lambda d: d["templating"]["list"][0].__setitem__("mutli", True),
                     ".templating.list[0].mutli: dropped", id="variable key"),
        pytest.param(lambda d: first_row_panel(d)["targets"][0].__setitem__("legend", "x"),
                     ".targets[0].legend: dropped", id="query key"),
        pytest.param(lambda d: first_row_panel(d)["fieldConfig"]["defaults"].__setitem__("units", "s"),
                     ".fieldConfig.defaults.units: dropped", id="field key"),
        pytest.param(lambda d: first_row_panel(d)["options"]["legend"].__setitem__("displayMode", "tabel"),
                     "'tabel' is not a LegendDisplayMode", id="enum value"),
        pytest.param(lambda d: first_row_panel(d)["gridPos"].__setitem__("h", "8"),
                     "grid_pos.h: expected an integer", id="wrong type"),
        pytest.param(lambda d: d["panels"][0]["transformations"][1].__setitem__("option", {}),
                     ".transformations[1].option: dropped", id="transformation key"),
        pytest.param(lambda d: d["panels"][0]["options"].__setitem__("sortby", []),
                     ".panels[0].options.sortby: dropped", id="table option key"),
    ],
)
def test_the_schema_checks_catch_mistakes(break_it, error):
    dashboard = copy.deepcopy(first_team_dashboard())
    assert grafana_schema_errors(dashboard) == []
    break_it(dashboard)
    errors = grafana_schema_errors(dashboard)
    assert len(errors) == 1 and error in errors[0], errors


from tests.promtool import needs_promtool, promtool  # noqa: E402 - shared gate

# Grafana substitutes these before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$__range": "6h", "$team": ".*", "$model": "scorer"}


def as_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr




@needs_promtool
@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_promtool_parses_every_query(tmp_path, stack):
    exprs = sorted({as_promql(expr) for dashboard in dashboards_of(stack).values() for expr in all_queries(dashboard)
                    if not expr.startswith("label_values(")})
    # promtool parses expressions as recording rules; the rule names are irrelevant here.
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(exprs)]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def model_labels(team: str, model: str, **extra: str) -> str:
    """The labels of a recorded per-model series."""
    labels = {"namespace": f"team-{team}", "team": team, "model": model, **extra}
    return "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def info(team: str, model: str) -> str:
    return MODEL_INFO + model_labels(team, model, model_version="v1")


def per_model(series: str, team: str, model: str) -> str:
    return series + model_labels(team, model)


@needs_promtool
def test_the_aggregations_mean_what_the_panels_say(tmp_path):
    """On recorded series: an idle model (0/0 error ratio), a busy one, one at zero, one without a Deployment."""
    where = dashboards.TEAM_VARIABLE_SELECTOR.replace("$team", ".*")
    error_ratio = ERROR_RATIO.format(window="5m")
    series = [
        {"series": info("a", "idle"), "values": "1x5"},
        {"series": info("a", "busy"), "values": "1x5"},
        {"series": info("b", "small"), "values": "1x5"},
        {"series": info("b", "gone"), "values": "1x5"},
        {"series": per_model(REQUESTS_RATE, "a", "idle"), "values": "0x5"},
        # 0/0: promtool reads NaN one value at a time, not as "NaNx5".
        {"series": per_model(error_ratio, "a", "idle"), "values": " ".join(["NaN"] * 6)},
        {"series": per_model(REQUESTS_RATE, "a", "busy"), "values": "30x5"},
        {"series": per_model(error_ratio, "a", "busy"), "values": "0.1x5"},
        {"series": per_model(REQUESTS_RATE, "b", "small"), "values": "10x5"},
        {"series": per_model(error_ratio, "b", "small"), "values": "0.5x5"},
        {"series": per_model(READY_REPLICAS, "a", "idle"), "values": "0x5"},
        {"series": per_model(READY_REPLICAS, "a", "busy"), "values": "2x5"},
        {"series": per_model(READY_REPLICAS, "b", "small"), "values": "1x5"},
    ]
    tests = [{
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            # (30 * 0.1 + 10 * 0.5) / 40: the idle model's NaN does not poison the sum.
            {"expr": dashboards.traffic_weighted_error_ratio(where), "eval_time": "2m",
             "exp_samples": [{"labels": "{}", "value": 0.2}]},
            # "idle" has no ready replica, "gone" has no Deployment at all.
            {"expr": dashboards.models_at_zero(where), "eval_time": "2m",
             "exp_samples": [{"labels": "{}", "value": 2}]},
            # Every catalog model gets a line in the table, 0 when it has no series.
            {"expr": dashboards.or_zero_per_model(f"{READY_REPLICAS}{where}", where), "eval_time": "2m",
             "exp_samples": [
                 {"labels": model_labels("a", "idle"), "value": 0},
                 {"labels": model_labels("a", "busy"), "value": 2},
                 {"labels": model_labels("b", "small"), "value": 1},
                 {"labels": model_labels("b", "gone"), "value": 0},
             ]},
        ],
    }]
    path = tmp_path / "tests.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": tests}, sort_keys=False))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr



@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_model_server_latency_is_shown_only_for_teams_with_servers_that_record_it(stack):
    # request_predict_seconds is KServe's Python servers' own histogram (kserve/kserve @ v0.20.0
    # python/kserve/kserve/metrics.py:25-27); pinned per runtime in test_kserve_runtimes_contract.
    deployment = deployment_of(stack)
    found = dashboards_of(stack)
    recording = {model.spec.serving_runtime.predict_latency for model in deployment.models}
    assert recording == {True, False}, "the fixture has models of both kinds"
    for team in deployment.teams:
        models = deployment.models_of(team)
        if not models:
            continue
        latency = next(p for p in model_panels(found[f"modelplane-dashboard-{team.name}"]) if p["title"] == "Latency")
        reads = {series for target in latency["targets"] for series in series_in(target["expr"])}
        expected = any(model.spec.serving_runtime.predict_latency for model in models)
        assert (PREDICT_LATENCY_P95 in reads) == expected, team.name


def test_a_stack_without_kserve_python_servers_has_no_model_server_latency(workspace):
    workspace.team()
    workspace.model(format="mlflow")
    workspace.stack()
    deployment = deployment_in(workspace)
    assert not deployment.models[0].spec.serving_runtime.predict_latency
    assert PREDICT_LATENCY_P95 not in {rule["record"] for rule in recording_rules(deployment)}
    overview = dashboards_in(deployment)["modelplane-dashboard-overview"]
    panels = {panel["title"]: panel for panel in all_panels(overview)}
    assert "Model server p95 latency by model" not in panels
    assert panels["p95 latency by model"]["gridPos"]["w"] == 24
    assert overlapping(list(all_panels(overview))) == []
    # The fixture stacks have models of KServe's Python servers: the rule and panel are there.
    assert PREDICT_LATENCY_P95 in {rule["record"] for rule in recording_rules(deployment_of("dev"))}
    assert "Model server p95 latency by model" in {
        panel["title"] for panel in all_panels(dashboards_of("dev")["modelplane-dashboard-overview"])
    }

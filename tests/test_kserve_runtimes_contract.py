"""Contract with KServe's ClusterServingRuntimes: what a model server really runs with.

KServe does not run the InferenceService's model container as written: it strategic-merges it over
the container of the ClusterServingRuntime it names (kserve/kserve @ v0.20.0
``pkg/controller/v1beta1/inferenceservice/utils/utils.go:253-264`` ``MergeRuntimeContainers``,
``pkg/utils/container_merge.go:32-63``), key by key, and appends its ``args`` to the runtime's
(``utils.go:260``). Whatever the model container leaves out comes from the runtime; every runtime of
the kserve-runtime-configs chart @ v0.20.0 limits CPU to 1 (``files/runtimes/resources.yaml``,
``files/runtimes/clusterservingruntimes-patch.yaml``).

The runtimes are rendered here from the pinned chart itself (``../shared/charts``, the offline copy
of kserve/kserve ``charts/kserve-runtime-configs`` at the tag) with the values modelplane installs,
then every fixture model's container is merged as KServe does (``tests/kserve_merge.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from components import pins
from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.model_spec import arg_flag, arg_problem
from components.catalog.quantities import parse_quantity
from components.catalog.runtimes import SERVING_RUNTIMES
from components.platform_names import KSERVE_RUNTIMES_RELEASE
from components.render.stack_render import render_stack
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, REPO, STACKS_DIR
from tests.kserve_merge import merge_runtime_container

CHART = REPO.parent / "shared" / "charts" / f"kserve-runtimes@{pins.KSERVE_VERSION}" / "kserve-runtime-configs"
# constants.go:493 InferenceServiceContainerName: the runtime container the model's is merged with.
MODEL_CONTAINER = "kserve-container"
# ModelSpec fields that are not corev1.Container fields (predictor_model.go): KServe merges only
# the embedded Container.
MODEL_ONLY_FIELDS = {"modelFormat", "runtime", "protocolVersion", "storageUri", "storage"}


def _chart_or_skip() -> Path:
    if CHART.is_dir():
        return CHART
    message = f"{CHART} is missing: the pinned KServe runtime chart sources (../shared/charts)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must provide them")
    pytest.skip(message)


def _rendered(stack_name: str):
    catalog = load_catalog(MODELS_DIR, "models")
    stack = load_stack(STACKS_DIR, stack_name, "stacks")
    return render_stack(resolve_deployment(catalog, stack, stack_names(STACKS_DIR)))


def _runtimes(values: dict) -> dict[str, dict]:
    """The chart's ClusterServingRuntimes, by name, as Helm renders them with ``values``."""
    import helm_python

    chart = helm_python.Chart.load(str(_chart_or_skip()))
    files = chart.render(values=values, name=KSERVE_RUNTIMES_RELEASE, namespace="kserve")
    runtimes = {}
    for name, text in files.items():
        if not name.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(text):
            if document and document.get("kind") == "ClusterServingRuntime":
                runtimes[document["metadata"]["name"]] = document
    return runtimes


@pytest.fixture(scope="module", params=FIXTURE_STACKS)
def stack_runtimes(request):
    """(inference services, runtimes the stack's kserve-runtime-configs release installs)."""
    rendered = _rendered(request.param)
    release = next(r for r in rendered.releases if r.name == KSERVE_RUNTIMES_RELEASE)
    services = [obj for obj in rendered.objects if obj["kind"] == "InferenceService"]
    return services, _runtimes(release.values)


def _model_container(service: dict) -> dict:
    model = service["spec"]["predictor"]["model"]
    return {key: value for key, value in model.items() if key not in MODEL_ONLY_FIELDS}


def _same_quantity(a: str, b: str) -> bool:
    return parse_quantity(str(a)) == parse_quantity(str(b))


def test_every_model_names_an_enabled_runtime_with_a_model_container(stack_runtimes):
    services, runtimes = stack_runtimes
    for service in services:
        name = service["spec"]["predictor"]["model"]["runtime"]
        assert name in runtimes, f"{name} is not a ClusterServingRuntime of the chart"
        # predictor.go:341-347: a disabled runtime stops the reconcile.
        assert not runtimes[name]["spec"].get("disabled"), f"{name} is disabled in this stack"
        assert [c["name"] for c in runtimes[name]["spec"]["containers"]].count(MODEL_CONTAINER) == 1


def test_the_merged_container_keeps_our_resources_args_and_ports(stack_runtimes):
    services, runtimes = stack_runtimes
    assert services
    for service in services:
        who = service["metadata"]["name"]
        ours = _model_container(service)
        runtime = next(
            c for c in runtimes[ours_runtime(service)]["spec"]["containers"] if c["name"] == MODEL_CONTAINER
        )
        merged = merge_runtime_container(runtime, ours)
        requests, limits = merged["resources"]["requests"], merged["resources"]["limits"]
        for resource, amount in requests.items():
            # The API server refuses a pod whose request is above its limit.
            assert resource in limits, (who, resource)
            assert parse_quantity(str(amount)) <= parse_quantity(str(limits[resource])), (who, resource)
        for resource, amount in ours["resources"]["requests"].items():
            assert _same_quantity(requests[resource], amount), (who, resource)
        # The CPU and memory limits are ours, not the runtime's 1 CPU / 2Gi.
        assert set(ours["resources"]["limits"]) >= {"cpu", "memory"}, who
        for resource, amount in ours["resources"]["limits"].items():
            assert _same_quantity(limits[resource], amount), (who, resource)
        assert merged.get("args", []) == list(runtime.get("args", [])) + list(ours.get("args", [])), who
        # No chart runtime declares ports, so a gRPC model's h2c port is the only one.
        assert merged.get("ports", []) == ours.get("ports", []), who


def ours_runtime(service: dict) -> str:
    return service["spec"]["predictor"]["model"]["runtime"]


def test_the_reproduced_merge_keeps_a_runtime_limit_the_model_leaves_out():
    # The failure the explicit CPU limit prevents (real-cluster review item 3): with only a memory
    # limit, the runtime's 1 CPU survives below a 2 CPU request.
    runtime = {"name": MODEL_CONTAINER, "args": ["--model_name={{.Name}}"],
               "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}}
    model = {"args": ["--task=text_embedding"],
             "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}}
    merged = merge_runtime_container(runtime, model)
    assert merged["resources"] == {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "1", "memory": "4Gi"}}
    assert merged["args"] == ["--model_name={{.Name}}", "--task=text_embedding"]
    assert merged["name"] == MODEL_CONTAINER


# --- Runtime arguments (a model's ``args``) ---------------------------------------------------


@pytest.fixture(scope="module")
def chart_runtimes():
    """Every ClusterServingRuntime of the chart (disabled ones are rendered too), by name."""
    rendered = _rendered(FIXTURE_STACKS[0])
    release = next(r for r in rendered.releases if r.name == KSERVE_RUNTIMES_RELEASE)
    return _runtimes(release.values)


def _runtime_container(runtimes: dict[str, dict], name: str) -> dict:
    return next(c for c in runtimes[name]["spec"]["containers"] if c["name"] == MODEL_CONTAINER)


def _flags(args: list[str]) -> list[str]:
    return [flag for flag in map(arg_flag, args) if flag is not None]


@pytest.mark.parametrize("name", sorted(SERVING_RUNTIMES))
def test_the_flags_a_runtime_sets_are_the_ones_models_may_not_set(chart_runtimes, name):
    # A model's args come after the runtime's (utils.go:260); a flag given twice is left to the
    # server's parser, so every flag the chart's container passes must be refused in args.
    runtime = SERVING_RUNTIMES[name]
    container = _runtime_container(chart_runtimes, name)
    assert sorted(_flags(container.get("args") or [])) == sorted(_flags(list(runtime.runtime_flags)))


@pytest.mark.parametrize("name", sorted(SERVING_RUNTIMES))
def test_a_runtime_takes_args_when_its_container_has_a_command_or_args(chart_runtimes, name):
    # Kubernetes: args without a command replace the image's CMD. A runtime container with
    # neither (MLServer) would run only what the model's args say.
    container = _runtime_container(chart_runtimes, name)
    has_entry = bool(container.get("command") or container.get("args"))
    assert SERVING_RUNTIMES[name].takes_args == has_entry


def test_the_merged_container_passes_each_flag_once(stack_runtimes):
    services, runtimes = stack_runtimes
    with_args = [service for service in services if service["spec"]["predictor"]["model"].get("args")]
    assert with_args, "the fixture catalog has a model with args"
    for service in with_args:
        ours = _model_container(service)
        merged = merge_runtime_container(_runtime_container(runtimes, ours_runtime(service)), ours)
        assert merged["args"][-len(ours["args"]):] == ours["args"]
        flags = _flags(merged["args"])
        # The one flag passed twice on purpose: the platform's --nthread=<threads> after the
        # runtime's --nthread=1, where the servers' argparse keeps the last (tests/test_threads.py).
        if "nthread" in flags:
            assert flags.count("nthread") == 2 and merged["args"][-1].startswith("--nthread="), merged["args"]
            flags.remove("nthread")
        assert len(flags) == len(set(flags)), (service["metadata"]["name"], merged["args"])


def test_a_flag_the_runtime_sets_would_be_passed_twice():
    # What the refusal prevents: KServe concatenates, it does not replace (utils.go:260).
    runtime = {"name": MODEL_CONTAINER, "args": ["--model_name={{.Name}}", "--http_port=8080"]}
    merged = merge_runtime_container(runtime, {"args": ["--http_port=9000"]})
    assert merged["args"] == ["--model_name={{.Name}}", "--http_port=8080", "--http_port=9000"]
    assert arg_problem("--http_port=9000", SERVING_RUNTIMES["kserve-sklearnserver"]) is not None


# --- Metrics: which port, and which runtimes record request_predict_seconds --------------------

# MLServer @ 1.5.0 mlserver/settings.py:203: metrics_port = 8082, read from MLSERVER_METRICS_PORT
# (env_prefix MLSERVER_, settings.py:15,97); the REST app on 8080 serves no /metrics route
# (mlserver/rest/app.py:182-193 only adds the middleware; mlserver/metrics/server.py:29 the route).
MLSERVER_IMAGE = "docker.io/seldonio/mlserver:1.5.0"
MLSERVER_METRICS_PORT = 8082
MLSERVER_METRICS_SETTINGS = ("MLSERVER_METRICS_PORT", "MLSERVER_METRICS_ENDPOINT")


def test_mlserver_is_scraped_on_its_own_metrics_port(chart_runtimes):
    container = _runtime_container(chart_runtimes, "kserve-mlserver")
    # The default applies only to the MLServer release it was read from, and only while the
    # runtime does not move it.
    assert container["image"] == MLSERVER_IMAGE
    assert not {env["name"] for env in container.get("env", [])} & set(MLSERVER_METRICS_SETTINGS)
    assert SERVING_RUNTIMES["kserve-mlserver"].metrics_port == MLSERVER_METRICS_PORT
    # KServe's own annotation names the inference port; modelplane does not use it.
    annotation = chart_runtimes["kserve-mlserver"]["spec"]["annotations"]["prometheus.kserve.io/port"]
    assert int(annotation) != MLSERVER_METRICS_PORT


@pytest.mark.parametrize("name", sorted(set(SERVING_RUNTIMES) - {"kserve-mlserver", "kserve-tensorflow-serving"}))
def test_the_scraped_port_is_the_one_the_runtime_announces(chart_runtimes, name):
    # TF Serving exports Prometheus metrics only with --monitoring_config_file (none here), and
    # MLServer's annotation is wrong (above); every other runtime's annotation is its metrics port.
    annotation = chart_runtimes[name]["spec"]["annotations"]["prometheus.kserve.io/port"]
    assert SERVING_RUNTIMES[name].metrics_port == int(annotation)


@pytest.mark.parametrize("name", sorted(SERVING_RUNTIMES))
def test_predict_latency_is_expected_only_from_kserves_python_servers(chart_runtimes, name):
    # request_predict_seconds is defined in python/kserve/kserve/metrics.py:25-27 and observed by
    # kserve.Model.__call__ (model.py:242) @ v0.20.0: only servers built on the kserve package,
    # KServe's own images kserve/<server>:<version>, record it.
    image = _runtime_container(chart_runtimes, name)["image"]
    runtime = SERVING_RUNTIMES[name]
    assert runtime.predict_latency == (image == f"kserve/{runtime.chart_key}:{pins.KSERVE_VERSION}")


# --- Probes (a model's ``probes``) ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVING_RUNTIMES))
def test_no_runtime_the_catalog_uses_sets_a_probe(chart_runtimes, name):
    # KServe merges the predictor container over the runtime's with a strategic merge patch
    # (kserve/kserve @ v0.20.0 pkg/controller/v1beta1/inferenceservice/utils/utils.go:250-263
    # MergeRuntimeContainers): with no probe in the runtime, a model's probes are the only ones
    # and a model without probes gets Knative's default TCP readiness check. (Only the
    # multi-node Hugging Face runtime, which the catalog does not use, sets exec probes.)
    container = _runtime_container(chart_runtimes, name)
    assert not {"startupProbe", "readinessProbe", "livenessProbe"} & set(container)


def test_the_merged_container_keeps_a_models_probes(chart_runtimes):
    from components.catalog.probes_spec import Probes
    from components.render.probes import render_probes

    runtime = SERVING_RUNTIMES["kserve-huggingfaceserver"]
    probes = render_probes(Probes.model_validate({"startup": {"timeout_seconds": 600}, "readiness": {}}), runtime, "ticket-router")
    merged = merge_runtime_container(_runtime_container(chart_runtimes, runtime.name), {"name": MODEL_CONTAINER, **probes})
    assert merged["startupProbe"] == probes["startupProbe"]
    assert merged["readinessProbe"] == probes["readinessProbe"]

"""``probes``: validation rules, and the probe fields KServe and Knative read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.catalog.probes_spec import Probes
from components.catalog.runtimes import SERVING_RUNTIMES
from components.render.probes import render_probes
from tests.conftest import REPO
from tests.test_model_files import FILE, problems_of
from tests.test_render_objects import render

SKLEARN = SERVING_RUNTIMES["kserve-sklearnserver"]
TRITON = SERVING_RUNTIMES["kserve-tritonserver"]


def test_no_probes_renders_no_probe_fields():
    assert render_probes(None, SKLEARN, "scorer") == {}


def test_kserve_server_defaults_are_its_model_ready_and_live_endpoints():
    # kserve/kserve @ v0.20.0 python/kserve/kserve/protocol/rest/v2_endpoints.py:243-248 routes
    # /v2/health/live and :274-279 /v2/models/{model_name}/ready (model_ready: 200 only once the
    # model is loaded); server.py:106-112 registers the v2 endpoints on every KServe Python server,
    # whatever protocol the model speaks. /v2/health/ready is not used: in a predictor it answers
    # 200 before the model is loaded (protocol/dataplane.py:247-275).
    probes = Probes.model_validate({"startup": {"timeout_seconds": 600}, "readiness": {}, "liveness": {}})
    rendered = render_probes(probes, SKLEARN, "scorer")
    assert {kind: probe["httpGet"] for kind, probe in rendered.items()} == {
        "startupProbe": {"path": "/v2/models/scorer/ready", "port": 8080},
        "readinessProbe": {"path": "/v2/models/scorer/ready", "port": 8080},
        "livenessProbe": {"path": "/v2/health/live", "port": 8080},
    }


def test_startup_timeout_is_failure_threshold_times_period():
    # The kubelet restarts the container after failureThreshold failed startup probes, one every
    # periodSeconds; 605 s rounds up so loading gets at least the time asked for.
    probe = render_probes(Probes.model_validate({"startup": {"timeout_seconds": 605}}), SKLEARN, "scorer")["startupProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (10, 61)


def test_readiness_probe_passes_knative_validation_rules():
    # knative/serving @ knative-v1.23.0 pkg/apis/serving/k8s_validation.go:828-872: with
    # periodSeconds > 0 a readiness probe needs timeoutSeconds >= 1, failureThreshold >= 1 and
    # successThreshold >= 1; :875-925 validateProbe: one handler, and a port that is a number or
    # the container port's name (fieldmask.go:379-397 ProbeMask keeps only these fields).
    probe = render_probes(Probes.model_validate({"readiness": {}}), SKLEARN, "scorer")["readinessProbe"]
    assert set(probe) == {"httpGet", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"}
    assert probe["periodSeconds"] > 0 and probe["timeoutSeconds"] >= 1
    assert probe["failureThreshold"] >= 1 and probe["successThreshold"] >= 1
    assert isinstance(probe["httpGet"]["port"], int)


def test_a_written_path_wins_over_the_default():
    probes = Probes.model_validate({"liveness": {"path": "/v1/models/scorer"}})
    assert render_probes(probes, SKLEARN, "scorer")["livenessProbe"]["httpGet"]["path"] == "/v1/models/scorer"


def test_probes_render_on_the_predictor_model_container(basic_workspace):
    basic_workspace.model(probes={"startup": {"timeout_seconds": 120}, "readiness": {}})
    model = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]
    assert model["startupProbe"]["httpGet"] == {"path": "/v2/models/scorer/ready", "port": 8080}
    assert model["startupProbe"]["failureThreshold"] == 12
    assert model["readinessProbe"]["httpGet"]["path"] == "/v2/models/scorer/ready"
    assert "livenessProbe" not in model


def test_a_model_without_probes_renders_none(basic_workspace):
    model = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]
    assert not {"startupProbe", "readinessProbe", "livenessProbe"} & set(model)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"probes": {"startup": {"timeout_seconds": 5}}},
            "probes.startup.timeout_seconds: must be at least 10",
        ),
        (
            {"probes": {"startup": {"timeout_seconds": 7200}}},
            "probes.startup.timeout_seconds: must be at most 3600",
        ),
        ({"probes": {"startup": {}}}, "probes.startup.timeout_seconds: "),
        ({"probes": {"readiness": {"path": "health"}}}, "probes.readiness.path: "),
        ({"probes": {"liveness": {"path": "/a b"}}}, "probes.liveness.path: "),
        ({"probes": {"readiness": {"request": "{}"}}}, "probes.readiness.request: unknown field"),
        (
            {"format": "onnx", "probes": {"readiness": {}}},
            "probes: runtime kserve-tritonserver has no health path the platform knows; write "
            "readiness.path (the server's own health endpoint)",
        ),
        (
            {"format": "onnx", "protocol": "grpc-v2", "probes": {"readiness": {"path": "/v2/health/ready"}}},
            "probes: probes are HTTP checks and a grpc-v2 model's container port speaks gRPC only; remove probes",
        ),
    ],
)
def test_probe_rules(basic_workspace, changes, expected):
    basic_workspace.model(file="scorer", **changes)
    problems = problems_of(basic_workspace)
    assert len(problems) == 1
    assert problems[0].startswith(f"{FILE}: {expected}"), problems[0]


def test_triton_with_a_written_path_is_valid(basic_workspace):
    basic_workspace.model(format="onnx", probes={"readiness": {"path": "/v2/health/ready"}})
    model = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]
    assert model["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert TRITON.name == model["runtime"]


def _crd_errors(service: dict) -> str:
    """What validate_crds.py (the upstream KServe CRD schema, ../shared) says of ``service``."""
    tool = Path(os.environ.get("MODELPLANE_SHARED_DIR", REPO.parent / "shared")) / "tools" / "validate_crds.py"
    if not tool.exists():
        pytest.skip(f"{tool} is missing: the upstream CRD schemas (../shared)")
    result = subprocess.run(
        [sys.executable, str(tool), "-"], input=yaml.safe_dump(service), capture_output=True, text=True,
    )
    assert "checked 1, unchecked 0" in result.stdout, result.stdout + result.stderr
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_rendered_probes_pass_the_inference_service_crd(basic_workspace):
    basic_workspace.model(probes={"startup": {"timeout_seconds": 300}, "readiness": {}, "liveness": {}})
    service = render(basic_workspace)["InferenceService/team-fraud/scorer"]
    assert _crd_errors(service) == ""
    # The check sees a probe without the port the CRD requires.
    del service["spec"]["predictor"]["model"]["startupProbe"]["httpGet"]["port"]
    assert "'port' is a required property" in _crd_errors(service)

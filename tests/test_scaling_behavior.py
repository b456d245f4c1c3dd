"""Scaling behaviour: the autoscaler windows and panic mode each model gets, per kind and path,
the annotations they render, and the problems a user can cause with them."""

from __future__ import annotations

import pytest

from components.catalog.scaling_behavior import GPU_BEHAVIOR
from tests.test_cold_start import deployed, problems_of

WINDOW = "autoscaling.knative.dev/window"
PANIC_WINDOW = "autoscaling.knative.dev/panic-window-percentage"
PANIC_THRESHOLD = "autoscaling.knative.dev/panic-threshold-percentage"
BEHAVIOR_ANNOTATIONS = (WINDOW, PANIC_WINDOW, PANIC_THRESHOLD)
FILE = "models/fraud/scorer.yaml"


def behavior_of(workspace, stack: str = "dev") -> dict[str, str]:
    _, objects = deployed(workspace, stack)
    annotations = objects["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["annotations"]
    return {key: annotations[key] for key in BEHAVIOR_ANNOTATIONS if key in annotations}


def test_a_cpu_model_keeps_knatives_cluster_settings(basic_workspace):
    assert behavior_of(basic_workspace) == {}


def test_a_gpu_model_waits_longer_before_removing_a_replica_and_panics_later(basic_workspace):
    basic_workspace.model(gpu={"count": 1})
    assert behavior_of(basic_workspace) == {WINDOW: "180s", PANIC_THRESHOLD: "300"}
    # Steadier than Knative's defaults (stable-window 60s, panic-threshold-percentage 200:
    # knative/serving config/core/configmaps/autoscaler.yaml:105,119 @ knative-v1.23.0).
    assert GPU_BEHAVIOR.stable_window_seconds > 60 and GPU_BEHAVIOR.panic_threshold_percent > 200


def test_a_model_sets_its_own_and_a_stack_override_wins(basic_workspace):
    basic_workspace.model(
        gpu={"count": 1},
        scaling={"max_replicas": 4, "behavior": {"stable_window_seconds": 300, "panic_window_percent": 20}},
        environments={"dev": {"scaling": {"behavior": {"stable_window_seconds": 90}}}},
    )
    assert behavior_of(basic_workspace) == {WINDOW: "90s", PANIC_WINDOW: "20", PANIC_THRESHOLD: "300"}


def test_the_hpa_path_gets_only_the_window(basic_workspace):
    basic_workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 3, "metric": "cpu"})
    # No kind defaults: the HPA's own (scale up at once, down after 300 s) apply.
    assert behavior_of(basic_workspace) == {}
    basic_workspace.model(gpu={"count": 1}, scaling={
        "min_replicas": 1, "max_replicas": 3, "metric": "cpu", "behavior": {"stable_window_seconds": 120},
    })
    assert behavior_of(basic_workspace) == {WINDOW: "120s"}


def test_panic_settings_are_refused_on_the_hpa_path(basic_workspace):
    basic_workspace.model(scaling={
        "min_replicas": 1, "metric": "memory", "behavior": {"panic_threshold_percent": 150},
    })
    [problem] = problems_of(basic_workspace)
    assert problem.startswith(f"{FILE}: scaling: behavior: panic_threshold_percent only apply to Knative's autoscaler")
    assert "metric memory scales with the Kubernetes HPA" in problem and "remove them" in problem


def test_an_override_that_moves_a_model_to_the_hpa_is_checked_too(basic_workspace):
    basic_workspace.model(
        scaling={"min_replicas": 1, "behavior": {"panic_window_percent": 5}},
        environments={"dev": {"scaling": {"metric": "cpu"}}},
    )
    [problem] = problems_of(basic_workspace)
    assert problem.startswith(f"{FILE}: scaling.behavior: in stack dev: panic_window_percent only apply")


@pytest.mark.parametrize(("behavior", "message"), [
    ({"stable_window_seconds": 5}, "scaling.behavior.stable_window_seconds: must be at least 6"),
    ({"stable_window_seconds": 3601}, "scaling.behavior.stable_window_seconds: must be at most 3600"),
    ({"panic_window_percent": 0}, "scaling.behavior.panic_window_percent: must be at least 1"),
    ({"panic_window_percent": 101}, "scaling.behavior.panic_window_percent: must be at most 100"),
    ({"panic_threshold_percent": 100}, "scaling.behavior.panic_threshold_percent: must be at least 110"),
    ({"panic_threshold_percent": 1001}, "scaling.behavior.panic_threshold_percent: must be at most 1000"),
    ({"scale_down_policy": "fast"}, "scaling.behavior.scale_down_policy: unknown field"),
])
def test_knatives_bounds(basic_workspace, behavior, message):
    basic_workspace.model(scaling={"behavior": behavior})
    [problem] = problems_of(basic_workspace)
    assert problem.startswith(f"{FILE}: {message}")


def test_the_stacks_max_scale_up_rate_reaches_config_autoscaler(basic_workspace):
    _, objects = deployed(basic_workspace)
    autoscaler = objects["KnativeServing/knative-serving/knative-serving"]["spec"]["config"]["autoscaler"]
    assert "max-scale-up-rate" not in autoscaler
    basic_workspace.stack(serving={"max_scale_up_rate": 2})
    _, objects = deployed(basic_workspace)
    autoscaler = objects["KnativeServing/knative-serving/knative-serving"]["spec"]["config"]["autoscaler"]
    assert autoscaler["max-scale-up-rate"] == "2.0"


def test_a_max_scale_up_rate_of_one_is_refused(basic_workspace):
    basic_workspace.stack(serving={"max_scale_up_rate": 1})
    [problem] = problems_of(basic_workspace)
    assert problem == "stacks/Pulumi.dev.yaml: modelplane:serving.max_scale_up_rate: must be more than 1, got the number 1"

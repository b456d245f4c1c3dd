"""Cold starts: the policy each model gets in a stack, the annotations and timeouts it renders,
and the problems a user can cause with it."""

from __future__ import annotations

import pytest

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.cold_start import CPU_COLD_START, GPU_COLD_START
from components.render.objects import object_id
from components.render.stack_render import render_stack_objects
from tests.conftest import Workspace

RETENTION = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"
DELAY = "autoscaling.knative.dev/scale-down-delay"
INITIAL = "autoscaling.knative.dev/initial-scale"


def deployed(workspace: Workspace, stack: str = "dev"):
    deployment = resolve_deployment(
        load_catalog(workspace.models, "models"), load_stack(workspace.stacks, stack, "stacks"),
        stack_names(workspace.stacks),
    )
    return deployment, {object_id(obj): obj for obj in render_stack_objects(deployment)}


def scorer(workspace: Workspace, stack: str = "dev") -> tuple[dict, dict]:
    """The scorer's predictor and its route's HTTP rule."""
    _, objects = deployed(workspace, stack)
    return (objects["InferenceService/team-fraud/scorer"]["spec"]["predictor"],
            objects["VirtualService/team-fraud/scorer-route"]["spec"]["http"][0])


def cold_start_annotations(predictor: dict) -> tuple[str, str, str]:
    annotations = predictor["annotations"]
    return annotations[RETENTION], annotations[DELAY], annotations[INITIAL]


def problems_of(workspace: Workspace, stack: str = "dev") -> list[str]:
    with pytest.raises(InputError) as caught:
        deployed(workspace, stack)
    return [str(problem) for problem in caught.value.problems]


def test_a_gpu_model_at_zero_keeps_its_last_replica_and_starts_no_node_for_a_new_revision(basic_workspace):
    basic_workspace.model(gpu={"count": 1})
    predictor, route = scorer(basic_workspace)
    assert cold_start_annotations(predictor) == (f"{GPU_COLD_START.idle_retention_seconds}s", "0s", "0")
    assert GPU_COLD_START.idle_retention_seconds > CPU_COLD_START.idle_retention_seconds
    # Its requests may wait for a GPU node: the revision's timeout and the route's both cover it.
    assert predictor["timeout"] == GPU_COLD_START.expected_seconds
    assert route["timeout"] == f"{GPU_COLD_START.expected_seconds}s"


def test_a_cpu_model_keeps_knatives_defaults(basic_workspace):
    predictor, route = scorer(basic_workspace)
    assert cold_start_annotations(predictor) == ("0s", "0s", "1")
    assert (predictor["timeout"], route["timeout"]) == (300, "300s")


def test_a_model_that_never_scales_to_zero_starts_its_floor_and_keeps_knatives_timeout(basic_workspace):
    basic_workspace.model(gpu={"count": 1}, scaling={"min_replicas": 2, "max_replicas": 2})
    predictor, route = scorer(basic_workspace)
    # Knative starts max(min-scale, initial-scale) (kpa.go:324-331): the render says so.
    assert cold_start_annotations(predictor)[2] == "2"
    assert (predictor["timeout"], route["timeout"]) == (300, "300s")


def test_the_most_specific_setting_wins(basic_workspace):
    basic_workspace.stack(serving={"cold_start": {"cpu": {"idle_retention_seconds": 120, "scale_down_delay_seconds": 30}}})
    basic_workspace.model(
        cold_start={"idle_retention_seconds": 600, "expected_seconds": 60},
        environments={"dev": {"cold_start": {"initial_replicas": 0}}},
    )
    predictor, _ = scorer(basic_workspace)
    # The override's initial_replicas, the model's retention, the stack's delay.
    assert cold_start_annotations(predictor) == ("600s", "30s", "0")
    # The model's own expected cold start (60 s) is under Knative's default timeout, which stays.
    assert predictor["timeout"] == 300
    basic_workspace.stack("prod", environment="prod")
    predictor, _ = scorer(basic_workspace, "prod")
    assert cold_start_annotations(predictor) == ("600s", "0s", "1")


def test_a_timeout_shorter_than_a_cold_start_is_refused_where_the_model_scales_to_zero(basic_workspace):
    basic_workspace.stack("prod", environment="prod")
    basic_workspace.model(timeout_seconds=5, environments={"prod": {"scaling": {"min_replicas": 1}}})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: timeout_seconds: 5 s is shorter than a cold start of scorer (300 s, "
        "cold_start.expected_seconds), and it scales to zero in stack dev: the first request after it "
        "went idle would fail; raise it (environments.dev.timeout_seconds for this stack only) to 300 "
        "or more, keep a replica (environments.dev.scaling.min_replicas: 1), or lower "
        "cold_start.expected_seconds if the model starts faster"
    ]
    # Prod keeps a replica: 5 s holds there.
    predictor, route = scorer(basic_workspace, "prod")
    assert (predictor["timeout"], route["timeout"]) == (5, "5s")


def test_a_per_stack_timeout(basic_workspace):
    basic_workspace.model(timeout_seconds=5, environments={"dev": {"timeout_seconds": 400}})
    predictor, route = scorer(basic_workspace)
    assert (predictor["timeout"], route["timeout"]) == (400, "400s")
    basic_workspace.model(timeout_seconds=500, environments={"dev": {"timeout_seconds": 100}})
    assert [p.split(": ")[1] for p in problems_of(basic_workspace)] == ["environments.dev.timeout_seconds"]


def test_a_model_that_says_it_starts_fast_may_keep_a_short_timeout(basic_workspace):
    basic_workspace.model(timeout_seconds=30, cold_start={"expected_seconds": 30})
    predictor, _ = scorer(basic_workspace)
    assert predictor["timeout"] == 30


def test_initial_replicas_above_max_replicas(basic_workspace):
    basic_workspace.model(cold_start={"initial_replicas": 3}, scaling={"max_replicas": 2})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: cold_start.initial_replicas: initial_replicas 3 is more than "
        "max_replicas 2 of scorer in stack dev: a new revision would wait for replicas it may never "
        "start and never become ready; lower initial_replicas or raise max_replicas"
    ]


def test_a_cold_start_beyond_the_progress_deadline(basic_workspace):
    # Knative fails activation after the progress deadline plus 30 s (kpa/scaler.go:196-213).
    basic_workspace.stack(serving={"progress_deadline_seconds": 600})
    basic_workspace.model(gpu={"count": 1})
    problems = problems_of(basic_workspace)
    assert [p.split(": ")[:2] for p in problems] == [["stacks/Pulumi.dev.yaml", "modelplane:serving.progress_deadline_seconds"]]
    assert "may take 900 s to start, longer than the progress deadline of stack dev (600 s)" in problems[0]
    basic_workspace.model(gpu={"count": 1}, cold_start={"expected_seconds": 700})
    assert [p.split(": ")[1] for p in problems_of(basic_workspace)] == ["cold_start.expected_seconds"]
    basic_workspace.stack(serving={"progress_deadline_seconds": 600, "cold_start": {"gpu": {"expected_seconds": 1200}}})
    basic_workspace.model(gpu={"count": 1})
    assert [p.split(": ")[1] for p in problems_of(basic_workspace)] == ["modelplane:serving.cold_start.gpu.expected_seconds"]


@pytest.mark.parametrize(
    ("cold_start", "message"),
    [
        ({"idle_retention_seconds": 3601}, "cold_start.idle_retention_seconds: must be at most 3600"),
        ({"scale_down_delay_seconds": -5}, "cold_start.scale_down_delay_seconds: must be at least 0"),
        ({"initial_replicas": -1}, "cold_start.initial_replicas: must be at least 0"),
        ({"idle_retention_seconds": "5m"}, "cold_start.idle_retention_seconds: expected a whole number"),
    ],
)
def test_knatives_ranges(basic_workspace, cold_start, message):
    basic_workspace.model(cold_start=cold_start)
    problems = problems_of(basic_workspace)
    assert len(problems) == 1 and problems[0].startswith(f"models/fraud/scorer.yaml: {message}"), problems


def test_the_stacks_defaults_are_checked_too(basic_workspace):
    basic_workspace.stack(serving={"cold_start": {"gpu": {"idle_retention_seconds": 7200}}})
    problems = problems_of(basic_workspace)
    assert len(problems) == 1 and "serving.cold_start.gpu.idle_retention_seconds" in problems[0], problems

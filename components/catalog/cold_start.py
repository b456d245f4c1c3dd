"""A model's cold-start policy: how long it may take to come back from zero replicas, how long an
idle replica stays, and whether a new revision starts a pod before it takes traffic.

The same fields appear in a model file (``cold_start``), in its per-stack overrides
(``environments.<stack>.cold_start``) and in the stack settings (``serving.cold_start.gpu`` and
``.cpu``); a field left out everywhere takes the built-in default for GPU or CPU models below.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from components.catalog.fields import StrictModel

# Knative bounds both per-revision durations by its window maximum of one hour (knative/serving
# @ knative-v1.23.0 pkg/apis/autoscaling/register.go:144 WindowMax, annotation_validation.go:135-162);
# whole seconds, as scale-down-delay must be (:144-145).
MAX_AUTOSCALING_WINDOW_SECONDS = 3600
# Knative's max-revision-timeout-seconds, which modelplane sets: no request may wait longer.
MAX_REQUEST_TIMEOUT_SECONDS = 3600
# Knative's revision-timeout-seconds, which modelplane sets: the request timeout of a model that
# names none and cannot be at zero.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 300
MAX_INITIAL_REPLICAS = 1000


class ColdStart(StrictModel):
    """What happens around zero replicas; every field is optional and falls back, in order, to
    the model's own ``cold_start``, the stack's ``serving.cold_start.gpu`` or ``.cpu``, and the
    built-in defaults for GPU or CPU models."""

    expected_seconds: int | None = Field(
        default=None, ge=1, le=MAX_REQUEST_TIMEOUT_SECONDS,
        description="How long the first request may wait for a replica at zero (node, image pull, "
        "model load); where the model can scale to zero its request timeout is at least this.",
    )
    idle_retention_seconds: int | None = Field(
        default=None, ge=0, le=MAX_AUTOSCALING_WINDOW_SECONDS,
        description="How long the last replica stays once Knative has decided to scale to zero "
        "(autoscaling.knative.dev/scale-to-zero-pod-retention-period), 0 to 3600.",
    )
    scale_down_delay_seconds: int | None = Field(
        default=None, ge=0, le=MAX_AUTOSCALING_WINDOW_SECONDS,
        description="How long a lower load must last before any replica is removed "
        "(autoscaling.knative.dev/scale-down-delay), 0 to 3600.",
    )
    initial_replicas: int | None = Field(
        default=None, ge=0, le=MAX_INITIAL_REPLICAS,
        description="Replicas a new revision starts before it takes traffic "
        "(autoscaling.knative.dev/initial-scale); 0 lets a revision become ready without a pod.",
    )


@dataclass(frozen=True)
class ColdStartPolicy:
    """A model's cold-start policy in one stack, every field resolved."""

    expected_seconds: int
    idle_retention_seconds: int
    scale_down_delay_seconds: int
    initial_replicas: int


# GPU models: a GPU node from zero (launch, join, NVIDIA agents: minutes), a model-server image of
# several GB and a model download and load take up to 15 minutes. The last replica stays 15
# minutes after Knative's decision to scale to zero, so a model used every few minutes does not
# wait for a node each time. A new revision starts no pod, and so no GPU node, until a request
# arrives (Knative's initial-scale 0).
GPU_COLD_START = ColdStartPolicy(
    expected_seconds=900, idle_retention_seconds=900, scale_down_delay_seconds=0, initial_replicas=0,
)
# CPU models: a spot node, an image pull and a model load within Knative's default request
# timeout (5 minutes). Knative's own defaults otherwise: the last replica goes with the decision
# to scale to zero, and a new revision proves it starts (one replica) before it takes traffic.
CPU_COLD_START = ColdStartPolicy(
    expected_seconds=300, idle_retention_seconds=0, scale_down_delay_seconds=0, initial_replicas=1,
)


def resolve_cold_start(gpu: bool, *layers: ColdStart | None) -> ColdStartPolicy:
    """The policy from ``layers`` (most specific first; ``None`` skipped) over the built-in
    defaults for GPU or CPU models."""
    default = GPU_COLD_START if gpu else CPU_COLD_START
    values = {}
    for name in ("expected_seconds", "idle_retention_seconds", "scale_down_delay_seconds", "initial_replicas"):
        chosen = next((getattr(layer, name) for layer in layers if layer is not None and getattr(layer, name) is not None), None)
        values[name] = getattr(default, name) if chosen is None else chosen
    return ColdStartPolicy(**values)

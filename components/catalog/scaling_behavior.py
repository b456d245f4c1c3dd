"""How eagerly a model's replicas follow its load: the autoscaler's windows and panic mode.

``scaling.behavior`` in a model file (and ``environments.<stack>.scaling.behavior``) tunes the
autoscaler Knative runs for the model. Two paths exist today:

- the Knative Pod Autoscaler (metrics ``concurrency`` and ``rps``), which reads a stable window, a
  panic window (a share of the stable window) and a panic threshold per revision;
- Kubernetes' HPA through Knative's ``hpa.autoscaling.knative.dev`` class (metrics ``cpu`` and
  ``memory``), whose HPA Knative writes itself: it carries over the stable window, as the
  stabilisation window of both scale-up and scale-down, and nothing else. Panic settings are
  refused there, with the reason.

A field left out takes the default of the model's kind below, or Knative's cluster setting.
The scale-down delay is ``cold_start.scale_down_delay_seconds`` and the most replicas one step may
add is the stack's ``serving.max_scale_up_rate`` (Knative reads it only cluster-wide).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from components.catalog.fields import StrictModel

# knative/serving @ knative-v1.23.0 pkg/apis/autoscaling/register.go:141-144 (WindowMin 6 s,
# WindowMax 1 h; whole seconds, annotation_validation.go:164-175), :184-190 (panic window 1-100 %
# of the stable window), :212-216 (panic threshold 110-1000 % of the target).
MIN_STABLE_WINDOW_SECONDS = 6
MAX_STABLE_WINDOW_SECONDS = 3600
MIN_PANIC_WINDOW_PERCENT = 1
MAX_PANIC_WINDOW_PERCENT = 100
MIN_PANIC_THRESHOLD_PERCENT = 110
MAX_PANIC_THRESHOLD_PERCENT = 1000
# The fields the HPA class cannot carry: Knative's MakeHPA (pkg/reconciler/autoscaling/hpa/
# resources/hpa.go:105-115 @ knative-v1.23.0) reads only the window annotation.
KPA_ONLY_FIELDS = ("panic_window_percent", "panic_threshold_percent")


class ScalingBehavior(StrictModel):
    """Autoscaler windows and panic mode; every field is optional (the kind's default, or
    Knative's cluster setting, applies)."""

    stable_window_seconds: int | None = Field(
        default=None, ge=MIN_STABLE_WINDOW_SECONDS, le=MAX_STABLE_WINDOW_SECONDS,
        description="Seconds over which the load is averaged before replicas change "
        "(autoscaling.knative.dev/window), 6 to 3600. Longer is steadier and slower. Under the "
        "HPA (metric cpu or memory) it is the stabilisation window of scale-up and scale-down.",
    )
    panic_window_percent: int | None = Field(
        default=None, ge=MIN_PANIC_WINDOW_PERCENT, le=MAX_PANIC_WINDOW_PERCENT,
        description="Length of the short window that detects a burst, in percent of the stable "
        "window (autoscaling.knative.dev/panic-window-percentage), 1 to 100. Knative's autoscaler "
        "only (metrics concurrency and rps).",
    )
    panic_threshold_percent: int | None = Field(
        default=None, ge=MIN_PANIC_THRESHOLD_PERCENT, le=MAX_PANIC_THRESHOLD_PERCENT,
        description="Load over the panic window, in percent of what the replicas are meant to "
        "carry, that starts panic mode (scale up at once, no scale-down) "
        "(autoscaling.knative.dev/panic-threshold-percentage), 110 to 1000. Knative's autoscaler only.",
    )


@dataclass(frozen=True)
class BehaviorPolicy:
    """A model's autoscaler behaviour in one stack; ``None`` leaves Knative's cluster setting."""

    stable_window_seconds: int | None = None
    panic_window_percent: int | None = None
    panic_threshold_percent: int | None = None


# GPU models on Knative's autoscaler: a replica costs a GPU, often a node, and minutes to start,
# so a replica removed during a lull and wanted again a minute later is the expensive kind of
# flapping. The load must stay low for 3 minutes (not Knative's 1) before a replica goes, and a
# burst must reach three times what the replicas carry (not twice) before panic mode starts GPU
# nodes that would arrive after a short spike is over. The panic window stays 10 % (18 s).
GPU_BEHAVIOR = BehaviorPolicy(stable_window_seconds=180, panic_threshold_percent=300)
# CPU models, and every model on the HPA path: replicas start in seconds, so Knative's cluster
# settings (stable window 60 s or the stack's serving.stable_window_seconds, panic at 200 % over
# 6 s) or the HPA's own defaults (scale up at once, scale down after 300 s of lower
# recommendations) already avoid flapping at little cost.
CPU_BEHAVIOR = BehaviorPolicy()
HPA_BEHAVIOR = BehaviorPolicy()


def behavior_problem(metric: str, hpa: bool, behavior: ScalingBehavior | None) -> str | None:
    """Why ``behavior`` cannot apply to a model scaled on ``metric``, or ``None``."""
    if behavior is None or not hpa:
        return None
    set_fields = [name for name in KPA_ONLY_FIELDS if getattr(behavior, name) is not None]
    if not set_fields:
        return None
    return (
        f"{', '.join(set_fields)} only apply to Knative's autoscaler (metrics concurrency and rps); "
        f"metric {metric} scales with the Kubernetes HPA, whose settings Knative writes from "
        "stable_window_seconds alone; remove them, or scale on concurrency or rps"
    )


def resolve_behavior(gpu: bool, hpa: bool, *layers: ScalingBehavior | None) -> BehaviorPolicy:
    """The behaviour from ``layers`` (most specific first; ``None`` skipped) over the default of
    the model's kind."""
    default = HPA_BEHAVIOR if hpa else GPU_BEHAVIOR if gpu else CPU_BEHAVIOR
    values = {}
    for name in ("stable_window_seconds", "panic_window_percent", "panic_threshold_percent"):
        chosen = next((getattr(layer, name) for layer in layers if layer is not None and getattr(layer, name) is not None), None)
        values[name] = getattr(default, name) if chosen is None else chosen
    if hpa:
        # Refused above when a layer sets them; the kind's defaults never apply there.
        values.update(dict.fromkeys(KPA_ONLY_FIELDS))
    return BehaviorPolicy(**values)

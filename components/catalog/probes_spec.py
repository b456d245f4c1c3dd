"""``probes``: how Kubernetes checks a model server is started, ready and alive (HTTP checks).

Each check is an HTTP GET on the model server's own port; a path left out is the runtime's
health endpoint, where the runtime has one the platform has read upstream (see
components/render/probes.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.catalog.fields import StrictModel
from components.catalog.runtimes import ServingRuntime

# KServe's Python model servers (kserve/kserve @ v0.20.0 python/kserve/kserve/protocol/rest/
# server.py:106-112 registers the v1 and v2 endpoints on every server, whatever the protocol).
# /v2/health/ready answers 200 at once in a predictor (protocol/dataplane.py:247-275 returns
# True without a predictor host), so startup and readiness ask /v2/models/<name>/ready
# (v2_endpoints.py:274-279), which answers 200 only once the model is loaded (model_ready,
# dataplane.py:277-320); <name> is the model's, since every KServe runtime passes
# --model_name={{.Name}}. /v2/health/live (v2_endpoints.py:243-248) for liveness.
KSERVE_MODEL_READY_PATH = "/v2/models/{name}/ready"
KSERVE_LIVE_PATH = "/v2/health/live"

# Long enough for a large model to download and load (30-120 s is common, a 70B LLM takes
# minutes), short enough that a server stuck loading is restarted within the hour.
MIN_STARTUP_SECONDS = 10
MAX_STARTUP_SECONDS = 3600

ProbePath = Annotated[str, Field(
    pattern=r"^/[A-Za-z0-9._~/{}-]*$", max_length=200,
    description="HTTP path on the model server's port, e.g. /v2/health/live; the runtime's "
    "health endpoint when left out.",
)]


class StartupProbe(StrictModel):
    timeout_seconds: int = Field(
        ge=MIN_STARTUP_SECONDS, le=MAX_STARTUP_SECONDS,
        description="How long loading the model may take before the container is restarted.",
    )
    path: ProbePath | None = None


class HttpProbe(StrictModel):
    path: ProbePath | None = None


class Probes(StrictModel):
    startup: StartupProbe | None = Field(
        default=None, description="Holds readiness and liveness checks until the model is loaded."
    )
    readiness: HttpProbe | None = Field(
        default=None, description="Traffic reaches the pod only while this path answers 200."
    )
    liveness: HttpProbe | None = Field(
        default=None, description="The container is restarted when this path stops answering."
    )


def default_health_paths(runtime: ServingRuntime, model_name: str) -> dict[str, str]:
    """The health paths the platform knows for ``runtime`` ({} where it has read none)."""
    # predict_latency marks KServe's own Python servers (see ServingRuntime).
    if not runtime.predict_latency:
        return {}
    ready = KSERVE_MODEL_READY_PATH.format(name=model_name)
    return {"startup": ready, "readiness": ready, "liveness": KSERVE_LIVE_PATH}


def probe_paths(probes: Probes, runtime: ServingRuntime, model_name: str) -> dict[str, str | None]:
    """Each probe the model asks for, with its path (None: no known default for the runtime)."""
    defaults = default_health_paths(runtime, model_name)
    asked = {"startup": probes.startup, "readiness": probes.readiness, "liveness": probes.liveness}
    return {kind: probe.path or defaults.get(kind) for kind, probe in asked.items() if probe is not None}

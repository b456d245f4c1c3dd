"""The probe fields of a predictor container, from a model's ``probes``: a pure function.

Knative (knative-v1.23.0 pkg/apis/serving/k8s_validation.go:875-925 validateProbe) admits
httpGet, tcpSocket, exec and grpc probes on the user container and requires a probe's port to
be the container port's name when it is a name (a number is not compared); the Kubernetes
schema requires a port. Every probe here is an httpGet on 8080, the HTTP port every runtime's
container serves on (the port Knative sends requests to). Knative then takes the readiness probe
off the container and the queue-proxy runs it against that port (pkg/reconciler/revision/
resources/deploy.go:281-286, queue.go:262-273); it rewrites a liveness probe's port to the user
port (deploy.go:141-155, 299-300); the kubelet runs the startup probe as written.
"""

from __future__ import annotations

import math

from components.catalog.probes_spec import Probes, probe_paths
from components.catalog.runtimes import ServingRuntime

# How often each probe runs; Knative refuses periodSeconds > 0 without timeoutSeconds and
# failureThreshold >= 1 on a readiness probe (k8s_validation.go:828-872 validateReadinessProbe).
HTTP_PORT = 8080
STARTUP_PERIOD_SECONDS = 10
PERIOD_SECONDS = 10
TIMEOUT_SECONDS = 5
FAILURE_THRESHOLD = 3


def render_probes(probes: Probes | None, runtime: ServingRuntime, model_name: str) -> dict[str, dict]:
    """``startupProbe``/``readinessProbe``/``livenessProbe`` of the predictor container."""
    if probes is None:
        return {}
    paths = probe_paths(probes, runtime, model_name)
    rendered: dict[str, dict] = {}
    for kind, path in sorted(paths.items()):
        if path is None:
            raise ValueError(f"probes.{kind} needs a path for runtime {runtime.name}")
        probe = {
            "httpGet": {"path": path, "port": HTTP_PORT},
            "periodSeconds": PERIOD_SECONDS,
            "timeoutSeconds": TIMEOUT_SECONDS,
            "successThreshold": 1,
            "failureThreshold": FAILURE_THRESHOLD,
        }
        if kind == "startup":
            # The kubelet restarts the container after failureThreshold * periodSeconds.
            probe["periodSeconds"] = STARTUP_PERIOD_SECONDS
            probe["failureThreshold"] = math.ceil(probes.startup.timeout_seconds / STARTUP_PERIOD_SECONDS)
        rendered[f"{kind}Probe"] = probe
    return rendered

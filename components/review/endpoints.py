"""Where each model is reached on the shared gateway."""

from __future__ import annotations

from components.catalog.deployed import StackDeployment


def model_endpoints(deployment: StackDeployment) -> dict[str, str]:
    """``<team>/<model>`` -> URL (HTTP models by path, gRPC models by host)."""
    scheme = "https" if deployment.stack.settings.gateway.tls else "http"
    endpoints = {}
    for model in deployment.models:
        key = f"{model.team.name}/{model.name}"
        if model.route_path is not None:
            endpoints[key] = f"{scheme}://{model.host}{model.route_path}"
        else:
            endpoints[key] = f"grpc://{model.host}:{443 if scheme == 'https' else 80}"
    return endpoints

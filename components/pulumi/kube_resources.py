"""One rendered Kubernetes object -> one Pulumi resource of the matching pulumi-kubernetes type."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# API group -> pulumi_kubernetes module, for the built-in kinds the renderer writes.
_BUILTIN_MODULES = {
    "": "core",
    "admissionregistration.k8s.io": "admissionregistration",
    "apps": "apps",
    "rbac.authorization.k8s.io": "rbac",
    "networking.k8s.io": "networking",
    "storage.k8s.io": "storage",
}


def _snake_case(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def kube_resource(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Create ``obj`` as a resource named ``name``.

    Built-in kinds use their typed class (top-level fields become keyword arguments; nested
    fields keep their Kubernetes spelling, which pulumi-kubernetes accepts); custom resources
    use ``CustomResource`` with their metadata and spec.
    """
    api_version = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    fields = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}
    module_name = _BUILTIN_MODULES.get(group)
    if module_name is None:
        return k8s.apiextensions.CustomResource(
            name, api_version=api_version, kind=obj["kind"],
            metadata=fields.pop("metadata"), spec=fields.pop("spec", None), opts=opts,
        )
    module = importlib.import_module(f"pulumi_kubernetes.{module_name}.{version}")
    resource_class = getattr(module, obj["kind"])
    return resource_class(name, opts=opts, **{_snake_case(key): value for key, value in fields.items()})

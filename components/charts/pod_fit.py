"""Each model's pod as KServe builds it, against its team's LimitRange and ResourceQuota and the
nodes of its pools. Needs the charts: the runtime container and the storage initializer's
resources come from the rendered ClusterServingRuntimes and the kserve chart's
``inferenceservice-config``.

What KServe and Kubernetes do, and where:

* the model container is strategic-merged over the runtime's ``kserve-container``; ``resources``
  is a struct of two maps, so ``requests`` and ``limits`` merge key by key, the model's winning
  (kserve/kserve @ v0.20.0 pkg/utils/container_merge.go:32-63; tests/kserve_merge.py reproduces the
  whole merge, and a test checks this one against it);
* the storage initializer init container gets ``cpuRequest``, ``memoryRequest``, ``cpuLimit``,
  ``memoryLimit`` of ``inferenceservice-config``'s ``storageInitializer`` (pkg/utils/storage.go:311-333);
* the sidecars (istio-proxy, queue-proxy) request what the platform pins (components/catalog/placement.py);
* the LimitRanger sets the Container ``default`` limits and ``defaultRequest`` requests a container
  lacks, then enforces the Container ``min``, ``max`` and ``maxLimitRequestRatio``
  (kubernetes plugin/pkg/admission/limitranger/admission.go, mergePodResourceRequirements and
  PodLimitFunc); the API server refuses a request above its limit;
* a pod requests the larger of its containers' sum and its largest init container.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from components.catalog.placement import (
    ISTIO_PROXY_CPU, ISTIO_PROXY_MEMORY, QUEUE_PROXY_CPU, QUEUE_PROXY_MEMORY, allocatable,
)
from components.catalog.problems import Problem
from components.catalog.quantities import parse_quantity
from components.render.objects import KubeObject
from components.render.stack_render import RenderedStack

MODEL_CONTAINER = "kserve-container"  # kserve constants.go InferenceServiceContainerName
STORAGE_INITIALIZER_CONFIG = ("ConfigMap", "inferenceservice-config")


@dataclass(frozen=True)
class Container:
    name: str
    requests: dict[str, Decimal] = field(default_factory=dict)
    limits: dict[str, Decimal] = field(default_factory=dict)


def _amounts(resources: Mapping[str, Any] | None) -> dict[str, Decimal]:
    return {str(k): parse_quantity(str(v)) for k, v in (resources or {}).items()}


def model_container(runtime_container: Mapping[str, Any], model: Mapping[str, Any]) -> Container:
    """The model's ``kserve-container`` as KServe merges it over the runtime's."""
    runtime, ours = runtime_container.get("resources") or {}, model.get("resources") or {}
    return Container(
        MODEL_CONTAINER,
        {**_amounts(runtime.get("requests")), **_amounts(ours.get("requests"))},
        {**_amounts(runtime.get("limits")), **_amounts(ours.get("limits"))},
    )


def storage_initializer(config: Mapping[str, Any]) -> Container:
    return Container(
        "storage-initializer",
        {"cpu": parse_quantity(config["cpuRequest"]), "memory": parse_quantity(config["memoryRequest"])},
        {"cpu": parse_quantity(config["cpuLimit"]), "memory": parse_quantity(config["memoryLimit"])},
    )


SIDECARS = (
    Container("istio-proxy", {"cpu": parse_quantity(ISTIO_PROXY_CPU), "memory": parse_quantity(ISTIO_PROXY_MEMORY)}),
    Container("queue-proxy", {"cpu": parse_quantity(QUEUE_PROXY_CPU), "memory": parse_quantity(QUEUE_PROXY_MEMORY)}),
)


def with_limit_range_defaults(container: Container, limit_range: KubeObject | None) -> Container:
    requests, limits = dict(container.requests), dict(container.limits)
    for item in _container_limits(limit_range):
        for resource, amount in _amounts(item.get("default")).items():
            limits.setdefault(resource, amount)
        for resource, amount in _amounts(item.get("defaultRequest")).items():
            requests.setdefault(resource, amount)
    return Container(container.name, requests, limits)


def _container_limits(limit_range: KubeObject | None) -> list[Mapping[str, Any]]:
    items = ((limit_range or {}).get("spec") or {}).get("limits") or []
    return [item for item in items if item.get("type") == "Container"]


def container_problems(container: Container, limit_range: KubeObject | None) -> list[str]:
    """Why the API server would refuse ``container`` (LimitRange defaults already applied)."""
    problems = []
    for resource, request in sorted(container.requests.items()):
        limit = container.limits.get(resource)
        if limit is not None and request > limit:
            problems.append(f"container {container.name} requests {resource} {_show(resource, request)} above its "
                            f"limit {_show(resource, limit)}")
    for item in _container_limits(limit_range):
        for resource, floor in sorted(_amounts(item.get("min")).items()):
            if container.requests.get(resource, Decimal(-1)) < floor:
                problems.append(f"container {container.name} requests less {resource} than the LimitRange's min "
                                f"{_show(resource, floor)}")
        for resource, ceiling in sorted(_amounts(item.get("max")).items()):
            if container.limits.get(resource, ceiling + 1) > ceiling or container.requests.get(resource, 0) > ceiling:
                problems.append(f"container {container.name} exceeds (or sets no limit under) the LimitRange's max "
                                f"{resource} {_show(resource, ceiling)}")
        for resource, ratio in sorted(_amounts(item.get("maxLimitRequestRatio")).items()):
            request, limit = container.requests.get(resource), container.limits.get(resource)
            if not request or not limit or limit / request > ratio:
                problems.append(f"container {container.name}'s {resource} limit is more than {ratio} times its "
                                "request (the LimitRange's maxLimitRequestRatio)")
    return problems


def pod_requests(containers: Iterable[Container], init_containers: Iterable[Container]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for container in containers:
        for resource, amount in container.requests.items():
            total[resource] = total.get(resource, Decimal(0)) + amount
    for container in init_containers:
        for resource, amount in container.requests.items():
            total[resource] = max(total.get(resource, Decimal(0)), amount)
    return total


def _show(resource: str, amount: Decimal) -> str:
    if resource in ("memory", "ephemeral-storage"):
        return f"{(amount / 2**20).quantize(Decimal('1'))}Mi"
    return f"{amount.normalize():f}"


def pod_problems(runtime_container: Mapping[str, Any], model: Mapping[str, Any], storage_config: Mapping[str, Any],
                 limit_range: KubeObject | None, quota: KubeObject | None,
                 nodes: Mapping[str, tuple[Decimal, Decimal]]) -> list[str]:
    """What stops one replica of a model from starting: refused at admission, over its team's
    quota on its own, or larger than every node of its pools (``nodes``: allocatable CPU and memory
    by instance type)."""
    containers = [with_limit_range_defaults(c, limit_range)
                  for c in (model_container(runtime_container, model), *SIDECARS)]
    init = [with_limit_range_defaults(storage_initializer(storage_config), limit_range)]
    problems = [p for c in (*containers, *init) for p in container_problems(c, limit_range)]
    requests = pod_requests(containers, init)
    hard = ((quota or {}).get("spec") or {}).get("hard") or {}
    for key, amount in sorted(hard.items()):
        resource = key.removeprefix("requests.")
        if key.startswith("requests.") and requests.get(resource, Decimal(0)) > parse_quantity(str(amount)):
            problems.append(f"one pod requests {resource} {_show(resource, requests[resource])}, above the team "
                            f"quota's {amount}")
    need = (requests.get("cpu", Decimal(0)), requests.get("memory", Decimal(0)))
    if nodes and not any(need[0] <= cpu and need[1] <= memory for cpu, memory in nodes.values()):
        problems.append(f"one pod requests {_show('cpu', need[0])} CPU and {_show('memory', need[1])}, more than "
                        f"any node of its pools leaves to pods ({', '.join(sorted(nodes))})")
    return problems


def stack_pod_problems(rendered: RenderedStack, chart_objects: Mapping[str, list[KubeObject]], charts_file: str) -> list[Problem]:
    """Every model of the stack whose pod, as KServe builds it, could not start (``chart_objects``:
    each release's rendered objects)."""
    runtimes = {obj["metadata"]["name"]: obj for objects in chart_objects.values() for obj in objects
                if obj.get("kind") == "ClusterServingRuntime"}
    configs = [obj for objects in chart_objects.values() for obj in objects
               if (obj.get("kind"), (obj.get("metadata") or {}).get("name")) == STORAGE_INITIALIZER_CONFIG]
    if not configs:
        return [Problem(charts_file, "release kserve", "renders no ConfigMap inferenceservice-config: the "
                        "storage initializer's resources are unknown")]
    try:
        storage_config = json.loads(configs[0]["data"]["storageInitializer"])
    except (KeyError, TypeError, ValueError) as error:
        return [Problem(charts_file, "release kserve", f"inferenceservice-config has no readable storageInitializer ({error})")]
    by_namespace: dict[tuple[str, str], KubeObject] = {
        (obj["kind"], obj["metadata"]["namespace"]): obj for obj in rendered.objects
        if obj["kind"] in ("LimitRange", "ResourceQuota")
    }
    deployed = {(model.namespace, model.name): model for model in rendered.deployment.models}
    problems = []
    for service in rendered.objects:
        if service["kind"] != "InferenceService":
            continue
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        model = service["spec"]["predictor"]["model"]
        runtime = runtimes.get(model.get("runtime"))
        source = deployed[(namespace, name)].model.source
        if runtime is None:
            problems.append(Problem(source, "format", f"runtime {model.get('runtime')} is not rendered by the charts"))
            continue
        runtime_container = next((c for c in runtime["spec"].get("containers", []) if c.get("name") == MODEL_CONTAINER), {})
        pools = rendered.deployment.stack.settings.node_pools
        nodes = {instance: allocatable(instance) for pool in deployed[(namespace, name)].node_pools
                 for instance in pools[pool].instance_types}
        for message in pod_problems(runtime_container, model, storage_config, by_namespace.get(("LimitRange", namespace)),
                                    by_namespace.get(("ResourceQuota", namespace)), nodes):
            problems.append(Problem(source, "resources", (
                f"stack {rendered.deployment.stack.name}: as KServe builds the pod (runtime {runtime['metadata']['name']} "
                f"merged with the model's container, the storage initializer, the sidecars): {message}")))
    return problems

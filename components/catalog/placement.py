"""Where a model runs: its GPU claim, the node pools it may use, and whether a replica fits.

Also the pod and node overheads every placement and quota check counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from components.catalog.hardware import GPU_MODELS, INSTANCE_TYPES
from components.catalog.loader import CatalogModel
from components.catalog.model_spec import GpuRequest
from components.catalog.problems import Problem
from components.catalog.quantities import cpu_cores, describe_memory, format_cpu, format_memory, memory_bytes
from components.catalog.stack_settings import SYSTEM_POOL, NodePool
from components.catalog.stacks import Stack

# Every model pod runs two sidecars beside the model server: Istio's proxy and Knative's
# queue-proxy. The platform pins their requests (see the renderer and the Knative settings), and
# they count against the team's quota like the model's own requests. models/README.md ("Does a
# replica fit?") documents these numbers and the node reservation below; change both together.
ISTIO_PROXY_CPU = "100m"
ISTIO_PROXY_MEMORY = "128Mi"
QUEUE_PROXY_CPU = "25m"
QUEUE_PROXY_MEMORY = "64Mi"
SIDECAR_CPU = cpu_cores(ISTIO_PROXY_CPU) + cpu_cores(QUEUE_PROXY_CPU)
SIDECAR_MEMORY = memory_bytes(ISTIO_PROXY_MEMORY) + memory_bytes(QUEUE_PROXY_MEMORY)
# What a node keeps for itself: the kubelet's and the OS's reservations on EKS plus the
# DaemonSets on every node (VPC CNI, kube-proxy, Istio CNI, node exporter, NVIDIA agents).
# An estimate on the safe side; a replica must fit in the rest.
NODE_RESERVED_CPU = cpu_cores("500m")
NODE_RESERVED_MEMORY = memory_bytes("1536Mi")

WHOLE_GPU_RESOURCE = "nvidia.com/gpu"
# A time-sliced GPU's resource: the device plugin renames what it replicates to <name>.shared
# under renameByDefault (NVIDIA/k8s-device-plugin api/config/v1/replicas.go:205-207,
# consts.go:26 @ v0.20.0), so a model asking for whole GPUs can never land on a share.
SHARED_GPU_RESOURCE = WHOLE_GPU_RESOURCE + ".shared"


def mig_resource_name(profile: str) -> str:
    """The extended resource of a MIG slice under the mixed strategy (``+me`` becomes ``.me``)."""
    return "nvidia.com/mig-" + profile.replace("+me", ".me")


@dataclass(frozen=True)
class GpuClaim:
    """The extended resource and count one replica asks for."""

    resource: str
    count: int
    # Pods taking turns on each GPU of the claim's pool (time-slicing), for the cost of a share.
    shares_per_gpu: int = 1


def gpu_offer(pool: NodePool, mig_strategy: str) -> dict[str, int]:
    """Extended resource -> how many one node of ``pool`` offers."""
    if pool.gpu is None:
        return {}
    if pool.gpu.sharing is not None:
        return {SHARED_GPU_RESOURCE: pool.gpu.per_node * pool.time_slices}
    if pool.gpu.mig is None:
        return {WHOLE_GPU_RESOURCE: pool.gpu.per_node}
    if mig_strategy == "single":
        return {WHOLE_GPU_RESOURCE: sum(pool.mig_slices_per_node().values())}
    return {mig_resource_name(name): count for name, count in pool.mig_slices_per_node().items()}


def _claim_on(request: GpuRequest, pool: NodePool, mig_strategy: str) -> GpuClaim | None:
    """What one replica asks of ``pool`` for ``request``, or ``None`` when the pool cannot serve it."""
    if pool.gpu is None:
        return None
    if request.shares is not None:
        if pool.gpu.sharing is None:
            return None
        return GpuClaim(SHARED_GPU_RESOURCE, request.shares, shares_per_gpu=pool.time_slices)
    if pool.gpu.sharing is not None:
        return None
    if request.count is not None:
        if pool.gpu.mig is None and pool.gpu.per_node >= request.count:
            return GpuClaim(WHOLE_GPU_RESOURCE, request.count)
        return None
    if pool.gpu.mig is None or request.mig not in pool.gpu.mig.layout:
        return None
    resource = WHOLE_GPU_RESOURCE if mig_strategy == "single" else mig_resource_name(request.mig)
    return GpuClaim(resource, 1)


def _describe_pool(name: str, pool: NodePool) -> str:
    if pool.gpu is None:
        return f"{name} (no GPUs)"
    if pool.gpu.sharing is not None:
        return f"{name} ({pool.gpu.per_node} x {pool.gpu.model} per node, each shared by {pool.time_slices})"
    if pool.gpu.mig is None:
        return f"{name} ({pool.gpu.per_node} x {pool.gpu.model} per node)"
    layout = ", ".join(f"{profile} x{count}" for profile, count in sorted(pool.gpu.mig.layout.items()))
    return f"{name} ({pool.gpu.model} cut into {layout})"


def cpu_model_pools(stack: Stack) -> tuple[str, ...]:
    """Where CPU models run by default: the CPU pools other than ``system``, else ``system``."""
    pools = stack.settings.node_pools
    others = tuple(sorted(name for name, pool in pools.items() if pool.gpu is None and name != SYSTEM_POOL))
    return others or (SYSTEM_POOL,)


def place_model(model: CatalogModel, stack: Stack, problems: list[Problem]) -> tuple[GpuClaim | None, tuple[str, ...]]:
    """Choose the node pools (and GPU claim) of a model; record why when none fits."""
    spec = model.spec
    pools = stack.settings.node_pools
    strategy = stack.settings.mig_strategy
    where = f"stack {stack.name} ({stack.source})"
    if spec.node_pool is not None:
        pool = pools.get(spec.node_pool)
        if pool is None:
            problems.append(Problem(
                model.source, "node_pool",
                f"{where} has no node pool {spec.node_pool!r} (pools: {', '.join(sorted(pools))}); "
                f"name one of them or set environments.{stack.name}.enabled: false",
            ))
            return None, None
        if spec.gpu is None:
            if pool.gpu is not None:
                problems.append(Problem(
                    model.source, "node_pool",
                    f"{spec.node_pool} is a GPU pool and the model asks for no GPU; GPU nodes are "
                    "tainted for GPU work, so name a CPU pool or leave node_pool out",
                ))
                return None, ()
            return None, (spec.node_pool,)
        claim = _claim_on(spec.gpu, pool, strategy)
        if claim is None:
            problems.append(Problem(
                model.source, "node_pool",
                f"{_describe_pool(spec.node_pool, pool)} in {where} cannot serve "
                f"{_describe_request(spec.gpu)} per replica ({_why_not(spec.gpu, pool)}); "
                + one_of(_pinned_pool_fixes(spec.gpu, pool)),
            ))
            return None, ()
        return claim, (spec.node_pool,)
    if spec.gpu is None:
        return None, cpu_model_pools(stack)
    for name in sorted(pools):
        claim = _claim_on(spec.gpu, pools[name], strategy)
        if claim is not None:
            return claim, (name,)
    problems.append(Problem(model.source, *_no_pool_problem(spec.gpu, stack)))
    return None, ()


def _pinned_pool_fixes(request: GpuRequest, pool: NodePool) -> list[str]:
    fixes = ["name another pool", "leave node_pool out"]
    if request.count is not None and request.count > 1 and pool.gpu.mig is None:
        fixes.insert(0, f"lower gpu.count to {pool.gpu.per_node}")
    return fixes


def _why_not(request: GpuRequest, pool: NodePool) -> str:
    """Why ``pool`` (a GPU pool) cannot serve ``request``."""
    if request.shares is not None:
        return "its GPUs are not time-sliced"
    if pool.gpu.sharing is not None:
        return "its GPUs are time-sliced: it offers shares (gpu: {shares: 1}), not whole GPUs or MIG slices"
    if request.count is not None:
        if pool.gpu.mig is not None:
            return "its GPUs are cut into MIG slices"
        return f"its nodes have {pool.gpu.per_node} GPU{'s' if pool.gpu.per_node > 1 else ''} each"
    if pool.gpu.mig is None:
        return "its GPUs are not cut into MIG slices"
    return f"its MIG layout has no {request.mig} slices"


def _describe_request(request: GpuRequest) -> str:
    if request.count is not None:
        return f"{request.count} whole GPU{'s' if request.count > 1 else ''}"
    if request.shares is not None:
        return "one share of a time-sliced GPU"
    return f"a {request.mig} MIG slice"


def _no_pool_problem(request: GpuRequest, stack: Stack) -> tuple[str, str]:
    pools = stack.settings.node_pools
    gpu_pools = [_describe_pool(name, pool) for name, pool in sorted(pools.items()) if pool.gpu]
    listed = "; ".join(gpu_pools) if gpu_pools else "none"
    leave_out = f"set environments.{stack.name}.enabled: false"
    if request.shares is not None:
        return "gpu.shares", (
            f"{_describe_request(request)} per replica, but no pool of stack {stack.name} is "
            f"time-sliced (GPU pools: {listed}); add gpu.sharing.time_slicing to a pool of "
            f"{stack.source}, ask for gpu: {{count: 1}}, or {leave_out}"
        )
    if request.count is not None:
        whole = [
            pool.gpu.per_node for pool in pools.values()
            if pool.gpu is not None and pool.gpu.mig is None and pool.gpu.sharing is None
        ]
        if not whole:
            return "gpu.count", (
                f"{_describe_request(request)} per replica, but stack {stack.name} has no GPU pool "
                f"without MIG (GPU pools: {listed}); add one to {stack.source} or {leave_out}"
            )
        return "gpu.count", (
            f"{_describe_request(request)} per replica do not fit a node of stack {stack.name}: "
            f"its GPU pools without MIG have at most {max(whole)} per node (GPU pools: {listed}); "
            f"lower gpu.count, add a pool with {request.count} or more GPUs per node to "
            f"{stack.source}, or {leave_out}"
        )
    models = sorted(name for name, gpu in GPU_MODELS.items() if request.mig in gpu.mig_profiles)
    return "gpu.mig", (
        f"no pool of stack {stack.name} is cut into {request.mig} slices "
        f"({request.mig} is a profile of {', '.join(models)}; GPU pools: {listed}); add such a pool "
        f"to {stack.source} or {leave_out}"
    )


def resource_field(model: CatalogModel, stack: Stack, dimension: str) -> str:
    """Where ``cpu`` or ``memory`` of a replica in ``stack`` is set: its stack override, or ``resources``."""
    override = model.spec.environments.get(stack.name)
    if override is not None and override.resources is not None and getattr(override.resources, dimension) is not None:
        return f"environments.{stack.name}.resources.{dimension}"
    return f"resources.{dimension}"


def request_fixes(field: str, stack: Stack) -> list[str]:
    """How the author changes a per-replica request: the field itself, or this stack's override."""
    if field.startswith("environments."):
        return ["lower it"]
    return ["lower it", f"override it for this stack with environments.{stack.name}.{field}"]


def one_of(fixes: list[str]) -> str:
    """``["a", "b"]`` -> ``"a or b"``; ``["a", "b", "c"]`` -> ``"a, b, or c"``."""
    if len(fixes) <= 2:
        return " or ".join(fixes)
    return ", ".join(fixes[:-1]) + ", or " + fixes[-1]


def fit_problems(
    model: CatalogModel, stack: Stack, pool_names: tuple[str, ...], cpu: str, memory: str,
    problems: list[Problem],
) -> None:
    """A replica that asks for more than any candidate node has can never be scheduled.

    Each dimension that fits no node (CPU, memory) is its own problem on its own field; when each
    fits some instance type but no type has room for both, the problem names the pair.
    """
    need = {"cpu": cpu_cores(cpu) + SIDECAR_CPU, "memory": memory_bytes(memory) + SIDECAR_MEMORY}
    nodes = [
        (name, instance_name, dict(zip(("cpu", "memory"), allocatable(instance_name))))
        for name in sorted(pool_names)
        for instance_name in stack.settings.node_pools[name].instance_types
    ]
    if any(all(need[d] <= free[d] for d in need) for _, _, free in nodes):
        return
    pools = sorted(pool_names)
    where = (
        f"pool {pools[0]} of stack {stack.name}" if len(pools) == 1
        else f"any of the pools {', '.join(pools)} of stack {stack.name}"
    )
    larger = "add a larger instance type to the pool" if len(pools) == 1 else "add a larger instance type to one of them"
    requested = {"cpu": f"{cpu} CPU", "memory": memory}
    sidecars = {"cpu": format_cpu(SIDECAR_CPU), "memory": format_memory(SIDECAR_MEMORY)}
    too_big = [d for d in need if not any(need[d] <= free[d] for _, _, free in nodes)]
    for dimension in too_big:
        field = resource_field(model, stack, dimension)
        offered = ", ".join(
            f"{_node_name(pool, instance_name, pools)}: {_show_amount(dimension, free[dimension])} allocatable"
            for pool, instance_name, free in nodes
        )
        problems.append(Problem(
            model.source, field,
            f"{requested[dimension]} per replica plus {sidecars[dimension]} for the sidecars does not "
            f"fit {where} ({offered}); {one_of([*request_fixes(field, stack), larger])}",
        ))
    if too_big:
        return
    # Each dimension fits some instance type, never both on the same one.
    offered = ", ".join(
        f"{_node_name(pool, instance_name, pools)}: {format_cpu(free['cpu'])} CPU / "
        f"{describe_memory(free['memory'])} allocatable"
        for pool, instance_name, free in nodes
    )
    override = f"environments.{stack.name}.resources"
    problems.append(Problem(
        model.source, "resources",
        f"{cpu} CPU and {memory} per replica plus {sidecars['cpu']} CPU and {sidecars['memory']} "
        f"for the sidecars fit no single node of {where}: the "
        f"types with enough CPU have too little memory, and the other way round ({offered}); lower "
        f"one of them, override them for this stack with {override}, or add an instance type "
        "with room for both",
    ))


def _node_name(pool: str, instance_name: str, pools: list[str]) -> str:
    return instance_name if len(pools) == 1 else f"{pool} {instance_name}"


def _show_amount(dimension: str, amount: Decimal) -> str:
    return f"{format_cpu(amount)} CPU" if dimension == "cpu" else describe_memory(amount)


def allocatable(instance_type: str) -> tuple[Decimal, Decimal]:
    """CPU cores and memory bytes a node of ``instance_type`` leaves to pods (an estimate)."""
    instance = INSTANCE_TYPES[instance_type]
    return (
        Decimal(instance.vcpu) - NODE_RESERVED_CPU,
        Decimal(instance.memory_gib) * 2**30 - NODE_RESERVED_MEMORY,
    )

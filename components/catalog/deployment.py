"""What the catalog means in one stack: each model's effective settings, GPU and node pool.

Per-stack overrides are merged, the critical rule is applied, GPU requests are matched to the
stack's node pools, and every team's floor of replicas is checked against its quota. The result
is what the renderer draws from; nothing here knows about Kubernetes object shapes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from components.catalog.hardware import GPU_MODELS, INSTANCE_TYPES
from components.catalog.loader import Catalog, CatalogModel, CatalogTeam
from components.catalog.model_spec import GpuRequest, ModelSpec, scaling_problem
from components.catalog.problems import InputError, Problem
from components.catalog.quantities import cpu_cores, format_cpu, format_memory, memory_bytes
from components.catalog.rules import catalog_problems, route_path
from components.catalog.stack_settings import SYSTEM_POOL, NodePool
from components.catalog.stacks import Stack

# Every model pod runs two sidecars beside the model server: Istio's proxy and Knative's
# queue-proxy. The platform pins their requests (see the renderer and the Knative settings), and
# they count against the team's quota like the model's own requests.
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


def mig_resource_name(profile: str) -> str:
    """The extended resource of a MIG slice under the mixed strategy (``+me`` becomes ``.me``)."""
    return "nvidia.com/mig-" + profile.replace("+me", ".me")


@dataclass(frozen=True)
class GpuClaim:
    """The extended resource and count one replica asks for."""

    resource: str
    count: int


@dataclass(frozen=True)
class ModelSlo:
    """A model's objectives in one stack: its own, or the stack's defaults."""

    p95_latency_ms: int
    error_rate: float
    availability: float


@dataclass(frozen=True)
class DeployedModel:
    """One model as it runs in one stack."""

    team: CatalogTeam
    model: CatalogModel
    min_replicas: int
    max_replicas: int
    metric: str
    target: int | None
    cpu: str
    memory: str
    gpu: GpuClaim | None
    # The node pools a replica may be scheduled on (one for GPU models and pinned models).
    node_pools: tuple[str, ...]
    route_path: str | None
    host: str
    slo: ModelSlo

    @property
    def spec(self) -> ModelSpec:
        return self.model.spec

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def namespace(self) -> str:
        return self.team.namespace

    @property
    def revisions_at_floor(self) -> int:
        """Revisions that keep ``min_replicas`` each: two while a canary runs beside the stable one."""
        return 2 if self.spec.canary is not None else 1


@dataclass(frozen=True)
class StackDeployment:
    """The whole catalog resolved for one stack."""

    stack: Stack
    teams: tuple[CatalogTeam, ...]
    models: tuple[DeployedModel, ...]

    def models_of(self, team: CatalogTeam) -> tuple[DeployedModel, ...]:
        return tuple(model for model in self.models if model.team.name == team.name)


@dataclass(frozen=True)
class PoolCapacity:
    """One GPU resource of one pool: what its max size offers against what models ask."""

    pool: str
    resource: str
    per_node: int
    max_nodes: int
    at_min: int
    at_max: int
    # (team/model, units at min replicas, units at max replicas)
    models: tuple[tuple[str, int, int], ...]

    @property
    def capacity(self) -> int:
        return self.per_node * self.max_nodes


def gpu_capacity(stack: Stack, models: tuple[DeployedModel, ...] | list[DeployedModel]) -> list[PoolCapacity]:
    """GPUs and MIG slices demanded by minimum and maximum replicas, per pool and resource."""
    settings = stack.settings
    result = []
    for pool_name, pool in sorted(settings.node_pools.items()):
        for resource, per_node in sorted(gpu_offer(pool, settings.mig_strategy).items()):
            users = []
            for model in models:
                if model.gpu is not None and model.gpu.resource == resource and model.node_pools == (pool_name,):
                    revisions = model.revisions_at_floor
                    users.append((
                        f"{model.team.name}/{model.name}",
                        model.gpu.count * model.min_replicas * revisions,
                        model.gpu.count * model.max_replicas * revisions,
                    ))
            result.append(PoolCapacity(
                pool=pool_name, resource=resource, per_node=per_node, max_nodes=pool.max_size,
                at_min=sum(u[1] for u in users), at_max=sum(u[2] for u in users), models=tuple(users),
            ))
    return result


def resolve_deployment(catalog: Catalog, stack: Stack, all_stack_names: list[str]) -> StackDeployment:
    """Resolve ``catalog`` for ``stack``; raise :class:`InputError` with every problem found."""
    problems = list(catalog_problems(catalog))
    deployed = []
    for team, model in catalog.models():
        result = _resolve_model(team, model, stack, all_stack_names, problems)
        if result is not None:
            deployed.append(result)
    by_team: dict[str, list[DeployedModel]] = defaultdict(list)
    for model in deployed:
        by_team[model.team.name].append(model)
    for team in catalog.teams:
        problems.extend(_quota_problems(team, by_team[team.name], stack))
    problems.extend(_capacity_problems(stack, deployed))
    if problems:
        raise InputError(problems)
    return StackDeployment(stack=stack, teams=catalog.teams, models=tuple(deployed))


def _resolve_model(
    team: CatalogTeam,
    model: CatalogModel,
    stack: Stack,
    all_stack_names: list[str],
    problems: list[Problem],
) -> DeployedModel | None:
    spec = model.spec
    for name in spec.environments:
        if name not in all_stack_names:
            problems.append(Problem(
                model.source, f"environments.{name}",
                f"there is no stack {name!r} (stacks: {', '.join(all_stack_names)}); "
                "use a stack name",
            ))
    if spec.retired:
        return None
    override = spec.environments.get(stack.name)
    override_field = f"environments.{stack.name}"
    enabled = override.enabled if override is not None and override.enabled is not None else True
    if not enabled:
        if spec.critical and stack.is_prod:
            problems.append(Problem(
                model.source, f"{override_field}.enabled",
                f"the model is critical, so it must run in prod stack {stack.name}; remove "
                "enabled: false or set critical: false",
            ))
        return None

    scaling = spec.scaling
    scaling_override = override.scaling if override is not None else None
    min_replicas, max_replicas, metric, target = (
        scaling.min_replicas, scaling.max_replicas, scaling.metric, scaling.target
    )
    if scaling_override is not None:
        min_replicas = _pick(scaling_override.min_replicas, min_replicas)
        max_replicas = _pick(scaling_override.max_replicas, max_replicas)
        metric = _pick(scaling_override.metric, metric)
        target = _pick(scaling_override.target, target)
        problem = scaling_problem(min_replicas, max_replicas, metric)
        if problem:
            problems.append(Problem(model.source, f"{override_field}.scaling", problem))
        if spec.critical and stack.is_prod and scaling_override.min_replicas == 0:
            problems.append(Problem(
                model.source, f"{override_field}.scaling.min_replicas",
                f"the model is critical, so it keeps at least 1 replica in prod stack "
                f"{stack.name}; remove this override or set it to 1 or more",
            ))
    if spec.critical and stack.is_prod:
        min_replicas = max(min_replicas, 1)
        max_replicas = max(max_replicas, min_replicas)

    resources_override = override.resources if override is not None else None
    cpu = spec.resources.cpu
    memory = spec.resources.memory
    if resources_override is not None:
        cpu = _pick(resources_override.cpu, cpu)
        memory = _pick(resources_override.memory, memory)

    gpu_claim, pool_names = _place(model, stack, problems)
    if pool_names:
        field = override_field if resources_override else "resources"
        _fit_problems(model, stack, pool_names, cpu, memory, field, problems)

    domain = stack.settings.domain
    host = f"{spec.name}-{team.name}.{domain}" if spec.is_grpc else domain
    if spec.is_grpc and len(f"{spec.name}-{team.name}") > 63:
        problems.append(Problem(
            model.source, "name",
            f"gRPC models are reached at <model>-<team>.{domain}, and "
            f"{spec.name}-{team.name} is longer than a 63-character DNS label; shorten the name",
        ))
    return DeployedModel(
        team=team,
        model=model,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        metric=metric,
        target=target,
        cpu=cpu,
        memory=memory,
        gpu=gpu_claim,
        node_pools=pool_names,
        route_path=route_path(team, model),
        host=host,
        slo=_slo(spec, stack),
    )


def _slo(spec: ModelSpec, stack: Stack) -> ModelSlo:
    defaults = stack.settings.monitoring.slo_defaults
    own = spec.slo
    return ModelSlo(
        p95_latency_ms=_pick(own.p95_latency_ms if own else None, defaults.p95_latency_ms),
        error_rate=_pick(own.error_rate if own else None, defaults.error_rate),
        availability=_pick(own.availability if own else None, defaults.availability),
    )


def _pick(override, default):
    return default if override is None else override


def gpu_offer(pool: NodePool, mig_strategy: str) -> dict[str, int]:
    """Extended resource -> how many one node of ``pool`` offers."""
    if pool.gpu is None:
        return {}
    if pool.gpu.mig is None:
        return {WHOLE_GPU_RESOURCE: pool.gpu.per_node}
    if mig_strategy == "single":
        return {WHOLE_GPU_RESOURCE: sum(pool.mig_slices_per_node().values())}
    return {mig_resource_name(name): count for name, count in pool.mig_slices_per_node().items()}


def _claim_on(request: GpuRequest, pool: NodePool, mig_strategy: str) -> GpuClaim | None:
    """What one replica asks of ``pool`` for ``request``, or ``None`` when the pool cannot serve it."""
    if pool.gpu is None:
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
    if pool.gpu.mig is None:
        return f"{name} ({pool.gpu.per_node} x {pool.gpu.model} per node)"
    layout = ", ".join(f"{profile} x{count}" for profile, count in sorted(pool.gpu.mig.layout.items()))
    return f"{name} ({pool.gpu.model} cut into {layout})"


def cpu_model_pools(stack: Stack) -> tuple[str, ...]:
    """Where CPU models run by default: the CPU pools other than ``system``, else ``system``."""
    pools = stack.settings.node_pools
    others = tuple(sorted(name for name, pool in pools.items() if pool.gpu is None and name != SYSTEM_POOL))
    return others or (SYSTEM_POOL,)


def _place(model: CatalogModel, stack: Stack, problems: list[Problem]) -> tuple[GpuClaim | None, tuple[str, ...]]:
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
                f"{_describe_request(spec.gpu)}; name another pool or leave node_pool out",
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


def _describe_request(request: GpuRequest) -> str:
    if request.count is not None:
        return f"{request.count} whole GPU{'s' if request.count > 1 else ''}"
    return f"a {request.mig} MIG slice"


def _no_pool_problem(request: GpuRequest, stack: Stack) -> tuple[str, str]:
    pools = stack.settings.node_pools
    gpu_pools = [_describe_pool(name, pool) for name, pool in sorted(pools.items()) if pool.gpu]
    listed = "; ".join(gpu_pools) if gpu_pools else "none"
    fix = (
        f"add such a pool to {stack.source} or set environments.{stack.name}.enabled: false"
    )
    if request.count is not None:
        return "gpu.count", (
            f"{_describe_request(request)} per replica, but no GPU pool of stack {stack.name} "
            f"without MIG has that many per node (GPU pools: {listed}); {fix}"
        )
    models = sorted(name for name, gpu in GPU_MODELS.items() if request.mig in gpu.mig_profiles)
    return "gpu.mig", (
        f"no pool of stack {stack.name} is cut into {request.mig} slices "
        f"({request.mig} is a profile of {', '.join(models)}; GPU pools: {listed}); {fix}"
    )


def _fit_problems(
    model: CatalogModel, stack: Stack, pool_names: tuple[str, ...], cpu: str, memory: str,
    field: str, problems: list[Problem],
) -> None:
    """A replica that asks for more than any candidate node has can never be scheduled."""
    candidates = {name: stack.settings.node_pools[name] for name in pool_names}
    need_cpu = cpu_cores(cpu) + SIDECAR_CPU
    need_memory = memory_bytes(memory) + SIDECAR_MEMORY
    for name, pool in candidates.items():
        for instance_name in pool.instance_types:
            cpu_free, memory_free = allocatable(instance_name)
            if need_cpu <= cpu_free and need_memory <= memory_free:
                return
    sizes = ", ".join(
        f"{name}: {format_cpu(allocatable(t)[0])} CPU / {format_memory(allocatable(t)[1])}"
        for name, pool in sorted(candidates.items())
        for t in pool.instance_types
    )
    problems.append(Problem(
        model.source, field,
        f"one replica needs {format_cpu(need_cpu)} CPU and {format_memory(need_memory)} memory "
        f"with its sidecars, more than any node it may run on in stack {stack.name} has free "
        f"({sizes}, after what a node keeps for itself); lower the request or add a larger "
        "instance type",
    ))


def allocatable(instance_type: str) -> tuple[Decimal, Decimal]:
    """CPU cores and memory bytes a node of ``instance_type`` leaves to pods (an estimate)."""
    instance = INSTANCE_TYPES[instance_type]
    return (
        Decimal(instance.vcpu) - NODE_RESERVED_CPU,
        Decimal(instance.memory_gib) * 2**30 - NODE_RESERVED_MEMORY,
    )


def _capacity_problems(stack: Stack, models: list[DeployedModel]) -> list[Problem]:
    """The minimum replicas of GPU models must fit in what their pool offers at its max size."""
    problems = []
    for pool in gpu_capacity(stack, models):
        if pool.at_min <= pool.capacity:
            continue
        nodes_needed = -(-pool.at_min // pool.per_node)
        users = ", ".join(f"{name} ({units})" for name, units, _ in pool.models if units)
        problems.append(Problem(
            stack.source, f"modelplane:node_pools.{pool.pool}.max_size",
            f"the minimum replicas of GPU models need {pool.at_min} {pool.resource} in pool {pool.pool}, "
            f"{pool.at_min - pool.capacity} more than its {pool.max_nodes} node(s) at max_size offer "
            f"({pool.per_node} per node); raise max_size to at least {nodes_needed} or lower the "
            f"min_replicas of {users}",
        ))
    return problems


def _quota_problems(team: CatalogTeam, models: list[DeployedModel], stack: Stack) -> list[Problem]:
    """Each replica must fit the quota, and all minimum replicas together must too."""
    quota = team.spec.quota
    limits = {
        "quota.cpu": cpu_cores(quota.cpu),
        "quota.memory": memory_bytes(quota.memory),
        "quota.gpu": Decimal(quota.gpu),
    }
    for profile, count in quota.mig.items():
        limits[f"quota.mig.{profile}"] = Decimal(count)
    floor: dict[str, Decimal] = defaultdict(Decimal)
    problems = []
    for model in models:
        replica = _replica_demand(model)
        for field, amount in replica.items():
            if amount > limits.get(field, Decimal(0)):
                problems.append(Problem(
                    model.model.source, "gpu" if field.startswith(("quota.gpu", "quota.mig")) else "resources",
                    f"one replica needs {_show(field, amount)} ({_resource_of(field, model)}), "
                    f"but team {team.name}'s {field} is {_show(field, limits.get(field, Decimal(0)))}; "
                    f"raise {field} in {team.source}",
                ))
        for field, amount in replica.items():
            floor[field] += amount * model.min_replicas * model.revisions_at_floor
    for field, amount in sorted(floor.items()):
        limit = limits.get(field, Decimal(0))
        if amount > limit:
            problems.append(Problem(
                team.source, field,
                f"the minimum replicas of the team's models in stack {stack.name} request "
                f"{_show(field, amount)} (sidecars and canaries included), more than the quota of "
                f"{_show(field, limit)}; raise {field} or lower min_replicas",
            ))
    return problems


def _replica_demand(model: DeployedModel) -> dict[str, Decimal]:
    demand = {
        "quota.cpu": cpu_cores(model.cpu) + SIDECAR_CPU,
        "quota.memory": memory_bytes(model.memory) + SIDECAR_MEMORY,
    }
    if model.gpu is not None:
        if model.gpu.resource == WHOLE_GPU_RESOURCE:
            demand["quota.gpu"] = Decimal(model.gpu.count)
        else:
            demand[f"quota.mig.{model.spec.gpu.mig}"] = Decimal(model.gpu.count)
    return demand


def _resource_of(field: str, model: DeployedModel) -> str:
    if field == "quota.gpu" and model.spec.gpu is not None and model.spec.gpu.mig is not None:
        return f"a {model.spec.gpu.mig} slice counts as nvidia.com/gpu under MIG strategy single"
    return "sidecars included" if field in ("quota.cpu", "quota.memory") else model.gpu.resource


def _show(field: str, amount: Decimal) -> str:
    if field == "quota.cpu":
        return format_cpu(amount)
    if field == "quota.memory":
        return format_memory(amount)
    return str(int(amount))

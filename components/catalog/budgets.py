"""What a stack's models may use: each team's quota, and what each GPU pool offers at its max size."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from components.catalog.deployed import DeployedModel
from components.catalog.loader import CatalogTeam
from components.catalog.placement import (
    SIDECAR_CPU,
    SIDECAR_MEMORY,
    SHARED_GPU_RESOURCE,
    WHOLE_GPU_RESOURCE,
    gpu_offer,
    one_of,
    request_fixes,
    resource_field,
)
from components.catalog.problems import Problem
from components.catalog.quantities import cpu_cores, format_cpu, format_memory, memory_bytes
from components.catalog.stacks import Stack


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


def capacity_problems(stack: Stack, models: list[DeployedModel]) -> list[Problem]:
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


def over_capacity(pool: PoolCapacity) -> str:
    """The one-line gist of a pool too small for its models' max replicas."""
    return (
        f"pool {pool.pool}: at max replicas the models need {pool.at_max} {pool.resource}, "
        f"{pool.at_max - pool.capacity} more than the {pool.capacity} it offers at max size"
    )


def capacity_warnings(stack: Stack, models: tuple[DeployedModel, ...] | list[DeployedModel]) -> list[Problem]:
    """GPU pools too small for every model at its max replicas: not an error (the minimum replicas
    start, the rest stay pending), but worth saying before a traffic peak finds out."""
    warnings = []
    for pool in gpu_capacity(stack, models):
        if pool.at_max <= pool.capacity:
            continue
        nodes_needed = -(-pool.at_max // pool.per_node)
        users = ", ".join(f"{name} ({units})" for name, _, units in pool.models if units)
        warnings.append(Problem(
            stack.source, f"modelplane:node_pools.{pool.pool}.max_size",
            f"{over_capacity(pool)} ({pool.max_nodes} node(s), {pool.per_node} per node), so replicas beyond that stay pending; "
            f"raise max_size to {nodes_needed} if they should all run, or lower the max_replicas "
            f"of {users} (for this stack only: environments.{stack.name}.scaling.max_replicas)",
        ))
    return warnings


def quota_problems(team: CatalogTeam, models: list[DeployedModel], stack: Stack) -> list[Problem]:
    """Each replica must fit the quota, and all minimum replicas together must too."""
    quota = team.spec.quota
    limits = {
        "quota.cpu": cpu_cores(quota.cpu),
        "quota.memory": memory_bytes(quota.memory),
        "quota.gpu": Decimal(quota.gpu),
        "quota.gpu_shares": Decimal(quota.gpu_shares),
    }
    for profile, count in quota.mig.items():
        limits[f"quota.mig.{profile}"] = Decimal(count)
    floor: dict[str, Decimal] = defaultdict(Decimal)
    users: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    problems = []
    for model in models:
        replica = _replica_demand(model)
        for field, amount in replica.items():
            limit = limits.get(field, Decimal(0))
            if amount > limit:
                problems.append(_replica_over_quota(team, model, stack, field, limit))
        for field, amount in replica.items():
            at_floor = amount * model.min_replicas * model.revisions_at_floor
            floor[field] += at_floor
            if at_floor:
                users[field].append((model.name, at_floor))
    for field, amount in sorted(floor.items()):
        limit = limits.get(field, Decimal(0))
        if amount > limit:
            problems.append(Problem(
                team.source, field,
                f"the minimum replicas of the team's models in stack {stack.name} request "
                f"{_show(field, amount)} (sidecars and canaries included), more than the quota of "
                f"{_show(field, limit)} ({_shares(field, users[field])}); raise {field} or lower "
                f"the models' min_replicas (for this stack only: environments.{stack.name}.scaling.min_replicas)",
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
        elif model.gpu.resource == SHARED_GPU_RESOURCE:
            demand["quota.gpu_shares"] = Decimal(model.gpu.count)
        else:
            demand[f"quota.mig.{model.spec.gpu.mig}"] = Decimal(model.gpu.count)
    return demand


def _replica_over_quota(team: CatalogTeam, model: DeployedModel, stack: Stack, quota_field: str, limit: Decimal) -> Problem:
    """One replica alone is more than the team's quota admits: say which request, and how to fix it."""
    quota = f"team {team.name}'s {quota_field} of {_show(quota_field, limit)} ({team.source})"
    raise_quota = f"raise {quota_field} there"
    if quota_field in ("quota.cpu", "quota.memory"):
        dimension = quota_field.removeprefix("quota.")
        field = resource_field(model.model, stack, dimension)
        requested = f"{model.cpu} CPU" if dimension == "cpu" else model.memory
        sidecars = format_cpu(SIDECAR_CPU) if dimension == "cpu" else format_memory(SIDECAR_MEMORY)
        return Problem(
            model.model.source, field,
            f"{requested} per replica plus {sidecars} for the sidecars is more than {quota}, so no "
            f"replica could start; {one_of([*request_fixes(field, stack), raise_quota])}",
        )
    request = model.spec.gpu
    if request.count is not None:
        return Problem(
            model.model.source, "gpu.count",
            f"{request.count} GPU{'s' if request.count > 1 else ''} per replica "
            f"{'are' if request.count > 1 else 'is'} more than {quota}, so no replica could start; "
            + (f"lower gpu.count or {raise_quota}" if request.count > 1 else raise_quota),
        )
    if request.shares is not None:
        return Problem(
            model.model.source, "gpu.shares",
            f"one share of a time-sliced GPU per replica is more than {quota}, so no replica "
            f"could start; {raise_quota}",
        )
    if quota_field == "quota.gpu":
        return Problem(
            model.model.source, "gpu.mig",
            f"one {request.mig} slice per replica counts as one nvidia.com/gpu under the MIG strategy "
            f"single of stack {stack.name}, which is more than {quota}, so no replica could start; "
            f"{raise_quota}",
        )
    return Problem(
        model.model.source, "gpu.mig",
        f"one {request.mig} slice per replica is more than {quota}, so no replica could start; "
        f"{raise_quota}",
    )


def _shares(field: str, users: list[tuple[str, Decimal]]) -> str:
    """``scorer: 4500m, ranker: 2`` largest first."""
    ordered = sorted(users, key=lambda user: (-user[1], user[0]))
    return ", ".join(f"{name}: {_show(field, amount)}" for name, amount in ordered)


def _show(field: str, amount: Decimal) -> str:
    if field == "quota.cpu":
        return format_cpu(amount)
    if field == "quota.memory":
        return format_memory(amount)
    return str(int(amount))

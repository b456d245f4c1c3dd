"""The MIG layout planner behind ``modelplane placement``: per GPU pool, the layout and node counts
that serve the catalog's demand at minimum and maximum replicas with the fewest GPUs.

Pure. The demand is read from the catalog as the stack deploys it (overrides, the critical floor,
two revisions while a canary runs), before the stack's current layout is applied, so a model asking
for a slice the current layout lacks is planned for, not refused. A MIG model goes to the pool it
names, else to the first MIG pool (by name) whose layout has its slice (as ``place_model`` does),
else to the first whose GPU model offers it. Whole-GPU models are placed by ``place_model``.

A stack cuts every GPU of a pool the same way (one mig-parted entry, ``devices: all``), so the
proposal is one per-GPU layout per pool: among NVIDIA's valid layouts holding every profile the
pool's models ask for, the one needing the fewest nodes at maximum replicas, then at minimum, the
current layout on a tie. For reference the report also gives the fewest GPUs if each GPU could be
cut its own way (``mig_layouts.fewest_gpus``, exact) and the compute lower bound.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from components.catalog.deployed import revisions_of
from components.catalog.deployment import effective_replicas, runs_in
from components.catalog.hardware import GPU_MODELS, GpuModel
from components.catalog.loader import Catalog, CatalogModel
from components.catalog.placement import one_of, place_model
from components.catalog.problems import InputError, Problem
from components.catalog.stack_settings import NodePool
from components.catalog.stacks import Stack
from components.review.mig_layouts import Layout, GpuMix, ceil_div, compute_lower_bound, fewest_gpus, maximal_layouts


@dataclass(frozen=True)
class SliceUser:
    """A model's share of a pool's demand."""

    model: str  # team/model
    source: str
    profile: str  # a MIG profile, or "gpu" for whole GPUs per replica
    per_replica: int
    at_min: int  # replicas (all revisions)
    at_max: int
    min_replicas_field: str  # where the file sets the always-on replicas


@dataclass(frozen=True)
class LayoutNodes:
    """A per-GPU layout and the nodes it needs at minimum and maximum replicas (``None``: it cannot
    serve the demand)."""

    layout: Layout
    nodes_at_min: int | None
    nodes_at_max: int | None


@dataclass(frozen=True)
class MigPoolPlan:
    pool: str
    gpu_model: str
    per_node: int
    min_size: int
    max_size: int
    demand_at_min: tuple[tuple[str, int], ...]  # profile -> slices
    demand_at_max: tuple[tuple[str, int], ...]
    users: tuple[SliceUser, ...]
    current: LayoutNodes
    proposed: LayoutNodes
    lower_bound_at_min: int  # GPUs: compute slices / 7, rounded up
    lower_bound_at_max: int
    mixed_at_min: GpuMix  # fewest GPUs with a layout per GPU
    mixed_at_max: GpuMix

    @property
    def changes(self) -> bool:
        return self.proposed.layout != self.current.layout or self.proposed_max_size != self.max_size

    @property
    def proposed_max_size(self) -> int:
        return max(self.max_size, self.proposed.nodes_at_max or 0)


@dataclass(frozen=True)
class WholeGpuPoolPlan:
    pool: str
    gpu_model: str
    per_node: int
    min_size: int
    max_size: int
    users: tuple[SliceUser, ...]
    gpus_at_min: int
    gpus_at_max: int
    nodes_at_min: int
    nodes_at_max: int
    # Pods taking turns on each GPU (time-slicing); the users' per_replica counts are then shares.
    shares_per_gpu: int = 1


@dataclass(frozen=True)
class PlacementPlan:
    stack: str
    source: str
    mig_pools: tuple[MigPoolPlan, ...]
    whole_gpu_pools: tuple[WholeGpuPoolPlan, ...]
    # Pools of the stack as the YAML of ``modelplane:node_pools`` holds them, for the snippet.
    pool_settings: dict[str, dict[str, Any]]


def plan_placement(catalog: Catalog, stack: Stack) -> PlacementPlan:
    """The plan of every GPU pool of ``stack``; raise :class:`InputError` for demand no layout serves."""
    problems: list[Problem] = []
    mig_users: dict[str, list[SliceUser]] = defaultdict(list)
    whole_users: dict[str, list[SliceUser]] = defaultdict(list)
    for team, model in catalog.models():
        spec = model.spec
        if spec.gpu is None or not runs_in(spec, stack):
            continue
        low, high = effective_replicas(spec, stack)
        revisions = revisions_of(spec)
        owner = f"{team.name}/{model.name}"
        override = spec.environments.get(stack.name)
        min_field = (
            f"environments.{stack.name}.scaling.min_replicas"
            if override is not None and override.scaling is not None and override.scaling.min_replicas is not None
            else "scaling.min_replicas"
        )
        if spec.gpu.mig is not None:
            pool = _mig_pool_of(model, stack, problems)
            if pool is not None:
                mig_users[pool].append(SliceUser(owner, model.source, spec.gpu.mig, 1, low * revisions, high * revisions, min_field))
            continue
        claim, pools = place_model(model, stack, problems)
        if claim is not None:
            whole_users[pools[0]].append(
                SliceUser(owner, model.source, "gpu", claim.count, low * revisions, high * revisions, min_field))
    pools = stack.settings.node_pools
    mig_plans = []
    for name in sorted(mig_users):
        plan = _plan_mig_pool(name, pools[name], tuple(mig_users[name]), stack, problems)
        if plan is not None:
            mig_plans.append(plan)
    whole_plans = [_plan_whole_gpu_pool(name, pools[name], tuple(whole_users[name])) for name in sorted(whole_users)]
    if problems:
        raise InputError(problems)
    settings = {
        name: pool.model_dump(mode="json", exclude_unset=True) for name, pool in sorted(pools.items())
    }
    return PlacementPlan(stack.name, stack.source, tuple(mig_plans), tuple(whole_plans), settings)


def _mig_pools(stack: Stack) -> list[tuple[str, NodePool]]:
    return [(name, pool) for name, pool in sorted(stack.settings.node_pools.items())
            if pool.gpu is not None and pool.gpu.mig is not None]


def _describe_mig_pool(name: str, pool: NodePool) -> str:
    gpu = GPU_MODELS[pool.gpu.model]
    return f"{name} ({gpu.name}: {', '.join(gpu.mig_profiles)})"


def _mig_pool_of(model: CatalogModel, stack: Stack, problems: list[Problem]) -> str | None:
    """The pool whose layout the model's slices count against; a problem when no pool can have it."""
    profile = model.spec.gpu.mig
    mig_pools = _mig_pools(stack)
    where = f"stack {stack.name} ({stack.source})"
    pinned = model.spec.node_pool
    if pinned is not None:
        pool = stack.settings.node_pools.get(pinned)
        if pool is None or pool.gpu is None or pool.gpu.mig is None:
            what = "has no node pool" if pool is None else "does not cut into MIG slices the pool"
            problems.append(Problem(
                model.source, "node_pool",
                f"{where} {what} {pinned!r}; name one of its MIG pools "
                f"({', '.join(name for name, _ in mig_pools) or 'none'}), leave node_pool out, or add "
                f"gpu.mig to pool {pinned} in {stack.source}",
            ))
            return None
        if profile not in GPU_MODELS[pool.gpu.model].mig_profiles:
            problems.append(Problem(
                model.source, "gpu.mig",
                f"pool {_describe_mig_pool(pinned, pool)} of {where} cannot be cut into {profile} "
                f"slices: its GPUs have no such profile; ask for one of its profiles or name another pool",
            ))
            return None
        return pinned
    for name, pool in mig_pools:
        if profile in pool.gpu.mig.layout:
            return name
    for name, pool in mig_pools:
        if profile in GPU_MODELS[pool.gpu.model].mig_profiles:
            return name
    offered = "; ".join(_describe_mig_pool(name, pool) for name, pool in mig_pools) or "none"
    gpus = sorted(name for name, gpu in GPU_MODELS.items() if profile in gpu.mig_profiles)
    problems.append(Problem(
        model.source, "gpu.mig",
        f"no MIG pool of {where} has GPUs with a {profile} profile (MIG pools: {offered}); ask for a "
        f"profile of those GPUs, or add a MIG pool of {', '.join(gpus)} to {stack.source}",
    ))
    return None


def _demand(users: tuple[SliceUser, ...], state: str) -> dict[str, int]:
    demand: dict[str, int] = defaultdict(int)
    for user in users:
        demand[user.profile] += user.per_replica * (user.at_min if state == "min" else user.at_max)
    return dict(demand)


def nodes_needed(layout: Layout, per_node: int, demand: dict[str, int]) -> int | None:
    """Nodes of ``per_node`` GPUs cut ``layout`` that offer ``demand``, or ``None`` if it lacks a profile."""
    offered = dict(layout)
    if any(count and profile not in offered for profile, count in demand.items()):
        return None
    return max((ceil_div(count, offered[profile] * per_node) for profile, count in demand.items() if count), default=0)


def _plan_mig_pool(name: str, pool: NodePool, users: tuple[SliceUser, ...], stack: Stack,
                   problems: list[Problem]) -> MigPoolPlan | None:
    gpu = GPU_MODELS[pool.gpu.model]
    per_node = pool.gpu.per_node
    at_min, at_max = _demand(users, "min"), _demand(users, "max")
    profiles = tuple(sorted(profile for profile, count in at_max.items() if count))
    current_layout: Layout = tuple(sorted(pool.gpu.mig.layout.items()))
    current = LayoutNodes(current_layout, nodes_needed(current_layout, per_node, at_min),
                          nodes_needed(current_layout, per_node, at_max))
    candidates = _serving_layouts(gpu, profiles, pool.gpu.mig.strategy)
    if not candidates:
        problems += _no_layout_problems(name, pool, gpu, users, stack)
        return None
    options = [LayoutNodes(layout, nodes_needed(layout, per_node, at_min), nodes_needed(layout, per_node, at_max))
               for layout in candidates]
    if current.nodes_at_max is not None:
        options.append(current)
    # Fewest nodes first; among layouts tied on nodes, the one whose slices sit on the fewest GPUs
    # (the rest of the node is left for growth), then the current one.
    proposed = min(options, key=lambda o: (
        o.nodes_at_max, o.nodes_at_min, nodes_needed(o.layout, 1, at_max), nodes_needed(o.layout, 1, at_min),
        o.layout != current_layout, o.layout,
    ))
    if proposed.nodes_at_min > pool.max_size:
        problems += _floor_problems(name, pool, proposed, users, stack)
        return None
    return MigPoolPlan(
        pool=name, gpu_model=gpu.name, per_node=per_node, min_size=pool.min_size, max_size=pool.max_size,
        demand_at_min=tuple(sorted(at_min.items())), demand_at_max=tuple(sorted(at_max.items())),
        users=users, current=current, proposed=proposed,
        lower_bound_at_min=compute_lower_bound(gpu, at_min), lower_bound_at_max=compute_lower_bound(gpu, at_max),
        mixed_at_min=fewest_gpus(gpu, at_min), mixed_at_max=fewest_gpus(gpu, at_max),
    )


def _serving_layouts(gpu: GpuModel, profiles: tuple[str, ...], strategy: str) -> list[Layout]:
    """The maximal valid layouts over ``profiles`` that hold every one of them (with strategy
    ``single``, a GPU cut into one profile only)."""
    if strategy == "single":
        if len(profiles) != 1:
            return []
        return list(maximal_layouts(gpu, profiles))
    return [layout for layout in maximal_layouts(gpu, profiles) if len(layout) == len(profiles)]


def _no_layout_problems(name: str, pool: NodePool, gpu: GpuModel, users: tuple[SliceUser, ...],
                        stack: Stack) -> list[Problem]:
    """Which models' slices no single per-GPU layout can hold together with the pool's others."""
    if pool.gpu.mig.strategy == "single":
        profiles = sorted({user.profile for user in users})
        return [Problem(
            stack.source, f"modelplane:node_pools.{name}.gpu.mig.strategy",
            f"pool {name}'s models ask for {', '.join(profiles)} slices and strategy single cuts every "
            "GPU into one profile; set strategy: mixed, or move models to another pool",
        )]
    # Keep the most demanded profiles together; the ones that cannot join them are the problem.
    by_demand: dict[str, int] = defaultdict(int)
    for user in users:
        by_demand[user.profile] += max(user.at_max, 1)
    kept: list[str] = []
    left_out = []
    for profile in sorted(by_demand, key=lambda p: (-by_demand[p], p)):
        trial = tuple(sorted([*kept, profile]))
        if any(len(layout) == len(trial) for layout in maximal_layouts(gpu, trial)):
            kept.append(profile)
        else:
            left_out.append(profile)
    return [
        Problem(
            user.source, "gpu.mig",
            f"no single {gpu.name} layout holds {user.profile} together with {', '.join(sorted(kept))}, which "
            f"other models of pool {name} in stack {stack.name} ask for (every GPU of a pool is cut the same "
            f"way); ask for one of {', '.join(sorted(kept))}, or name another MIG pool with node_pool",
        )
        for user in users if user.profile in left_out
    ]


def _floor_problems(name: str, pool: NodePool, proposed: LayoutNodes, users: tuple[SliceUser, ...],
                    stack: Stack) -> list[Problem]:
    """The always-on slices need more nodes than the pool may have, even with the best layout."""
    layout = ", ".join(f"{profile}: {count}" for profile, count in proposed.layout)
    return [
        Problem(
            user.source, user.min_replicas_field,
            f"the always-on replicas of pool {name} in stack {stack.name} need {proposed.nodes_at_min} nodes "
            f"even cut {{{layout}}} per GPU, and the pool's max_size is {pool.max_size}; "
            + one_of(["lower min_replicas", f"raise modelplane:node_pools.{name}.max_size in {stack.source} "
                      f"to {proposed.nodes_at_min}"]),
        )
        for user in users if user.at_min
    ]


def _plan_whole_gpu_pool(name: str, pool: NodePool, users: tuple[SliceUser, ...]) -> WholeGpuPoolPlan:
    per_node = pool.gpu.per_node
    # On a time-sliced pool the users ask for shares: a node offers per_node x time_slices of them.
    shares_per_gpu = pool.time_slices
    room_per_node = per_node * shares_per_gpu

    def replicas(state: str) -> list[int]:
        return [u.per_replica for u in users for _ in range(u.at_min if state == "min" else u.at_max)]

    def nodes(state: str) -> int:
        # First-fit decreasing of each replica's GPUs (or shares) into nodes.
        free: list[int] = []
        for size in sorted(replicas(state), reverse=True):
            index = next((i for i, room in enumerate(free) if room >= size), None)
            if index is None:
                free.append(room_per_node - size)
            else:
                free[index] -= size
        return len(free)

    def gpus(state: str) -> int:
        return ceil_div(sum(replicas(state)), shares_per_gpu)

    return WholeGpuPoolPlan(
        pool=name, gpu_model=pool.gpu.model, per_node=per_node, min_size=pool.min_size, max_size=pool.max_size,
        users=users, gpus_at_min=gpus("min"), gpus_at_max=gpus("max"), nodes_at_min=nodes("min"),
        nodes_at_max=nodes("max"), shares_per_gpu=shares_per_gpu,
    )

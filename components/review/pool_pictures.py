"""What the pool pictures show: each pool's nodes with the replicas packed onto them.

Pure. ``components.review.diagrams`` draws it as Mermaid and ``components.review.pool_svg`` as
SVG, so both show the same nodes. A picture has a bounded size whatever the catalog: a pool shows
its first ``MAX_NODES_SHOWN`` nodes (the floor first, then in the order the packing opened them)
and folds the rest into one summary; a node lists its ``MAX_GROUPS_PER_NODE`` largest models and
folds the others into "+N more"; at most ``MAX_UNPLACED_SHOWN`` models that fit nowhere are named.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from components.catalog.deployed import StackDeployment
from components.catalog.placement import WHOLE_GPU_RESOURCE
from components.review.packing import CPU, MEMORY, Packing, PoolPacking, Replica, model_replica

MAX_NODES_SHOWN = 12
MAX_GROUPS_PER_NODE = 6
MAX_UNPLACED_SHOWN = 8  # models listed as fitting nowhere; the rest are counted
_MIG_PREFIX = "nvidia.com/mig-"
_GIB = Decimal(1024**3)
_TENTH = Decimal(1) / 10


@dataclass(frozen=True)
class ReplicaGroup:
    """The replicas of one model on one node."""

    owner: str  # team/model
    count: int
    demand: dict[str, Decimal]  # of one replica

    @property
    def team(self) -> str:
        return self.owner.split("/", 1)[0]


@dataclass(frozen=True)
class NodePicture:
    number: int  # 1-based, in the pool's node order
    groups: tuple[ReplicaGroup, ...]  # largest first, as the packing placed them
    used: dict[str, Decimal]  # resource -> requested by the replicas on the node
    platform: bool  # a system-pool floor node: it runs the platform's add-ons

    @property
    def replica_count(self) -> int:
        return sum(group.count for group in self.groups)

    def shown_groups(self) -> tuple[tuple[ReplicaGroup, ...], int]:
        """The groups drawn, and how many replicas the folded rest holds."""
        shown = self.groups[:MAX_GROUPS_PER_NODE]
        return shown, sum(group.count for group in self.groups[MAX_GROUPS_PER_NODE:])


@dataclass(frozen=True)
class PoolPicture:
    pool: str
    instance_type: str
    min_size: int
    max_size: int
    offer: dict[str, Decimal]  # of one node
    node_count: int
    nodes: tuple[NodePicture, ...]  # the first MAX_NODES_SHOWN
    # Replicas on the nodes not shown, and replicas of the pool's models that fit nowhere.
    hidden_replicas: int
    unplaced: tuple[tuple[str, int], ...]

    @property
    def hidden_nodes(self) -> int:
        return self.node_count - len(self.nodes)

    @property
    def resources(self) -> list[str]:
        """CPU, memory, then the GPU resources, in a fixed order."""
        return [CPU, MEMORY] + sorted(r for r in self.offer if r not in (CPU, MEMORY))


def replicas_by_owner(deployment: StackDeployment) -> dict[str, Replica]:
    """``team/model`` -> one replica of it (every replica of a model asks for the same)."""
    return {replica.owner: replica for replica in map(model_replica, deployment.models)}


def pool_picture(pool: PoolPacking, packing: Packing, replicas: dict[str, Replica]) -> PoolPicture:
    """The picture of one pool of ``packing``; ``replicas`` from :func:`replicas_by_owner` of the
    deployment that was packed."""
    nodes = []
    for index, owners in enumerate(pool.nodes[:MAX_NODES_SHOWN]):
        counts: dict[str, int] = {}
        for owner in owners:
            counts[owner] = counts.get(owner, 0) + 1
        groups = tuple(ReplicaGroup(owner, count, replicas[owner].demand()) for owner, count in counts.items())
        used: dict[str, Decimal] = {}
        for group in groups:
            for resource, amount in group.demand.items():
                used[resource] = used.get(resource, Decimal(0)) + amount * group.count
        nodes.append(NodePicture(index + 1, groups, used, platform=index < pool.shape.reserved))
    unplaced: dict[str, int] = {}
    for item in packing.unplaced:
        replica = replicas.get(item.owner)
        if replica is not None and replica.pools[:1] == (pool.pool,):
            unplaced[item.owner] = unplaced.get(item.owner, 0) + 1
    return PoolPicture(
        pool=pool.pool, instance_type=pool.shape.instance_type, min_size=pool.shape.min_size,
        max_size=pool.shape.max_size, offer=dict(pool.shape.offer), node_count=pool.node_count,
        nodes=tuple(nodes), hidden_replicas=sum(len(owners) for owners in pool.nodes[MAX_NODES_SHOWN:]),
        unplaced=tuple(sorted(unplaced.items())),
    )


def stack_pictures(packing: Packing, deployment: StackDeployment) -> list[PoolPicture]:
    """Every pool of ``packing``, in pool-name order."""
    replicas = replicas_by_owner(deployment)
    return [pool_picture(pool, packing, replicas) for pool in packing.pools]


def changed_pools(before: Packing | None, after: Packing) -> list[str]:
    """The pools whose packing differs: other nodes, other replicas on them, other requests, or
    another node shape. A new stack (no ``before``) changes every pool."""
    if before is None:
        return [pool.pool for pool in after.pools]
    old = {pool.pool: pool for pool in before.pools}
    changed = []
    for pool in after.pools:
        previous = old.get(pool.pool)
        if previous is None or (previous.shape, previous.nodes, previous.used) != (pool.shape, pool.nodes, pool.used):
            changed.append(pool.pool)
    return changed


def resource_label(resource: str) -> str:
    """``nvidia.com/mig-1g.10gb`` -> ``1g.10gb``, ``nvidia.com/gpu`` -> ``GPU``."""
    if resource == WHOLE_GPU_RESOURCE:
        return "GPU"
    if resource.startswith(_MIG_PREFIX):
        return resource[len(_MIG_PREFIX):]
    return resource


def amount_label(resource: str, amount: Decimal) -> str:
    """CPU in cores and memory in GiB, one decimal; GPUs and slices as counts."""
    if resource == MEMORY:
        return f"{_tenths(amount / _GIB)} GiB"
    if resource == CPU:
        return _tenths(amount)
    return str(int(amount))


def _tenths(value: Decimal) -> str:
    # Half up, as people round (3.25 cores reads 3.3), not Decimal's default half-even.
    return str(Decimal(value).quantize(_TENTH, rounding=ROUND_HALF_UP))


def usage_label(resource: str, used: Decimal, offered: Decimal) -> str:
    """``CPU 6.5/15.9``: what the replicas request of what the node offers."""
    name = {CPU: "CPU", MEMORY: "memory"}.get(resource) or resource_label(resource)
    return f"{name} {amount_label(resource, used)} of {amount_label(resource, offered)}"


def gpu_label(demand: dict[str, Decimal]) -> str:
    """What one replica takes of the GPUs (``1 GPU``, ``1g.10gb``), or ``""``."""
    parts = []
    for resource, amount in sorted(demand.items()):
        if resource in (CPU, MEMORY):
            continue
        parts.append(f"{int(amount)} GPU" if resource == WHOLE_GPU_RESOURCE else resource_label(resource))
    return ", ".join(parts)


def pictures_by_pool(deployment: StackDeployment, packings: Sequence[Packing]) -> list[tuple[str, list[tuple[str, PoolPicture]]]]:
    """(pool, [(state, picture) for each of ``packings``]) for every pool, in pool-name order."""
    states = [(packing.state, {p.pool: p for p in stack_pictures(packing, deployment)}) for packing in packings]
    pools = sorted({pool for _, pictures in states for pool in pictures})
    return [(pool, [(state, pictures[pool]) for state, pictures in states if pool in pictures]) for pool in pools]

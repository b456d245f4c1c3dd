"""Where replicas land: a packing of a stack's replicas onto the nodes of its pools, as the
scheduler and cluster-autoscaler would place them.

Pure. Each pool's nodes are of its first instance type (the type cluster-autoscaler builds a
managed node group's node template from) and offer what ``allocatable`` leaves after the kubelet's
reservations and the DaemonSets, plus the GPUs or MIG slices of the pool's layout (``gpu_offer``).
A replica asks for its CPU and memory with its sidecars and its GPU claim; it may only go to the
pools the catalog placed it on (its node selector; GPU pools are tainted for GPU work, so CPU
replicas never land there).

The packing is first-fit decreasing: replicas sorted by their largest share of a node, each put on
the first open node with room, else on a new node of the first of its pools that has one to give
(up to ``max_size``). A pool's ``min_size`` nodes are open from the start. The ``system`` pool's
floor runs the platform's add-ons, so models that fall back to it get nodes beyond the floor.

Placing is near-linear in the replicas: first-fit never frees room, so a node once too full for a
demand stays too full for it, and each demand class (same pools, same requests) keeps the index of
the first node that may still fit it; a run of one model's replicas fills a node in one step; a
class that fitted nowhere fits nowhere for the rest of the packing, for the same reason. The
result is exactly that of trying every node for every replica (``tests/test_packing.py`` holds
that reference and compares whole assignments on random catalogs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Literal

from components.catalog.deployed import DeployedModel, StackDeployment
from components.catalog.placement import SIDECAR_CPU, SIDECAR_MEMORY, allocatable, gpu_offer
from components.catalog.quantities import cpu_cores, format_cpu, format_memory, memory_bytes
from components.catalog.stack_settings import SYSTEM_POOL
from components.catalog.stacks import Stack

State = Literal["always-on", "peak"]
CPU = "cpu"
MEMORY = "memory"
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Replica:
    """One pod to place: what it asks for and where it may go."""

    owner: str  # team/model
    cpu: Decimal
    memory: Decimal
    gpu: tuple[str, int] | None
    pools: tuple[str, ...]

    def demand(self) -> dict[str, Decimal]:
        result = {CPU: self.cpu, MEMORY: self.memory}
        if self.gpu is not None:
            result[self.gpu[0]] = Decimal(self.gpu[1])
        return result


@dataclass(frozen=True)
class NodeShape:
    """What one node of a pool offers to pods."""

    pool: str
    instance_type: str
    offer: dict[str, Decimal]
    min_size: int
    max_size: int
    # Nodes of the pool that pods of models never use (the system pool's floor runs the add-ons).
    reserved: int = 0


@dataclass
class Node:
    pool: str
    free: dict[str, Decimal]
    replicas: list[str] = field(default_factory=list)

    def fits(self, demand: dict[str, Decimal]) -> bool:
        return all(self.free.get(resource, _ZERO) >= amount for resource, amount in demand.items())

    def room(self, demand: dict[str, Decimal], wanted: int) -> int:
        """How many of ``wanted`` replicas asking ``demand`` fit here now (0 if one does not)."""
        room = wanted
        for resource, amount in demand.items():
            free = self.free.get(resource, _ZERO)
            if free < amount:
                return 0
            if amount > 0:
                # Exact: Decimal's integer division of non-negative values is the floor.
                room = min(room, int(free // amount))
        return room

    def take(self, owner: str, demand: dict[str, Decimal], count: int = 1) -> None:
        for resource, amount in demand.items():
            self.free[resource] -= amount * count
        self.replicas.extend([owner] * count)

    def copy(self) -> "Node":
        return Node(self.pool, dict(self.free), list(self.replicas))


@dataclass(frozen=True)
class PoolPacking:
    """The nodes of one pool and what runs on them."""

    shape: NodeShape
    # Replicas per node, in node order; the floor's nodes first, empty ones included.
    nodes: tuple[tuple[str, ...], ...]
    used: dict[str, Decimal]

    @property
    def pool(self) -> str:
        return self.shape.pool

    @property
    def node_count(self) -> int:
        return len(self.nodes)

    def utilisation(self) -> dict[str, Decimal]:
        """Resource -> share of what the pool's nodes offer that replicas request (0-1)."""
        nodes = self.node_count - self.shape.reserved
        result = {}
        for resource, per_node in self.shape.offer.items():
            offered = per_node * nodes
            result[resource] = self.used.get(resource, Decimal(0)) / offered if offered else Decimal(0)
        return result


@dataclass(frozen=True)
class Unplaced:
    owner: str
    reason: str


@dataclass(frozen=True)
class Packing:
    stack: str
    state: str
    pools: tuple[PoolPacking, ...]
    unplaced: tuple[Unplaced, ...]

    def pool(self, name: str) -> PoolPacking:
        return next(p for p in self.pools if p.pool == name)


def node_shapes(stack: Stack) -> dict[str, NodeShape]:
    """Pool name -> the node its pool adds, for every pool of the stack."""
    settings = stack.settings
    shapes = {}
    for name, pool in sorted(settings.node_pools.items()):
        instance_type = pool.instance_types[0]
        cpu, memory = allocatable(instance_type)
        offer = {CPU: cpu, MEMORY: memory}
        offer.update({resource: Decimal(count) for resource, count in gpu_offer(pool, settings.mig_strategy).items()})
        shapes[name] = NodeShape(
            pool=name, instance_type=instance_type, offer=offer, min_size=pool.min_size,
            max_size=pool.max_size, reserved=pool.min_size if name == SYSTEM_POOL else 0,
        )
    return shapes


def model_replica(model: DeployedModel) -> Replica:
    gpu = (model.gpu.resource, model.gpu.count) if model.gpu is not None else None
    return Replica(
        owner=f"{model.team.name}/{model.name}",
        cpu=cpu_cores(model.cpu) + SIDECAR_CPU,
        memory=memory_bytes(model.memory) + SIDECAR_MEMORY,
        gpu=gpu,
        pools=model.node_pools,
    )


def replicas_of(deployment: StackDeployment, state: State) -> list[Replica]:
    """Every replica running in ``state``: minimum replicas (always-on) or maximum (peak), for each
    revision a model keeps (two while a canary runs)."""
    replicas = []
    for model in deployment.models:
        count = model.min_replicas if state == "always-on" else model.max_replicas
        replicas += [model_replica(model)] * (count * model.revisions_at_floor)
    return replicas


def _size_key(replica: Replica, shapes: dict[str, NodeShape]) -> tuple:
    shape = shapes[replica.pools[0]] if replica.pools and replica.pools[0] in shapes else None
    if shape is None:
        return (Decimal(0), replica.owner)
    shares = [amount / shape.offer[r] if shape.offer.get(r) else Decimal(1)
              for r, amount in replica.demand().items()]
    return (-max(shares), -replica.cpu, -replica.memory, replica.owner)


def open_floor(shapes: dict[str, NodeShape]) -> dict[str, list[Node]]:
    """Every pool with its ``min_size`` nodes, empty (the system pool's floor full: add-ons)."""
    nodes = {}
    for name, shape in shapes.items():
        free = {r: Decimal(0) for r in shape.offer} if shape.reserved else dict(shape.offer)
        nodes[name] = [Node(name, dict(free)) for _ in range(shape.min_size)]
    return nodes


def place(replicas: Iterable[Replica], shapes: dict[str, NodeShape], nodes: dict[str, list[Node]]) -> list[Unplaced]:
    """Put ``replicas`` (largest first) onto ``nodes``, opening nodes as the autoscaler would."""
    return Placer(shapes).place(replicas, nodes)


class Placer:
    """First-fit decreasing onto the pools of ``shapes``; one per stack, so that what each replica
    asks for is worked out once however many packings (the cost's draws) it takes part in."""

    def __init__(self, shapes: dict[str, NodeShape]) -> None:
        self.shapes = shapes
        # id(replica) -> (replica, its sort key, its demand, its class); the replica is kept so
        # that its id is not reused while the entry lives.
        self._known: dict[int, tuple[Replica, tuple, dict[str, Decimal], tuple]] = {}

    def _about(self, replica: Replica) -> tuple[Replica, tuple, dict[str, Decimal], tuple]:
        known = self._known.get(id(replica))
        if known is None:
            demand = replica.demand()
            known = (replica, _size_key(replica, self.shapes), demand, (replica.pools, tuple(demand.items())))
            self._known[id(replica)] = known
        return known

    def place(self, replicas: Iterable[Replica], nodes: dict[str, list[Node]]) -> list[Unplaced]:
        """Put ``replicas`` (largest first) onto ``nodes``, opening nodes as the autoscaler would."""
        unplaced: list[Unplaced] = []
        # Demand class -> per pool of the class, the index of the first node that may still fit.
        starts: dict[tuple, list[int]] = {}
        # Demand class -> why it fitted nowhere (it never will: no room is freed, no node removed).
        failed: dict[tuple, str] = {}
        known = [self._about(replica) for replica in replicas]
        known.sort(key=_by_size)
        for (replica, _, demand, kind), count in _runs(known):
            reason = failed.get(kind)
            if reason is None:
                count, reason = self._place_run(replica, count, demand, starts.setdefault(kind, [0] * len(replica.pools)), nodes)
            if count:
                failed[kind] = reason
                unplaced += [Unplaced(replica.owner, reason)] * count
        return unplaced

    def _place_run(self, replica: Replica, count: int, demand: dict[str, Decimal], starts: list[int],
                   nodes: dict[str, list[Node]]) -> tuple[int, str]:
        """Place ``count`` replicas of ``replica`` one after the other, as first-fit would: how
        many found no node, and why."""
        while count:
            target, room = None, 0
            for position, pool in enumerate(replica.pools):
                pool_nodes = nodes.get(pool, ())
                index = starts[position]
                while index < len(pool_nodes):
                    room = pool_nodes[index].room(demand, count)
                    if room:
                        break
                    index += 1
                starts[position] = index
                if room:
                    target = pool_nodes[index]
                    break
            if target is None:
                target, reason = _new_node(replica, demand, self.shapes, nodes)
                if target is None:
                    return count, reason
                room = target.room(demand, count)
            target.take(replica.owner, demand, room)
            count -= room
        return 0, ""


def _by_size(known: tuple) -> tuple:
    return known[1]


def _runs(known: list[tuple]) -> list[tuple[tuple, int]]:
    """Consecutive repeats of one replica object (its ``Placer._about`` entry), counted."""
    runs: list[tuple[tuple, int]] = []
    for entry in known:
        if runs and runs[-1][0] is entry:
            runs[-1] = (entry, runs[-1][1] + 1)
        else:
            runs.append((entry, 1))
    return runs


def _new_node(replica: Replica, demand: dict[str, Decimal], shapes: dict[str, NodeShape],
              nodes: dict[str, list[Node]]) -> tuple[Node | None, str]:
    reasons = []
    for pool in replica.pools:
        shape = shapes[pool]
        empty = Node(pool, dict(shape.offer))
        if not empty.fits(demand):
            reasons.append(f"larger than a {shape.instance_type} node of pool {pool} ({_describe(shape.offer)} free)")
            continue
        if len(nodes[pool]) >= shape.max_size:
            reasons.append(f"pool {pool} is at its max_size of {shape.max_size} nodes")
            continue
        nodes[pool].append(empty)
        return empty, ""
    return None, "; ".join(reasons) or "no node pool"


def _describe(amounts: dict[str, Decimal]) -> str:
    parts = [f"{format_cpu(amounts[CPU])} CPU", f"{format_memory(amounts[MEMORY])} memory"]
    parts += [f"{int(amount)} {resource}" for resource, amount in sorted(amounts.items()) if resource not in (CPU, MEMORY)]
    return ", ".join(parts)


def freeze(stack: Stack, state: str, shapes: dict[str, NodeShape], nodes: dict[str, list[Node]],
           unplaced: list[Unplaced]) -> Packing:
    pools = []
    for name, shape in shapes.items():
        used: dict[str, Decimal] = {}
        for index, node in enumerate(nodes[name]):
            for resource, per_node in shape.offer.items():
                start = Decimal(0) if index < shape.reserved else per_node
                used[resource] = used.get(resource, Decimal(0)) + start - node.free[resource]
        pools.append(PoolPacking(shape, tuple(tuple(node.replicas) for node in nodes[name]), used))
    return Packing(stack.name, state, tuple(pools), tuple(unplaced))


def pack_replicas(stack: Stack, replicas: Iterable[Replica], state: str = "custom") -> Packing:
    """The packing of any set of replicas on the stack's pools."""
    shapes = node_shapes(stack)
    nodes = open_floor(shapes)
    unplaced = place(replicas, shapes, nodes)
    return freeze(stack, state, shapes, nodes, unplaced)


def pack_stack(deployment: StackDeployment, state: State) -> Packing:
    """The stack's replicas at minimum (``always-on``) or maximum (``peak``) replicas, packed."""
    return pack_replicas(deployment.stack, replicas_of(deployment, state), state)


def format_packing(packings: list[Packing], markdown: bool = False) -> str:
    """Nodes per pool, utilisation per resource, and what does not fit, for each state."""
    lines = []
    if markdown:
        lines += ["| state | pool | nodes (min-max) | CPU | memory | GPU / MIG |", "|---|---|---|---|---|---|"]
    for packing in packings:
        if not markdown:
            lines.append(f"Packing at {packing.state} replicas:")
        for pool in packing.pools:
            used = pool.utilisation()
            gpu = ", ".join(f"{resource} {used[resource]:.0%}" for resource in sorted(used) if resource not in (CPU, MEMORY))
            nodes = f"{pool.node_count} x {pool.shape.instance_type} ({pool.shape.min_size}-{pool.shape.max_size})"
            if markdown:
                lines.append(f"| {packing.state} | {pool.pool} | {nodes} | {used[CPU]:.0%} | {used[MEMORY]:.0%} | {gpu or '-'} |")
            else:
                lines.append(f"  {pool.pool}: {nodes}; CPU {used[CPU]:.0%}, memory {used[MEMORY]:.0%}"
                             + (f", {gpu}" if gpu else "") + " requested")
        for item in packing.unplaced:
            text = f"does not fit at {packing.state} replicas: {item.owner}: {item.reason}"
            lines.append(("- " if markdown else "  ") + text)
    return "\n".join(lines) + "\n"

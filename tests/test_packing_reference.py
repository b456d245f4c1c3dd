"""The fast packer against the plain first-fit decreasing it replaces: the same nodes, every replica
on the same node in the same order, the same free room to the digit, the same replicas left over
with the same reasons, on random catalogs; and the work it does grows with the replicas, not with
replicas times nodes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from components.review import packing
from components.review.packing import Node, NodeShape, Placer, Replica, Unplaced, freeze, open_floor, place

GIB = 2**30
GPU = "nvidia.com/gpu"
SHARED = "nvidia.com/gpu.shared"
MIG_SMALL = "nvidia.com/mig-1g.10gb"
MIG_LARGE = "nvidia.com/mig-3g.40gb"


def reference_place(replicas, shapes: dict[str, NodeShape], nodes: dict[str, list[Node]]) -> list[Unplaced]:
    """First-fit decreasing as first written: every open node of the replica's pools tried in
    order for every replica, else a new node of the first pool that can give one."""
    def fits(free, demand):
        return all(free.get(resource, Decimal(0)) >= amount for resource, amount in demand.items())

    unplaced = []
    for replica in sorted(replicas, key=lambda r: packing._size_key(r, shapes)):
        demand = replica.demand()
        target = next((node for pool in replica.pools for node in nodes.get(pool, ()) if fits(node.free, demand)), None)
        if target is None:
            reasons = []
            for pool in replica.pools:
                shape = shapes[pool]
                if not fits(shape.offer, demand):
                    reasons.append(f"larger than a {shape.instance_type} node of pool {pool} "
                                   f"({packing._describe(shape.offer)} free)")
                elif len(nodes[pool]) >= shape.max_size:
                    reasons.append(f"pool {pool} is at its max_size of {shape.max_size} nodes")
                else:
                    target = Node(pool, dict(shape.offer))
                    nodes[pool].append(target)
                    break
            if target is None:
                unplaced.append(Unplaced(replica.owner, "; ".join(reasons) or "no node pool"))
                continue
        for resource, amount in demand.items():
            target.free[resource] -= amount
        target.replicas.append(replica.owner)
    return unplaced


CPUS = [Decimal(text) for text in ("0.1", "0.25", "0.625", "1", "1.125", "1.5", "2", "3.3", "7.5", "15.5")]
MEMORIES = [n * 2**20 for n in (128, 640, 1000, 1536)] + [n * GIB for n in (1, 2, 3, 6, 14, 30)]


def random_shapes(rng: random.Random) -> dict[str, NodeShape]:
    """A system pool with its reserved floor, CPU pools, and GPU pools of whole GPUs, time-sliced
    shares or MIG slices (one or two profiles)."""
    floor = rng.randint(1, 2)
    shapes = {"system": NodeShape("system", "m6i.large", {"cpu": Decimal("1.5"), "memory": Decimal(6656 * 2**20)},
                                  min_size=floor, max_size=floor + rng.randint(0, 3), reserved=floor)}
    for index in range(rng.randint(1, 4)):
        name = f"pool{index}"
        offer = {"cpu": rng.choice([Decimal("3.5"), Decimal("7.5"), Decimal("15.5"), Decimal("31.5")]),
                 "memory": Decimal(rng.choice([14, 30, 62, 126]) * GIB - 1536 * 2**20)}
        kind = rng.choice(["cpu", "gpu", "shared", "mig", "mig-mixed"])
        if kind == "gpu":
            offer[GPU] = Decimal(rng.choice([1, 4, 8]))
        elif kind == "shared":
            offer[SHARED] = Decimal(rng.choice([4, 10, 16]))
        elif kind == "mig":
            offer[MIG_SMALL] = Decimal(rng.choice([7, 14, 56]))
        elif kind == "mig-mixed":
            offer.update({MIG_SMALL: Decimal(16), MIG_LARGE: Decimal(8)})
        min_size = rng.randint(0, 2)
        shapes[name] = NodeShape(name, f"type{index}", offer, min_size=min_size, max_size=min_size + rng.randint(0, 8))
    return dict(sorted(shapes.items()))


def random_replicas(rng: random.Random, shapes: dict[str, NodeShape]) -> list[Replica]:
    """Models of random sizes, each repeated (its replicas, as ``replicas_of`` lists them), on
    pools its selector allows (GPU models on GPU pools, mostly), shuffled. Some ask for more than
    any node has, some for nothing a pool offers, some have no pool; a few owners are repeated with
    another request, and a few replicas are equal objects rather than the same one."""
    pools = [name for name in shapes if name != "system"]
    gpu_pools = {resource: [p for p in pools if resource in shapes[p].offer] for resource in (GPU, SHARED, MIG_SMALL, MIG_LARGE)}
    replicas = []
    for index in range(rng.randint(1, 60)):
        owner = f"team{rng.randint(0, 3)}/model-{index if rng.random() > 0.1 else 0}"
        gpu = None
        allowed = pools + ["system"]
        if rng.random() < 0.4:
            resource = rng.choice([GPU, SHARED, MIG_SMALL, MIG_LARGE])
            gpu = (resource, rng.choice([1, 1, 2, 3, 8]))
            allowed = gpu_pools[resource] or pools
        chosen = tuple(rng.sample(allowed, k=min(len(allowed), rng.randint(0 if rng.random() < 0.03 else 1, 3))))
        cpu = rng.choice(CPUS) * (rng.choice([1, 1, 1, 10]))
        replica = Replica(owner, cpu, Decimal(rng.choice(MEMORIES)), gpu, chosen)
        copies = rng.choice([1, 1, 2, 3, 5, 12, 40])
        replicas += [replica] * copies
        if rng.random() < 0.1:
            replicas += [Replica(owner, cpu, replica.memory, gpu, chosen) for _ in range(copies)]
    rng.shuffle(replicas)
    return replicas


def snapshot(nodes: dict[str, list[Node]]) -> dict:
    """Every node: its replicas in order and its free room, exponent and all (``str``)."""
    return {pool: [(node.pool, list(node.replicas), {r: str(v) for r, v in node.free.items()}) for node in pool_nodes]
            for pool, pool_nodes in nodes.items()}


def copy_nodes(nodes: dict[str, list[Node]]) -> dict[str, list[Node]]:
    return {pool: [node.copy() for node in pool_nodes] for pool, pool_nodes in nodes.items()}


@pytest.mark.parametrize("seed", range(300))
def test_same_assignment_as_plain_first_fit(seed):
    rng = random.Random(seed)
    shapes = random_shapes(rng)
    replicas = random_replicas(rng, shapes)
    fast_nodes, plain_nodes = open_floor(shapes), open_floor(shapes)
    fast_unplaced = place(replicas, shapes, fast_nodes)
    plain_unplaced = reference_place(replicas, shapes, plain_nodes)
    assert snapshot(fast_nodes) == snapshot(plain_nodes)
    assert fast_unplaced == plain_unplaced
    assert freeze_of(shapes, fast_nodes, fast_unplaced) == freeze_of(shapes, plain_nodes, plain_unplaced)

    # The cost's draws: more replicas onto copies of a packing, one placer for all of them.
    placer = Placer(shapes)
    for _ in range(3):
        extra = rng.sample(replicas, k=rng.randint(0, len(replicas)))
        fast_more, plain_more = copy_nodes(fast_nodes), copy_nodes(plain_nodes)
        assert placer.place(extra, fast_more) == reference_place(extra, shapes, plain_more)
        assert snapshot(fast_more) == snapshot(plain_more)


def freeze_of(shapes, nodes, unplaced):
    stack = type("Stack", (), {"name": "test"})()
    return freeze(stack, "custom", shapes, nodes, unplaced)


def test_the_scenarios_reach_every_case():
    """The random catalogs above are worth comparing on: nodes are opened, replicas share nodes,
    runs fill several nodes, and replicas are left over for each kind of reason."""
    reasons, shared, opened = set(), 0, 0
    for seed in range(300):
        rng = random.Random(seed)
        shapes = random_shapes(rng)
        nodes = open_floor(shapes)
        unplaced = reference_place(random_replicas(rng, shapes), shapes, nodes)
        reasons |= {reason.split(" ")[0] + (" max_size" if "max_size" in reason else "") for reason in
                    (item.reason for item in unplaced)}
        shared += sum(len(set(node.replicas)) > 1 for pool_nodes in nodes.values() for node in pool_nodes)
        opened += sum(len(pool_nodes) - shapes[pool].min_size for pool, pool_nodes in nodes.items())
    assert {"larger", "pool max_size", "no"} <= reasons
    assert shared > 100 and opened > 300


def test_work_grows_with_the_replicas_not_their_square(monkeypatch):
    """4,000 replicas of one model, one to a node, on a pool of 4,000 nodes: plain first-fit tries
    about 8 million nodes; the packer tries each node about twice."""
    checks = 0
    room = Node.room

    def counted(self, demand, wanted):
        nonlocal checks
        checks += 1
        return room(self, demand, wanted)

    monkeypatch.setattr(Node, "room", counted)
    shapes = {"big": NodeShape("big", "type", {"cpu": Decimal("3.5"), "memory": Decimal(14 * GIB)}, 0, 4000)}
    replicas = [Replica(f"team/model-{i % 7}", Decimal(2), Decimal(GIB), None, ("big",)) for i in range(4000)]
    nodes = open_floor(shapes)
    assert place(replicas, shapes, nodes) == []
    assert len(nodes["big"]) == 4000
    assert checks <= 2 * 4000 + 7

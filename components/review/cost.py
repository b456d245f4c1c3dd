"""``modelplane cost``: what a stack costs a month, from the node-hours its pools run, and what
the same catalog would cost served the classic way (one model per pod).

The estimate, per pool (``components.review.packing`` places the replicas):

* the pool's ``min_size`` nodes are paid all month (730 hours), used or not;
* the always-on replicas (``min_replicas``, doubled while a canary runs) are packed onto nodes; a
  pool runs at least that many nodes all month;
* a scale-to-zero model runs one replica (per revision) for its active hours
  (``usage.active_hours_per_day``, or the stack's ``cost.default_active_hours_per_day``); while it
  runs it fills the free room of the running nodes or wakes new ones. Which models are active
  together follows ``cost.scale_to_zero_overlap``: ``independent`` (default) takes each model as
  active at uniformly random hours independently of the others, a share ``hours / 24`` of the
  time, and averages the packed node count over which of them are active (exactly, up to
  ``EXACT_UP_TO`` such models in the stack, else over ``SAMPLES`` draws, each model with its own
  seeded stream so adding one does not reshuffle the rest); ``apart`` takes them as never active
  together, so each wakes its nodes alone;
* nodes cost their instance type's hourly price (the pool's first type, which cluster-autoscaler
  adds), spot pools at ``spot_price_ratio`` of on-demand.

Per model, the table shows its share of the nodes it runs on (the largest of its CPU, memory and
GPU share; a MIG slice is its compute slices out of 7 of one GPU) for the hours it runs; what the
pool costs beyond those shares (floors, the room replicas leave, woken nodes' spare room) is the
pool's idle cost. Every replica start downloads the model's artifacts (``usage.model_size_gib``,
or ``cost.default_model_size_gib``): always-on replicas once a month, scale-to-zero models at each
of their ``cost.wakes_per_day``. From S3 that traffic takes the VPC's S3 gateway endpoint (free);
from elsewhere (``hf://``, ``oci://``) it pays the NAT gateway's data processing.

The shared platform adds one load balancer for the gateway. The system pool's floor (the add-ons),
the EKS control plane, the NAT gateways' hours and the S3 endpoint are the same either way and are
reported separately.

The classic comparison serves each model the way the seed practice does: its always-on replicas
(at least one) all month, a CPU replica at its share of the cheapest node it may run on, a GPU
replica on a node of its own (the cheapest instance type with its GPU model, a whole GPU for a MIG
slice), a load balancer per model and a monitoring stack per team (``CLASSIC_MONITORING_NODE``).
"""

from __future__ import annotations

import functools
import itertools
import random
import zlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import yaml

from components.catalog.deployed import DeployedModel, StackDeployment
from components.catalog.hardware import GPU_MODELS, INSTANCE_TYPES, MIG_COMPUTE_SLICES
from components.catalog.placement import SHARED_GPU_RESOURCE, SIDECAR_CPU, SIDECAR_MEMORY, WHOLE_GPU_RESOURCE
from components.catalog.problems import Problem
from components.catalog.quantities import cpu_cores, memory_bytes
from components.catalog.stack_settings import SYSTEM_POOL
from components.catalog.stacks import Stack
from components.review.packing import (
    Node,
    Placer,
    Replica,
    model_replica,
    node_shapes,
    Packing,
    format_packing,
    open_floor,
    pack_stack,
    replicas_of,
)

HOURS_PER_MONTH = Decimal(730)
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
_CENT = Decimal(1) / 100
# Up to this many scale-to-zero models, every combination of active ones is weighed exactly.
EXACT_UP_TO = 10
SAMPLES = 400
# Always-on replicas restart about once a month (node replacement, AMI updates) and download then.
ALWAYS_ON_STARTS_PER_MONTH = 1
# One model per pod, as the seeds run it: each team keeps its own Prometheus and Grafana, about
# one small node's worth, all month.
CLASSIC_MONITORING_NODE = "m6i.large"
GIB_PER_GB = Decimal(2**30) / Decimal(10**9)


@dataclass(frozen=True)
class PriceTable:
    date: str
    source: str
    instances: dict[str, Decimal]
    fixed: dict[str, Decimal]


@functools.lru_cache(maxsize=1)
def bundled_prices() -> PriceTable:
    text = resources.files("components").joinpath("data/aws_prices.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return PriceTable(
        date=str(data["date"]),
        source=" ".join(str(data["source"]).split()),
        instances={name: Decimal(str(price)) for name, price in data["instances"].items()},
        fixed={name: Decimal(str(price)) for name, price in data["fixed"].items()},
    )


def money(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ModelCost:
    team: str
    model: str
    pool: str
    instance_type: str
    # The share of one node a replica takes, and that share's price per hour.
    node_share: Decimal
    replica_hourly: Decimal
    always_on_replicas: int
    active_hours_per_day: Decimal
    # Node time (its share) plus NAT data processing for its downloads.
    monthly: Decimal
    classic_monthly: Decimal
    download_monthly: Decimal = Decimal(0)


@dataclass(frozen=True)
class PoolCost:
    """One pool's node-hours and what they cost."""

    pool: str
    instance_type: str
    capacity_type: str
    node_hourly: Decimal
    min_size: int
    # Nodes running all month (floor and always-on packing), and on average (with woken nodes).
    always_on_nodes: int
    average_nodes: Decimal
    monthly: Decimal
    # The part paid either way (the system pool's floor), reported with the platform.
    platform_monthly: Decimal
    # The models' shares of the pool's nodes.
    attributed_monthly: Decimal

    @property
    def serving_monthly(self) -> Decimal:
        return self.monthly - self.platform_monthly

    @property
    def idle_monthly(self) -> Decimal:
        """Floors, fragmentation and woken nodes' spare room: paid, used by no model."""
        return self.serving_monthly - self.attributed_monthly


@dataclass(frozen=True)
class CostReport:
    stack: str
    prices_date: str
    models: tuple[ModelCost, ...]
    gateway_monthly: Decimal
    platform: dict[str, Decimal]
    problems: tuple[Problem, ...] = field(default=())
    pools: tuple[PoolCost, ...] = ()
    # Per team, what the classic way spends beside its models (monitoring).
    classic_teams: dict[str, Decimal] = field(default_factory=dict)
    overlap: str = "independent"
    # The replicas packed at minimum and at maximum replicas (nodes, utilisation, what does not fit).
    packings: tuple[Packing, ...] = ()

    @property
    def serving_monthly(self) -> Decimal:
        """Node-hours of the pools (beyond the system floor), downloads and the shared gateway:
        what the comparison compares."""
        nodes = sum((p.serving_monthly for p in self.pools), Decimal(0))
        downloads = sum((m.download_monthly for m in self.models), Decimal(0))
        return nodes + downloads + self.gateway_monthly

    @property
    def classic_monthly(self) -> Decimal:
        return sum((m.classic_monthly for m in self.models), Decimal(0)) + sum(self.classic_teams.values(), Decimal(0))

    @property
    def savings_ratio(self) -> Decimal:
        if not self.classic_monthly:
            return Decimal(0)
        return 1 - self.serving_monthly / self.classic_monthly

    @property
    def platform_monthly(self) -> Decimal:
        return sum(self.platform.values(), Decimal(0))

    @property
    def total_monthly(self) -> Decimal:
        return self.serving_monthly + self.platform_monthly

    def by_team(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for model in self.models:
            totals[model.team] = totals.get(model.team, Decimal(0)) + model.monthly
        return dict(sorted(totals.items()))


def _hourly_price(stack: Stack, instance_type: str, capacity_type: str, prices: PriceTable) -> Decimal | None:
    override = stack.settings.cost.prices.get(instance_type)
    price = Decimal(str(override)) if override is not None else prices.instances.get(instance_type)
    if price is None:
        return None
    if capacity_type == "spot":
        price *= Decimal(str(stack.settings.cost.spot_price_ratio))
    return price


def _gpu_share(model: DeployedModel, gpus_per_node: int) -> Decimal:
    if model.gpu is None or gpus_per_node == 0:
        return Decimal(0)
    spec_gpu = model.spec.gpu
    if spec_gpu is not None and spec_gpu.mig is not None:
        gpu_model = next(m for m in GPU_MODELS.values() if spec_gpu.mig in m.mig_profiles)
        slices = gpu_model.mig_profiles[spec_gpu.mig].compute_slices
        return Decimal(slices) / MIG_COMPUTE_SLICES / gpus_per_node
    if model.gpu.resource == SHARED_GPU_RESOURCE:
        # A share of a time-sliced GPU: the pool's pods take turns on it.
        return Decimal(model.gpu.count) / model.gpu.shares_per_gpu / gpus_per_node
    assert model.gpu.resource == WHOLE_GPU_RESOURCE
    return Decimal(model.gpu.count) / gpus_per_node


def _node_share(model: DeployedModel, instance_type: str) -> Decimal:
    instance = INSTANCE_TYPES[instance_type]
    return max(
        (cpu_cores(model.cpu) + SIDECAR_CPU) / instance.vcpu,
        (memory_bytes(model.memory) + SIDECAR_MEMORY) / (Decimal(instance.memory_gib) * 2**30),
        _gpu_share(model, instance.gpu_count),
    )


def active_hours(model: DeployedModel, stack: Stack) -> Decimal:
    """Hours a day a scale-to-zero model serves (0 for an always-on one: it is priced all month)."""
    if model.min_replicas > 0:
        return Decimal(0)
    usage = model.spec.usage
    hours = usage.active_hours_per_day if usage and usage.active_hours_per_day is not None else None
    return Decimal(str(hours if hours is not None else stack.settings.cost.default_active_hours_per_day))


def _node_counts(nodes: dict[str, list[Node]]) -> dict[str, int]:
    return {pool: len(pool_nodes) for pool, pool_nodes in nodes.items()}


def _with_active(placer: Placer, base: dict[str, list[Node]], replicas: list[Replica]) -> dict[str, int]:
    nodes = {pool: [node.copy() for node in pool_nodes] for pool, pool_nodes in base.items()}
    placer.place(replicas, nodes)
    return _node_counts(nodes)


def average_nodes(deployment: StackDeployment) -> tuple[dict[str, int], dict[str, Decimal]]:
    """Per pool: nodes running all month, and nodes running on average once scale-to-zero models
    wake (see the module docstring for the overlap assumption)."""
    stack = deployment.stack
    shapes = node_shapes(stack)
    # One placer for the always-on packing and every draw: each replica's demand is read once.
    placer = Placer(shapes)
    base = open_floor(shapes)
    placer.place(replicas_of(deployment, "always-on"), base)
    always = _node_counts(base)
    sleepers = [
        (model_replica(model), model.revisions_at_floor, active_hours(model, stack) / 24)
        for model in deployment.models
        if model.min_replicas == 0 and model.max_replicas > 0
    ]
    sleepers = [item for item in sleepers if item[2] > 0]
    average = {pool: Decimal(count) for pool, count in always.items()}
    if not sleepers:
        return always, average

    def add(counts: dict[str, int], weight: Decimal) -> None:
        for pool, count in counts.items():
            average[pool] += weight * (count - always[pool])

    if stack.settings.cost.scale_to_zero_overlap == "apart":
        for replica, revisions, share in sleepers:
            add(_with_active(placer, base, [replica] * revisions), share)
        return always, average
    if len(sleepers) <= EXACT_UP_TO:
        for pattern in itertools.product((False, True), repeat=len(sleepers)):
            weight = Decimal(1)
            for on, (_, _, share) in zip(pattern, sleepers):
                weight *= share if on else 1 - share
            if weight:
                active = [r for on, (replica, revisions, _) in zip(pattern, sleepers) if on for r in [replica] * revisions]
                add(_with_active(placer, base, active), weight)
        return always, average
    streams = [random.Random(zlib.crc32(replica.owner.encode())) for replica, _, _ in sleepers]
    draws = [_draws(stream, share) for stream, (_, _, share) in zip(streams, sleepers)]
    for sample in range(SAMPLES):
        active = [r for (replica, revisions, _), on in zip(sleepers, draws) if on[sample] for r in [replica] * revisions]
        add(_with_active(placer, base, active), Decimal(1) / SAMPLES)
    return always, average


def _draws(stream: random.Random, share: Decimal) -> list[bool]:
    """``SAMPLES`` draws of ``stream.random() < share``, exactly, without comparing each float with
    a Decimal (slow): ``float(share)`` is the double nearest ``share``, so any other double is on
    the same side of both, and only a draw equal to it needs the exact comparison."""
    threshold = float(share)
    return [draw < threshold or (draw == threshold and draw < share)
            for draw in (stream.random() for _ in range(SAMPLES))]


def _downloads_per_month(model: DeployedModel, stack: Stack) -> Decimal:
    starts = Decimal(model.min_replicas * model.revisions_at_floor * ALWAYS_ON_STARTS_PER_MONTH)
    if model.min_replicas == 0 and active_hours(model, stack) > 0:
        starts += Decimal(str(stack.settings.cost.wakes_per_day)) * DAYS_PER_MONTH * model.revisions_at_floor
    return starts


def _download_gib(model: DeployedModel, stack: Stack) -> Decimal:
    usage = model.spec.usage
    size = usage.model_size_gib if usage and usage.model_size_gib is not None else None
    return Decimal(str(size if size is not None else stack.settings.cost.default_model_size_gib))


def _through_nat(storage_uri: str) -> bool:
    """S3 downloads take the VPC's S3 gateway endpoint; PVCs are in the cluster; the rest pays NAT."""
    return not storage_uri.startswith(("s3://", "pvc://"))


def _classic_gpu_node(model: DeployedModel, stack: Stack, capacity_type: str, prices: PriceTable) -> Decimal | None:
    """The hourly price of the cheapest node with the model's GPU model and enough GPUs."""
    pool = stack.settings.node_pools[model.node_pools[0]]
    assert pool.gpu is not None and model.spec.gpu is not None
    needed = model.spec.gpu.count or 1
    options = [
        price for instance in INSTANCE_TYPES.values()
        if instance.gpu_model == pool.gpu.model and instance.gpu_count >= needed
        and (price := _hourly_price(stack, instance.name, capacity_type, prices)) is not None
    ]
    return min(options, default=None)


def estimate_cost(deployment: StackDeployment, prices: PriceTable | None = None) -> CostReport:
    prices = prices or bundled_prices()
    stack = deployment.stack
    settings = stack.settings
    problems: list[Problem] = []
    missing: set[str] = set()

    def price_of(instance_type: str, capacity_type: str) -> Decimal | None:
        hourly = _hourly_price(stack, instance_type, capacity_type, prices)
        if hourly is None:
            missing.add(instance_type)
        return hourly

    always, average = average_nodes(deployment)
    pool_hourly = {
        name: price_of(pool.instance_types[0], pool.capacity_type) for name, pool in sorted(settings.node_pools.items())
    }
    nat_price = prices.fixed["nat_data_processing_per_gb"]
    models = []
    attributed: dict[str, Decimal] = {}
    for model in deployment.models:
        if not model.node_pools:
            continue
        pool_name = model.node_pools[0]
        pool = settings.node_pools[pool_name]
        instance_type = pool.instance_types[0]
        hourly = pool_hourly[pool_name]
        if hourly is None:
            continue
        share = _node_share(model, instance_type)
        replica_hourly = share * hourly
        always_on = model.min_replicas * model.revisions_at_floor
        hours = active_hours(model, stack)
        node_monthly = replica_hourly * (always_on * HOURS_PER_MONTH + hours * DAYS_PER_MONTH * model.revisions_at_floor)
        attributed[pool_name] = attributed.get(pool_name, Decimal(0)) + node_monthly
        downloads = Decimal(0)
        if _through_nat(model.spec.storage_uri):
            downloads = _downloads_per_month(model, stack) * _download_gib(model, stack) * GIB_PER_GB * nat_price
        # One model per pod: its always-on replicas (at least one), a node each for GPU models.
        classic_replicas = max(1, always_on)
        if model.gpu is None:
            cheapest = min(
                (share_price for name in model.node_pools for t in settings.node_pools[name].instance_types
                 if (p := price_of(t, settings.node_pools[name].capacity_type)) is not None
                 for share_price in [_node_share(model, t) * p]),
                default=replica_hourly,
            )
            classic_hourly = cheapest
        else:
            classic_hourly = _classic_gpu_node(model, stack, pool.capacity_type, prices) or hourly
        classic = (classic_hourly * classic_replicas + prices.fixed["load_balancer"]) * HOURS_PER_MONTH
        models.append(ModelCost(
            team=model.team.name, model=model.name, pool=pool_name, instance_type=instance_type,
            node_share=share, replica_hourly=replica_hourly, always_on_replicas=always_on,
            active_hours_per_day=hours, monthly=node_monthly + downloads, classic_monthly=classic,
            download_monthly=downloads,
        ))
    pools = []
    system_floor = Decimal(0)
    for name, pool in sorted(settings.node_pools.items()):
        hourly = pool_hourly[name]
        if hourly is None:
            continue
        monthly = average[name] * hourly * HOURS_PER_MONTH
        floor = hourly * pool.min_size * HOURS_PER_MONTH if name == SYSTEM_POOL else Decimal(0)
        system_floor += floor
        pools.append(PoolCost(
            pool=name, instance_type=pool.instance_types[0], capacity_type=pool.capacity_type,
            node_hourly=hourly, min_size=pool.min_size, always_on_nodes=always[name],
            average_nodes=average[name], monthly=monthly, platform_monthly=floor,
            attributed_monthly=attributed.get(name, Decimal(0)),
        ))
    monitoring = price_of(CLASSIC_MONITORING_NODE, "on_demand") or Decimal(0)
    classic_teams = {team.name: monitoring * HOURS_PER_MONTH for team in deployment.teams
                     if deployment.models_of(team)}
    for instance_type in sorted(missing):
        problems.append(Problem(
            stack.source, f"modelplane:cost.prices.{instance_type}",
            f"no price for {instance_type} in the bundled table ({prices.date}); add its on-demand "
            "USD per hour there",
        ))
    system = settings.node_pools[SYSTEM_POOL]
    nat_gateways = len(settings.availability_zones) if settings.cluster.nat_gateways == "per_az" else 1
    platform = {
        "EKS control plane": prices.fixed["eks_control_plane"] * HOURS_PER_MONTH,
        f"NAT gateways ({nat_gateways})": prices.fixed["nat_gateway"] * nat_gateways * HOURS_PER_MONTH,
        "S3 gateway endpoint": prices.fixed["s3_gateway_endpoint"] * HOURS_PER_MONTH,
        f"system pool floor ({system.min_size} x {system.instance_types[0]})": system_floor,
    }
    return CostReport(
        stack=stack.name,
        prices_date=prices.date,
        models=tuple(models),
        gateway_monthly=prices.fixed["load_balancer"] * HOURS_PER_MONTH,
        platform=platform,
        problems=tuple(problems),
        pools=tuple(pools),
        classic_teams=classic_teams,
        overlap=settings.cost.scale_to_zero_overlap,
        packings=(pack_stack(deployment, "always-on"), pack_stack(deployment, "peak")),
    )


def packing_as_dict(packing: Packing) -> dict[str, Any]:
    return {
        "state": packing.state,
        "pools": [
            {
                "pool": pool.pool,
                "instance_type": pool.shape.instance_type,
                "nodes": pool.node_count,
                "min_size": pool.shape.min_size,
                "max_size": pool.shape.max_size,
                "utilisation": {resource: float(round(share, 4)) for resource, share in sorted(pool.utilisation().items())},
            }
            for pool in packing.pools
        ],
        "unplaced": [{"replica": item.owner, "reason": item.reason} for item in packing.unplaced],
    }


def cost_as_dict(report: CostReport) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "prices_date": report.prices_date,
        "scale_to_zero_overlap": report.overlap,
        "models": [
            {
                "team": m.team, "model": m.model, "pool": m.pool, "instance_type": m.instance_type,
                "node_share": float(round(m.node_share, 4)), "replica_hourly": float(round(m.replica_hourly, 4)),
                "always_on_replicas": m.always_on_replicas, "active_hours_per_day": float(m.active_hours_per_day),
                "monthly": float(money(m.monthly)), "download_monthly": float(money(m.download_monthly)),
                "classic_monthly": float(money(m.classic_monthly)),
            }
            for m in report.models
        ],
        "pools": [
            {
                "pool": p.pool, "instance_type": p.instance_type, "capacity_type": p.capacity_type,
                "node_hourly": float(round(p.node_hourly, 4)), "min_size": p.min_size,
                "always_on_nodes": p.always_on_nodes, "average_nodes": float(round(p.average_nodes, 3)),
                "monthly": float(money(p.monthly)), "serving_monthly": float(money(p.serving_monthly)),
                "idle_monthly": float(money(p.idle_monthly)),
            }
            for p in report.pools
        ],
        "teams": {team: float(money(amount)) for team, amount in report.by_team().items()},
        "classic_teams": {team: float(money(amount)) for team, amount in report.classic_teams.items()},
        "gateway_monthly": float(money(report.gateway_monthly)),
        "serving_monthly": float(money(report.serving_monthly)),
        "classic_monthly": float(money(report.classic_monthly)),
        "savings_ratio": float(round(report.savings_ratio, 4)),
        "platform": {name: float(money(amount)) for name, amount in report.platform.items()},
        "total_monthly": float(money(report.total_monthly)),
        "packing": [packing_as_dict(packing) for packing in report.packings],
    }


def _usd(amount: Decimal) -> str:
    return f"${money(amount):,.2f}"


def format_cost(report: CostReport, markdown: bool = False) -> str:
    """The comparison first (the headline), then pools, teams and models."""
    usd = _usd
    headline = (
        f"Serving {len(report.models)} models on the shared platform: {usd(report.serving_monthly)}/month "
        f"from node-hours; one model per pod, always on, with a namespace and load balancer each: "
        f"{usd(report.classic_monthly)}/month "
        f"({report.savings_ratio:.0%} saved)."
    )
    pool_rows = [
        (p.pool, f"{p.instance_type} ({p.capacity_type.replace('_', '-')}, {usd(p.node_hourly)}/h)",
         str(p.min_size), str(p.always_on_nodes), f"{p.average_nodes:.2f}", usd(p.serving_monthly), usd(p.idle_monthly))
        for p in report.pools
    ]
    pool_header = ("pool", "node", "floor", "always-on nodes", "average nodes", "monthly", "of it idle")
    rows = [
        (m.team, m.model, f"{m.pool} ({m.instance_type})", f"{m.node_share:.3f}",
         str(m.always_on_replicas) if m.always_on_replicas else f"0 ({m.active_hours_per_day:g} h/day)",
         usd(m.monthly), usd(m.classic_monthly))
        for m in report.models
    ]
    header = ("team", "model", "pool", "node share", "always on", "monthly", "classic")
    assumption = (
        f"Scale-to-zero models' active hours taken as {report.overlap}"
        + (" (uniformly random hours, independent of each other)" if report.overlap == "independent" else
           " (never active together)") + "; pool floors paid all month."
    )
    downloads = sum((m.download_monthly for m in report.models), Decimal(0))
    if markdown:
        lines = [f"**{headline}**", "", "| " + " | ".join(pool_header) + " |", "|" + "---|" * len(pool_header)]
        lines += ["| " + " | ".join(row) + " |" for row in pool_rows]
        lines += ["", f"Shared gateway load balancer {usd(report.gateway_monthly)}; model downloads through NAT "
                  f"{usd(downloads)}. {assumption}", ""]
        lines += ["| team | monthly |", "|---|---|"]
        lines += [f"| {team} | {usd(amount)} |" for team, amount in report.by_team().items()]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines += ["", "| platform (either way) | monthly |", "|---|---|"]
        lines += [f"| {name} | {usd(amount)} |" for name, amount in report.platform.items()]
        lines += ["", f"Total with the platform: {usd(report.total_monthly)}/month. Prices of {report.prices_date}."]
        if report.packings:
            lines += ["", "Packing (nodes per pool, share of what they offer that replicas request):", ""]
            lines.append(format_packing(list(report.packings), markdown=True).rstrip())
        return "\n".join(lines) + "\n"

    def table(head: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
        widths = [max(len(str(x)) for x in column) for column in zip(head, *body)] if body else [len(h) for h in head]
        out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip()]
        return out + ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]

    lines = [f"stack {report.stack}: {headline}", assumption, ""]
    lines += table(pool_header, pool_rows) + [""]
    lines += table(header, rows) + [""]
    lines += [f"team {team}: {usd(amount)}/month" for team, amount in report.by_team().items()]
    lines.append(f"shared gateway load balancer: {usd(report.gateway_monthly)}/month")
    lines.append(f"model downloads through NAT: {usd(downloads)}/month")
    lines += [f"platform, {name}: {usd(amount)}/month" for name, amount in report.platform.items()]
    lines.append(f"total with the platform: {usd(report.total_monthly)}/month (prices of {report.prices_date})")
    if report.packings:
        lines += ["", format_packing(list(report.packings)).rstrip()]
    return "\n".join(lines) + "\n"

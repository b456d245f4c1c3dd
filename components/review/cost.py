"""``modelplane cost``: what a stack's models cost a month, and what the same catalog would cost
served the classic way (one always-on deployment and one load balancer per model).

The estimate, per model:

* one replica costs its share of a node: the largest of its CPU, memory and GPU share (sidecars
  included; a MIG slice is its compute slices out of 7 of one GPU), times the hourly price of the
  cheapest instance type it may run on (spot pools at ``spot_price_ratio`` of on-demand);
* always-on replicas (``min_replicas``, doubled while a canary runs) cost all month (730 hours);
* a scale-to-zero model costs one replica for its active hours (``usage.active_hours_per_day``,
  or the stack's ``cost.default_active_hours_per_day``) every day;
* the shared platform adds one load balancer for the gateway.

The classic comparison serves every model with its always-on replicas, at least one, and a load
balancer of its own. Platform costs that are the same either way (EKS control plane, NAT
gateways, the system pool) are reported separately and left out of the comparison.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import yaml

from components.catalog.deployed import DeployedModel, StackDeployment
from components.catalog.placement import SIDECAR_CPU, SIDECAR_MEMORY, WHOLE_GPU_RESOURCE
from components.catalog.hardware import GPU_MODELS, INSTANCE_TYPES, MIG_COMPUTE_SLICES
from components.catalog.problems import Problem
from components.catalog.quantities import cpu_cores, memory_bytes
from components.catalog.stack_settings import SYSTEM_POOL
from components.catalog.stacks import Stack

HOURS_PER_MONTH = Decimal(730)
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
_CENT = Decimal(1) / 100


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
    monthly: Decimal
    classic_monthly: Decimal


@dataclass(frozen=True)
class CostReport:
    stack: str
    prices_date: str
    models: tuple[ModelCost, ...]
    gateway_monthly: Decimal
    platform: dict[str, Decimal]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def serving_monthly(self) -> Decimal:
        """Models plus the shared gateway: what the comparison compares."""
        return sum((m.monthly for m in self.models), Decimal(0)) + self.gateway_monthly

    @property
    def classic_monthly(self) -> Decimal:
        return sum((m.classic_monthly for m in self.models), Decimal(0))

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
    assert model.gpu.resource == WHOLE_GPU_RESOURCE
    return Decimal(model.gpu.count) / gpus_per_node


def estimate_cost(deployment: StackDeployment, prices: PriceTable | None = None) -> CostReport:
    prices = prices or bundled_prices()
    stack = deployment.stack
    settings = stack.settings
    problems: list[Problem] = []
    missing: set[str] = set()
    models = []
    for model in deployment.models:
        options = []
        for pool_name in model.node_pools:
            pool = settings.node_pools[pool_name]
            for instance_type in pool.instance_types:
                hourly = _hourly_price(stack, instance_type, pool.capacity_type, prices)
                if hourly is None:
                    missing.add(instance_type)
                    continue
                instance = INSTANCE_TYPES[instance_type]
                share = max(
                    (cpu_cores(model.cpu) + SIDECAR_CPU) / instance.vcpu,
                    (memory_bytes(model.memory) + SIDECAR_MEMORY) / (Decimal(instance.memory_gib) * 2**30),
                    _gpu_share(model, instance.gpu_count),
                )
                options.append((share * hourly, share, pool_name, instance_type))
        if not options:
            continue
        replica_hourly, share, pool_name, instance_type = min(options)
        always_on = model.min_replicas * model.revisions_at_floor
        active = Decimal(0)
        if model.min_replicas == 0:
            usage = model.spec.usage
            hours = usage.active_hours_per_day if usage else settings.cost.default_active_hours_per_day
            active = Decimal(str(hours))
        monthly = replica_hourly * (always_on * HOURS_PER_MONTH + active * DAYS_PER_MONTH)
        classic = (
            replica_hourly * max(1, always_on) * HOURS_PER_MONTH
            + prices.fixed["load_balancer"] * HOURS_PER_MONTH
        )
        models.append(ModelCost(
            team=model.team.name, model=model.name, pool=pool_name, instance_type=instance_type,
            node_share=share, replica_hourly=replica_hourly, always_on_replicas=always_on,
            active_hours_per_day=active, monthly=monthly, classic_monthly=classic,
        ))
    for instance_type in sorted(missing):
        problems.append(Problem(
            stack.source, f"modelplane:cost.prices.{instance_type}",
            f"no price for {instance_type} in the bundled table ({prices.date}); add its on-demand "
            "USD per hour there",
        ))
    system = settings.node_pools[SYSTEM_POOL]
    system_hourly = min(
        (p for t in system.instance_types if (p := _hourly_price(stack, t, system.capacity_type, prices)) is not None),
        default=Decimal(0),
    )
    nat_gateways = len(settings.availability_zones) if settings.cluster.nat_gateways == "per_az" else 1
    platform = {
        "EKS control plane": prices.fixed["eks_control_plane"] * HOURS_PER_MONTH,
        f"NAT gateways ({nat_gateways})": prices.fixed["nat_gateway"] * nat_gateways * HOURS_PER_MONTH,
        f"system pool ({system.min_size} x {system.instance_types[0]})": system_hourly * system.min_size * HOURS_PER_MONTH,
    }
    return CostReport(
        stack=stack.name,
        prices_date=prices.date,
        models=tuple(models),
        gateway_monthly=prices.fixed["load_balancer"] * HOURS_PER_MONTH,
        platform=platform,
        problems=tuple(problems),
    )


def cost_as_dict(report: CostReport) -> dict[str, Any]:
    return {
        "stack": report.stack,
        "prices_date": report.prices_date,
        "models": [
            {
                "team": m.team, "model": m.model, "pool": m.pool, "instance_type": m.instance_type,
                "node_share": float(round(m.node_share, 4)), "replica_hourly": float(round(m.replica_hourly, 4)),
                "always_on_replicas": m.always_on_replicas, "active_hours_per_day": float(m.active_hours_per_day),
                "monthly": float(money(m.monthly)), "classic_monthly": float(money(m.classic_monthly)),
            }
            for m in report.models
        ],
        "teams": {team: float(money(amount)) for team, amount in report.by_team().items()},
        "gateway_monthly": float(money(report.gateway_monthly)),
        "serving_monthly": float(money(report.serving_monthly)),
        "classic_monthly": float(money(report.classic_monthly)),
        "savings_ratio": float(round(report.savings_ratio, 4)),
        "platform": {name: float(money(amount)) for name, amount in report.platform.items()},
        "total_monthly": float(money(report.total_monthly)),
    }


def format_cost(report: CostReport, markdown: bool = False) -> str:
    """The comparison first (the headline), then teams and models."""
    def usd(amount: Decimal) -> str:
        return f"${money(amount):,.2f}"

    headline = (
        f"Serving {len(report.models)} models on the shared platform: {usd(report.serving_monthly)}/month; "
        f"one model per pod, always on: {usd(report.classic_monthly)}/month "
        f"({report.savings_ratio:.0%} saved)."
    )
    rows = [
        (m.team, m.model, f"{m.pool} ({m.instance_type})", f"{m.node_share:.2f}",
         str(m.always_on_replicas) if m.always_on_replicas else f"0 ({m.active_hours_per_day:g} h/day)",
         usd(m.monthly), usd(m.classic_monthly))
        for m in report.models
    ]
    header = ("team", "model", "pool", "node share", "always on", "monthly", "classic")
    if markdown:
        lines = [f"**{headline}**", "", "| team | monthly |", "|---|---|"]
        lines += [f"| {team} | {usd(amount)} |" for team, amount in report.by_team().items()]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines += ["", "| platform (either way) | monthly |", "|---|---|"]
        lines += [f"| {name} | {usd(amount)} |" for name, amount in report.platform.items()]
        lines += ["", f"Total with the platform: {usd(report.total_monthly)}/month. Prices of {report.prices_date}."]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)] if rows else [len(h) for h in header]
    lines = [f"stack {report.stack}: {headline}", ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("")
    lines += [f"team {team}: {usd(amount)}/month" for team, amount in report.by_team().items()]
    lines.append(f"shared gateway load balancer: {usd(report.gateway_monthly)}/month")
    lines += [f"platform, {name}: {usd(amount)}/month" for name, amount in report.platform.items()]
    lines.append(f"total with the platform: {usd(report.total_monthly)}/month (prices of {report.prices_date})")
    return "\n".join(lines) + "\n"

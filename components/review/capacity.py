"""GPU capacity per pool: GPUs and MIG slices demanded by minimum and maximum replicas against
what each pool offers at its max size."""

from __future__ import annotations

from typing import Any

from components.catalog.budgets import PoolCapacity, gpu_capacity, over_capacity
from components.catalog.deployed import StackDeployment


def capacity_report(deployment: StackDeployment) -> list[PoolCapacity]:
    return gpu_capacity(deployment.stack, deployment.models)


def capacity_as_dict(pools: list[PoolCapacity]) -> list[dict[str, Any]]:
    return [
        {"pool": p.pool, "resource": p.resource, "capacity": p.capacity, "at_min": p.at_min, "at_max": p.at_max,
         "models": [{"model": name, "at_min": low, "at_max": high} for name, low, high in p.models]}
        for p in pools
    ]


def format_capacity(pools: list[PoolCapacity], markdown: bool = False) -> str:
    if not pools:
        return "No GPU pools.\n"
    if markdown:
        lines = ["| pool | resource | at min replicas | at max replicas | offered at max size |", "|---|---|---|---|---|"]
        lines += [f"| {p.pool} | `{p.resource}` | {p.at_min} | {p.at_max} | {p.capacity} |" for p in pools]
    else:
        lines = ["GPU capacity (demanded at min / at max replicas, offered at max size):"]
        lines += [f"  {p.pool} {p.resource}: {p.at_min} / {p.at_max} of {p.capacity}" for p in pools]
    # The full warning, with its fix, is in the validation warnings; this is its gist beside the table.
    lines += [("- " if markdown else "  warning: ") + over_capacity(p) for p in pools if p.at_max > p.capacity]
    return "\n".join(lines) + "\n"

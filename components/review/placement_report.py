"""``modelplane placement`` output: the plan of each GPU pool as text, markdown or JSON, and the
stack-file change that applies it."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from components.review.markdown import code, code_block, text
from components.review.mig_layouts import GpuMix, Layout
from components.review.placement_plan import LayoutNodes, MigPoolPlan, PlacementPlan, WholeGpuPoolPlan


def show_layout(layout: Layout) -> str:
    return "{" + ", ".join(f"{profile}: {count}" for profile, count in layout) + "}"


def _show_demand(demand: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{profile} x{count}" for profile, count in demand if count) or "none"


def _shared(pool: WholeGpuPoolPlan) -> str:
    """How a time-sliced pool's GPUs are counted: shares, several to a GPU."""
    return f" (time-sliced: {pool.shares_per_gpu} shares per GPU)" if pool.shares_per_gpu > 1 else ""


def _gpus(count: int) -> str:
    return f"{count} GPU" + ("" if count == 1 else "s")


def _show_nodes(option: LayoutNodes, plan: MigPoolPlan) -> str:
    if option.nodes_at_max is None:
        missing = sorted(p for p, n in plan.demand_at_max if n and p not in dict(option.layout))
        return f"cannot serve {', '.join(missing)}"
    return (f"{option.nodes_at_min} / {option.nodes_at_max} nodes "
            f"({option.nodes_at_min * plan.per_node} / {_gpus(option.nodes_at_max * plan.per_node)})")


def _show_mix(mix: GpuMix) -> str:
    parts = ", ".join(f"{count} x {show_layout(layout)}" for layout, count in mix.gpus_by_layout)
    return _gpus(mix.gpus) + (f" ({parts})" if parts else "") + ("" if mix.optimal else " (best found, not proven fewest)")


def stack_change(plan: PlacementPlan) -> str | None:
    """The ``modelplane:node_pools`` entries to put in the stack file, or ``None`` when none changes."""
    changed = {}
    for pool in plan.mig_pools:
        if not pool.changes:
            continue
        entry = copy.deepcopy(plan.pool_settings[pool.pool])
        entry["gpu"]["mig"]["layout"] = dict(pool.proposed.layout)
        entry["max_size"] = pool.proposed_max_size
        changed[pool.pool] = entry
    if not changed:
        return None
    return yaml.safe_dump({"config": {"modelplane:node_pools": changed}}, sort_keys=False, default_flow_style=None)


def format_placement(plan: PlacementPlan) -> str:
    lines = [f"MIG layout plan for stack {plan.stack} ({plan.source}); demand at min / max replicas:"]
    if not plan.mig_pools:
        lines.append("  no model of the stack asks for MIG slices")
    for pool in plan.mig_pools:
        lines += [
            f"  pool {pool.pool} ({pool.per_node} x {pool.gpu_model} per node, {pool.min_size}-{pool.max_size} nodes):",
            f"    slices: {_show_demand(pool.demand_at_min)} / {_show_demand(pool.demand_at_max)}",
        ]
        lines += [f"      {user.model}: {user.profile}, {user.at_min} / {user.at_max} replicas" for user in pool.users]
        lines += [
            f"    current  {show_layout(pool.current.layout)}: {_show_nodes(pool.current, pool)}",
            f"    proposed {show_layout(pool.proposed.layout)}: {_show_nodes(pool.proposed, pool)}"
            + ("" if pool.changes else " (no change)"),
            f"    lower bound (compute slices / 7): {pool.lower_bound_at_min} / {_gpus(pool.lower_bound_at_max)}; "
            f"a layout of its own per GPU: {_show_mix(pool.mixed_at_min)} / {_show_mix(pool.mixed_at_max)}",
        ]
        if pool.proposed_max_size > pool.max_size:
            lines.append(f"    max_size {pool.max_size} -> {pool.proposed_max_size}: the peak needs {pool.proposed.nodes_at_max} nodes")
    for pool in plan.whole_gpu_pools:
        lines.append(
            f"  pool {pool.pool} ({pool.per_node} x {pool.gpu_model} per node, {pool.min_size}-{pool.max_size} nodes): "
            f"whole GPUs {pool.gpus_at_min} / {pool.gpus_at_max}{_shared(pool)}, "
            f"{pool.nodes_at_min} / {pool.nodes_at_max} nodes"
        )
    change = stack_change(plan)
    if change is None:
        lines.append("The current layouts already need the fewest nodes: no stack-file change.")
    else:
        lines += [f"Stack-file change (replace these pools in {plan.source}):", change.rstrip("\n")]
    return "\n".join(lines) + "\n"


def format_placement_markdown(plan: PlacementPlan) -> str:
    lines = [f"### MIG layout plan: stack {code(plan.stack)}", ""]
    if plan.mig_pools:
        lines += [
            "| pool | slices at min / max | current layout | proposed layout | nodes at min / max (current -> proposed) "
            "| lower bound GPUs | a layout per GPU |",
            "|---|---|---|---|---|---|---|",
        ]
    for pool in plan.mig_pools:
        current = _nodes_pair(pool.current)
        proposed = _nodes_pair(pool.proposed)
        lines.append(
            f"| {code(pool.pool)} | {text(_show_demand(pool.demand_at_min))} / {text(_show_demand(pool.demand_at_max))} "
            f"| {code(show_layout(pool.current.layout))} | {code(show_layout(pool.proposed.layout))} "
            f"| {current} -> {proposed} | {pool.lower_bound_at_min} / {pool.lower_bound_at_max} "
            f"| {pool.mixed_at_min.gpus} / {pool.mixed_at_max.gpus} |"
        )
    if not plan.mig_pools:
        lines.append("No model of the stack asks for MIG slices.")
    if plan.whole_gpu_pools:
        lines += ["", "| whole-GPU pool | GPUs at min / max | nodes at min / max |", "|---|---|---|"]
        lines += [f"| {code(p.pool)} | {p.gpus_at_min} / {p.gpus_at_max}{_shared(p)} | {p.nodes_at_min} / {p.nodes_at_max} |"
                  for p in plan.whole_gpu_pools]
    change = stack_change(plan)
    lines.append("")
    if change is None:
        lines.append("The current layouts already need the fewest nodes: no stack-file change.")
    else:
        lines += [f"Stack-file change (replace these pools in {code(plan.source)}):", "",
                  *code_block(change.rstrip("\n").split("\n"), "yaml")]
    return "\n".join(lines) + "\n"


def _nodes_pair(option: LayoutNodes) -> str:
    if option.nodes_at_max is None:
        return "cannot serve"
    return f"{option.nodes_at_min} / {option.nodes_at_max}"


def placement_as_dict(plan: PlacementPlan) -> dict[str, Any]:
    def option(o: LayoutNodes) -> dict[str, Any]:
        return {"layout": dict(o.layout), "nodes_at_min": o.nodes_at_min, "nodes_at_max": o.nodes_at_max}

    def mix(m: GpuMix) -> dict[str, Any]:
        return {"gpus": m.gpus, "optimal": m.optimal,
                "layouts": [{"layout": dict(layout), "gpus": count} for layout, count in m.gpus_by_layout]}

    return {
        "stack": plan.stack,
        "mig_pools": [
            {"pool": p.pool, "gpu_model": p.gpu_model, "per_node": p.per_node, "min_size": p.min_size,
             "max_size": p.max_size, "proposed_max_size": p.proposed_max_size, "changes": p.changes,
             "slices_at_min": dict(p.demand_at_min), "slices_at_max": dict(p.demand_at_max),
             "models": [{"model": u.model, "profile": u.profile, "replicas_at_min": u.at_min, "replicas_at_max": u.at_max}
                        for u in p.users],
             "current": option(p.current), "proposed": option(p.proposed),
             "lower_bound_gpus_at_min": p.lower_bound_at_min, "lower_bound_gpus_at_max": p.lower_bound_at_max,
             "layout_per_gpu_at_min": mix(p.mixed_at_min), "layout_per_gpu_at_max": mix(p.mixed_at_max)}
            for p in plan.mig_pools
        ],
        "whole_gpu_pools": [
            {"pool": p.pool, "gpu_model": p.gpu_model, "per_node": p.per_node, "gpus_at_min": p.gpus_at_min,
             "gpus_at_max": p.gpus_at_max, "nodes_at_min": p.nodes_at_min, "nodes_at_max": p.nodes_at_max,
             "shares_per_gpu": p.shares_per_gpu}
            for p in plan.whole_gpu_pools
        ],
        "stack_change": stack_change(plan),
    }

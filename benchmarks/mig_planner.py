"""The MIG layout planner on generated demand mixes: GPUs it uses against the lower bound and the
baseline, and the time it takes.

For each mix (seeded, so every run generates the same ones): H100-80GB models, each asking for
one profile and a number of replicas. Reported:
- lower bound: the compute slices asked for, 7 to a GPU, rounded up;
- a layout per GPU: the fewest GPUs when each GPU may be cut its own way (``fewest_gpus``, exact
  unless marked);
- one layout per pool: the fewest GPUs when every GPU is cut the same way, as a stack's pool is
  (the layout holding every profile that needs the fewest GPUs; "none" when no layout holds them all);
- one GPU per model: each model on GPUs of its own, cut into its profile only (the practice of one
  model per pod, with MIG);
- whole GPUs: one unpartitioned GPU per replica;
- time: the fastest of three runs of ``fewest_gpus``, with the layout table built afresh each run.

Run: ``python benchmarks/mig_planner.py`` (``--format json`` for tools).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.catalog.hardware import GPU_MODELS  # noqa: E402
from components.review import mig_layouts  # noqa: E402
from components.review.mig_layouts import ceil_div, compute_lower_bound, fewest_gpus, maximal_layouts  # noqa: E402

GPU = GPU_MODELS["H100-80GB"]
# How often a generated model asks for each profile: small slices are the common case.
PROFILE_WEIGHTS = {"1g.10gb": 35, "1g.20gb": 15, "2g.20gb": 20, "3g.40gb": 15, "4g.40gb": 10, "7g.80gb": 5}
# (name, models, most replicas per model, profile weights)
MIXES = [
    ("small", 4, 2, PROFILE_WEIGHTS),
    ("team", 12, 3, PROFILE_WEIGHTS),
    ("slices only", 30, 4, {"1g.10gb": 3, "1g.20gb": 1, "2g.20gb": 2}),
    ("platform", 40, 6, PROFILE_WEIGHTS),
    ("3g heavy", 40, 6, {"3g.40gb": 6, "2g.20gb": 2, "1g.10gb": 2}),
    ("large", 100, 8, PROFILE_WEIGHTS),
    ("very large", 250, 8, PROFILE_WEIGHTS),
    ("huge", 600, 8, PROFILE_WEIGHTS),
]


def generate(seed: int, models: int, most_replicas: int, weights: dict[str, int]) -> list[tuple[str, int]]:
    """(profile, replicas) per model."""
    rng = random.Random(seed)
    profiles, shares = list(weights), list(weights.values())
    return [(rng.choices(profiles, shares)[0], rng.randint(1, most_replicas)) for _ in range(models)]


def demand_of(models: list[tuple[str, int]]) -> dict[str, int]:
    demand: dict[str, int] = {}
    for profile, replicas in models:
        demand[profile] = demand.get(profile, 0) + replicas
    return demand


def one_layout_gpus(demand: dict[str, int]) -> int | None:
    profiles = tuple(sorted(demand))
    holding = [dict(layout) for layout in maximal_layouts(GPU, profiles) if len(layout) == len(profiles)]
    if not holding:
        return None
    return min(max(ceil_div(count, layout[p]) for p, count in demand.items()) for layout in holding)


def one_gpu_per_model(models: list[tuple[str, int]]) -> int:
    return sum(ceil_div(replicas, GPU.mig_profiles[profile].max_per_gpu) for profile, replicas in models)


def run_mix(index: int, name: str, count: int, most: int, weights: dict[str, int]) -> dict:
    models = generate(index, count, most, weights)
    demand = demand_of(models)
    times = []
    for _ in range(3):
        mig_layouts._maximal_layouts.cache_clear()
        start = time.perf_counter()
        mix = fewest_gpus(GPU, demand)
        times.append(time.perf_counter() - start)
    bound = compute_lower_bound(GPU, demand)
    return {
        "mix": name, "models": count, "slices": sum(demand.values()),
        "compute_slices": sum(GPU.mig_profiles[p].compute_slices * n for p, n in demand.items()),
        "lower_bound": bound, "layout_per_gpu": mix.gpus, "optimal": mix.optimal,
        "ratio": mix.gpus / bound, "one_layout_per_pool": one_layout_gpus(demand),
        "one_gpu_per_model": one_gpu_per_model(models), "whole_gpus": sum(demand.values()),
        "seconds": min(times),
    }


def format_table(rows: list[dict]) -> str:
    lines = [
        "| mix | models | slices (compute) | lower bound | a layout per GPU | ratio | one layout per pool "
        "| one GPU per model | whole GPUs | time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        exact = "" if row["optimal"] else " (not proven)"
        pool = row["one_layout_per_pool"] if row["one_layout_per_pool"] is not None else "none"
        lines.append(
            f"| {row['mix']} | {row['models']} | {row['slices']} ({row['compute_slices']}) | {row['lower_bound']} "
            f"| {row['layout_per_gpu']}{exact} | {row['ratio']:.2f} | {pool} | {row['one_gpu_per_model']} "
            f"| {row['whole_gpus']} | {row['seconds'] * 1000:.1f} ms |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    args = parser.parse_args()
    rows = [run_mix(index, *mix) for index, mix in enumerate(MIXES)]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        sys.stdout.write(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

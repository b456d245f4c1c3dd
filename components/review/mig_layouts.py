"""The fewest GPUs that serve a demand of MIG slices: NVIDIA's valid per-GPU layouts, and an exact
covering search over them.

Pure. A GPU's layout is valid when ``hardware.mig_layout_problem`` accepts it (profile maxima, the 7
compute slices and NVIDIA's placement rules). Only maximal layouts are needed for covering: a GPU
cut a smaller way serves a subset of what a maximal layout containing it serves.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from components.catalog.hardware import MIG_COMPUTE_SLICES, MIG_MEMORY_SLICES, GPU_MODELS, GpuModel, mig_layout_problem

Layout = tuple[tuple[str, int], ...]  # (profile, instances per GPU), sorted by profile name
# Search nodes before the covering search gives up proving optimality and keeps its best answer.
SEARCH_BUDGET = 200_000


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def maximal_layouts(gpu: GpuModel, profiles: tuple[str, ...]) -> tuple[Layout, ...]:
    """Every valid per-GPU layout over ``profiles`` that no other valid one contains, sorted."""
    return _maximal_layouts(gpu.name, tuple(sorted(profiles)))


@lru_cache(maxsize=None)
def _maximal_layouts(gpu_name: str, profiles: tuple[str, ...]) -> tuple[Layout, ...]:
    gpu = GPU_MODELS[gpu_name]
    ranges = [range(gpu.mig_profiles[name].max_per_gpu + 1) for name in profiles]
    valid = []
    for counts in itertools.product(*ranges):
        layout = {name: count for name, count in zip(profiles, counts) if count}
        if layout and mig_layout_problem(gpu, layout) is None:
            valid.append(counts)
    maximal = [
        counts for counts in valid
        if not any(other != counts and all(o >= c for o, c in zip(other, counts)) for other in valid)
    ]
    return tuple(sorted(
        tuple(sorted((name, count) for name, count in zip(profiles, counts) if count)) for counts in maximal
    ))


def compute_lower_bound(gpu: GpuModel, demand: Mapping[str, int]) -> int:
    """GPUs no packing can beat: the compute slices asked for, 7 to a GPU, rounded up."""
    compute = sum(gpu.mig_profiles[name].compute_slices * count for name, count in demand.items())
    return ceil_div(compute, MIG_COMPUTE_SLICES)


@dataclass(frozen=True)
class GpuMix:
    """GPUs cut per layout: ``((layout, gpus), ...)``; ``optimal`` when the search proved it."""

    gpus_by_layout: tuple[tuple[Layout, int], ...]
    optimal: bool

    @property
    def gpus(self) -> int:
        return sum(count for _, count in self.gpus_by_layout)


def fewest_gpus(gpu: GpuModel, demand: Mapping[str, int], budget: int = SEARCH_BUDGET) -> GpuMix:
    """The fewest GPUs, each cut in any valid layout, that offer ``demand`` (profile -> slices).

    Branch and bound: the demanded profile with the most compute slices that is still short must
    be on some GPU, and that GPU can be taken maximal, so each step branches only over the maximal
    layouts holding that profile. Bounds: compute (7 per GPU), memory slices (8 per GPU), each
    profile's maximum per GPU, and profiles of more than half a GPU (never two on one). Residuals
    already searched are remembered with the GPUs they were shown to need.
    """
    wanted = {name: count for name, count in demand.items() if count > 0}
    if not wanted:
        return GpuMix((), True)
    profiles = tuple(sorted(wanted, key=lambda name: (
        -gpu.mig_profiles[name].compute_slices, -gpu.mig_profiles[name].memory_slices, name)))
    layouts = maximal_layouts(gpu, tuple(sorted(profiles)))
    vectors = [tuple(dict(layout).get(name, 0) for name in profiles) for layout in layouts]
    compute = [gpu.mig_profiles[name].compute_slices for name in profiles]
    memory = [gpu.mig_profiles[name].memory_slices for name in profiles]
    most_per_gpu = [max(vector[i] for vector in vectors) for i in range(len(profiles))]
    big = [i for i, c in enumerate(compute) if 2 * c > MIG_COMPUTE_SLICES]

    def lower_bound(residual: tuple[int, ...]) -> int:
        return max(
            ceil_div(sum(c * r for c, r in zip(compute, residual)), MIG_COMPUTE_SLICES),
            ceil_div(sum(m * r for m, r in zip(memory, residual)), MIG_MEMORY_SLICES),
            max(ceil_div(r, most) for r, most in zip(residual, most_per_gpu)),
            sum(residual[i] for i in big),
        )

    start = tuple(wanted[name] for name in profiles)
    best: list[int] = []  # indexes into vectors
    chosen: list[int] = []
    needs: dict[tuple[int, ...], int] = {}  # residual -> GPUs it was shown to need at least
    steps = 0
    exhausted = False
    root_bound = lower_bound(start)

    def search(residual: tuple[int, ...]) -> None:
        nonlocal steps, exhausted, best
        steps += 1
        if best and steps > budget:  # the first descent always finishes: it is the greedy answer
            exhausted = True
            return
        short = next((i for i, r in enumerate(residual) if r), None)
        if short is None:
            if not best or len(chosen) < len(best):
                best = list(chosen)
            return
        if best and max(lower_bound(residual), needs.get(residual, 0)) >= len(best) - len(chosen):
            return
        options = sorted(
            (i for i, vector in enumerate(vectors) if vector[short]),
            key=lambda i: (-sum(c * min(r, v) for c, r, v in zip(compute, residual, vectors[i])), i),
        )
        for index in options:
            chosen.append(index)
            search(tuple(max(0, r - v) for r, v in zip(residual, vectors[index])))
            chosen.pop()
            if exhausted or (best and len(best) == root_bound):
                return
        # Every completion of ``residual`` with fewer GPUs than this was searched and not found.
        needs[residual] = len(best) - len(chosen)

    search(start)
    counts: dict[Layout, int] = {}
    for index in best:
        counts[layouts[index]] = counts.get(layouts[index], 0) + 1
    return GpuMix(tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))), not exhausted)

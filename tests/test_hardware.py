"""The MIG layout checker against NVIDIA's documented A100 geometries."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from components.catalog.hardware import GPU_MODELS, INSTANCE_TYPES, mig_layout_problem

A100_40 = GPU_MODELS["A100-40GB"]
SEVEN, FOUR, THREE, TWO, ONE = "7g.40gb", "4g.20gb", "3g.20gb", "2g.10gb", "1g.5gb"

# The distinct profile mixes of the 19 placements in NVIDIA's A100 MIG user guide figure of
# supported profile combinations (A100-40GB names).
DOCUMENTED_A100_MIXES = [
    {SEVEN: 1},
    {FOUR: 1, THREE: 1},
    {FOUR: 1, TWO: 1, ONE: 1},
    {FOUR: 1, ONE: 3},
    {THREE: 2},
    {THREE: 1, TWO: 1, ONE: 1},
    {THREE: 1, ONE: 3},
    {THREE: 1, TWO: 2},
    {THREE: 1, TWO: 1, ONE: 2},
    {THREE: 1, ONE: 4},
    {TWO: 3, ONE: 1},
    {TWO: 2, ONE: 3},
    {TWO: 1, ONE: 5},
    {ONE: 7},
]


@pytest.mark.parametrize("layout", DOCUMENTED_A100_MIXES, ids=str)
def test_documented_combinations_are_accepted(layout):
    assert mig_layout_problem(A100_40, layout) is None


def test_every_accepted_mix_is_part_of_a_documented_one():
    profiles = [SEVEN, FOUR, THREE, TWO, ONE]
    accepted = []
    for counts in itertools.product(range(2), range(2), range(3), range(4), range(8)):
        layout = {name: count for name, count in zip(profiles, counts) if count}
        if layout and mig_layout_problem(A100_40, layout) is None:
            accepted.append(layout)
    for layout in accepted:
        assert any(
            all(documented.get(name, 0) >= count for name, count in layout.items())
            for documented in DOCUMENTED_A100_MIXES
        ), layout
    # Every documented mix is among them (the search space covers all of them).
    assert all(documented in accepted for documented in DOCUMENTED_A100_MIXES)


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({TWO: 3, ONE: 2}, "the layout uses 8 compute slices and one A100-40GB has 7"),
        (
            {THREE: 2, ONE: 1},
            "NVIDIA's placement rules do not allow this combination on one A100-40GB; choose a "
            "combination from the MIG user guide's table of supported profiles",
        ),
        ({FOUR: 2}, "4g.20gb fits at most 1 times on one A100-40GB"),
        ({"1g.5gb+me": 2}, "1g.5gb+me fits at most 1 times on one A100-40GB"),
        (
            {"1g.10gb": 4, ONE: 1},
            "NVIDIA's placement rules do not allow this combination on one A100-40GB; choose a "
            "combination from the MIG user guide's table of supported profiles",
        ),
        (
            {"1g.20gb": 1},
            "A100-40GB has no MIG profile 1g.20gb (it offers 1g.5gb, 1g.5gb+me, 1g.10gb, "
            "2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb)",
        ),
    ],
)
def test_impossible_layouts_say_why(layout, expected):
    assert mig_layout_problem(A100_40, layout) == expected


def test_profile_names_depend_on_the_gpu():
    # 1g.10gb takes two memory slices on an A100 40GB but one on an H100 80GB.
    assert mig_layout_problem(A100_40, {"1g.10gb": 5}) is not None
    assert mig_layout_problem(GPU_MODELS["H100-80GB"], {"1g.10gb": 7}) is None


def test_gpus_without_mig():
    assert not GPU_MODELS["A10G"].supports_mig
    assert GPU_MODELS["H100-80GB"].supports_mig


def test_instance_types_carry_their_gpus():
    gpus = Counter(instance.gpu_model for instance in INSTANCE_TYPES.values() if instance.gpu_model)
    assert set(gpus) <= set(GPU_MODELS)
    assert INSTANCE_TYPES["p5.48xlarge"].gpu_count == 8
    assert INSTANCE_TYPES["g5.xlarge"].gpu_model == "A10G"

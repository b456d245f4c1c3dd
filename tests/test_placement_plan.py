"""The MIG layout planner (`modelplane placement`), against layouts and node counts worked out by hand."""

from __future__ import annotations

import json

import pytest
import yaml

from components.catalog import load_catalog, load_stack
from components.catalog.hardware import GPU_MODELS
from components.cli.main import main
from components.review.mig_layouts import compute_lower_bound, fewest_gpus, maximal_layouts
from components.review.placement_plan import plan_placement
from components.review.placement_report import format_placement, format_placement_markdown, stack_change
from tests.conftest import STACK_CONFIG, Workspace

H100 = GPU_MODELS["H100-80GB"]
A100_80 = GPU_MODELS["A100-80GB"]
SYSTEM = STACK_CONFIG["modelplane:node_pools"]["system"]
MIG_QUOTA = {"cpu": "256", "memory": "1Ti", "mig": {"1g.10gb": 64, "2g.20gb": 64, "3g.40gb": 64, "7g.80gb": 8}}


def mig_pool(layout: dict[str, int], max_size: int = 2, model: str = "H100-80GB",
             instance: str = "p5.48xlarge") -> dict:
    return {"instance_types": [instance], "min_size": 0, "max_size": max_size,
            "gpu": {"model": model, "per_node": 8, "mig": {"strategy": "mixed", "layout": layout}}}


def plan_of(workspace: Workspace):
    return plan_placement(load_catalog(workspace.models), load_stack(workspace.stacks, "dev"))


def test_maximal_layouts_of_two_profiles():
    """3g.40gb takes memory slices 0-3 or 4-7; with it an H100 holds four 1g.10gb at most (3 + 4 = 7
    compute slices), and two 3g.40gb fill all 8 memory slices. Seven 1g.10gb is the other maximum."""
    assert maximal_layouts(H100, ("1g.10gb", "3g.40gb")) == (
        (("1g.10gb", 4), ("3g.40gb", 1)),
        (("1g.10gb", 7),),
        (("3g.40gb", 2),),
    )


def test_fewest_gpus_reaches_the_compute_bound_with_a_layout_per_gpu():
    """20 x 2g.20gb and 10 x 1g.10gb: 50 compute slices, so at least 8 GPUs. Six GPUs cut
    {1g: 1, 2g: 3} and two cut {1g: 3, 2g: 2} give 22 x 2g and 12 x 1g: 8 GPUs."""
    demand = {"2g.20gb": 20, "1g.10gb": 10}
    mix = fewest_gpus(H100, demand)
    assert compute_lower_bound(H100, demand) == 8
    assert (mix.gpus, mix.optimal) == (8, True)
    offered = {p: sum(dict(layout).get(p, 0) * n for layout, n in mix.gpus_by_layout) for p in demand}
    assert all(offered[p] >= demand[p] for p in demand)


def test_fewest_gpus_above_the_compute_bound_when_memory_binds():
    """Four 3g.40gb and one 1g.10gb: 13 compute slices would fit 2 GPUs, but two 3g.40gb fill a
    GPU's 8 memory slices (3g + 3g + 1g is no valid layout), so the 1g.10gb needs a third GPU."""
    demand = {"3g.40gb": 4, "1g.10gb": 1}
    assert compute_lower_bound(H100, demand) == 2
    assert (fewest_gpus(H100, demand).gpus, fewest_gpus(H100, demand).optimal) == (3, True)
    # Two 3g.40gb and eight 1g.10gb: 14 compute slices, and {3g: 1, 1g: 4} twice holds them.
    assert fewest_gpus(H100, {"3g.40gb": 2, "1g.10gb": 8}).gpus == 2
    # Two 7g.80gb take two whole GPUs; the 1g.10gb needs a third.
    assert fewest_gpus(H100, {"7g.80gb": 2, "1g.10gb": 1}).gpus == 3


def test_a_search_cut_short_keeps_its_best_answer_and_says_so():
    """With a budget of one search step only the first (greedy) descent runs: an answer that
    covers the demand, not claimed to be the fewest."""
    demand = {"3g.40gb": 40, "2g.20gb": 60, "1g.20gb": 30, "1g.10gb": 100}
    quick, exact = fewest_gpus(H100, demand, budget=1), fewest_gpus(H100, demand)
    assert not quick.optimal and exact.optimal
    assert quick.gpus >= exact.gpus >= compute_lower_bound(H100, demand)


def test_current_layout_already_optimal(workspace):
    """Per GPU {3g: 1, 2g: 1, 1g: 2} is the only layout holding 1 x 3g, 1 x 2g and 2 x 1g (3 + 2 + 2 = 7
    compute slices): 8 x 3g, 8 x 2g and 16 x 1g at peak fill exactly one 8-GPU node."""
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="large", gpu={"mig": "3g.40gb"}, scaling={"min_replicas": 1, "max_replicas": 8})
    workspace.model(name="medium", gpu={"mig": "2g.20gb"}, scaling={"min_replicas": 0, "max_replicas": 8})
    workspace.model(name="tiny", gpu={"mig": "1g.10gb"}, scaling={"min_replicas": 0, "max_replicas": 16})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2})})
    plan = plan_of(workspace)
    (pool,) = plan.mig_pools
    assert pool.current == pool.proposed
    assert (pool.proposed.nodes_at_min, pool.proposed.nodes_at_max) == (1, 1)
    assert (pool.lower_bound_at_min, pool.lower_bound_at_max) == (1, 8)
    assert pool.mixed_at_max.gpus == 8
    assert not pool.changes and stack_change(plan) is None
    assert "no stack-file change" in format_placement(plan)


def test_a_profile_the_layout_lacks_gets_a_mixed_layout(workspace):
    """The pool is cut {1g.10gb: 7}; a 3g.40gb model joins. The only H100 layout with both is
    {1g.10gb: 4, 3g.40gb: 1}: 8 x 3g and 30 x 1g at peak need one node (8 and 32 per node)."""
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="large", gpu={"mig": "3g.40gb"}, scaling={"min_replicas": 1, "max_replicas": 8})
    workspace.model(name="tiny", gpu={"mig": "1g.10gb"}, scaling={"min_replicas": 2, "max_replicas": 30})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"1g.10gb": 7}, max_size=1)})
    plan = plan_of(workspace)
    (pool,) = plan.mig_pools
    assert pool.current.nodes_at_max is None  # it cannot serve 3g.40gb
    assert pool.proposed.layout == (("1g.10gb", 4), ("3g.40gb", 1))
    assert (pool.proposed.nodes_at_min, pool.proposed.nodes_at_max) == (1, 1)
    text = format_placement(plan)
    assert "current  {1g.10gb: 7}: cannot serve 3g.40gb" in text
    assert "proposed {1g.10gb: 4, 3g.40gb: 1}: 1 / 1 nodes (8 / 8 GPUs)" in text
    change = yaml.safe_load(stack_change(plan))
    assert change == {"config": {"modelplane:node_pools": {"mig": {
        "instance_types": ["p5.48xlarge"], "min_size": 0, "max_size": 1,
        "gpu": {"model": "H100-80GB", "per_node": 8,
                "mig": {"strategy": "mixed", "layout": {"1g.10gb": 4, "3g.40gb": 1}}}}}}}


def test_the_stack_change_applies_and_is_then_optimal(workspace, monkeypatch, capsys):
    """The peak needs 2 nodes of {1g: 1, 2g: 3} or {1g: 3, 2g: 2} (20 x 2g, 10 x 1g: 24 or 16 x 2g and
    8 or 24 x 1g a node); the pool may have 1, so max_size goes to 2. Pasting the printed pools into
    the stack file gives a stack that validates and needs no further change."""
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="medium", gpu={"mig": "2g.20gb"}, scaling={"min_replicas": 1, "max_replicas": 20})
    workspace.model(name="tiny", gpu={"mig": "1g.10gb"}, scaling={"min_replicas": 1, "max_replicas": 10})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"1g.10gb": 7}, max_size=1)})
    monkeypatch.chdir(workspace.root)
    assert main(["placement", "--stack", "dev", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (pool,) = document["mig_pools"]
    assert pool["proposed"] == {"layout": {"1g.10gb": 1, "2g.20gb": 3}, "nodes_at_min": 1, "nodes_at_max": 2}
    assert (pool["max_size"], pool["proposed_max_size"]) == (1, 2)
    # A layout per GPU would need 8 GPUs (the compute bound), one node's worth.
    assert (pool["lower_bound_gpus_at_max"], pool["layout_per_gpu_at_max"]["gpus"]) == (8, 8)
    pools = yaml.safe_load(document["stack_change"])["config"]["modelplane:node_pools"]
    workspace.stack(node_pools={"system": SYSTEM, **pools})
    assert main(["validate", "--stack", "dev"]) == 0
    capsys.readouterr()
    assert main(["placement", "--stack", "dev"]) == 0
    assert "no stack-file change" in capsys.readouterr().out


def test_markdown_shows_the_table_and_the_change(workspace):
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="large", gpu={"mig": "3g.40gb"}, scaling={"min_replicas": 1, "max_replicas": 2})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"1g.10gb": 7}, max_size=1)})
    markdown = format_placement_markdown(plan_of(workspace))
    assert "| `mig` | 3g.40gb x1 / 3g.40gb x2 | `{1g.10gb: 7}` | `{3g.40gb: 2}` | cannot serve -> 1 / 1 | 1 / 1 | 1 / 1 |" in markdown
    assert "```yaml\nconfig:\n  modelplane:node_pools:\n    mig:\n" in markdown


def test_whole_gpu_pools_count_nodes_first_fit_decreasing(workspace):
    """g5.12xlarge has 4 A10G: one 2-GPU and three 1-GPU replicas at peak are 5 GPUs on 2 nodes."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(name="llm", gpu={"count": 2}, scaling={"min_replicas": 0, "max_replicas": 1})
    workspace.model(name="embedder", gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 3})
    workspace.stack(node_pools={"system": SYSTEM, "gpu": {
        "instance_types": ["g5.12xlarge"], "min_size": 0, "max_size": 3, "gpu": {"model": "A10G", "per_node": 4}}})
    (pool,) = plan_of(workspace).whole_gpu_pools
    assert (pool.gpus_at_min, pool.gpus_at_max, pool.nodes_at_min, pool.nodes_at_max) == (1, 5, 1, 2)


def test_time_sliced_pools_count_shares_not_gpus(workspace):
    """A g5.xlarge's one A10G cut 4 ways: five 1-share replicas at peak are 2 GPUs on 2 nodes, and
    the two always-on ones share 1 GPU on 1 node (not a GPU each)."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu_shares": 8})
    workspace.model(name="reply", gpu={"shares": 1}, scaling={"min_replicas": 2, "max_replicas": 5})
    workspace.stack(node_pools={"system": SYSTEM, "shared": {
        "instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 3,
        "gpu": {"model": "A10G", "per_node": 1, "sharing": {"time_slicing": {"replicas": 4}}}}})
    plan = plan_of(workspace)
    (pool,) = plan.whole_gpu_pools
    assert (pool.gpus_at_min, pool.gpus_at_max, pool.nodes_at_min, pool.nodes_at_max) == (1, 2, 1, 2)
    assert "whole GPUs 1 / 2 (time-sliced: 4 shares per GPU), 1 / 2 nodes" in format_placement(plan)


def refused(workspace: Workspace, monkeypatch, capsys) -> list[str]:
    monkeypatch.chdir(workspace.root)
    assert main(["placement", "--stack", "dev"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Traceback" not in captured.err
    return captured.err.splitlines()


def test_a_profile_no_pool_gpu_has(workspace, monkeypatch, capsys):
    """3g.40gb is an A100-80GB and H100 profile; an A100-40GB pool cannot be cut into it."""
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="large", gpu={"mig": "3g.40gb"})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool(
        {"1g.5gb": 7}, model="A100-40GB", instance="p4d.24xlarge")})
    lines = refused(workspace, monkeypatch, capsys)
    assert lines[0] == (
        "models/fraud/large.yaml: gpu.mig: no MIG pool of stack dev (stacks/Pulumi.dev.yaml) has GPUs with a "
        "3g.40gb profile (MIG pools: mig (A100-40GB: 1g.5gb, 1g.5gb+me, 1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, "
        "7g.40gb)); ask for a profile of those GPUs, or add a MIG pool of A100-80GB, H100-80GB to "
        "stacks/Pulumi.dev.yaml")
    assert lines[-1] == "1 problem found; nothing was written"


def test_profiles_no_single_layout_holds_together(workspace, monkeypatch, capsys):
    """7g.80gb takes the whole GPU, so no layout has it beside 1g.10gb; the less demanded one is refused."""
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="huge", gpu={"mig": "7g.80gb"}, scaling={"min_replicas": 0, "max_replicas": 1})
    workspace.model(name="tiny", gpu={"mig": "1g.10gb"}, scaling={"min_replicas": 0, "max_replicas": 5})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"1g.10gb": 7})})
    lines = refused(workspace, monkeypatch, capsys)
    assert lines[0] == (
        "models/fraud/huge.yaml: gpu.mig: no single H100-80GB layout holds 7g.80gb together with 1g.10gb, "
        "which other models of pool mig in stack dev ask for (every GPU of a pool is cut the same way); ask "
        "for one of 1g.10gb, or name another MIG pool with node_pool")


def test_more_always_on_slices_than_the_pool_holds(workspace, monkeypatch, capsys):
    """17 always-on 3g.40gb: 2 per GPU, 16 per node, so 2 nodes; the pool may have 1."""
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="large", gpu={"mig": "3g.40gb"}, scaling={"min_replicas": 17, "max_replicas": 17})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"3g.40gb": 2}, max_size=1)})
    lines = refused(workspace, monkeypatch, capsys)
    assert lines[0] == (
        "models/fraud/large.yaml: scaling.min_replicas: the always-on replicas of pool mig in stack dev need "
        "2 nodes even cut {3g.40gb: 2} per GPU, and the pool's max_size is 1; lower min_replicas or raise "
        "modelplane:node_pools.mig.max_size in stacks/Pulumi.dev.yaml to 2")


def test_a_pinned_pool_without_the_profile(workspace, monkeypatch, capsys):
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="large", gpu={"mig": "3g.40gb"}, node_pool="old")
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"1g.10gb": 7}), "old": mig_pool(
        {"1g.5gb": 7}, model="A100-40GB", instance="p4d.24xlarge")})
    lines = refused(workspace, monkeypatch, capsys)
    assert lines[0].startswith(
        "models/fraud/large.yaml: gpu.mig: pool old (A100-40GB: 1g.5gb, ") and lines[0].endswith(
        "cannot be cut into 3g.40gb slices: its GPUs have no such profile; ask for one of its profiles or "
        "name another pool")


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_output_is_deterministic(workspace, monkeypatch, capsys, fmt):
    workspace.team(quota=MIG_QUOTA)
    workspace.model(name="medium", gpu={"mig": "2g.20gb"}, scaling={"min_replicas": 1, "max_replicas": 20})
    workspace.model(name="tiny", gpu={"mig": "1g.10gb"}, scaling={"min_replicas": 1, "max_replicas": 10})
    workspace.stack(node_pools={"system": SYSTEM, "mig": mig_pool({"1g.10gb": 7}, max_size=1)})
    monkeypatch.chdir(workspace.root)
    outputs = []
    for _ in range(2):
        assert main(["placement", "--stack", "dev", "--format", fmt]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and outputs[0]


def test_benchmark_mixes_stay_within_a_tenth_of_the_lower_bound():
    """The generated mixes of benchmarks/mig_planner.py (the five small ones: the large ones take
    seconds) are the same on every run, and the planner stays within 1.1 x the compute bound."""
    from benchmarks.mig_planner import MIXES, generate, run_mix

    assert generate(3, 5, 4, {"1g.10gb": 1, "3g.40gb": 1}) == generate(3, 5, 4, {"1g.10gb": 1, "3g.40gb": 1})
    for index, mix in enumerate(MIXES[:5]):
        row = run_mix(index, *mix)
        assert row["optimal"], row
        assert row["lower_bound"] <= row["layout_per_gpu"] <= 1.1 * row["lower_bound"], row
        assert row["layout_per_gpu"] < row["one_gpu_per_model"], row


def fewest_gpus_by_dynamic_programming(gpu, demand: dict[str, int]) -> int:
    """The same answer another way, for small demands: the fewest GPUs to reach each covered vector
    (capped at the demand), adding one GPU of any layout the checker accepts at a time."""
    import itertools

    from components.catalog.hardware import mig_layout_problem

    profiles = sorted(demand)
    layouts = [
        counts for counts in itertools.product(*(range(gpu.mig_profiles[p].max_per_gpu + 1) for p in profiles))
        if any(counts) and mig_layout_problem(gpu, {p: n for p, n in zip(profiles, counts) if n}) is None
    ]
    target = tuple(demand[p] for p in profiles)
    reached = {tuple(0 for _ in profiles): 0}
    frontier = list(reached)
    while target not in reached:
        step = []
        for state in frontier:
            for layout in layouts:
                covered = tuple(min(t, s + n) for t, s, n in zip(target, state, layout))
                if covered not in reached:
                    reached[covered] = reached[state] + 1
                    step.append(covered)
        frontier = step
    return reached[target]


def test_fewest_gpus_agrees_with_dynamic_programming_on_random_small_demands():
    import random

    rng = random.Random(12)
    names = sorted(H100.mig_profiles)
    for _ in range(20):
        demand = {name: rng.randint(1, 5) for name in rng.sample(names, rng.randint(1, 4))}
        mix = fewest_gpus(H100, demand)
        assert mix.optimal
        assert mix.gpus == fewest_gpus_by_dynamic_programming(H100, demand), demand

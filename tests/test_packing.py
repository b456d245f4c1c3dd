"""The packing simulator: replicas placed onto nodes as the scheduler and cluster-autoscaler would,
checked against packings worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from components.catalog import load_catalog, load_stack, resolve_deployment
from components.catalog.placement import allocatable
from components.review.packing import Replica, format_packing, pack_replicas, pack_stack
from tests.conftest import STACK_CONFIG, Workspace

SYSTEM = STACK_CONFIG["modelplane:node_pools"]["system"]
GIB = 2**30


def deployment_of(workspace: Workspace):
    return resolve_deployment(load_catalog(workspace.models), load_stack(workspace.stacks, "dev"), ["dev"])


def test_cpu_only_first_fit_decreasing(workspace):
    """m6i.xlarge leaves 3.5 CPU. Replicas with sidecars: big 2.125 CPU, small 1.125 x 3.
    Largest first: node 1 takes big + one small (3.25), the other two smalls open node 2."""
    workspace.team()
    workspace.model(name="big", resources={"cpu": "2", "memory": "4Gi"}, scaling={"min_replicas": 1, "max_replicas": 1})
    workspace.model(name="small", scaling={"min_replicas": 3, "max_replicas": 3})
    workspace.stack(node_pools={
        "system": SYSTEM, "cpu": {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 4},
    })
    packing = pack_stack(deployment_of(workspace), "always-on")
    pool = packing.pool("cpu")
    assert pool.nodes == (("fraud/big", "fraud/small"), ("fraud/small", "fraud/small"))
    assert allocatable("m6i.xlarge")[0] == Decimal("3.5")
    assert pool.utilisation()["cpu"] == Decimal("5.5") / 7
    # The system pool's floor runs the add-ons; no model lands there.
    assert packing.pool("system").nodes == ((),)
    assert packing.unplaced == ()


def test_whole_gpus(workspace):
    """g5.12xlarge offers 4 A10G. The 2-GPU model goes first, two 1-GPU replicas join it, the third
    opens a second node: 2 nodes, 5 of 8 GPUs requested."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(name="llm", gpu={"count": 2}, scaling={"min_replicas": 1, "max_replicas": 1})
    workspace.model(name="embedder", gpu={"count": 1}, scaling={"min_replicas": 3, "max_replicas": 3})
    workspace.stack(node_pools={
        "system": SYSTEM,
        "gpu": {"instance_types": ["g5.12xlarge"], "min_size": 0, "max_size": 3, "gpu": {"model": "A10G", "per_node": 4}},
    })
    pool = pack_stack(deployment_of(workspace), "always-on").pool("gpu")
    assert pool.nodes == (("fraud/llm", "fraud/embedder", "fraud/embedder"), ("fraud/embedder",))
    assert pool.utilisation()["nvidia.com/gpu"] == Decimal(5) / 8


def test_mixed_mig_slices(workspace):
    """A p4de node cut {3g.40gb: 1, 2g.20gb: 1, 1g.10gb: 2} per GPU offers 8, 8 and 16 slices.
    5 x 3g, 8 x 2g and 17 x 1g: the first node takes all but one 1g slice, which opens node 2."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "mig": {"3g.40gb": 5, "2g.20gb": 8, "1g.10gb": 17}})
    workspace.model(name="large", gpu={"mig": "3g.40gb"}, scaling={"min_replicas": 5, "max_replicas": 5})
    workspace.model(name="medium", gpu={"mig": "2g.20gb"}, scaling={"min_replicas": 8, "max_replicas": 8})
    workspace.model(name="tiny", resources={"cpu": "500m", "memory": "1Gi"},
                    gpu={"mig": "1g.10gb"}, scaling={"min_replicas": 17, "max_replicas": 17})
    workspace.stack(node_pools={
        "system": SYSTEM,
        "mig": {"instance_types": ["p4de.24xlarge"], "min_size": 0, "max_size": 2, "gpu": {
            "model": "A100-80GB", "per_node": 8,
            "mig": {"strategy": "mixed", "layout": {"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}}}},
    })
    pool = pack_stack(deployment_of(workspace), "always-on").pool("mig")
    assert [len(node) for node in pool.nodes] == [5 + 8 + 16, 1]
    assert pool.nodes[1] == ("fraud/tiny",)
    used = pool.utilisation()
    assert (used["nvidia.com/mig-3g.40gb"], used["nvidia.com/mig-2g.20gb"], used["nvidia.com/mig-1g.10gb"]) == (
        Decimal(5) / 16, Decimal(8) / 16, Decimal(17) / 32)


def test_what_fits_nowhere(workspace):
    """At peak, 5 one-GPU replicas on a pool of at most 2 one-GPU nodes: 3 do not fit. A replica
    larger than any node of its pool is reported as such."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 5})
    workspace.stack()
    deployment = deployment_of(workspace)
    peak = pack_stack(deployment, "peak")
    assert peak.pool("gpu").node_count == 2
    assert [(u.owner, u.reason) for u in peak.unplaced] == [
        ("fraud/scorer", "pool gpu is at its max_size of 2 nodes")] * 3
    assert "does not fit at peak replicas: fraud/scorer: pool gpu is at its max_size of 2 nodes" in format_packing([peak])
    huge = Replica("fraud/huge", Decimal(100), Decimal(GIB), None, ("system",))
    packing = pack_replicas(deployment.stack, [huge])
    assert [u.reason for u in packing.unplaced] == [
        "larger than a m6i.large node of pool system (1500m CPU, 6656Mi memory free)"]


def test_plan_review_and_cost_json_show_the_packing(workspace, monkeypatch, capsys):
    """The same packing in every view: text and markdown tables, and JSON for tools."""
    import json

    from components.cli.main import main

    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 8})
    workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 5})
    workspace.stack()
    monkeypatch.chdir(workspace.root)
    unfit = "does not fit at peak replicas: fraud/scorer: pool gpu is at its max_size of 2 nodes"
    assert main(["plan", "--stack", "dev"]) == 0
    text = capsys.readouterr().out
    always_on, peak = text.index("Packing at always-on replicas:"), text.index("Packing at peak replicas:")
    assert always_on < peak < text.index(unfit)
    gpu_lines = [line for line in text.splitlines() if line.startswith("  gpu: ")]
    assert gpu_lines[0].startswith("  gpu: 1 x ") and gpu_lines[1].startswith("  gpu: 2 x ")
    assert "nvidia.com/gpu 100%" in gpu_lines[1]
    assert main(["cost", "--stack", "dev", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "| state | pool | nodes (min-max) | CPU | memory | GPU / MIG |" in markdown
    assert f"- {unfit}" in markdown
    assert main(["cost", "--stack", "dev", "--format", "json"]) == 0
    packing = {p["state"]: p for p in json.loads(capsys.readouterr().out)["packing"]}
    gpu = {state: next(pool for pool in p["pools"] if pool["pool"] == "gpu") for state, p in packing.items()}
    assert (gpu["always-on"]["nodes"], gpu["peak"]["nodes"], gpu["peak"]["max_size"]) == (1, 2, 2)
    assert gpu["peak"]["utilisation"]["nvidia.com/gpu"] == 1.0
    assert packing["always-on"]["unplaced"] == []
    assert packing["peak"]["unplaced"] == [
        {"replica": "fraud/scorer", "reason": "pool gpu is at its max_size of 2 nodes"}] * 3

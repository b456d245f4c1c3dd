"""``modelplane cost``: node-hours of packed pools, worked out by hand, and the classic comparison."""

from __future__ import annotations

from decimal import Decimal

import pytest

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment
from components.review.cost import DAYS_PER_MONTH, HOURS_PER_MONTH, estimate_cost, format_cost, money
from tests.conftest import STACK_CONFIG, Workspace

SYSTEM = STACK_CONFIG["modelplane:node_pools"]["system"]
LOAD_BALANCER = Decimal("0.0225") * 730  # $16.425
MONITORING = Decimal("0.096") * 730  # one m6i.large per team, the classic way


def report_of(workspace: Workspace):
    deployment = resolve_deployment(load_catalog(workspace.models), load_stack(workspace.stacks, "dev"), ["dev"])
    return estimate_cost(deployment)


def cost_workspace(workspace: Workspace) -> Workspace:
    """Hand-computable: one CPU model at zero, one whole-GPU model always on, one MIG model at zero."""
    workspace.team(quota={"cpu": "64", "memory": "256Gi", "gpu": 4, "mig": {"1g.10gb": 4}})
    workspace.model()  # 1 CPU, 2Gi; falls back to the system pool (m6i.large $0.096/h)
    workspace.model(name="embedder", gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 1})
    workspace.model(name="ranker", gpu={"mig": "1g.10gb"}, usage={"active_hours_per_day": 2})
    workspace.stack()
    return workspace


def test_node_hours_of_a_small_catalog(workspace):
    report = report_of(cost_workspace(workspace))
    pools = {p.pool: p for p in report.pools}
    # system: the floor node runs the add-ons (platform cost); scorer wakes a second m6i.large
    # 4 h/day: 4/24 of a node on average.
    assert pools["system"].average_nodes == 1 + Decimal(4) / 24
    assert money(report.platform["system pool floor (1 x m6i.large)"]) == Decimal("70.08")
    assert money(pools["system"].serving_monthly) == money(Decimal("0.096") * 730 * 4 / 24) == Decimal("11.68")
    # gpu: one g5.xlarge ($1.006/h) all month for the always-on embedder.
    assert (pools["gpu"].always_on_nodes, money(pools["gpu"].monthly)) == (1, Decimal("734.38"))
    # mig: the ranker's 1g.10gb slice (1/56 of the node) wakes a whole p5.48xlarge ($55.04/h)
    # 2 h/day: $3,348.27 a month, where its share alone would be $59.79.
    assert pools["mig"].average_nodes == Decimal(2) / 24
    assert money(pools["mig"].monthly) == money(Decimal("55.04") * 730 * 2 / 24) == Decimal("3348.27")
    costs = {m.model: m for m in report.models}
    assert costs["ranker"].node_share == Decimal(1) / 56
    assert money(costs["ranker"].monthly) == Decimal("59.79")
    assert money(pools["mig"].idle_monthly) == Decimal("3288.48")
    # scorer's own share: (1 + 0.125 sidecars) / 2 vCPU of $0.096 for 4 h/day.
    assert (costs["scorer"].node_share, money(costs["scorer"].monthly)) == (Decimal("0.5625"), Decimal("6.57"))
    assert money(report.serving_monthly) == Decimal("4110.75")  # 11.68 + 734.38 + 3348.27 + 16.43 gateway
    # One model per pod: scorer's share all month, a g5.xlarge for the embedder, a whole
    # p5.48xlarge for the ranker (no MIG without sharing), a load balancer each, monitoring.
    assert money(costs["scorer"].classic_monthly) == money(Decimal("0.054") * 730 + LOAD_BALANCER) == Decimal("55.85")
    assert money(costs["embedder"].classic_monthly) == money(Decimal("1.006") * 730 + LOAD_BALANCER)
    assert money(costs["ranker"].classic_monthly) == money(Decimal("55.04") * 730 + LOAD_BALANCER) == Decimal("40195.63")
    assert report.classic_teams == {"fraud": MONITORING}
    assert money(report.platform["EKS control plane"]) == Decimal("73.00")
    assert report.platform["S3 gateway endpoint"] == 0


def test_pool_floors_are_paid_and_absorb_what_they_can(workspace):
    """With the MIG pool's min_size at 1, its p5.48xlarge runs all month whether or not the ranker
    is active, and the ranker wakes nothing."""
    cost_workspace(workspace)
    pools = dict(STACK_CONFIG["modelplane:node_pools"])
    pools["mig"] = {**pools["mig"], "min_size": 1}
    workspace.stack(node_pools=pools)
    mig = {p.pool: p for p in report_of(workspace).pools}["mig"]
    assert (mig.always_on_nodes, mig.average_nodes) == (1, 1)
    assert money(mig.monthly) == money(Decimal("55.04") * 730) == Decimal("40179.20")


def test_overlap_of_scale_to_zero_models_is_a_setting(workspace):
    """Two models active 12 h/day whose replicas share one m6i.xlarge. Independent: a node runs
    whenever at least one is active, 3/4 of the time. Apart: each wakes it alone, half the time each."""
    workspace.team()
    for name in ("one", "two"):
        workspace.model(name=name, usage={"active_hours_per_day": 12})
    pools = {"system": SYSTEM, "cpu": {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 2}}
    workspace.stack(node_pools=pools)
    assert {p.pool: p for p in report_of(workspace).pools}["cpu"].average_nodes == Decimal("0.75")
    workspace.stack(node_pools=pools, cost={"scale_to_zero_overlap": "apart"})
    assert {p.pool: p for p in report_of(workspace).pools}["cpu"].average_nodes == Decimal(1)


def test_spot_pools_and_downloads_through_nat(workspace):
    """A Hugging Face model (10 GiB, not S3, so through the NAT gateway) waking once a day on a
    spot pool, and an S3 model whose downloads take the free S3 gateway endpoint."""
    workspace.team()
    workspace.model(name="hub", format="huggingface", storage_uri="hf://acme/hub-model",
                    usage={"model_size_gib": 10})
    workspace.model(name="local", scaling={"min_replicas": 2, "max_replicas": 2})
    workspace.stack(node_pools={
        "system": SYSTEM,
        "cpu": {"instance_types": ["m6i.xlarge"], "capacity_type": "spot", "min_size": 0, "max_size": 2},
    })
    report = report_of(workspace)
    costs = {m.model: m for m in report.models}
    gb = Decimal(10) * 2**30 / 10**9
    assert money(costs["hub"].download_monthly) == money(DAYS_PER_MONTH * gb * Decimal("0.045")) == Decimal("14.70")
    assert costs["local"].download_monthly == 0
    cpu = {p.pool: p for p in report.pools}["cpu"]
    # Spot at 0.4 of $0.192. local's two replicas (1.125 CPU each) and hub's share one node.
    assert cpu.node_hourly == Decimal("0.192") * Decimal("0.4")
    assert (cpu.always_on_nodes, cpu.average_nodes) == (1, 1)
    assert money(cpu.monthly) == money(Decimal("0.0768") * HOURS_PER_MONTH)
    assert "model downloads through NAT: $14.70/month" in format_cost(report)


def test_the_seed_scenario(workspace):
    """50 models of about $55 a month each one model per pod, about 10 active at a time (4.8 h/day
    each). Packed: six replicas (1.125 CPU) per m6i.2xlarge (7.5 CPU free), and about 10 of 50
    active at once wake E[ceil(K/6)] = 2.085 nodes on average for K ~ Binomial(50, 0.2) (sampled:
    2.10), not 10/6 = 1.67: whole nodes, and the swings of how many happen to be active together.
    $604.40 against $2,862.33: 79% saved (85% when priced by shares)."""
    workspace.team(quota={"cpu": "640", "memory": "2560Gi"})
    for index in range(50):
        workspace.model(name=f"model-{index:02d}", usage={"active_hours_per_day": 4.8})
    workspace.stack(node_pools={
        "system": SYSTEM, "cpu": {"instance_types": ["m6i.2xlarge"], "min_size": 0, "max_size": 20},
    })
    report = report_of(workspace)
    assert {money(m.classic_monthly) for m in report.models} == {Decimal("55.85")}
    assert money(report.classic_monthly) == money(50 * (Decimal("0.054") * 730 + LOAD_BALANCER) + MONITORING)
    cpu = {p.pool: p for p in report.pools}["cpu"]
    assert Decimal("2.05") < cpu.average_nodes < Decimal("2.12")
    assert money(report.serving_monthly) == money(cpu.average_nodes * Decimal("0.384") * 730 + LOAD_BALANCER)
    assert money(report.serving_monthly) == Decimal("604.40")
    assert round(report.savings_ratio, 2) == Decimal("0.79")


def test_price_override_and_unknown_price(workspace):
    cost_workspace(workspace)
    workspace.stack(cost={"prices": {"m6i.large": 0.2}})
    assert {m.model: m.replica_hourly for m in report_of(workspace).models}["scorer"] == Decimal("0.1125")
    workspace.stack(cost={"prices": {"m9z.large": 0.2}})
    with pytest.raises(InputError) as caught:
        load_stack(workspace.stacks, "dev")
    assert "cost.prices names m9z.large, which modelplane does not know" in str(caught.value)

"""GPU time-slicing: a pool setting, the device plugin's configuration and node labels it renders,
models asking for a share, and the quotas, capacity and cost that count shares."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import yaml

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.budgets import gpu_capacity
from components.render.objects import object_id
from components.render.stack_render import render_stack
from components.review.cost import estimate_cost
from tests.conftest import STACK_CONFIG, Workspace

SHARED = "nvidia.com/gpu.shared"
TAGS = "k8s.io/cluster-autoscaler/node-template/"


def shared_pools(replicas: int = 4) -> dict:
    """The fixture's pools without the MIG pool (which would bring the GPU operator), and a
    time-sliced A10G pool beside the whole-GPU one."""
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    del pools["mig"]
    pools["shared"] = copy.deepcopy(pools["gpu"])
    pools["shared"]["gpu"]["sharing"] = {"time_slicing": {"replicas": replicas}}
    return pools


@pytest.fixture
def sharing_workspace(basic_workspace: Workspace) -> Workspace:
    basic_workspace.stack(node_pools=shared_pools())
    basic_workspace.team(quota={"cpu": "16", "memory": "64Gi", "gpu": 2, "gpu_shares": 3})
    basic_workspace.model(gpu={"shares": 1})
    return basic_workspace


def deployment_of(workspace: Workspace, stack: str = "dev"):
    return resolve_deployment(
        load_catalog(workspace.models, "models"), load_stack(workspace.stacks, stack, "stacks"),
        stack_names(workspace.stacks),
    )


def problems_of(workspace: Workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        rendered = render_stack(deployment_of(workspace))
        assert rendered is None
    return [str(problem) for problem in caught.value.problems]


def test_a_share_asks_for_the_renamed_resource_on_the_time_sliced_pool(sharing_workspace):
    deployment = deployment_of(sharing_workspace)
    objects = {object_id(obj): obj for obj in render_stack(deployment).objects}
    predictor = objects["InferenceService/team-fraud/scorer"]["spec"]["predictor"]
    resources = predictor["model"]["resources"]
    assert resources["requests"][SHARED] == resources["limits"][SHARED] == "1"
    assert "nvidia.com/gpu" not in resources["requests"]
    assert predictor["nodeSelector"] == {"modelplane.dev/node-pool": "shared"}
    # The team's quota counts shares apart from whole GPUs.
    hard = objects["ResourceQuota/team-fraud/team-quota"]["spec"]["hard"]
    assert (hard["requests.nvidia.com/gpu"], hard[f"requests.{SHARED}"]) == ("2", "3")


def test_whole_gpu_models_never_land_on_shares(sharing_workspace):
    sharing_workspace.model(gpu={"count": 1})
    [model] = deployment_of(sharing_workspace).models
    assert (model.gpu.resource, model.node_pools) == ("nvidia.com/gpu", ("gpu",))


def test_the_node_group_offers_shares_and_selects_its_device_plugin_configuration(sharing_workspace):
    rendered = render_stack(deployment_of(sharing_workspace))
    group = next(g for g in rendered.cluster.node_groups if g.pool == "shared")
    assert group.labels["nvidia.com/device-plugin.config"] == "modelplane-shared"
    # Its nodes offer no nvidia.com/gpu, so like mixed MIG nodes they carry no accelerator label
    # (kubernetes/autoscaler#8095) and their template says 0 whole GPUs.
    assert "k8s.amazonaws.com/accelerator" not in group.labels
    assert group.autoscaler_tags[f"{TAGS}resources/nvidia.com/gpu"] == "0"
    assert group.autoscaler_tags[f"{TAGS}resources/{SHARED}"] == "4"
    assert group.autoscaler_tags[f"{TAGS}label/nvidia.com/device-plugin.config"] == "modelplane-shared"
    whole = next(g for g in rendered.cluster.node_groups if g.pool == "gpu")
    assert "nvidia.com/device-plugin.config" not in whole.labels


def test_the_device_plugin_gets_one_configuration_per_time_sliced_pool(sharing_workspace):
    rendered = render_stack(deployment_of(sharing_workspace))
    plugin = next(r for r in rendered.releases if r.name == "nvidia-device-plugin")
    config = plugin.values["config"]
    assert config["default"] == "whole-gpus"
    assert sorted(config["map"]) == ["modelplane-shared", "whole-gpus"]
    shared = yaml.safe_load(config["map"]["modelplane-shared"])
    assert shared == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {"timeSlicing": {
            "renameByDefault": True, "failRequestsGreaterThanOne": True,
            "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
        }},
    }
    assert yaml.safe_load(config["map"]["whole-gpus"]) == {"version": "v1", "flags": {"migStrategy": "none"}}


def test_without_time_slicing_the_device_plugin_keeps_its_defaults(basic_workspace):
    pools = shared_pools()
    del pools["shared"]
    basic_workspace.stack(node_pools=pools)
    rendered = render_stack(deployment_of(basic_workspace))
    plugin = next(r for r in rendered.releases if r.name == "nvidia-device-plugin")
    assert "config" not in plugin.values


def test_capacity_and_cost_count_shares(sharing_workspace):
    deployment = deployment_of(sharing_workspace)
    [pool] = [p for p in gpu_capacity(deployment.stack, deployment.models) if p.pool == "shared"]
    assert (pool.resource, pool.per_node, pool.max_nodes) == (SHARED, 4, 2)
    shared_cost = next(m for m in estimate_cost(deployment).models if m.model == "scorer")
    sharing_workspace.model(gpu={"count": 1})
    whole_cost = next(m for m in estimate_cost(deployment_of(sharing_workspace)).models if m.model == "scorer")
    # One of four turns on the GPU: a quarter of the node, unless CPU or memory take more.
    assert shared_cost.node_share == max(Decimal(1) / 4, shared_cost.node_share)
    assert shared_cost.node_share < whole_cost.node_share == 1


def test_a_share_beyond_the_quota(sharing_workspace):
    sharing_workspace.team(quota={"cpu": "16", "memory": "64Gi", "gpu": 2})
    [problem] = problems_of(sharing_workspace)
    assert problem.startswith("models/fraud/scorer.yaml: gpu.shares: one share of a time-sliced GPU per replica is more than team fraud's quota.gpu_shares of 0")


def test_a_share_without_a_time_sliced_pool(sharing_workspace):
    pools = shared_pools()
    del pools["shared"]
    sharing_workspace.stack(node_pools=pools)
    [problem] = problems_of(sharing_workspace)
    assert problem.startswith("models/fraud/scorer.yaml: gpu.shares: one share of a time-sliced GPU per replica, but no pool of stack dev is time-sliced")


@pytest.mark.parametrize(("gpu", "message"), [
    ({"model": "H100-80GB", "per_node": 8, "mig": {"strategy": "mixed", "layout": {"1g.10gb": 7}},
      "sharing": {"time_slicing": {"replicas": 2}}},
     "gpu.sharing and gpu.mig cannot both be set"),
    ({"model": "H100-80GB", "per_node": 8, "sharing": {"time_slicing": {"replicas": 1}}},
     "gpu.sharing.time_slicing.replicas: must be at least 2"),
])
def test_pool_settings_are_checked(basic_workspace, gpu, message):
    pools = shared_pools()
    pools["shared"] = {"instance_types": ["p5.48xlarge"], "min_size": 0, "max_size": 1, "gpu": gpu}
    basic_workspace.stack(node_pools=pools)
    [problem] = problems_of(basic_workspace)
    assert problem.startswith("stacks/Pulumi.dev.yaml: modelplane:node_pools.shared") and message in problem


def test_bottlerocket_pools_cannot_be_time_sliced(basic_workspace):
    pools = shared_pools()
    pools["shared"]["ami_type"] = "BOTTLEROCKET_x86_64_NVIDIA"
    basic_workspace.stack(node_pools=pools)
    [problem] = problems_of(basic_workspace)
    assert "Bottlerocket runs its own NVIDIA device plugin" in problem


def test_a_stack_on_the_gpu_operator_refuses_time_slicing(basic_workspace):
    pools = shared_pools()
    pools["mig"] = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"]["mig"])
    basic_workspace.stack(node_pools=pools)
    [problem] = problems_of(basic_workspace)
    assert problem.startswith("stacks/Pulumi.dev.yaml: (file): modelplane:node_pools.shared.gpu.sharing: "
                              "the pool shares GPUs by time-slicing")
    assert "runs the GPU operator instead" in problem


# KServe v0.20.0 pkg/controller/v1beta1/inferenceservice/utils/utils.go:338-379 (UpdateImageTag)
# adds "-gpu" to the image tag of these server types only, and only when pkg/utils/utils.go:58-70
# (IsGPUEnabled) finds nvidia.com/gpu or an nvidia.com/mig-* limit: never for nvidia.com/gpu.shared.
KSERVE_GPU_TAG_SERVERS = {"kserve-tensorflow-serving", "kserve-torchserve", "kserve-huggingfaceserver"}


def test_runtimes_whose_gpu_image_kserve_picks_by_tag():
    from components.catalog.runtimes import SERVING_RUNTIMES
    assert {name for name, runtime in SERVING_RUNTIMES.items() if runtime.gpu_build_by_tag} == KSERVE_GPU_TAG_SERVERS


@pytest.mark.parametrize("fields", [
    {"format": "huggingface"},
    {"format": "pytorch"},
    {"format": "tensorflow"},
])
def test_a_share_on_a_runtime_that_would_run_its_cpu_image_is_refused(sharing_workspace, fields):
    sharing_workspace.model(gpu={"shares": 1}, **fields)
    with pytest.raises(InputError) as caught:
        load_catalog(sharing_workspace.models, "models")
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith("models/fraud/scorer.yaml: gpu: KServe runs runtime kserve-")
    assert "would run its CPU image" in problem and "kserve-tritonserver" in problem


def test_a_share_served_by_triton_is_allowed(sharing_workspace):
    sharing_workspace.model(gpu={"shares": 1}, format="pytorch", runtime="kserve-tritonserver")
    [model] = load_catalog(sharing_workspace.models, "models").models()
    assert model[1].spec.gpu.shares == 1

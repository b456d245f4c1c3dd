"""MIG models wait for mig-manager: NVIDIA/gpu-operator#2670 and what modelplane does about it.

#2670: a node that boots with ``nvidia.com/mig.config`` already set (modelplane sets it through
the node group's labels) may run pods "before the MIG was properly set" on a whole GPU, and the
device plugin fails with "device 0 has no MIG devices configured". What upstream does, at the pins:

- The device plugin builds its resources from the GPUs as they are when it starts. Under MIG
  strategy single a MIG-enabled GPU without slices is fatal ("device %v has no MIG devices
  configured"), under mixed only a warning (k8s-device-plugin internal/rm/device_map.go:86-98,
  157-180 @v0.20.0); a GPU with MIG still off is advertised whole, as ``nvidia.com/gpu``
  (buildGPUDeviceMap), which under single is also the name slices are asked for by.
- gpu-operator's device plugin waits only for the container toolkit, and exits on an init error
  (assets/state-device-plugin/0500_daemonset.yaml: init container toolkit-validation,
  FAIL_ON_INIT_ERROR "true" @v26.7.0); kubelet restarts it. Its plugin validation only waits for
  any GPU resource on the node (cmd/nvidia-validator/main.go:1447-1467 validateGPUResource): nothing
  in the operator holds workloads until the layout is applied.
- mig-manager, on start and on every label change, sets ``nvidia.com/mig.config.state=pending``,
  pauses the device plugin (``nvidia.com/gpu.deploy.device-plugin=paused-for-mig-change``), applies
  the layout, brings the plugin back and only then sets the state to ``success``; ``failed`` on an
  error, ``rebooting`` before a reboot (mig-parted pkg/mig/reconfigure/reconfigure.go:127-241,
  371-386, 514-532, 540-578 @v0.15.0). So the plugin recovers once mig-manager has run.
- A pod asking for ``nvidia.com/mig-<profile>`` cannot be scheduled before the plugin advertises
  it: the scheduler fits requests against the real node's allocatable. The autoscaler's node
  template (ASG ``node-template/resources`` tags) only lets it predict a node from zero.

So under single a slice's pod can land on a whole, unpartitioned GPU in that window, and under
mixed pods can land on a node being re-partitioned or whose partitioning failed. modelplane
requires ``nvidia.com/mig.config.state=success`` on the node of every MIG model (scheduling only,
never evicting), and puts that label into the autoscaler's template of MIG pools, never into the
labels a node boots with. No taint is needed, and no controller to remove one.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.cluster_shape import MIG_CONFIG_STATE_LABEL, MIG_CONFIG_STATE_READY
from components.render.iam import AUTOSCALER_TAG_PREFIX
from components.render.model_objects import render_inference_service
from components.render.stack_render import render_stack
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACK_CONFIG, STACKS_DIR

TEMPLATE_LABEL = f"{AUTOSCALER_TAG_PREFIX}/node-template/label/"


def _render(root):
    catalog = load_catalog(root / "models", "models")
    stack = load_stack(root / "stacks", "dev", "stacks")
    return render_stack(resolve_deployment(catalog, stack, stack_names(root / "stacks")))


def _services(rendered) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in rendered.objects if obj["kind"] == "InferenceService"}


def _required_labels(service: dict) -> list[dict[str, str]]:
    """Each alternative set of node labels the predictor's pods require (one per selector term)."""
    predictor = service["spec"]["predictor"]
    selector = predictor.get("nodeSelector", {})
    terms = predictor.get("affinity", {}).get("nodeAffinity", {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution", {}).get("nodeSelectorTerms")
    if not terms:
        return [dict(selector)]
    alternatives = []
    for term in terms:
        for expression in term["matchExpressions"]:
            assert expression["operator"] == "In"
        keys = [(e["key"], e["values"]) for e in term["matchExpressions"]]
        # One alternative per value of the pool label; the other keys have one value each.
        pool_key, pools = keys[0]
        fixed = {key: values[0] for key, values in keys[1:]}
        alternatives += [{**selector, pool_key: pool, **fixed} for pool in pools]
    return alternatives


def test_the_labels_are_mig_managers():
    # mig-parted pkg/mig/reconfigure/reconfigure.go:41,49 @v0.15.0 (migConfigStateLabel, migStateSuccess).
    assert (MIG_CONFIG_STATE_LABEL, MIG_CONFIG_STATE_READY) == ("nvidia.com/mig.config.state", "success")


@pytest.mark.parametrize("strategy", ["single", "mixed"])
def test_mig_models_wait_for_the_layout_and_the_autoscaler_knows_it(workspace, strategy):
    pools = dict(STACK_CONFIG["modelplane:node_pools"])
    pools["mig"] = {**pools["mig"], "gpu": {**pools["mig"]["gpu"], "mig": {"strategy": strategy, "layout": {"1g.10gb": 7}}}}
    workspace.team()
    workspace.model(name="slice", gpu={"mig": "1g.10gb"}, format="pytorch")
    workspace.model(name="whole", gpu={"count": 1}, format="pytorch")
    workspace.model(name="cpu")
    workspace.stack(node_pools=pools)
    rendered = _render(workspace.root)
    services = _services(rendered)

    assert services["slice"]["spec"]["predictor"]["nodeSelector"][MIG_CONFIG_STATE_LABEL] == MIG_CONFIG_STATE_READY
    for name in ("whole", "cpu"):
        assert MIG_CONFIG_STATE_LABEL not in services[name]["spec"]["predictor"].get("nodeSelector", {})

    groups = {group.pool: group for group in rendered.cluster.node_groups}
    # The autoscaler's template promises the label; the node itself never boots with it.
    assert groups["mig"].autoscaler_tags[TEMPLATE_LABEL + MIG_CONFIG_STATE_LABEL] == MIG_CONFIG_STATE_READY
    assert MIG_CONFIG_STATE_LABEL not in groups["mig"].labels
    assert all(TEMPLATE_LABEL + MIG_CONFIG_STATE_LABEL not in groups[pool].autoscaler_tags for pool in ("gpu", "system"))


def test_a_mig_model_on_several_pools_would_wait_on_each(workspace):
    """GPU models are placed on one pool today; should that change, the node affinity that lists
    several pools still requires the label."""
    pools = dict(STACK_CONFIG["modelplane:node_pools"])
    pools["mig-b"] = copy.deepcopy(pools["mig"])
    workspace.team()
    workspace.model(name="slice", gpu={"mig": "1g.10gb"}, format="pytorch")
    workspace.stack(node_pools=pools)
    [model] = _render(workspace.root).deployment.models
    service = render_inference_service(dataclasses.replace(model, node_pools=("mig", "mig-b")))
    [term] = service["spec"]["predictor"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": MIG_CONFIG_STATE_LABEL, "operator": "In", "values": [MIG_CONFIG_STATE_READY]} in term["matchExpressions"]
    assert _required_labels(service) == [
        {"modelplane.dev/node-pool": pool, MIG_CONFIG_STATE_LABEL: MIG_CONFIG_STATE_READY} for pool in ("mig", "mig-b")
    ]


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_every_label_a_model_requires_is_in_its_pools_autoscaler_template(stack):
    """Scale-from-zero: cluster-autoscaler builds a zero-node group's node from the ASG's
    node-template/label tags (cluster-autoscaler/cloudprovider/aws/aws_manager.go:268
    buildNodeFromTemplate, :404-410 extractLabelsFromAsg @cluster-autoscaler-1.35.1); a pod requiring a label absent there would never scale its pool up."""
    deployment = resolve_deployment(load_catalog(MODELS_DIR, "models"), load_stack(STACKS_DIR, stack, "stacks"),
                                    stack_names(STACKS_DIR))
    rendered = render_stack(deployment)
    templates = {
        group.pool: {key.removeprefix(TEMPLATE_LABEL): value for key, value in group.autoscaler_tags.items()
                     if key.startswith(TEMPLATE_LABEL)}
        for group in rendered.cluster.node_groups
    }
    checked = 0
    for service in _services(rendered).values():
        for required in _required_labels(service):
            pool = required.get("modelplane.dev/node-pool")
            if pool is None:
                continue
            assert required.items() <= templates[pool].items(), (service["metadata"]["name"], pool)
            checked += 1
    assert checked

"""The AWS shape of a stack: network, EKS control plane, node groups and their autoscaler tags.

Plain data for the Pulumi components (and the offline plan) to draw from; nothing here calls AWS.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from typing import Any

from components.catalog.placement import WHOLE_GPU_RESOURCE, gpu_offer
from components.catalog.stack_settings import NodePool
from components.catalog.stacks import Stack
from components.platform_names import (
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    KUBE_SYSTEM_NAMESPACE,
    LABEL_PREFIX,
    NODE_POOL_LABEL,
)
from components.render.iam import AUTOSCALER_TAG_PREFIX, aws_partition, iam_role_name, shortened

MIG_CONFIG_LABEL = "nvidia.com/mig.config"
# mig-manager's report on a node: pending, rebooting, failed, or success once the layout named by
# MIG_CONFIG_LABEL is applied and the device plugin restarted on it (mig-parted
# pkg/mig/reconfigure/reconfigure.go:127-241, setState 540-578 @v0.15.0). Nothing else sets it.
MIG_CONFIG_STATE_LABEL = "nvidia.com/mig.config.state"
MIG_CONFIG_STATE_READY = "success"
# The device plugin's config-manager picks the node's configuration from the chart's config.map
# by this label (nvidia-device-plugin chart templates/daemonset-device-plugin.yml:75-76 @ v0.20.0),
# and the chart's config.default where it is absent.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
# cluster-autoscaler's GPU label on AWS (cloudprovider/aws/aws_cloud_provider.go GPULabel).
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
# Per node group options cluster-autoscaler reads from the Auto Scaling group's tags
# (cloudprovider/aws/aws_manager.go:54 optionsTagsPrefix, GetAsgOptions :214-266, keys in
# config/const.go:32-38 @ cluster-autoscaler-1.35.1, the same in 1.34.4). A value it cannot parse
# is only logged and the default kept, so the catalog validates them.
AUTOSCALING_OPTIONS_TAG_PREFIX = f"{AUTOSCALER_TAG_PREFIX}/node-template/autoscaling-options"
SCALE_DOWN_UNNEEDED_TIME_OPTION = "scaledownunneededtime"
SCALE_DOWN_UNREADY_TIME_OPTION = "scaledownunreadytime"
SCALE_DOWN_UTILIZATION_OPTION = "scaledownutilizationthreshold"
SCALE_DOWN_GPU_UTILIZATION_OPTION = "scaledowngpuutilizationthreshold"
_MAX_NODE_GROUP_NAME = 63


@dataclass(frozen=True)
class SubnetShape:
    name: str
    availability_zone: str
    cidr: str
    public: bool
    tags: dict[str, str]


@dataclass(frozen=True)
class NetworkShape:
    vpc_cidr: str
    subnets: tuple[SubnetShape, ...]
    # Zones that get a NAT gateway (in their public subnet); private subnets route through the
    # one in their zone, or the first one.
    nat_gateway_zones: tuple[str, ...]
    # The S3 gateway endpoint's service, attached to every private route table: model downloads
    # and ECR image layers (served from S3) bypass the NAT gateways' data processing. Its policy
    # is left open (see render_network_shape).
    s3_endpoint_service: str = ""

    def public_subnets(self) -> tuple[SubnetShape, ...]:
        return tuple(subnet for subnet in self.subnets if subnet.public)

    def private_subnets(self) -> tuple[SubnetShape, ...]:
        return tuple(subnet for subnet in self.subnets if not subnet.public)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    # As the EKS API spells it (NO_SCHEDULE); Kubernetes and the autoscaler say NoSchedule.
    effect: str = "NO_SCHEDULE"

    @property
    def kubernetes_effect(self) -> str:
        return "".join(part.capitalize() for part in self.effect.split("_"))


@dataclass(frozen=True)
class NodeGroupShape:
    pool: str
    node_group_name: str
    instance_types: tuple[str, ...]
    capacity_type: str
    min_size: int
    max_size: int
    desired_size: int
    disk_size_gib: int
    ami_type: str
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    # Tags that let cluster-autoscaler build a node from the template while the group is at zero.
    autoscaler_tags: dict[str, str]
    gpu_model: str | None = None
    gpus_per_node: int = 0


@dataclass(frozen=True)
class ClusterShape:
    name: str
    kubernetes_version: str
    region: str
    endpoint_public_access: bool
    endpoint_public_access_cidrs: tuple[str, ...]
    log_types: tuple[str, ...]
    admin_role_arns: tuple[str, ...]
    network: NetworkShape
    node_groups: tuple[NodeGroupShape, ...]
    cluster_role_name: str
    node_role_name: str
    partition: str
    # EKS managed add-ons: name -> settings (see render_eks_addons).
    eks_addons: dict[str, "EksAddonShape"] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EksAddonShape:
    """An EKS managed add-on; EKS picks the add-on version that matches the cluster's."""

    configuration: dict[str, Any] = field(default_factory=dict)
    # For add-ons that call AWS: the ServiceAccount their IRSA role trusts and the AWS-managed
    # policy it gets.
    service_account: tuple[str, str] | None = None
    managed_policy: str | None = None
    role_name: str | None = None


def stack_tags(stack: Stack) -> dict[str, str]:
    """Tags on every AWS resource of the stack: what owns it and which stack it belongs to."""
    return {
        "managed-by": "modelplane",
        f"{LABEL_PREFIX}/stack": stack.name,
        f"{LABEL_PREFIX}/environment": stack.settings.environment,
        f"{LABEL_PREFIX}/cluster": stack.cluster_name,
    }


def render_cluster_shape(stack: Stack) -> ClusterShape:
    settings = stack.settings
    return ClusterShape(
        name=stack.cluster_name,
        kubernetes_version=settings.cluster.kubernetes_version,
        region=settings.region,
        endpoint_public_access=settings.cluster.endpoint.public_access,
        endpoint_public_access_cidrs=tuple(settings.cluster.endpoint.public_access_cidrs),
        log_types=tuple(settings.cluster.log_types),
        admin_role_arns=tuple(settings.cluster.admin_role_arns),
        network=render_network_shape(stack),
        node_groups=tuple(
            render_node_group_shape(stack, name, pool) for name, pool in sorted(settings.node_pools.items())
        ),
        cluster_role_name=iam_role_name(stack, "cluster"),
        node_role_name=iam_role_name(stack, "nodes"),
        partition=aws_partition(settings.region),
        eks_addons=render_eks_addons(stack),
        tags=stack_tags(stack),
    )


EBS_CSI_SERVICE_ACCOUNT = (KUBE_SYSTEM_NAMESPACE, "ebs-csi-controller-sa")


def render_eks_addons(stack: Stack) -> dict[str, EksAddonShape]:
    partition = aws_partition(stack.settings.region)
    return {
        # The VPC CNI enforces NetworkPolicies (the teams' isolation) only when asked to.
        "vpc-cni": EksAddonShape(configuration={"enableNetworkPolicy": "true"}),
        # Persistent volumes (Prometheus keeps 30+ days of metrics for the SLOs and idle alerts).
        "aws-ebs-csi-driver": EksAddonShape(
            service_account=EBS_CSI_SERVICE_ACCOUNT,
            managed_policy=f"arn:{partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            role_name=iam_role_name(stack, "ebs-csi"),
        ),
    }


def render_network_shape(stack: Stack) -> NetworkShape:
    """One private and one public subnet per zone, carved deterministically from the VPC CIDR.

    Private subnets get the large blocks (the VPC CNI gives every pod a VPC address); the public
    ones, which hold only load balancers and NAT gateways, share the last block.
    """
    zones = stack.settings.availability_zones
    vpc = ipaddress.ip_network(stack.settings.cluster.vpc_cidr)
    bits = math.ceil(math.log2(len(zones) + 1))
    blocks = list(vpc.subnets(prefixlen_diff=bits))
    public_blocks = list(blocks[-1].subnets(prefixlen_diff=bits))
    cluster_tag = {f"kubernetes.io/cluster/{stack.cluster_name}": "shared"}
    subnets = []
    for index, zone in enumerate(zones):
        subnets.append(SubnetShape(
            name=f"private-{zone}", availability_zone=zone, cidr=str(blocks[index]), public=False,
            tags={**cluster_tag, "kubernetes.io/role/internal-elb": "1"},
        ))
        subnets.append(SubnetShape(
            name=f"public-{zone}", availability_zone=zone, cidr=str(public_blocks[index]), public=True,
            tags={**cluster_tag, "kubernetes.io/role/elb": "1"},
        ))
    nat_zones = tuple(zones) if stack.settings.cluster.nat_gateways == "per_az" else (zones[0],)
    # A gateway endpoint's service name is com.amazonaws.<region>.s3 (AWS docs, e.g.
    # docs.aws.amazon.com/codeartifact/latest/ug/create-s3-gateway-endpoint.html). No endpoint
    # policy (an endpoint allows full access by default): beside the stack's model buckets the nodes
    # pull ECR image layers from AWS-owned buckets (prod-<region>-starport-layer-bucket, ECR user
    # guide docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html) and EKS add-on images
    # from other accounts' registries; the IRSA roles already limit who reads which bucket.
    return NetworkShape(
        vpc_cidr=str(vpc), subnets=tuple(subnets), nat_gateway_zones=nat_zones,
        s3_endpoint_service=f"com.amazonaws.{stack.settings.region}.s3",
    )


def mig_config_name(pool: str) -> str:
    """The mig-parted configuration a MIG pool's nodes select with their nvidia.com/mig.config label."""
    return f"modelplane-{pool}"


def scale_down_options(pool: NodePool, gpu_node: bool) -> dict[str, str]:
    """The pool's scale-down settings as cluster-autoscaler's per node group options.

    The autoscaler judges a node it counts as a GPU node (on AWS: one with the accelerator label)
    by its GPU requests against the GPU threshold, any other node by CPU and memory against the
    other one (core/scaledown/eligibility/eligibility.go:173-190), so the pool's threshold goes to
    the option that applies to its nodes.
    """
    options = {}
    if pool.scale_down_unneeded_seconds is not None:
        options[SCALE_DOWN_UNNEEDED_TIME_OPTION] = f"{pool.scale_down_unneeded_seconds}s"
    if pool.scale_down.unready_seconds is not None:
        options[SCALE_DOWN_UNREADY_TIME_OPTION] = f"{pool.scale_down.unready_seconds}s"
    threshold = pool.scale_down.utilization_threshold
    if threshold is not None:
        key = SCALE_DOWN_GPU_UTILIZATION_OPTION if gpu_node else SCALE_DOWN_UTILIZATION_OPTION
        options[key] = str(threshold)
    return options


def device_plugin_config_name(pool: str) -> str:
    """The device plugin configuration a time-sliced pool's nodes select by DEVICE_PLUGIN_CONFIG_LABEL."""
    return f"modelplane-{pool}"


def render_node_group_shape(stack: Stack, name: str, pool: NodePool) -> NodeGroupShape:
    labels = {NODE_POOL_LABEL: name, **pool.labels}
    taints: tuple[Taint, ...] = ()
    offer = gpu_offer(pool, stack.settings.mig_strategy)
    if pool.gpu is not None:
        # The device plugin's default node affinity looks for this label (set by NFD otherwise).
        labels["nvidia.com/gpu.present"] = "true"
        if WHOLE_GPU_RESOURCE in offer:
            # cluster-autoscaler on AWS recognises GPU nodes by this label and waits for their
            # GPUs. It knows only nvidia.com/gpu: a labelled node offering only nvidia.com/mig-*
            # (MIG strategy mixed) would count as "GPU not ready" forever, and enough of them
            # halt autoscaling cluster-wide (kubernetes/autoscaler#8095, open).
            labels[ACCELERATOR_LABEL] = f"nvidia-{pool.gpu.model.lower()}"
        taints = (Taint(GPU_TAINT_KEY, GPU_TAINT_VALUE),)
        if pool.gpu.mig is not None:
            labels[MIG_CONFIG_LABEL] = mig_config_name(name)
        if pool.gpu.sharing is not None:
            # Set at boot: the plugin must never offer these GPUs whole.
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = device_plugin_config_name(name)
    autoscaler_tags = {
        f"{AUTOSCALER_TAG_PREFIX}/enabled": "true",
        f"{AUTOSCALER_TAG_PREFIX}/{stack.cluster_name}": "owned",
    }
    template_labels = dict(labels)
    if pool.gpu is not None and pool.gpu.mig is not None:
        # MIG models wait for mig-manager's success label (see model_objects.mig_ready_selector);
        # the autoscaler's template of a node to come must carry it, or no MIG pool scales up
        # from zero. Only the template: a label set at boot would claim a layout not yet applied.
        template_labels[MIG_CONFIG_STATE_LABEL] = MIG_CONFIG_STATE_READY
    for key, value in sorted(template_labels.items()):
        autoscaler_tags[f"{AUTOSCALER_TAG_PREFIX}/node-template/label/{key}"] = value
    for taint in taints:
        autoscaler_tags[f"{AUTOSCALER_TAG_PREFIX}/node-template/taint/{taint.key}"] = (
            f"{taint.value}:{taint.kubernetes_effect}"
        )
    # The autoscaler infers physical GPUs from the instance type, not MIG slices: say what a
    # node will offer once mig-manager has cut its GPUs. Its template always has the instance's
    # nvidia.com/gpu count unless a tag overrides it, so a mixed MIG pool says 0 (or a pod asking
    # for whole GPUs could scale it up).
    if pool.gpu is not None and WHOLE_GPU_RESOURCE not in offer:
        offer = {**offer, WHOLE_GPU_RESOURCE: 0}
    for resource, count in sorted(offer.items()):
        autoscaler_tags[f"{AUTOSCALER_TAG_PREFIX}/node-template/resources/{resource}"] = str(count)
    for option, value in sorted(scale_down_options(pool, gpu_node=ACCELERATOR_LABEL in labels).items()):
        autoscaler_tags[f"{AUTOSCALING_OPTIONS_TAG_PREFIX}/{option}"] = value
    return NodeGroupShape(
        pool=name,
        node_group_name=shortened(f"{stack.cluster_name}-{name}", _MAX_NODE_GROUP_NAME),
        instance_types=tuple(pool.instance_types),
        capacity_type="SPOT" if pool.capacity_type == "spot" else "ON_DEMAND",
        min_size=pool.min_size,
        max_size=pool.max_size,
        desired_size=pool.desired_size if pool.desired_size is not None else pool.min_size,
        disk_size_gib=pool.disk_size_gib,
        ami_type=pool.effective_ami_type,
        labels=labels,
        taints=taints,
        autoscaler_tags=autoscaler_tags,
        gpu_model=pool.gpu.model if pool.gpu else None,
        gpus_per_node=pool.gpu.per_node if pool.gpu else 0,
    )


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> dict[str, Any]:
    """A kubeconfig that authenticates through ``aws eks get-token`` (no static credentials)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": endpoint, "certificate-authority-data": certificate_authority,
        }}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
        }}}],
    }

"""One EKS managed node group, shaped by ``render.cluster_shape.NodeGroupShape``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.render.cluster_shape import NodeGroupShape


@dataclass(frozen=True, kw_only=True)
class NodePoolArgs:
    cluster_name: pulumi.Input[str]
    node_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    shape: NodeGroupShape
    tags: Mapping[str, str] = field(default_factory=dict)


class NodePool(pulumi.ComponentResource):
    """A managed node group with IMDSv2, an encrypted root volume, its labels and taints, and the
    cluster-autoscaler node-template tags on its Auto Scaling group so it can scale up from zero."""

    node_group: aws.eks.NodeGroup

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:cluster:NodePool", name, None, opts)
        shape = args.shape
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            name_prefix=f"{shape.node_group_name}-",
            update_default_version=True,
            # IMDSv2 only, and one hop: pods cannot reach the node's credentials.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            block_device_mappings=[{
                "device_name": "/dev/xvda",
                "ebs": {
                    "volume_size": shape.disk_size_gib,
                    "volume_type": "gp3",
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }],
            tag_specifications=[
                {"resource_type": "instance", "tags": {**tags, "Name": shape.node_group_name}},
                {"resource_type": "volume", "tags": tags},
            ],
            tags=tags,
            opts=child,
        )
        self.node_group = aws.eks.NodeGroup(
            f"{name}-node-group",
            node_group_name=shape.node_group_name,
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=list(args.subnet_ids),
            instance_types=list(shape.instance_types),
            capacity_type=shape.capacity_type,
            ami_type=shape.ami_type,
            scaling_config={"min_size": shape.min_size, "max_size": shape.max_size, "desired_size": shape.desired_size},
            labels=dict(shape.labels),
            taints=[{"key": t.key, "value": t.value, "effect": t.effect} for t in shape.taints],
            launch_template={"id": self.launch_template.id, "version": self.launch_template.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            # The autoscaler reads resource tags from the node group as well as from the ASG.
            tags={**tags, **shape.autoscaler_tags},
            # cluster-autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
        )
        # EKS does not copy node group tags to its Auto Scaling group; the autoscaler reads the
        # node template (labels, taints, GPU or MIG resources) from there.
        group_name = self.node_group.resources.apply(lambda resources: resources[0].autoscaling_groups[0].name)
        self.autoscaler_tags = [
            aws.autoscaling.Tag(
                f"{name}-asg-tag-{_tag_suffix(key)}",
                autoscaling_group_name=group_name,
                tag={"key": key, "value": value, "propagate_at_launch": False},
                opts=child,
            )
            for key, value in sorted(shape.autoscaler_tags.items())
        ]
        self.register_outputs({"node_group_name": self.node_group.node_group_name})


def _tag_suffix(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", key.removeprefix("k8s.io/cluster-autoscaler/"))

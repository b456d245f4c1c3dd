"""IAM for the stack: role names and ARNs known offline, and the policy documents modelplane writes."""

from __future__ import annotations

import hashlib
from typing import Any

from components.catalog.stacks import Stack
from components.platform_names import KUBE_SYSTEM_NAMESPACE

AUTOSCALER_TAG_PREFIX = "k8s.io/cluster-autoscaler"
CLUSTER_AUTOSCALER_NAMESPACE = KUBE_SYSTEM_NAMESPACE
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
_MAX_IAM_ROLE_NAME = 64


def shortened(name: str, limit: int) -> str:
    """``name`` itself when it fits, else cut and given a hash of the whole, so names stay unique."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def iam_role_name(stack: Stack, purpose: str) -> str:
    """``<cluster>-<purpose>``, shortened with a hash when IAM's 64 characters are not enough."""
    return shortened(f"{stack.cluster_name}-{purpose}", _MAX_IAM_ROLE_NAME)


def aws_partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def iam_role_arn(stack: Stack, role_name: str) -> str:
    """The ARN of a role modelplane creates; known offline, so objects can name it before it exists."""
    return f"arn:{aws_partition(stack.settings.region)}:iam::{stack.settings.aws_account_id}:role/{role_name}"


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer_host: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Only ``namespace/service_account``, through the cluster's OIDC provider, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{oidc_issuer_host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{oidc_issuer_host}:aud": "sts.amazonaws.com",
            }},
        }],
    }


def cluster_autoscaler_role_name(stack: Stack) -> str:
    return iam_role_name(stack, "cluster-autoscaler")


def cluster_autoscaler_policy(stack: Stack) -> dict[str, Any]:
    """What cluster-autoscaler needs on AWS: read everywhere, resize only this cluster's groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeScalingState",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                # Describe calls cannot be limited to resources.
                "Resource": "*",
            },
            {
                "Sid": "ResizeOwnNodeGroups",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    f"aws:ResourceTag/{AUTOSCALER_TAG_PREFIX}/{stack.cluster_name}": "owned",
                }},
            },
        ],
    }

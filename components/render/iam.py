"""IAM for the stack: role names and ARNs known offline, and the policy documents modelplane writes."""

from __future__ import annotations

import hashlib
from typing import Any

from components.catalog.stacks import Stack
from components.platform_names import KUBE_SYSTEM_NAMESPACE

AUTOSCALER_TAG_PREFIX = "k8s.io/cluster-autoscaler"
# The ServiceAccount annotation EKS's pod identity webhook reads to give pods a role's credentials.
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
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


def cert_manager_role_name(stack: Stack) -> str:
    return iam_role_name(stack, "cert-manager")


def acme_challenge_records(dns_names: list[str]) -> list[str]:
    """The TXT records DNS-01 writes for ``dns_names``: ``_acme-challenge.<name>``, a wildcard's
    under its base name (RFC 8555 section 8.4), lower case without the final dot, as Route 53
    normalises the names it matches a policy's conditions against."""
    return sorted({f"_acme-challenge.{name.removeprefix('*.').lower().rstrip('.')}" for name in dns_names})


def cert_manager_dns_policy(stack: Stack, dns_names: list[str]) -> dict[str, Any]:
    """What cert-manager's Route 53 DNS-01 solver needs, on the one zone and the challenge records only.

    cert-manager v1.21.1 (pkg/issuer/acme/dns/route53/route53.go, changeRecord) calls
    ChangeResourceRecordSets, then GetChange until the change is INSYNC; with hostedZoneID set it
    never calls ListHostedZonesByName (getHostedZoneID), and it never lists record sets.
    """
    dns = stack.settings.dns
    assert dns is not None
    partition = aws_partition(stack.settings.region)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WaitForChanges",
                "Effect": "Allow",
                "Action": ["route53:GetChange"],
                # Change ids are not known in advance.
                "Resource": [f"arn:{partition}:route53:::change/*"],
            },
            {
                "Sid": "WriteAcmeChallenges",
                "Effect": "Allow",
                "Action": ["route53:ChangeResourceRecordSets"],
                "Resource": [f"arn:{partition}:route53:::hostedzone/{dns.hosted_zone_id}"],
                # Route 53's condition keys for ChangeResourceRecordSets (Route 53 Developer Guide,
                # "Using IAM policy conditions for fine-grained access control"): every change of
                # the batch must be a TXT record with one of these names.
                "Condition": {
                    "ForAllValues:StringEquals": {
                        # Present upserts the record, CleanUp deletes it.
                        "route53:ChangeResourceRecordSetsActions": ["DELETE", "UPSERT"],
                        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames": acme_challenge_records(dns_names),
                    },
                },
            },
        ],
    }

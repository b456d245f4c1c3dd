"""The AWS side of a team: the IAM role its models assume (IRSA) and what that role may read."""

from __future__ import annotations

import hashlib
from typing import Any

from components.catalog.loader import CatalogTeam
from components.catalog.stacks import Stack
from components.platform_names import MODEL_SERVICE_ACCOUNT

_MAX_ROLE_NAME = 64


def aws_partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def team_role_name(stack: Stack, team: CatalogTeam) -> str:
    """IAM role name of a team's models; deterministic so the ServiceAccount can name it offline."""
    name = f"{stack.cluster_name}-{team.name}-models"
    if len(name) <= _MAX_ROLE_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _MAX_ROLE_NAME - 9]}-{digest}"


def team_role_arn(stack: Stack, team: CatalogTeam) -> str:
    settings = stack.settings
    return (
        f"arn:{aws_partition(settings.region)}:iam::{settings.aws_account_id}:role/"
        f"{team_role_name(stack, team)}"
    )


def _split_prefix(prefix: str) -> tuple[str, str]:
    bucket, _, key = prefix.removeprefix("s3://").partition("/")
    return bucket, key


def team_storage_policy(stack: Stack, team: CatalogTeam) -> dict[str, Any]:
    """Read-only access to exactly the team's S3 prefixes: list them and get their objects."""
    partition = aws_partition(stack.settings.region)
    by_bucket: dict[str, list[str]] = {}
    for prefix in team.spec.storage.s3_prefixes:
        bucket, key = _split_prefix(prefix)
        by_bucket.setdefault(bucket, []).append(key)
    statements: list[dict[str, Any]] = [{
        "Sid": "ReadModelArtifacts",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": sorted(
            f"arn:{partition}:s3:::{bucket}/{key}*"
            for bucket, keys in by_bucket.items()
            for key in keys
        ),
    }]
    for index, (bucket, keys) in enumerate(sorted(by_bucket.items())):
        statements.append({
            "Sid": f"ListModelPrefixes{index}",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:{partition}:s3:::{bucket}"],
            # Listing is per bucket; the condition keeps it to the team's own prefixes.
            "Condition": {"StringLike": {"s3:prefix": sorted(f"{key}*" for key in keys)}},
        })
    return {"Version": "2012-10-17", "Statement": statements}


def team_trust_policy(stack: Stack, team: CatalogTeam, oidc_provider_arn: str, oidc_issuer_host: str) -> dict[str, Any]:
    """Only the team's model ServiceAccount, in the team's namespace, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{oidc_issuer_host}:sub": f"system:serviceaccount:{team.namespace}:{MODEL_SERVICE_ACCOUNT}",
                f"{oidc_issuer_host}:aud": "sts.amazonaws.com",
            }},
        }],
    }

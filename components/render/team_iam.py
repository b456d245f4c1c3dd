"""The AWS side of a team: the IAM role its models assume (IRSA) and what that role may read."""

from __future__ import annotations

from typing import Any

from components.catalog.loader import CatalogTeam
from components.catalog.stacks import Stack
from components.render.iam import aws_partition, iam_role_arn, iam_role_name


def team_role_name(stack: Stack, team: CatalogTeam) -> str:
    """IAM role name of a team's models; deterministic so the ServiceAccount can name it offline."""
    return iam_role_name(stack, f"{team.name}-models")


def team_role_arn(stack: Stack, team: CatalogTeam) -> str:
    return iam_role_arn(stack, team_role_name(stack, team))


def team_storage_policy(stack: Stack, team: CatalogTeam) -> dict[str, Any]:
    """Read-only access to exactly the team's S3 prefixes: list them and get their objects."""
    partition = aws_partition(stack.settings.region)
    by_bucket: dict[str, list[str]] = {}
    for prefix in team.spec.storage.s3_prefixes:
        bucket, _, key = prefix.removeprefix("s3://").partition("/")
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
            # Listing is granted per bucket; the condition keeps it to the team's own prefixes.
            "Condition": {"StringLike": {"s3:prefix": sorted(f"{key}*" for key in keys)}},
        })
    return {"Version": "2012-10-17", "Statement": statements}

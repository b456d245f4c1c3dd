"""The AWS side of a team: the IAM role its models assume (IRSA) and what that role may read."""

from __future__ import annotations

from typing import Any

from components.catalog.loader import CatalogTeam
from components.catalog.stacks import Stack
from components.platform_names import SECRETS_MANAGER_PATH_ROOT
from components.render.iam import aws_partition, iam_role_arn, iam_role_name


def team_role_name(stack: Stack, team: CatalogTeam) -> str:
    """IAM role name of a team's models; deterministic so the ServiceAccount can name it offline."""
    return iam_role_name(stack, f"{team.name}-models")


def team_role_arn(stack: Stack, team: CatalogTeam) -> str:
    return iam_role_arn(stack, team_role_name(stack, team))


def team_storage_policy(stack: Stack, team: CatalogTeam) -> dict[str, Any]:
    """Read-only access to the team's S3 prefixes: get their objects, list their buckets.

    KServe's storage initializer calls HeadBucket before it lists the prefix
    (``kserve_storage.py`` ``_download_s3`` @v0.20.0, since #5016 in v0.17.0). HeadBucket is
    authorised as ``s3:ListBucket`` and carries no ``s3:prefix``, and a ``StringLike`` condition on
    an absent key never matches, so listing can not be limited to the team's prefixes: the role
    may list (see key names, never read objects) in the buckets that hold its prefixes. A team
    whose key names must stay private gets a bucket of its own.
    """
    partition = aws_partition(stack.settings.region)
    by_bucket: dict[str, list[str]] = {}
    for prefix in team.spec.storage.s3_prefixes:
        bucket, _, key = prefix.removeprefix("s3://").partition("/")
        by_bucket.setdefault(bucket, []).append(key)
    return {"Version": "2012-10-17", "Statement": [
        {
            "Sid": "ReadModelArtifacts",
            "Effect": "Allow",
            # GetObject covers the HeadObject that boto3's download_file sends first.
            "Action": ["s3:GetObject"],
            "Resource": sorted(
                f"arn:{partition}:s3:::{bucket}/{key}*"
                for bucket, keys in by_bucket.items()
                for key in keys
            ),
        },
        {
            "Sid": "ListModelBuckets",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": sorted(f"arn:{partition}:s3:::{bucket}" for bucket in by_bucket),
        },
    ]}


def team_secrets_role_name(stack: Stack, team: CatalogTeam) -> str:
    """IAM role name that reads a team's secrets (the SecretStore's ServiceAccount assumes it)."""
    return iam_role_name(stack, f"{team.name}-secrets")


def team_secrets_role_arn(stack: Stack, team: CatalogTeam) -> str:
    return iam_role_arn(stack, team_secrets_role_name(stack, team))


def team_secrets_path(stack: Stack, team: CatalogTeam) -> str:
    """The prefix of a team's secret names in AWS Secrets Manager: ``modelplane/<stack>/<team>/``.

    The trailing ``/`` keeps team ``search`` out of team ``search-ads``'s secrets."""
    return f"{SECRETS_MANAGER_PATH_ROOT}/{stack.name}/{team.name}/"


def team_secrets_policy(stack: Stack, team: CatalogTeam) -> dict[str, Any]:
    """Read the values of the team's secrets and nothing else.

    The External Secrets Operator reads a key of an ExternalSecret with GetSecretValue alone
    (providers/v1/aws/secretsmanager/secretsmanager.go:144-172,769-822 @v2.9.0; DescribeSecret
    only for metadataPolicy Fetch, ListSecrets and BatchGetSecretValue only for dataFrom.find,
    neither of which modelplane renders). Secret ARNs end in ``-`` and six random characters,
    which the ``*`` after the path covers. Secrets encrypted with a customer-managed KMS key
    also need kms:Decrypt on that key, which is the key policy's to grant.
    """
    settings = stack.settings
    partition = aws_partition(settings.region)
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadTeamSecrets",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [
            f"arn:{partition}:secretsmanager:{settings.region}:{settings.aws_account_id}:secret:"
            f"{team_secrets_path(stack, team)}*"
        ],
    }]}

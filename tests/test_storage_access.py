"""A team's models can download their artifacts on a real cluster: the calls KServe's storage
initializer makes, in its order, under the IAM policy modelplane gives the team's role.

The storage initializer's own code runs here: ``kserve_storage`` at the pinned KServe version
(installed by the Makefile without its cloud SDKs), against moto's S3 with IAM enforcement.
"""

from __future__ import annotations

import json
from multiprocessing.pool import ThreadPool

import boto3
import botocore.exceptions
import kserve_storage.kserve_storage as kserve_storage  # `make test` installs it (see the Makefile)
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from components import pins
from components.catalog import load_catalog, load_stack
from components.render.team_iam import team_storage_policy
from components.render.team_objects import render_model_service_account
from tests.conftest import Workspace
from tests.aws_calls import RecordedCalls

REGION = "us-east-1"
BUCKET = "acme-ml-models"


def test_the_storage_initializer_is_the_pinned_kserve_release():
    from importlib.metadata import version

    assert "v" + version("kserve-storage") == pins.KSERVE_VERSION


@pytest.fixture
def team_workspace(workspace: Workspace, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    workspace.team(storage={"s3_prefixes": [f"s3://{BUCKET}/fraud/"]})
    workspace.model(storage_uri=f"s3://{BUCKET}/fraud/scorer/v1/")
    workspace.stack()
    return workspace


def as_storage_initializer(monkeypatch, access_key: dict) -> None:
    """The storage initializer's process environment: the team role's credentials, the region
    from the ServiceAccount's ``s3-region`` (AWS_DEFAULT_REGION), and its download pool in threads
    so that every call is recorded in this process (the calls are the same)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", access_key["SecretAccessKey"])
    monkeypatch.setattr(kserve_storage.multiprocessing, "Pool", ThreadPool)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


# moto authorises HeadBucket as an action "s3:HeadBucket", which IAM does not have: AWS authorises
# it as s3:ListBucket ("To use this operation, you must have permissions to perform the
# s3:ListBucket action", S3 API reference, HeadBucket). The tests use AWS's rule.
@pytest.fixture
def aws_head_bucket_rule(monkeypatch):
    import moto.s3.responses

    bucket_actions = moto.s3.responses.ACTION_MAP["BUCKET"]
    monkeypatch.setitem(bucket_actions, "HEAD", {**bucket_actions["HEAD"], "DEFAULT": "ListBucket"})


def team_policy(workspace: Workspace) -> dict:
    [team] = load_catalog(workspace.models, "models").teams
    return team_storage_policy(load_stack(workspace.stacks, "dev", "stacks"), team)


# Set-up calls before moto enforces IAM: a bucket, three objects, a user, its policy, its key.
@set_initial_no_auth_action_count(7)
@mock_aws
def test_the_storage_initializer_downloads_the_team_model_and_nothing_else(
    team_workspace, monkeypatch, tmp_path, aws_head_bucket_rule
):
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="fraud/scorer/v1/model.joblib", Body=b"fraud model")
    s3.put_object(Bucket=BUCKET, Key="fraud/scorer/v1/meta/config.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="search/ranker/v1/model.onnx", Body=b"search model")
    iam.create_user(UserName="fraud-models")
    iam.put_user_policy(UserName="fraud-models", PolicyName="storage", PolicyDocument=json.dumps(team_policy(team_workspace)))
    key = iam.create_access_key(UserName="fraud-models")["AccessKey"]
    as_storage_initializer(monkeypatch, key)
    recorded = RecordedCalls(monkeypatch)

    target = tmp_path / "mnt-models"
    target.mkdir()
    kserve_storage.Storage._download_s3(f"s3://{BUCKET}/fraud/scorer/v1/", str(target))

    assert (target / "model.joblib").read_bytes() == b"fraud model"
    assert (target / "meta" / "config.json").read_bytes() == b"{}"
    operations = [name for name, _ in recorded.calls]
    # The order of kserve_storage.py _download_s3 @v0.20.0: HeadBucket, then ListObjects (v1)
    # with the prefix, then per object boto3's download_file: HeadObject and GetObject.
    assert operations[:2] == ["HeadBucket", "ListObjects"]
    assert recorded.calls[0][1] == {"Bucket": BUCKET}  # no prefix: a condition on s3:prefix can't match
    assert recorded.calls[1][1]["Prefix"] == "fraud/scorer/v1/"
    assert sorted(operations[2:]) == ["GetObject", "GetObject", "HeadObject", "HeadObject"]

    other_team = tmp_path / "other"
    other_team.mkdir()
    with pytest.raises(RuntimeError, match="AccessDenied"):
        kserve_storage.Storage._download_s3(f"s3://{BUCKET}/search/ranker/v1/", str(other_team))
    assert list(other_team.iterdir()) == []


@set_initial_no_auth_action_count(5)
@mock_aws
def test_the_team_role_cannot_write_delete_or_list_other_buckets(team_workspace, aws_head_bucket_rule):
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="acme-pulumi-state")
    iam.create_user(UserName="fraud-models")
    iam.put_user_policy(UserName="fraud-models", PolicyName="storage", PolicyDocument=json.dumps(team_policy(team_workspace)))
    key = iam.create_access_key(UserName="fraud-models")["AccessKey"]
    as_team = boto3.client(
        "s3", region_name=REGION,
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
    )
    for forbidden in (
        lambda: as_team.put_object(Bucket=BUCKET, Key="fraud/scorer/v2/model.joblib", Body=b"x"),
        lambda: as_team.delete_object(Bucket=BUCKET, Key="fraud/scorer/v1/model.joblib"),
        lambda: as_team.head_bucket(Bucket="acme-pulumi-state"),
        lambda: as_team.list_objects_v2(Bucket="acme-pulumi-state"),
        lambda: as_team.list_buckets(),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            forbidden()
        assert caught.value.response["Error"]["Code"] in {"AccessDenied", "403"}


def test_the_policy_grants_exactly_read_and_bucket_listing(team_workspace):
    assert team_policy(team_workspace)["Statement"] == [
        {"Sid": "ReadModelArtifacts", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{BUCKET}/fraud/*"]},
        # No s3:prefix condition: HeadBucket carries none (see the module docstring).
        {"Sid": "ListModelBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{BUCKET}"]},
    ]


# --- the ServiceAccount: what KServe turns into the storage initializer's environment -------------

# pkg/credentials/s3/s3_secret.go and utils.go BuildS3EnvVars @v0.20.0: the ServiceAccount
# annotations KServe copies onto the storage initializer when the account has an IRSA role
# (service_account_credentials.go:240-246), and the variables each becomes.
KSERVE_S3_ANNOTATION_ENV = {
    "serving.kserve.io/s3-endpoint": ("AWS_ENDPOINT_URL", "S3_ENDPOINT"),
    "serving.kserve.io/s3-usehttps": ("S3_USE_HTTPS",),
    "serving.kserve.io/s3-verifyssl": ("S3_VERIFY_SSL",),
    "serving.kserve.io/s3-useanoncredential": ("awsAnonymousCredential",),
    "serving.kserve.io/s3-region": ("AWS_DEFAULT_REGION",),
}


def storage_initializer_env(annotations: dict[str, str]) -> set[str]:
    return {
        variable
        for annotation, variables in KSERVE_S3_ANNOTATION_ENV.items()
        if annotations.get(annotation)
        for variable in variables
    }


def test_the_service_account_sets_the_region_and_no_endpoint(team_workspace):
    from components.catalog import resolve_deployment, stack_names

    deployment = resolve_deployment(
        load_catalog(team_workspace.models, "models"), load_stack(team_workspace.stacks, "dev", "stacks"),
        stack_names(team_workspace.stacks),
    )
    [team] = deployment.teams
    annotations = render_model_service_account(team, deployment)["metadata"]["annotations"]
    assert "eks.amazonaws.com/role-arn" in annotations  # the branch that copies the S3 annotations
    env = storage_initializer_env(annotations)
    assert "AWS_ENDPOINT_URL" not in env
    assert "AWS_DEFAULT_REGION" in env
    assert annotations["serving.kserve.io/s3-region"] == "us-west-2"


def test_botocore_sends_sts_to_aws_endpoint_url(monkeypatch):
    """Why the endpoint annotation must stay off: with AWS_ENDPOINT_URL set, botocore (>= 1.31;
    configprovider.py ConfiguredEndpointProvider, the "environment_global" lookup) gives it to
    every client, so the STS client of the web-identity provider would call S3
    (kserve/kserve#3482)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"https://s3.{REGION}.amazonaws.com")
    assert boto3.session.Session().client("sts").meta.endpoint_url == f"https://s3.{REGION}.amazonaws.com"
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert "sts" in boto3.session.Session().client("sts").meta.endpoint_url

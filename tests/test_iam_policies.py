"""IAM policy documents, checked by moto's IAM: accepted as valid, and granting nothing more."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from components.catalog import load_catalog, load_stack
from components.render.iam import cluster_autoscaler_policy, irsa_trust_policy
from components.render.team_iam import team_storage_policy
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACKS_DIR

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@mock_aws
def test_moto_rejects_a_malformed_policy():
    """The acceptance checks below mean something: moto validates policy grammar."""
    iam = boto3.client("iam", region_name=REGION)
    broken = {"Version": "2012-10-17", "Statement": [{"Action": "s3:GetObject", "Resource": "*"}]}
    with pytest.raises(ClientError) as caught:
        iam.create_policy(PolicyName="broken", PolicyDocument=json.dumps(broken))
    assert caught.value.response["Error"]["Code"] == "MalformedPolicyDocument"


@pytest.mark.parametrize("stack_name", FIXTURE_STACKS)
@mock_aws
def test_every_policy_modelplane_writes_is_accepted_by_iam(stack_name):
    iam = boto3.client("iam", region_name=REGION)
    stack = load_stack(STACKS_DIR, stack_name, "stacks")
    catalog = load_catalog(MODELS_DIR, "models")
    documents = {f"{team.name}-models": team_storage_policy(stack, team) for team in catalog.teams}
    documents["cluster-autoscaler"] = cluster_autoscaler_policy(stack)
    for name, document in documents.items():
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
    issuer = f"oidc.eks.{REGION}.amazonaws.com/id/EXAMPLE"
    provider = iam.create_open_id_connect_provider(
        Url=f"https://{issuer}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40],
    )["OpenIDConnectProviderArn"]
    for team in catalog.teams:
        trust = irsa_trust_policy(provider, issuer, team.namespace, "model-server")
        iam.create_role(RoleName=f"{team.name}-models", AssumeRolePolicyDocument=json.dumps(trust))


# Seven set-up calls run before moto starts enforcing IAM for the test user's requests.
@set_initial_no_auth_action_count(7)
@mock_aws
def test_team_role_reads_its_artifacts_and_nothing_else():
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    s3.create_bucket(Bucket="acme-ml-models")
    s3.put_object(Bucket="acme-ml-models", Key="fraud/fraud-detector/v2/model.joblib", Body=b"fraud")
    s3.put_object(Bucket="acme-ml-models", Key="search/product-ranker/v12/model.onnx", Body=b"search")
    iam.create_user(UserName="fraud-models")
    fraud = next(team for team in load_catalog(MODELS_DIR, "models").teams if team.name == "fraud")
    policy = team_storage_policy(load_stack(STACKS_DIR, "prod", "stacks"), fraud)
    arn = iam.create_policy(PolicyName="fraud-models", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="fraud-models", PolicyArn=arn)
    key = iam.create_access_key(UserName="fraud-models")["AccessKey"]

    as_team = boto3.client(
        "s3", region_name=REGION,
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
    )
    body = as_team.get_object(Bucket="acme-ml-models", Key="fraud/fraud-detector/v2/model.joblib")["Body"]
    assert body.read() == b"fraud"
    listed = as_team.list_objects_v2(Bucket="acme-ml-models", Prefix="fraud/")["Contents"]
    assert [item["Key"] for item in listed] == ["fraud/fraud-detector/v2/model.joblib"]
    for forbidden in (
        lambda: as_team.get_object(Bucket="acme-ml-models", Key="search/product-ranker/v12/model.onnx"),
        lambda: as_team.put_object(Bucket="acme-ml-models", Key="fraud/fraud-detector/v3/model.joblib", Body=b"x"),
        lambda: as_team.delete_object(Bucket="acme-ml-models", Key="fraud/fraud-detector/v2/model.joblib"),
        lambda: as_team.list_buckets(),
    ):
        with pytest.raises(ClientError) as caught:
            forbidden()
        assert caught.value.response["Error"]["Code"] == "AccessDenied"

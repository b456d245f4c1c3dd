"""Models' secrets: env variables from Kubernetes Secrets, credentials refused in env, and the
External Secrets Operator copying each team's Secrets from AWS Secrets Manager through a role that
reads the team's path only."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from moto.iam.access_control import IAMPolicy, PermissionResult

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.model_spec import ModelSpec
from components.render.addons import render_addon_releases
from components.render.iam import irsa_trust_policy
from components.render.objects import object_id
from components.render.stack_render import render_stack_objects
from components.render.team_iam import team_secrets_policy
from tests.conftest import MODEL, STACK_CONFIG, Workspace
from tests.kserve_merge import merge_runtime_container

HF_TOKEN = {"HF_TOKEN": {"secret": "huggingface", "key": "token"}}
AWS_SECRETS = {"provider": "aws-secrets-manager"}


def deployment(workspace: Workspace, stack: str = "dev"):
    return resolve_deployment(
        load_catalog(workspace.models, "models"), load_stack(workspace.stacks, stack, "stacks"),
        stack_names(workspace.stacks),
    )


def rendered(workspace: Workspace, stack: str = "dev") -> dict[str, dict]:
    return {object_id(obj): obj for obj in render_stack_objects(deployment(workspace, stack))}


def problems_of(workspace: Workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_catalog(workspace.models, "models")
    return [str(problem) for problem in caught.value.problems]


def test_secrets_become_env_from_the_teams_secret(basic_workspace):
    basic_workspace.model(threads=False, env={"LOG_LEVEL": "info"}, secrets={**HF_TOKEN, "DB_PASSWORD": {"secret": "db", "key": "password"}})
    model = rendered(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]
    assert model["env"] == [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface", "key": "token"}}},
        {"name": "LOG_LEVEL", "value": "info"},
    ]


def test_kserves_merge_keeps_the_secret_reference():
    """tests/kserve_merge.py reproduces MergeRuntimeContainers (kserve v0.20.0 utils.go:253-264,
    container_merge.go:32-89): env merges by name, and valueFrom survives next to the runtime's
    own variables."""
    runtime = {"name": "kserve-container", "image": "kserve/sklearnserver", "env": [{"name": "A", "value": "1"}]}
    model = {"name": "kserve-container", "env": [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface", "key": "token"}}},
    ]}
    merged = merge_runtime_container(runtime, model)
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface", "key": "token"}}} in merged["env"]
    assert {"name": "A", "value": "1"} in merged["env"]


@pytest.mark.parametrize("env, said", [
    ({"HF_TOKEN": "hf_x"}, "HF_TOKEN names a credential"),
    ({"openai_api_key": "x"}, "openai_api_key names a credential"),
    ({"DB_PASSWORD": "hunter2"}, "DB_PASSWORD names a credential"),
    ({"HUB": "hf_" + "a" * 34}, "the value of HUB looks like a credential (a token or a private key)"),
    ({"AWS_REGION_KEYS": "AKIA" + "A" * 16}, "the value of AWS_REGION_KEYS looks like a credential (a token or a private key)"),
    ({"CERT": "-----BEGIN RSA PRIVATE KEY-----\nabc"}, "the value of CERT looks like a credential (a token or a private key)"),
])
def test_credentials_in_env_are_refused_pointing_at_secrets(basic_workspace, env, said):
    basic_workspace.model(env=env)
    [problem] = problems_of(basic_workspace)
    assert problem.startswith(f"models/fraud/scorer.yaml: env: {said}, and a value written here is in git for good")
    name = next(iter(env))
    assert problem.endswith(
        f"keep it in a Kubernetes Secret of the team's namespace and reference it instead: secrets: "
        f"{{{name}: {{secret: <secret name>, key: <key in the secret>}}}} (see models/README.md, Secrets)"
    )


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "MAX_TOKENS", "TS_MAX_BATCH_DELAY", "KEYSPACE", "SECRETARY"])
def test_names_that_merely_contain_a_credential_word_are_fine(basic_workspace, name):
    basic_workspace.model(env={name: "1"})
    assert load_catalog(basic_workspace.models, "models").teams[0].models[0].spec.env == {name: "1"}


@pytest.mark.parametrize("secrets, said", [
    ({"HF_TOKEN": {"secret": "Hugging_Face", "key": "token"}}, "secrets.HF_TOKEN.secret: "),
    ({"HF_TOKEN": {"secret": "huggingface", "key": "a/b"}}, "secrets.HF_TOKEN.key: "),
    ({"HF_TOKEN": {"secret": "huggingface"}}, "secrets.HF_TOKEN.key: "),
    ({"PORT": {"secret": "huggingface", "key": "token"}}, "secrets.PORT: PORT is set by the platform"),
])
def test_secret_references_are_checked(basic_workspace, secrets, said):
    basic_workspace.model(secrets=secrets)
    [problem] = problems_of(basic_workspace)
    assert problem.startswith(f"models/fraud/scorer.yaml: {said}"), problem


def test_a_variable_is_in_env_or_in_secrets(basic_workspace):
    basic_workspace.model(env={"HF_HOME": "/tmp"}, secrets={"HF_HOME": {"secret": "s", "key": "k"}})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: secrets: HF_HOME is also set in env; a variable has one value: "
        "keep it under secrets and remove it from env"
    ]


def test_without_secrets_manager_no_operator_and_no_store(basic_workspace):
    basic_workspace.model(secrets=HF_TOKEN)
    objects = rendered(basic_workspace)
    assert not [key for key in objects if "Secret" in key.split("/")[0] or "secrets-reader" in key]
    releases, _ = render_addon_releases(deployment(basic_workspace))
    assert "external-secrets" not in [release.name for release in releases]


def test_a_secret_the_stack_does_not_create_is_a_warning(basic_workspace):
    """With the default provider nothing in the stack creates the Secret: a warning names the
    model's file, the variable and both ways out; with aws-secrets-manager there is none."""
    basic_workspace.model(secrets=HF_TOKEN)
    [warning] = [str(w) for w in deployment(basic_workspace).warnings if ".HF_TOKEN" in w.field]
    assert warning == (
        "models/fraud/scorer.yaml: secrets.HF_TOKEN: reads key token of Secret huggingface, which "
        "stack dev does not create (modelplane:secrets.provider is kubernetes): create it in namespace "
        "team-fraud before this deploys, or set modelplane:secrets.provider to aws-secrets-manager"
    )
    basic_workspace.stack(secrets={"provider": "aws-secrets-manager"})
    assert not [w for w in deployment(basic_workspace).warnings if w.field.startswith("secrets.")]


def test_secrets_manager_brings_the_operator_a_store_and_one_external_secret_per_secret(basic_workspace):
    basic_workspace.model(secrets=HF_TOKEN)
    basic_workspace.model(
        name="other", route={"path": "/fraud/other"},
        secrets={"HF_API": {"secret": "huggingface", "key": "api"}, "DB_PASSWORD": {"secret": "db", "key": "password"}},
    )
    basic_workspace.team("quiet", storage={"s3_prefixes": ["s3://models-bucket/quiet/"]})
    basic_workspace.model("quiet", name="plain", storage_uri="s3://models-bucket/quiet/plain/")
    basic_workspace.stack(secrets=AWS_SECRETS)
    objects = rendered(basic_workspace)
    account = objects["ServiceAccount/team-fraud/secrets-reader"]
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/modelplane-dev-fraud-secrets",
    }
    assert account["automountServiceAccountToken"] is False
    assert objects["SecretStore/team-fraud/aws-secrets-manager"]["spec"] == {"provider": {"aws": {
        "service": "SecretsManager", "region": "us-west-2",
        "auth": {"jwt": {"serviceAccountRef": {"name": "secrets-reader"}}},
    }}}
    huggingface = objects["ExternalSecret/team-fraud/huggingface"]["spec"]
    assert huggingface == {
        "refreshInterval": "3600s",
        "secretStoreRef": {"kind": "SecretStore", "name": "aws-secrets-manager"},
        "target": {"name": "huggingface", "creationPolicy": "Owner"},
        "data": [
            {"secretKey": "api", "remoteRef": {"key": "modelplane/dev/fraud/huggingface", "property": "api"}},
            {"secretKey": "token", "remoteRef": {"key": "modelplane/dev/fraud/huggingface", "property": "token"}},
        ],
    }
    assert objects["ExternalSecret/team-fraud/db"]["spec"]["data"] == [
        {"secretKey": "password", "remoteRef": {"key": "modelplane/dev/fraud/db", "property": "password"}},
    ]
    # A team whose models read no Secret gets neither store nor account (nor role).
    assert not [key for key in objects if key.split("/")[1] == "team-quiet" and "ecret" in key]
    releases, problems = render_addon_releases(deployment(basic_workspace))
    [operator] = [release for release in releases if release.name == "external-secrets"]
    assert (operator.namespace, operator.chart.chart) == ("external-secrets", "external-secrets")
    assert problems == []


def test_the_operators_crds_stay_installed(basic_workspace):
    basic_workspace.stack(secrets=AWS_SECRETS, addons={"external-secrets": {"values": {"installCRDs": False}}})
    _, problems = render_addon_releases(deployment(basic_workspace))
    assert [str(problem) for problem in problems] == [
        "stacks/Pulumi.dev.yaml: modelplane:addons.external-secrets.values.installCRDs: is set by "
        "modelplane, which relies on it; remove the override"
    ]
    basic_workspace.stack(addons={"external-secrets": {"values": {}}})
    _, problems = render_addon_releases(deployment(basic_workspace))
    assert [str(problem) for problem in problems] == [
        "stacks/Pulumi.dev.yaml: modelplane:addons.external-secrets: add-on external-secrets is not "
        "installed in this stack (modelplane:secrets.provider is not aws-secrets-manager); remove the override"
    ]


def _secret_arn(stack: str, team: str, name: str) -> str:
    # Secrets Manager appends - and six random characters to every secret's ARN.
    return f"arn:aws:secretsmanager:us-west-2:123456789012:secret:modelplane/{stack}/{team}/{name}-AbC123"


def test_the_secrets_role_reads_its_teams_path_only(basic_workspace):
    basic_workspace.stack(secrets=AWS_SECRETS)
    stack = load_stack(basic_workspace.stacks, "dev", "stacks")
    team = load_catalog(basic_workspace.models, "models").teams[0]
    policy = IAMPolicy(json.dumps(team_secrets_policy(stack, team)))
    permitted = PermissionResult.PERMITTED
    assert policy.is_action_permitted("secretsmanager:GetSecretValue", _secret_arn("dev", "fraud", "huggingface")) == permitted
    for action, resource in (
        ("secretsmanager:GetSecretValue", _secret_arn("dev", "fraud-ads", "huggingface")),
        ("secretsmanager:GetSecretValue", _secret_arn("dev", "search", "huggingface")),
        ("secretsmanager:GetSecretValue", _secret_arn("prod", "fraud", "huggingface")),
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-west-2:123456789012:secret:fraud/huggingface-AbC123"),
        ("secretsmanager:PutSecretValue", _secret_arn("dev", "fraud", "huggingface")),
        ("secretsmanager:DeleteSecret", _secret_arn("dev", "fraud", "huggingface")),
        ("secretsmanager:ListSecrets", "*"),
        ("s3:GetObject", "arn:aws:s3:::models-bucket/fraud/scorer/v1/model.joblib"),
    ):
        assert policy.is_action_permitted(action, resource) != permitted, (action, resource)


@mock_aws
def test_iam_accepts_the_secrets_role(basic_workspace, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    basic_workspace.stack(secrets=AWS_SECRETS)
    stack = load_stack(basic_workspace.stacks, "dev", "stacks")
    team = load_catalog(basic_workspace.models, "models").teams[0]
    iam = boto3.client("iam", region_name="us-west-2")
    iam.create_policy(PolicyName="fraud-secrets", PolicyDocument=json.dumps(team_secrets_policy(stack, team)))
    issuer = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
    trust = irsa_trust_policy(f"arn:aws:iam::123456789012:oidc-provider/{issuer}", issuer, team.namespace, "secrets-reader")
    iam.create_role(RoleName="fraud-secrets", AssumeRolePolicyDocument=json.dumps(trust))
    statement = trust["Statement"][0]
    assert statement["Condition"]["StringEquals"][f"{issuer}:sub"] == "system:serviceaccount:team-fraud:secrets-reader"


def test_the_schema_matches_the_validator_on_secrets():
    schema = ModelSpec.model_json_schema()
    assert set(schema["properties"]["secrets"]["additionalProperties"]["required"]) == {"secret", "key"}
    assert "not" in schema["properties"]["env"]["propertyNames"]["allOf"][1]
    assert ModelSpec.model_validate({**MODEL, "secrets": HF_TOKEN}).secrets["HF_TOKEN"].secret == "huggingface"
    assert STACK_CONFIG["modelplane:environment"] == "dev"


def _owners_rules(workspace: Workspace) -> list[dict]:
    return rendered(workspace)["Role/team-fraud/model-owners"]["rules"]


def test_owners_read_their_external_secrets_with_secrets_manager(basic_workspace):
    """An owner sees why a model's Secret is missing (the ExternalSecret's status) and nothing
    more: read verbs on ExternalSecrets only, never Secrets or SecretStores."""
    basic_workspace.model(secrets=HF_TOKEN)
    basic_workspace.stack(secrets=AWS_SECRETS)
    rules = _owners_rules(basic_workspace)
    eso = [rule for rule in rules if "external-secrets.io" in rule["apiGroups"]]
    assert eso == [{"apiGroups": ["external-secrets.io"], "resources": ["externalsecrets"],
                    "verbs": ["get", "list", "watch"]}]
    assert not any("secrets" in rule["resources"] or "secretstores" in rule["resources"] for rule in rules)


def test_owners_get_no_external_secrets_rule_without_secrets_manager(basic_workspace):
    basic_workspace.model(secrets=HF_TOKEN)
    assert not any("external-secrets.io" in rule["apiGroups"] for rule in _owners_rules(basic_workspace))

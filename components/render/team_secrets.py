"""A team's Kubernetes Secrets, copied from AWS Secrets Manager by the External Secrets Operator.

Only in stacks whose ``modelplane:secrets.provider`` is ``aws-secrets-manager``, and only for teams
whose models reference a Secret (``secrets`` in a model file). Each such team gets a ServiceAccount
that no pod runs as, trusted by an IAM role that reads ``modelplane/<stack>/<team>/*`` only; a
SecretStore that authenticates as that ServiceAccount; and one ExternalSecret per Secret the team's
models name, with every key they read from it.
"""

from __future__ import annotations

from components.catalog.deployed import StackDeployment
from components.catalog.loader import CatalogTeam
from components.platform_names import SECRET_STORE_NAME, SECRETS_SERVICE_ACCOUNT
from components.render.objects import KubeObject, metadata
from components.render.team_iam import team_secrets_path, team_secrets_role_arn
from components.render.team_objects import team_labels

EXTERNAL_SECRETS_API_VERSION = "external-secrets.io/v1"
# The ServiceAccount annotation ESO reads the role to assume from
# (providers/v1/aws/auth/auth.go:278-282 @v2.9.0, roleARNAnnotation), as the EKS webhook does.
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def uses_secrets_manager(deployment: StackDeployment) -> bool:
    return deployment.stack.settings.secrets.provider == "aws-secrets-manager"


def team_secret_keys(team: CatalogTeam, deployment: StackDeployment) -> dict[str, list[str]]:
    """Secret name -> the keys the team's models in this stack read from it, sorted."""
    keys: dict[str, set[str]] = {}
    for model in deployment.models_of(team):
        for ref in model.spec.secrets.values():
            keys.setdefault(ref.secret, set()).add(ref.key)
    return {name: sorted(keys[name]) for name in sorted(keys)}


def needs_secrets_role(team: CatalogTeam, deployment: StackDeployment) -> bool:
    """Whether the team gets a role for AWS Secrets Manager in this stack."""
    return uses_secrets_manager(deployment) and bool(team_secret_keys(team, deployment))


def render_team_secret_objects(team: CatalogTeam, deployment: StackDeployment) -> list[KubeObject]:
    if not needs_secrets_role(team, deployment):
        return []
    stack = deployment.stack
    labels = team_labels(team)
    objects: list[KubeObject] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(SECRETS_SERVICE_ACCOUNT, team.namespace, labels, {
                IRSA_ROLE_ANNOTATION: team_secrets_role_arn(stack, team),
            }),
            # ESO asks the API server for this account's tokens (TokenRequest, audience
            # sts.amazonaws.com: auth.go:284-291, token_fetcher.go @v2.9.0); nothing mounts one.
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": EXTERNAL_SECRETS_API_VERSION,
            "kind": "SecretStore",
            "metadata": metadata(SECRET_STORE_NAME, team.namespace, labels),
            "spec": {"provider": {"aws": {
                "service": "SecretsManager",
                "region": stack.settings.region,
                "auth": {"jwt": {"serviceAccountRef": {"name": SECRETS_SERVICE_ACCOUNT}}},
            }}},
        },
    ]
    refresh = f"{stack.settings.secrets.refresh_interval_seconds}s"
    for name, keys in team_secret_keys(team, deployment).items():
        objects.append({
            "apiVersion": EXTERNAL_SECRETS_API_VERSION,
            "kind": "ExternalSecret",
            "metadata": metadata(name, team.namespace, labels),
            "spec": {
                "refreshInterval": refresh,
                "secretStoreRef": {"kind": "SecretStore", "name": SECRET_STORE_NAME},
                # The Secret belongs to the ExternalSecret: removing the last reference removes it.
                "target": {"name": name, "creationPolicy": "Owner"},
                # One JSON object per secret in AWS Secrets Manager; each key is one of its properties.
                "data": [
                    {"secretKey": key, "remoteRef": {"key": team_secrets_path(stack, team) + name, "property": key}}
                    for key in keys
                ],
            },
        })
    return objects

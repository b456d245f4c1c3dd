"""The catalog on a cluster: one Pulumi resource per team and model object, plus each team's
IAM role for its S3 prefixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.pulumi.irsa import IrsaRole, IrsaRoleArgs
from components.pulumi.kube_resources import kube_resource
from components.platform_names import MODEL_SERVICE_ACCOUNT, SECRETS_SERVICE_ACCOUNT
from components.render.objects import from_catalog, object_id, owner_of
from components.render.resource_graph import creation_order, logical_name, object_dependencies
from components.render.stack_render import RenderedStack
from components.render.team_iam import team_role_name, team_secrets_policy, team_secrets_role_name, team_storage_policy
from components.render.team_secrets import needs_secrets_role


@dataclass(frozen=True, kw_only=True)
class ModelServingArgs:
    rendered: RenderedStack
    kubernetes_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_host: pulumi.Input[str]
    # What the platform created, by key (release names, object ids): the models wait for them.
    platform_resources: Mapping[str, pulumi.Resource]


class ModelServing(pulumi.ComponentResource):
    """Every team's namespace, fences and access, every model's InferenceService and route, and
    the monitoring generated from the catalog (scraping, rules, alerts, dashboards).

    One resource per object (named ``<team>/<model>/<kind>/<name>``) gives one URN per model
    object: previews read per model and ``pulumi up --target`` works on a single model.
    """

    resources: dict[str, pulumi.Resource]
    team_roles: dict[str, IrsaRole]
    secret_roles: dict[str, IrsaRole]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:serving:ModelServing", name, None, opts)
        rendered = args.rendered
        stack = rendered.deployment.stack
        kube = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)

        def team_role(team, suffix: str, role_name: str, service_account: str, policy) -> IrsaRole:
            return IrsaRole(
                f"{name}-{team.name}-{suffix}",
                IrsaRoleArgs(
                    role_name=role_name, namespace=team.namespace, service_account=service_account,
                    oidc_provider_arn=args.oidc_provider_arn, oidc_issuer_host=args.oidc_issuer_host,
                    policy=policy, tags={**rendered.cluster.tags, "modelplane.dev/team": team.name},
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.team_roles = {
            team.name: team_role(team, "models", team_role_name(stack, team), MODEL_SERVICE_ACCOUNT,
                                 team_storage_policy(stack, team))
            for team in rendered.deployment.teams
        }
        # Teams whose models read Secrets from AWS Secrets Manager: a role trusted by the team's
        # secrets-reader ServiceAccount (the SecretStore's), reading the team's path only.
        self.secret_roles = {
            team.name: team_role(team, "secrets", team_secrets_role_name(stack, team), SECRETS_SERVICE_ACCOUNT,
                                 team_secrets_policy(stack, team))
            for team in rendered.deployment.teams
            if needs_secrets_role(team, rendered.deployment)
        }

        rendered_ids = [object_id(obj) for obj in rendered.objects]
        catalog_objects = {object_id(obj): obj for obj in rendered.objects if from_catalog(obj)}
        dependencies = {key: object_dependencies(obj, rendered_ids) for key, obj in catalog_objects.items()}
        self.resources = {}
        for key in creation_order(dependencies, available=args.platform_resources):
            obj = catalog_objects[key]
            depends_on = [
                self.resources.get(dep) or args.platform_resources[dep] for dep in dependencies[key]
            ]
            team, _ = owner_of(obj)
            if obj["kind"] == "ServiceAccount" and team is not None:
                # Pods (and SecretStores) may only use it once the role it names exists.
                roles = self.secret_roles if obj["metadata"]["name"] == SECRETS_SERVICE_ACCOUNT else self.team_roles
                depends_on.append(roles[team])
            self.resources[key] = kube_resource(
                logical_name(obj), obj,
                pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=depends_on)),
            )
        self.register_outputs({})

"""The platform on a cluster: add-on namespaces, Helm add-ons and modelplane's own platform objects."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.pulumi.helm_addon import HelmAddon, HelmAddonArgs
from components.pulumi.irsa import IrsaRole, IrsaRoleArgs
from components.pulumi.kube_resources import kube_resource
from components.platform_names import (
    CERT_MANAGER_NAMESPACE,
    CERT_MANAGER_RELEASE,
    CERT_MANAGER_SERVICE_ACCOUNT,
    CLUSTER_AUTOSCALER_RELEASE,
)
from components.render.iam import (
    CLUSTER_AUTOSCALER_NAMESPACE,
    CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
    cert_manager_dns_policy,
    cert_manager_role_name,
    cluster_autoscaler_policy,
    cluster_autoscaler_role_name,
)
from components.render.platform_objects import gateway_dns_names
from components.render.objects import from_catalog, object_id
from components.render.resource_graph import (
    creation_order,
    logical_name,
    object_dependencies,
    release_dependencies,
)
from components.render.stack_render import RenderedStack


@dataclass(frozen=True, kw_only=True)
class PlatformArgs:
    rendered: RenderedStack
    kubernetes_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_host: pulumi.Input[str]


class Platform(pulumi.ComponentResource):
    """Installs every add-on release and platform object in dependency order.

    ``resources`` maps each key (release name, or ``Kind/namespace/name`` of an object) to the
    Pulumi resource, so model objects can wait for exactly what they need.
    """

    resources: dict[str, pulumi.Resource]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:platform:Platform", name, None, opts)
        rendered = args.rendered
        stack = rendered.deployment.stack
        kube = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)

        self.autoscaler_role = IrsaRole(
            f"{name}-cluster-autoscaler",
            IrsaRoleArgs(
                role_name=cluster_autoscaler_role_name(stack),
                namespace=CLUSTER_AUTOSCALER_NAMESPACE,
                service_account=CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer_host=args.oidc_issuer_host,
                policy=cluster_autoscaler_policy(stack),
                tags=rendered.cluster.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # The role cert-manager solves DNS-01 challenges with, when the stack has its issuer.
        roles: dict[str, IrsaRole] = {CLUSTER_AUTOSCALER_RELEASE: self.autoscaler_role}
        self.cert_manager_role: IrsaRole | None = None
        if stack.settings.cluster_issuer:
            self.cert_manager_role = roles[CERT_MANAGER_RELEASE] = IrsaRole(
                f"{name}-cert-manager",
                IrsaRoleArgs(
                    role_name=cert_manager_role_name(stack),
                    namespace=CERT_MANAGER_NAMESPACE,
                    service_account=CERT_MANAGER_SERVICE_ACCOUNT,
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_issuer_host=args.oidc_issuer_host,
                    policy=cert_manager_dns_policy(stack, gateway_dns_names(rendered.deployment)),
                    tags=rendered.cluster.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        rendered_ids = [object_id(obj) for obj in rendered.objects]
        platform_objects = {object_id(obj): obj for obj in rendered.objects if not from_catalog(obj)}
        releases = {release.name: release for release in rendered.releases}
        dependencies = {key: object_dependencies(obj, rendered_ids) for key, obj in platform_objects.items()}
        dependencies.update({key: release_dependencies(r, rendered_ids) for key, r in releases.items()})

        self.resources = {}
        for key in creation_order(dependencies):
            depends_on = [self.resources[dep] for dep in dependencies[key]]
            if key in releases:
                if key in roles:
                    depends_on.append(roles[key])
                addon = HelmAddon(
                    key, HelmAddonArgs(release=releases[key]),
                    opts=pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=depends_on)),
                )
                self.resources[key] = addon
            else:
                obj = platform_objects[key]
                self.resources[key] = kube_resource(
                    logical_name(obj), obj,
                    pulumi.ResourceOptions.merge(kube, pulumi.ResourceOptions(depends_on=depends_on)),
                )
        self.register_outputs({})

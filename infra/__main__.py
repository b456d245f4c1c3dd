"""The Pulumi program: the composition root of modelplane.

Reads the stack's configuration, loads and validates the catalog, renders everything offline
(the same code `modelplane plan` and `render` run), then hands the result to the components.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import InputError, load_catalog, resolve_deployment, stack_names
from components.pulumi.cluster import Cluster, ClusterArgs
from components.pulumi.engine_config import stack_from_engine
from components.pulumi.gateway_dns import GatewayDns, GatewayDnsArgs
from components.pulumi.model_serving import ModelServing, ModelServingArgs
from components.pulumi.platform import Platform, PlatformArgs
from components.platform_names import INGRESS_GATEWAY_RELEASE, INGRESS_NAMESPACE
from components.render.platform_objects import gateway_dns_names
from components.render.stack_render import RenderedStack, render_stack
from components.review.endpoints import model_endpoints

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load(project_root: Path) -> RenderedStack:
    stack = stack_from_engine()
    catalog = load_catalog(project_root / "models", "models")
    deployment = resolve_deployment(catalog, stack, stack_names(project_root / "stacks"))
    return render_stack(deployment)


def main(project_root: Path = PROJECT_ROOT) -> None:
    """Build the stack from ``models/`` and ``stacks/`` under ``project_root`` (the project's own,
    unless a test runs the program over a catalog of its own)."""
    try:
        rendered = load(project_root)
    except InputError as error:
        # One line per problem, as `modelplane validate` prints them; no stack trace.
        raise pulumi.RunError("\n" + "\n".join(str(problem) for problem in error.problems)) from None

    cluster = Cluster("cluster", ClusterArgs(shape=rendered.cluster))
    platform = Platform("platform", PlatformArgs(
        rendered=rendered,
        kubernetes_provider=cluster.provider,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer_host=cluster.oidc_issuer_host,
    ))
    ModelServing("models", ModelServingArgs(
        rendered=rendered,
        kubernetes_provider=cluster.provider,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer_host=cluster.oidc_issuer_host,
        platform_resources=platform.resources,
    ))

    address = gateway_address(platform, cluster)
    dns = rendered.deployment.stack.settings.dns
    if dns is not None and dns.manage_records:
        GatewayDns("gateway-dns", GatewayDnsArgs(
            hosted_zone_id=dns.hosted_zone_id,
            names=tuple(gateway_dns_names(rendered.deployment)),
            load_balancer_hostname=address,
        ))

    pulumi.export("cluster_name", cluster.name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("gateway_address", address)
    pulumi.export("model_urls", model_endpoints(rendered.deployment))


def gateway_address(platform: Platform, cluster: Cluster) -> pulumi.Output[str]:
    """The load balancer host name of the shared gateway, read once its release is installed
    (inside the release's output, so a preview of a new stack does not try to read it)."""
    release = platform.resources[INGRESS_GATEWAY_RELEASE].release

    def read(_status) -> pulumi.Output[str]:
        service = k8s.core.v1.Service.get(
            "gateway-service", f"{INGRESS_NAMESPACE}/{INGRESS_GATEWAY_RELEASE}",
            opts=pulumi.ResourceOptions(provider=cluster.provider),
        )
        return service.status.load_balancer.ingress.apply(
            lambda ingresses: (ingresses[0].hostname or ingresses[0].ip) if ingresses else "pending"
        )

    return release.status.apply(read)


if __name__ == "__main__":
    main()

"""``modelplane plan``: a stack's whole desired state as a readable tree with counts."""

from __future__ import annotations

from components.render.cluster_shape import ClusterShape, NodeGroupShape
from components.render.objects import KubeObject, owner_of
from components.render.stack_render import RenderedStack
from components.render.platform_objects import gateway_dns_names
from components.render.team_iam import team_role_name, team_secrets_role_name
from components.render.team_secrets import needs_secrets_role
from components.review import markdown
from components.review.diagrams import fenced, pool_diagram, routes_diagram
from components.review.packing import Packing
from components.review.pool_pictures import pictures_by_pool
from components.review.tree import grouped_lines


def format_plan(rendered: RenderedStack) -> str:
    stack = rendered.deployment.stack
    settings = stack.settings
    lines = [
        f"stack {stack.name} ({settings.environment}): cluster {stack.cluster_name}, "
        f"Kubernetes {rendered.cluster.kubernetes_version}, {settings.region}, "
        f"gateway {settings.domain}",
        "",
    ]
    lines += _aws_section(rendered)
    lines += [""] + _release_section(rendered)
    lines += [""] + format_object_tree(list(rendered.objects))
    return "\n".join(lines) + "\n"


def format_plan_markdown(rendered: RenderedStack, packings: list[Packing], cost: str, capacity: str) -> str:
    """The plan for a pull request or a wiki page: the routes and each pool's nodes as Mermaid
    diagrams, the cost report and GPU capacity (``cost``, ``capacity``: their Markdown), and the
    whole text plan folded below."""
    deployment = rendered.deployment
    lines = [f"### modelplane plan of stack {markdown.text(deployment.stack.name)}", "",
             "#### Routes", "", *fenced(routes_diagram(deployment)), "",
             "#### Node pools, at " + " and ".join(p.state for p in packings) + " replicas"]
    for _, states in pictures_by_pool(deployment, packings):
        lines += ["", *fenced(pool_diagram(states))]
    lines += ["", "#### Cost", "", cost.rstrip(), "", "#### GPU capacity", "", capacity.rstrip(), ""]
    lines += markdown.folded("Desired state", markdown.code_block(format_plan(rendered).rstrip().splitlines()))
    return "\n".join(lines) + "\n"


def _aws_section(rendered: RenderedStack) -> list[str]:
    cluster: ClusterShape = rendered.cluster
    network = cluster.network
    zones = [subnet.availability_zone for subnet in network.private_subnets()]
    endpoint = "private"
    if cluster.endpoint_public_access:
        endpoint += f" + public ({', '.join(cluster.endpoint_public_access_cidrs)})"
    team_roles = [team_role_name(rendered.deployment.stack, team) for team in rendered.deployment.teams]
    lines = [
        "AWS:",
        f"  network: VPC {network.vpc_cidr} across {', '.join(zones)}; "
        f"{len(network.private_subnets())} private and {len(network.public_subnets())} public subnets, "
        f"{len(network.nat_gateway_zones)} NAT gateway{'s' if len(network.nat_gateway_zones) != 1 else ''}, "
        f"S3 gateway endpoint {network.s3_endpoint_service} on the private route tables",
        f"  EKS control plane: endpoint {endpoint}; secrets encrypted with a KMS key; "
        f"logs: {', '.join(cluster.log_types) or 'none'}",
        "  EKS add-ons: " + ", ".join(
            f"{name}{' (IRSA role ' + addon.role_name + ')' if addon.role_name else ''}"
            f"{' ' + str(addon.configuration) if addon.configuration else ''}"
            for name, addon in sorted(cluster.eks_addons.items())
        ),
        f"  access entries (cluster admin): {len(cluster.admin_role_arns)}"
        + "".join(f"\n    {arn}" for arn in cluster.admin_role_arns),
        f"  node pools: {len(cluster.node_groups)}",
    ]
    lines += [f"    {_describe_node_group(group)}" for group in cluster.node_groups]
    stack = rendered.deployment.stack
    cert_manager = ", cert-manager (IRSA, ACME challenge records only)" if stack.settings.cluster_issuer else ""
    lines.append(
        f"  IAM roles: cluster, nodes, cluster-autoscaler (IRSA){cert_manager}, {len(team_roles)} team model roles "
        f"(IRSA, read-only on the team's S3 prefixes): {', '.join(team_roles)}"
    )
    secret_roles = [
        team_secrets_role_name(stack, team) for team in rendered.deployment.teams
        if needs_secrets_role(team, rendered.deployment)
    ]
    if secret_roles:
        lines.append(
            f"  IAM roles for secrets: {len(secret_roles)} (IRSA, GetSecretValue under "
            f"modelplane/{stack.name}/<team>/ only): {', '.join(secret_roles)}"
        )
    dns = stack.settings.dns
    if dns is not None:
        records = (
            f"alias A records {', '.join(gateway_dns_names(rendered.deployment))} to the gateway's load balancer"
            if dns.manage_records else "records kept elsewhere (manage_records: false)"
        )
        lines.append(f"  Route 53: zone {dns.zone} ({dns.hosted_zone_id}); {records}")
    return lines


def _describe_node_group(group: NodeGroupShape) -> str:
    gpus = f"{group.gpus_per_node} x {group.gpu_model}" if group.gpu_model else "no GPU"
    mig = group.labels.get("nvidia.com/mig.config")
    if mig:
        gpus += f", MIG layout {mig}"
    capacity = "spot" if group.capacity_type == "SPOT" else "on-demand"
    taints = "".join(f", taint {t.key}={t.value}:{t.kubernetes_effect}" for t in group.taints)
    return (
        f"{group.pool}: {', '.join(group.instance_types)} ({capacity}), {gpus}; "
        f"min {group.min_size} / desired {group.desired_size} / max {group.max_size}{taints}"
    )


def _release_section(rendered: RenderedStack) -> list[str]:
    lines = [f"Helm releases: {len(rendered.releases)}"]
    for release in rendered.releases:
        source = release.chart.repository or "OCI"
        chart = release.chart.chart.rsplit("/", 1)[-1]
        extra = " (extra release)" if release.extra else ""
        lines.append(
            f"  {release.name}: chart {chart} {release.chart.version} from {source}, "
            f"namespace {release.namespace}{extra}"
        )
    if rendered.chart_objects:
        total = sum(len(release.objects) for release in rendered.chart_objects)
        lines += ["", f"Chart objects: {total} in {len(rendered.chart_objects)} releases"]
        for release in rendered.chart_objects:
            kinds: dict[str, int] = {}
            for obj in release.objects:
                kinds[str(obj.get("kind", ""))] = kinds.get(str(obj.get("kind", "")), 0) + 1
            counted = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
            lines.append(f"  {release.release} ({release.chart}): {len(release.objects)} objects ({counted})")
            lines.extend(f"    note: {note}" for note in release.notes)
    return lines


def format_object_tree(objects: list[KubeObject]) -> list[str]:
    """Kubernetes objects grouped by team and model, with counts."""
    groups: dict[tuple[str, str], list[list[str]]] = {}
    for obj in objects:
        team, model = owner_of(obj)
        meta = obj["metadata"]
        where = f"{meta['namespace']}/" if "namespace" in meta else ""
        groups.setdefault((team or "platform", model or ""), []).append([f"+ {obj['kind']} {where}{meta['name']}"])

    def header(team: str) -> str:
        return f"{team}: {sum(len(m) for (t, _), m in groups.items() if t == team)} objects"

    return [f"Kubernetes objects: {len(objects)}"] + grouped_lines(groups, header)

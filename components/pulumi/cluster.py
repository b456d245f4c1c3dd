"""The EKS cluster: network, control plane, OIDC for IRSA, access entries, node role and pools.

Built from pulumi-aws resources directly (not the pulumi-eks component, which needs a Node.js
plugin at deploy time and hides its children from unit tests).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.pulumi.irsa import IrsaRole, IrsaRoleArgs
from components.pulumi.node_pool import NodePool, NodePoolArgs
from components.render.cluster_shape import ClusterShape, kubeconfig

CLUSTER_ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")


def _assume_role_policy(service: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    shape: ClusterShape


class Cluster(pulumi.ComponentResource):
    """An EKS cluster ready for GPU node pools.

    Outputs: ``name``, ``endpoint``, ``kubeconfig`` (secret), ``oidc_provider_arn``,
    ``oidc_issuer_host``, ``provider`` (a Kubernetes provider for this cluster), ``node_pools``.
    """

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:cluster:Cluster", name, None, opts)
        shape = args.shape
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(shape.tags)
        network = shape.network

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=network.vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True,
            tags={**tags, "Name": shape.name}, opts=child,
        )
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=child)
        self.subnets = {
            subnet.name: aws.ec2.Subnet(
                f"{name}-{subnet.name}", vpc_id=self.vpc.id, cidr_block=subnet.cidr,
                availability_zone=subnet.availability_zone, map_public_ip_on_launch=False,
                tags={**tags, **subnet.tags, "Name": f"{shape.name}-{subnet.name}"}, opts=child,
            )
            for subnet in network.subnets
        }
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes", vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}], tags=tags, opts=child,
        )
        nat_gateways = {}
        for subnet in network.public_subnets():
            aws.ec2.RouteTableAssociation(
                f"{name}-{subnet.name}-routes", subnet_id=self.subnets[subnet.name].id,
                route_table_id=public_routes.id, opts=child,
            )
            if subnet.availability_zone in network.nat_gateway_zones:
                address = aws.ec2.Eip(f"{name}-nat-{subnet.availability_zone}", domain="vpc", tags=tags, opts=child)
                nat_gateways[subnet.availability_zone] = aws.ec2.NatGateway(
                    f"{name}-nat-{subnet.availability_zone}", allocation_id=address.id,
                    subnet_id=self.subnets[subnet.name].id, tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                )
        private_route_tables = []
        for subnet in network.private_subnets():
            nat = nat_gateways.get(subnet.availability_zone) or nat_gateways[network.nat_gateway_zones[0]]
            routes = aws.ec2.RouteTable(
                f"{name}-{subnet.name}-routes", vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}], tags=tags, opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-{subnet.name}-routes", subnet_id=self.subnets[subnet.name].id,
                route_table_id=routes.id, opts=child,
            )
            private_route_tables.append(routes)
        # S3 traffic (model downloads, ECR image layers) through a gateway endpoint, not the NAT.
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            f"{name}-s3", vpc_id=self.vpc.id, service_name=network.s3_endpoint_service,
            vpc_endpoint_type="Gateway", route_table_ids=[table.id for table in private_route_tables],
            tags={**tags, "Name": f"{shape.name}-s3"}, opts=child,
        )
        private_subnet_ids = [self.subnets[s.name].id for s in network.private_subnets()]

        self.secrets_key = aws.kms.Key(
            f"{name}-secrets", description=f"Encrypts Kubernetes secrets of {shape.name}",
            enable_key_rotation=True, deletion_window_in_days=30, tags=tags, opts=child,
        )
        aws.kms.Alias(
            f"{name}-secrets", name=f"alias/{shape.name}-secrets", target_key_id=self.secrets_key.key_id, opts=child,
        )
        cluster_role, cluster_policies = self._service_role(
            f"{name}-cluster", shape.cluster_role_name, "eks.amazonaws.com", _CLUSTER_POLICIES, shape,
        )
        self.eks = aws.eks.Cluster(
            f"{name}-eks",
            name=shape.name,
            version=shape.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": [subnet.id for subnet in self.subnets.values()],
                "endpoint_private_access": True,
                "endpoint_public_access": shape.endpoint_public_access,
                "public_access_cidrs": list(shape.endpoint_public_access_cidrs) or None,
            },
            access_config={
                "authentication_mode": "API",
                # The identity running `pulumi up` installs the add-ons, so it needs access.
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            encryption_config={"provider": {"key_arn": self.secrets_key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(shape.log_types),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=cluster_policies),
        )
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=self.eks.identities[0].oidcs[0].issuer,
            client_id_lists=["sts.amazonaws.com"], tags=tags, opts=child,
        )
        self.oidc_issuer_host = self.eks.identities[0].oidcs[0].issuer.apply(lambda url: url.removeprefix("https://"))
        for principal in shape.admin_role_arns:
            # Named after the principal, not its position: removing one leaves the others alone.
            key = hashlib.sha256(principal.encode()).hexdigest()[:12]
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{key}", cluster_name=self.eks.name, principal_arn=principal,
                type="STANDARD", tags=tags, opts=child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{key}", cluster_name=self.eks.name, principal_arn=principal,
                policy_arn=CLUSTER_ADMIN_POLICY.format(partition=shape.partition),
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )

        node_role, node_policies = self._service_role(
            f"{name}-node", shape.node_role_name, "ec2.amazonaws.com", _NODE_POLICIES, shape,
        )
        # Managed node groups share the cluster security group with the control plane, which
        # admits all traffic within the group: Istio's webhook (15017) and xDS (15012) included.
        self.node_pools = {
            group.pool: NodePool(
                f"{name}-{group.pool}",
                NodePoolArgs(
                    cluster_name=self.eks.name, node_role_arn=node_role.arn,
                    subnet_ids=private_subnet_ids, shape=group, tags=tags,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_policies),
            )
            for group in shape.node_groups
        }

        self.name = self.eks.name
        self.endpoint = self.eks.endpoint
        self.oidc_provider_arn = self.oidc_provider.arn
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.eks.name, self.eks.endpoint, self.eks.certificate_authority.data).apply(
                lambda values: json.dumps(kubeconfig(values[0], values[1], values[2], shape.region), sort_keys=True)
            )
        )
        system_pool = self.node_pools.get("system")
        self.eks_addons = {}
        for addon_name, addon in sorted(shape.eks_addons.items()):
            role_arn = None
            if addon.service_account is not None:
                role = IrsaRole(
                    f"{name}-{addon_name}",
                    IrsaRoleArgs(
                        role_name=addon.role_name, namespace=addon.service_account[0],
                        service_account=addon.service_account[1],
                        oidc_provider_arn=self.oidc_provider.arn, oidc_issuer_host=self.oidc_issuer_host,
                        managed_policy_arn=addon.managed_policy, tags=tags,
                    ),
                    opts=child,
                )
                role_arn = role.arn
            self.eks_addons[addon_name] = aws.eks.Addon(
                f"{name}-{addon_name}", cluster_name=self.eks.name, addon_name=addon_name,
                configuration_values=json.dumps(addon.configuration, sort_keys=True) if addon.configuration else None,
                service_account_role_arn=role_arn,
                # The cluster ships self-managed copies of some add-ons; EKS takes them over.
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                # The add-ons' pods need a node; the self-managed VPC CNI runs until EKS takes over.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[system_pool] if system_pool else []),
            )
        self.provider = k8s.Provider(
            f"{name}-kubernetes", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            # Add-ons need somewhere to run, and the network policy engine, before anything else.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=([system_pool] if system_pool else []) + list(self.eks_addons.values()),
            ),
        )
        self.register_outputs({
            "name": self.name,
            "endpoint": self.endpoint,
            "kubeconfig": self.kubeconfig,
            "oidc_provider_arn": self.oidc_provider_arn,
        })

    def _service_role(
        self, prefix: str, role_name: str, service: str, policies: tuple[str, ...], shape: ClusterShape,
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        """An IAM role an AWS service assumes, with AWS-managed policies attached."""
        role = aws.iam.Role(
            f"{prefix}-role", name=role_name, assume_role_policy=_assume_role_policy(service),
            tags=dict(shape.tags), opts=pulumi.ResourceOptions(parent=self),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{prefix}-{policy}", role=role.name,
                policy_arn=f"arn:{shape.partition}:iam::aws:policy/{policy}",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for policy in policies
        ]
        return role, attachments

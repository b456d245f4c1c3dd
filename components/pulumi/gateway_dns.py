"""The gateway's DNS records: alias records in the stack's Route 53 zone for the gateway's load balancer.

Alias records rather than external-dns: one record per gateway name, known offline, with no
controller, chart or second IAM role in the cluster. The load balancer's host name exists only
once the gateway's Service has one, so it comes in as an output.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class GatewayDnsArgs:
    hosted_zone_id: str
    # The gateway's names (the domain, and its wildcard for gRPC models).
    names: tuple[str, ...]
    load_balancer_hostname: pulumi.Input[str]


def record_name(name: str) -> str:
    """A stable logical name for the record of ``name`` (``*`` spelled out)."""
    return name.replace("*", "wildcard")


class GatewayDns(pulumi.ComponentResource):
    """An A alias record for each gateway name, to the gateway's network load balancer (IPv4:
    the in-tree cloud provider's NLBs are not dual-stack)."""

    records: dict[str, aws.route53.Record]

    def __init__(self, name: str, args: GatewayDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:dns:GatewayDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The canonical hosted zone of network load balancers in the provider's region.
        load_balancer_zone = aws.lb.get_hosted_zone_id_output(
            load_balancer_type="network", opts=pulumi.InvokeOptions(parent=self),
        )
        alias = {
            "name": args.load_balancer_hostname,
            "zone_id": load_balancer_zone.id,
            "evaluate_target_health": True,
        }
        # A record that already exists (made by hand) fails the update rather than being taken over.
        self.records = {
            host: aws.route53.Record(
                f"{name}-{record_name(host)}", zone_id=args.hosted_zone_id, name=host, type="A",
                aliases=[alias], opts=child,
            )
            for host in args.names
        }
        self.register_outputs({})

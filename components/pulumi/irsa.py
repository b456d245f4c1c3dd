"""An IAM role that one Kubernetes ServiceAccount assumes through the cluster's OIDC provider."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi_aws as aws

from components.render.iam import irsa_trust_policy


@dataclass(frozen=True, kw_only=True)
class IrsaRoleArgs:
    role_name: str
    namespace: str
    service_account: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer_host: pulumi.Input[str]
    # The role's permissions: an inline policy document, or an AWS-managed policy.
    policy: Mapping[str, Any] | None = None
    managed_policy_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class IrsaRole(pulumi.ComponentResource):
    """IAM role for service accounts: trusted by one ServiceAccount, allowed one policy."""

    role: aws.iam.Role

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: IrsaRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("modelplane:iam:IrsaRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer_host).apply(
            lambda values: json.dumps(
                irsa_trust_policy(values[0], values[1], args.namespace, args.service_account), sort_keys=True
            )
        )
        self.role = aws.iam.Role(
            f"{name}-role", name=args.role_name, assume_role_policy=trust, tags=dict(args.tags), opts=child
        )
        if args.policy is not None:
            aws.iam.RolePolicy(
                f"{name}-policy", role=self.role.id, policy=json.dumps(dict(args.policy), sort_keys=True),
                opts=child,
            )
        if args.managed_policy_arn is not None:
            aws.iam.RolePolicyAttachment(
                f"{name}-policy", role=self.role.name, policy_arn=args.managed_policy_arn, opts=child,
            )
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})

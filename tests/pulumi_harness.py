"""Run the real Pulumi program (``infra/__main__.py``) under Pulumi's mocks, recording every resource.

The mock monitor is extended to keep what the engine would see: type, name, parent, provider,
explicit dependencies and inputs. Outputs the program reads back (the EKS endpoint and OIDC
issuer, role ARNs, the node group's Auto Scaling group) get realistic fake values.
"""

from __future__ import annotations

import json
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "infra" / "__main__.py"
# The program runs over the library's own fixture catalog, never the repository's models/.
FIXTURE_ROOT = REPO / "tests" / "catalogs" / "platform"


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    dependencies: list[str]
    inputs: dict[str, Any]


class ModelplaneMocks(pulumi.runtime.Mocks):
    """Outputs for the few resources whose outputs the program uses."""

    def __init__(self, account_id: str, region: str):
        self.account_id = account_id
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "aws:eks/cluster:Cluster":
            outputs.update({
                "endpoint": "https://EXAMPLE.gr7.eks.amazonaws.com",
                "certificateAuthority": {"data": "Q0EtREFUQQ=="},
                "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/EXAMPLE"}]}],
            })
        elif args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            outputs["arn"] = (
                f"arn:aws:iam::{self.account_id}:oidc-provider/oidc.eks.{self.region}.amazonaws.com/id/EXAMPLE"
            )
        elif args.typ == "aws:iam/role:Role":
            outputs["arn"] = f"arn:aws:iam::{self.account_id}:role/{args.inputs['name']}"
        elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs["latestVersion"] = 1
        elif args.typ == "aws:eks/nodeGroup:NodeGroup":
            outputs["resources"] = [{"autoscalingGroups": [{"name": f"eks-{args.inputs['nodeGroupName']}-asg"}]}]
        elif args.typ == "kubernetes:helm.sh/v3:Release":
            outputs["status"] = {"name": args.inputs["name"], "namespace": args.inputs["namespace"], "status": "deployed"}
        elif args.typ == "kubernetes:core/v1:Service":
            outputs["status"] = {"loadBalancer": {"ingress": [{"hostname": "gateway-0123.elb.amazonaws.com"}]}}
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "aws:lb/getHostedZoneId:getHostedZoneId":
            # The canonical zone of network load balancers in us-east-1 (ELB endpoints reference).
            return {"id": "Z26RNL4JYFTOTI", "loadBalancerType": args.args.get("loadBalancerType")}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.reads: list[Registration] = []

    def _record(self, request, urn: str, into: list[Registration], custom: bool, properties) -> None:
        into.append(Registration(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent,
            custom=custom,
            provider=request.provider,
            dependencies=list(getattr(request, "dependencies", [])),
            inputs=rpc.deserialize_properties(properties),
        ))

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, response.urn, self.registrations, request.custom, request.object)
        return response

    def ReadResource(self, request):
        response = super().ReadResource(request)
        self._record(request, response.urn, self.reads, True, request.properties)
        return response


@dataclass
class ProgramRun:
    registrations: list[Registration]
    reads: list[Registration]
    outputs: dict[str, Any]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}

    def named(self, name: str) -> Registration:
        [match] = [r for r in self.registrations if r.name == name]
        return match


def engine_config_of(stack_file: Path) -> dict[str, str]:
    """The stack file's configuration as the engine passes it: strings, objects as JSON."""
    config = yaml.safe_load(stack_file.read_text())["config"]
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


def run_program(stack: str, config: dict[str, str] | None = None, root: Path = FIXTURE_ROOT) -> ProgramRun:
    """Run ``infra/__main__.py`` for ``stack`` over the catalog under ``root`` (its ``models/`` and
    ``stacks/``) under mocks; return every registration and output."""
    if config is None:
        config = engine_config_of(root / "stacks" / f"Pulumi.{stack}.yaml")
    account = json.loads(json.dumps(config.get("modelplane:aws_account_id", "123456789012")))
    region = config.get("aws:region", "us-west-2")
    mocks = ModelplaneMocks(account, region)
    monitor = RecordingMonitor(mocks)
    # A fresh root resource for every run, so runs of different stacks do not share state.
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="modelplane", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        # Loaded under another name, so its `if __name__ == "__main__"` guard does not build the
        # project's own catalog; then built over the fixture's.
        program_globals = runpy.run_path(str(PROGRAM), run_name="modelplane_program")
        program_globals["main"](root)

    program()
    root = pulumi_settings.get_root_resource()
    if root is not None and hasattr(root, "outputs"):
        outputs = root.outputs
    return ProgramRun(monitor.registrations, monitor.reads, outputs)

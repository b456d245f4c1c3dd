"""The Pulumi program under Pulumi's mocks: the resource graph it would ask the engine for.

Wiring only (types, counts, parents, providers, dependencies, names, key inputs); what the
objects contain is pinned by the render tests and golden files, and a test here proves the
program registers exactly those rendered objects.
"""

from __future__ import annotations

import json

import pytest

from components import pins
from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.objects import object_id
from components.render.resource_graph import logical_name
from components.render.stack_render import render_stack
from components.render.team_secrets import needs_secrets_role
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACKS_DIR
from components.render.platform_objects import gateway_dns_names
from tests.pulumi_harness import ProgramRun, engine_config_of, run_program

# Resource types that are not Kubernetes objects modelplane renders.
NOT_RENDERED = {"kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes"}


@pytest.fixture(scope="module", params=FIXTURE_STACKS)
def program(request) -> tuple[str, ProgramRun]:
    return request.param, run_program(request.param)


def rendered(stack: str):
    catalog = load_catalog(MODELS_DIR, "models")
    deployment = resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR))
    return render_stack(deployment)


def as_json(value):
    """Mock inputs arrive as protobuf values (every number a float); compare them as JSON does."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def kubernetes_objects(run: ProgramRun) -> dict[str, dict]:
    objects = {}
    for registration in run.registrations:
        if registration.type.startswith("kubernetes:") and registration.type not in NOT_RENDERED:
            obj = as_json(registration.inputs)
            objects[object_id(obj)] = obj
    return objects


def test_program_registers_exactly_the_rendered_objects(program):
    """The offline preview cannot drift from `pulumi up`: same objects, field for field."""
    stack, run = program
    expected = {object_id(obj): obj for obj in rendered(stack).objects}
    assert kubernetes_objects(run) == expected


def test_resource_counts(program):
    stack, run = program
    plan = rendered(stack)
    settings = plan.deployment.stack.settings
    managed_records = settings.dns is not None and settings.dns.manage_records
    secret_roles = sum(needs_secrets_role(team, plan.deployment) for team in plan.deployment.teams)
    # The fixture's staging stack reads the search team's Hugging Face token from Secrets Manager.
    assert secret_roles == (1 if stack == "staging" else 0)
    counts = {
        "modelplane:cluster:Cluster": 1,
        "aws:eks/cluster:Cluster": 1,
        "modelplane:cluster:NodePool": len(plan.cluster.node_groups),
        "aws:eks/nodeGroup:NodeGroup": len(plan.cluster.node_groups),
        "aws:ec2/launchTemplate:LaunchTemplate": len(plan.cluster.node_groups),
        "aws:ec2/subnet:Subnet": len(plan.cluster.network.subnets),
        "aws:ec2/natGateway:NatGateway": len(plan.cluster.network.nat_gateway_zones),
        "modelplane:addons:HelmAddon": len(plan.releases),
        "kubernetes:helm.sh/v3:Release": len(plan.releases),
        # One role per team, one per team reading secrets from AWS Secrets Manager,
        # cluster-autoscaler's, the EBS CSI driver's and, with an issuer, cert-manager's.
        "modelplane:iam:IrsaRole": len(plan.deployment.teams) + secret_roles + 2 + bool(settings.cluster_issuer),
        "modelplane:dns:GatewayDns": int(managed_records),
        "aws:route53/record:Record": len(gateway_dns_names(plan.deployment)) if managed_records else 0,
        "aws:eks/addon:Addon": len(plan.cluster.eks_addons),
        "aws:eks/accessEntry:AccessEntry": len(plan.cluster.admin_role_arns),
        "aws:autoscaling/tag:Tag": sum(len(g.autoscaler_tags) for g in plan.cluster.node_groups),
        "pulumi:providers:kubernetes": 1,
    }
    assert {token: len(run.of_type(token)) for token in counts} == counts


def test_every_resource_has_its_component_as_parent(program):
    _, run = program
    by_urn = run.by_urn()

    def parent_type(registration) -> str:
        return by_urn[registration.parent].type if registration.parent in by_urn else "stack"

    for registration in run.registrations:
        kind = registration.type
        if kind.startswith("modelplane:") and kind in ("modelplane:cluster:Cluster", "modelplane:platform:Platform",
                                                       "modelplane:serving:ModelServing"):
            assert parent_type(registration) == "stack", registration.name
        elif kind == "kubernetes:helm.sh/v3:Release":
            assert parent_type(registration) == "modelplane:addons:HelmAddon"
        elif kind == "aws:eks/nodeGroup:NodeGroup":
            assert parent_type(registration) == "modelplane:cluster:NodePool"
        elif kind.startswith("kubernetes:") and kind not in NOT_RENDERED:
            labels = registration.inputs["metadata"].get("labels", {})
            catalog = "modelplane.dev/team" in labels or labels.get("app.kubernetes.io/component") == "monitoring"
            expected = "modelplane:serving:ModelServing" if catalog else "modelplane:platform:Platform"
            assert parent_type(registration) == expected, registration.name
        elif kind.startswith("aws:eks") or kind.startswith("aws:ec2/vpc"):
            assert parent_type(registration) in ("modelplane:cluster:Cluster", "modelplane:cluster:NodePool")


def test_every_kubernetes_resource_uses_the_cluster_provider(program):
    _, run = program
    [provider] = run.of_type("pulumi:providers:kubernetes")
    kube = [r for r in run.registrations if r.type.startswith("kubernetes:") and r.custom and r.type not in NOT_RENDERED]
    kube += run.of_type("kubernetes:helm.sh/v3:Release")
    assert kube
    assert all(r.provider.startswith(provider.urn + "::") for r in kube)
    # The provider reads the cluster's kubeconfig, and waits for the system pool.
    assert any("NodePool" in dep for dep in provider.dependencies)


def dependency_names(run: ProgramRun, registration) -> set[str]:
    by_urn = run.by_urn()
    return {by_urn[urn].name for urn in registration.dependencies if urn in by_urn}


def test_add_on_order(program):
    _, run = program
    releases = {r.name: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert {"kserve-crd", "cert-manager", "platform/knativeserving/knative-serving/knative-serving"} <= dependency_names(run, releases["kserve"])
    assert "kserve" in dependency_names(run, releases["kserve-runtimes"])
    assert {"istio-base", "istio-cni"} <= dependency_names(run, releases["istiod"])
    assert "istiod" in dependency_names(run, releases["istio-ingressgateway"])
    [knative] = run.of_type("kubernetes:operator.knative.dev/v1beta1:KnativeServing")
    assert {"knative-operator", "platform/namespace/knative-serving"} <= dependency_names(run, knative)
    autoscaler = releases["cluster-autoscaler"]
    assert "platform-cluster-autoscaler-role" in dependency_names(run, autoscaler)


def test_monitoring_from_the_catalog_is_registered_by_model_serving(program):
    _, run = program
    by_urn = run.by_urn()
    for registration in run.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        assert by_urn[registration.parent].type == "modelplane:serving:ModelServing"
    [recording] = [r for r in run.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
                   if r.inputs["metadata"]["name"] == "modelplane-models"]
    assert "kube-prometheus-stack" in dependency_names(run, recording)


def test_models_wait_for_kserve_knative_and_their_namespace(program):
    _, run = program
    services = run.of_type("kubernetes:serving.kserve.io/v1beta1:InferenceService")
    assert services
    for service in services:
        names = dependency_names(run, service)
        namespace = service.inputs["metadata"]["namespace"]
        assert {"kserve", "kserve-runtimes", "platform/knativeserving/knative-serving/knative-serving"} <= names
        assert any(name.endswith(f"/namespace/{namespace}") for name in names)
    for route in run.of_type("kubernetes:networking.istio.io/v1:VirtualService"):
        assert "istio-base" in dependency_names(run, route)


def test_logical_names_derive_from_team_and_model(program):
    _, run = program
    for service in run.of_type("kubernetes:serving.kserve.io/v1beta1:InferenceService"):
        labels = service.inputs["metadata"]["labels"]
        assert service.name == f"{labels['modelplane.dev/team']}/{labels['modelplane.dev/model']}/inferenceservice/{service.inputs['metadata']['name']}"
        assert service.name == logical_name(as_json(service.inputs))
    assert len({r.urn for r in run.registrations}) == len(run.registrations)


def test_node_groups_carry_labels_taints_and_autoscaler_tags(program):
    stack, run = program
    plan = rendered(stack)
    for shape in plan.cluster.node_groups:
        group = run.named(f"cluster-{shape.pool}-node-group")
        inputs = group.inputs
        assert inputs["labels"] == shape.labels
        assert inputs["amiType"] == shape.ami_type
        assert as_json(inputs["scalingConfig"]) == {
            "minSize": shape.min_size, "maxSize": shape.max_size, "desiredSize": shape.desired_size,
        }
        tags = {
            r.inputs["tag"]["key"]: r.inputs["tag"]["value"]
            for r in run.of_type("aws:autoscaling/tag:Tag") if r.name.startswith(f"cluster-{shape.pool}-asg-tag-")
        }
        assert tags == shape.autoscaler_tags
        if shape.gpu_model:
            assert inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
            assert tags["k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu"] == "true:NoSchedule"
            assert any(key.startswith("k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/") for key in tags)
        else:
            assert "taints" not in inputs or inputs["taints"] == []
        template = run.named(f"cluster-{shape.pool}-launch-template").inputs
        assert template["metadataOptions"]["httpTokens"] == "required"
        assert as_json(template["metadataOptions"]["httpPutResponseHopLimit"]) == 1
        assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"


def test_mig_pools_advertise_their_slices_to_the_autoscaler():
    run = run_program("prod")
    tags = {
        r.inputs["tag"]["key"]: r.inputs["tag"]["value"]
        for r in run.of_type("aws:autoscaling/tag:Tag") if r.name.startswith("cluster-gpu-h100-mig-asg-tag-")
    }
    prefix = "k8s.io/cluster-autoscaler/node-template/resources/"
    # 8 GPUs per p5.48xlarge, each cut into 3g.40gb x1, 2g.20gb x1, 1g.10gb x2; no whole GPU left.
    assert {key: value for key, value in tags.items() if key.startswith(prefix)} == {
        prefix + "nvidia.com/gpu": "0",
        prefix + "nvidia.com/mig-1g.10gb": "16",
        prefix + "nvidia.com/mig-2g.20gb": "8",
        prefix + "nvidia.com/mig-3g.40gb": "8",
    }
    assert tags["k8s.io/cluster-autoscaler/node-template/label/nvidia.com/mig.config"] == "modelplane-gpu-h100-mig"


def test_eks_control_plane_settings(program):
    stack, run = program
    shape = rendered(stack).cluster
    [eks] = run.of_type("aws:eks/cluster:Cluster")
    inputs = eks.inputs
    assert inputs["version"] == shape.kubernetes_version
    assert inputs["accessConfig"]["authenticationMode"] == "API"
    assert inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert inputs["enabledClusterLogTypes"] == list(shape.log_types)
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert inputs["vpcConfig"]["endpointPublicAccess"] == shape.endpoint_public_access
    assert inputs["vpcConfig"].get("publicAccessCidrs", []) == list(shape.endpoint_public_access_cidrs)
    [oidc] = run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    [key] = run.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    policies = {r.inputs["policyArn"] for r in run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert policies <= {"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"}


def test_helm_releases_install_the_rendered_values_at_the_pinned_versions(program):
    stack, run = program
    plan = rendered(stack)
    releases = {r.name: r.inputs for r in run.of_type("kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {release.name for release in plan.releases}
    for release in plan.releases:
        inputs = releases[release.name]
        assert (inputs["chart"], inputs["version"], inputs["namespace"]) == (
            release.chart.chart, release.chart.version, release.namespace,
        )
        assert as_json(inputs.get("values", {})) == release.values
        assert inputs.get("createNamespace") is False
    assert releases["istiod"]["version"] == pins.ISTIO_VERSION == releases["istio-base"]["version"]


def test_team_roles_read_only_their_prefixes(program):
    stack, run = program
    plan = rendered(stack)
    policies = {r.name: json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    for team in plan.deployment.teams:
        policy = policies[f"models-{team.name}-models-policy"]
        objects = [f"arn:aws:s3:::{p.removeprefix('s3://')}*" for p in team.spec.storage.s3_prefixes]
        [read] = [s for s in policy["Statement"] if s["Action"] == ["s3:GetObject"]]
        assert read["Resource"] == sorted(objects)
        [listing] = [s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"]]
        buckets = {p.removeprefix("s3://").split("/")[0] for p in team.spec.storage.s3_prefixes}
        assert listing["Resource"] == sorted(f"arn:aws:s3:::{bucket}" for bucket in buckets)
        assert {a for s in policy["Statement"] for a in s["Action"]} == {"s3:GetObject", "s3:ListBucket"}
    roles = {r.inputs["name"]: json.loads(r.inputs["assumeRolePolicy"]) for r in run.of_type("aws:iam/role:Role")}
    [trust] = roles[f"modelplane-{stack}-fraud-models"]["Statement"]
    issuer = f"oidc.eks.{rendered(stack).cluster.region}.amazonaws.com/id/EXAMPLE"
    assert trust["Principal"] == {"Federated": f"arn:aws:iam::{plan.deployment.stack.settings.aws_account_id}:oidc-provider/{issuer}"}
    assert trust["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:team-fraud:model-server", f"{issuer}:aud": "sts.amazonaws.com",
    }}


def test_cert_manager_solves_dns01_with_its_own_zone_limited_role(program):
    stack, run = program
    plan = rendered(stack)
    settings = plan.deployment.stack.settings
    roles = {r.inputs["name"]: r for r in run.of_type("aws:iam/role:Role")}
    role_name = f"modelplane-{stack}-cert-manager"
    if not settings.cluster_issuer:
        assert role_name not in roles
        return
    issuer = f"oidc.eks.{plan.cluster.region}.amazonaws.com/id/EXAMPLE"
    [trust] = json.loads(roles[role_name].inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["StringEquals"][f"{issuer}:sub"] == "system:serviceaccount:cert-manager:cert-manager"
    policies = {r.name: json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    zone_statements = [s for s in policies["platform-cert-manager-policy"]["Statement"]
                       if "route53:ChangeResourceRecordSets" in s["Action"]]
    assert [s["Resource"] for s in zone_statements] == [[f"arn:aws:route53:::hostedzone/{settings.dns.hosted_zone_id}"]]
    # The release waits for the role, and its ServiceAccount names it.
    release = {r.name: r for r in run.of_type("kubernetes:helm.sh/v3:Release")}["cert-manager"]
    assert "platform-cert-manager-role" in dependency_names(run, release)
    annotations = release.inputs["values"]["serviceAccount"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"] == f"arn:aws:iam::{settings.aws_account_id}:role/{role_name}"


def test_gateway_names_point_at_the_gateway_load_balancer(program):
    stack, run = program
    plan = rendered(stack)
    dns = plan.deployment.stack.settings.dns
    records = run.of_type("aws:route53/record:Record")
    if dns is None or not dns.manage_records:
        assert records == []
        return
    [component] = run.of_type("modelplane:dns:GatewayDns")
    assert {r.parent for r in records} == {component.urn}
    assert sorted(r.inputs["name"] for r in records) == sorted(gateway_dns_names(plan.deployment))
    for record in records:
        assert record.inputs["zoneId"] == dns.hosted_zone_id
        assert record.inputs["type"] == "A"
        # The gateway Service's load balancer, in the canonical zone of NLBs that the data source gives.
        assert as_json(record.inputs["aliases"]) == [{
            "name": "gateway-0123.elb.amazonaws.com", "zoneId": "Z26RNL4JYFTOTI", "evaluateTargetHealth": True,
        }]


def test_outputs(program):
    stack, run = program
    assert set(run.outputs) == {"cluster_name", "kubeconfig", "gateway_address", "model_urls"}
    assert run.outputs["model_urls"]["fraud/fraud-detector-v2"].endswith("/fraud/fraud-detector-v2")
    kubeconfig = run.outputs["kubeconfig"]
    assert _sync(kubeconfig.is_secret()) is True
    assert json.loads(_sync(kubeconfig.future()))["users"][0]["user"]["exec"]["command"] == "aws"
    assert _sync(run.outputs["gateway_address"].future()) == "gateway-0123.elb.amazonaws.com"
    assert [r.name for r in run.reads] == ["gateway-service"]


def _sync(awaitable):
    from pulumi.runtime.sync_await import _sync_await

    return _sync_await(awaitable)


def test_bad_stack_configuration_fails_with_the_validate_lines():
    config = engine_config_of(STACKS_DIR / "Pulumi.dev.yaml")
    config["modelplane:node_poolz"] = "{}"
    with pytest.raises(Exception) as caught:
        run_program("dev", config)
    message = str(caught.value)
    assert "stacks/Pulumi.dev.yaml: modelplane:node_poolz: unknown field (did you mean node_pools?)" in message
    assert "Traceback" not in message


def test_eks_addons_and_access_entries(program):
    stack, run = program
    addons = {r.inputs["addonName"]: r.inputs for r in run.of_type("aws:eks/addon:Addon")}
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert addons["aws-ebs-csi-driver"]["serviceAccountRoleArn"].endswith(f"role/modelplane-{stack}-ebs-csi")
    entries = run.of_type("aws:eks/accessEntry:AccessEntry")
    # Named after the principal: removing one admin leaves the others' resources alone.
    assert {e.name for e in entries} == {
        f"cluster-admin-{__import__('hashlib').sha256(e.inputs['principalArn'].encode()).hexdigest()[:12]}" for e in entries
    }


def test_s3_traffic_takes_a_gateway_endpoint_on_the_private_route_tables(program):
    # pulumi_aws ec2.VpcEndpoint: a Gateway endpoint adds a route to S3's prefix list in each
    # route table it names; the cost model counts NAT data processing only for non-S3 downloads.
    stack, run = program
    network = rendered(stack).cluster.network
    (endpoint,) = run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    region = load_stack(STACKS_DIR, stack, "stacks").settings.region
    assert endpoint.inputs["serviceName"] == network.s3_endpoint_service == f"com.amazonaws.{region}.s3"
    assert "policy" not in endpoint.inputs  # open: ECR layers come from AWS-owned S3 buckets
    tables = {r.urn: r for r in run.of_type("aws:ec2/routeTable:RouteTable")}
    private = [t for t in tables.values() if any("natGatewayId" in route for route in t.inputs["routes"])]
    assert len(private) == len(network.private_subnets())
    assert set(endpoint.dependencies) >= {t.urn for t in private}


def test_a_teams_secrets_role_is_trusted_by_its_secrets_reader_only(program):
    stack, run = program
    roles = {r.inputs["name"]: r for r in run.of_type("aws:iam/role:Role")}
    name = f"modelplane-{stack}-search-secrets"
    if stack != "staging":
        assert name not in roles
        return
    issuer = f"oidc.eks.{rendered(stack).cluster.region}.amazonaws.com/id/EXAMPLE"
    [trust] = json.loads(roles[name].inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:team-search:secrets-reader", f"{issuer}:aud": "sts.amazonaws.com",
    }}
    policies = {r.name: json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}
    [statement] = policies["models-search-secrets-policy"]["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == ["arn:aws:secretsmanager:us-west-2:222222222222:secret:modelplane/staging/search/*"]

"""Stack settings: read offline from the stack file, or from the Pulumi engine's strings."""

from __future__ import annotations

import copy
import json

import pytest

from components.catalog import InputError, load_stack
from components.catalog.stacks import settings_from_config, settings_from_engine_config, stack_names
from tests.conftest import STACK_CONFIG

SOURCE = "stacks/Pulumi.dev.yaml"


def problems_of(workspace, name="dev") -> list[str]:
    with pytest.raises(InputError) as caught:
        load_stack(workspace.stacks, name, "stacks")
    return [str(problem) for problem in caught.value.problems]


def assert_stack_problem(workspace, changes, expected) -> None:
    """The stack file with ``changes`` yields a problem starting with ``expected``."""
    workspace.stack(**changes)
    problems = problems_of(workspace)
    assert any(problem.startswith(f"{SOURCE}: {expected}") for problem in problems), problems


def pools(**changes):
    result = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    for name, pool in changes.items():
        if pool is None:
            result.pop(name)
        else:
            result[name] = pool
    return result


def test_valid_stack(workspace):
    workspace.stack()
    stack = load_stack(workspace.stacks, "dev", "stacks")
    assert stack.cluster_name == "modelplane-dev"
    assert stack.settings.region == "us-west-2"
    assert stack.settings.mig_strategy == "mixed"
    assert not stack.is_prod


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"environment": "production"},
            "modelplane:environment: the text 'production' is not allowed; use one of: dev, "
            "staging, prod",
        ),
        (
            {"aws:region": None},
            "aws:region: required field is missing: AWS region (the aws:region key).",
        ),
        (
            {"aws_account_id": 123},
            "modelplane:aws_account_id: expected text, got the number 123; put the value in quotes",
        ),
        (
            {"domain": "Models_Example"},
            "modelplane:domain: 'Models_Example' is not a DNS name; write one like models.example.com",
        ),
        (
            {"node_pool": {}},
            "modelplane:node_pool: unknown field (did you mean node_pools?); allowed here: "
            "addons, aws_account_id, cluster, cluster_name, cost, deployer_role_arns, dns, domain, environment, "
            "extra_releases, "
            "gateway, model_buckets, monitoring, node_pools, nvidia, region, route_grants, secrets, serving",
        ),
        (
            {"node_pools": pools(gpu={"instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 2})},
            "modelplane:node_pools.gpu: g5.xlarge have GPUs but the pool has no gpu settings; add "
            "gpu: {model, per_node} or use CPU instance types",
        ),
        (
            {"node_pools": pools(gpu={"instance_types": ["g5.12xlarge"], "min_size": 0, "max_size": 2,
                                      "gpu": {"model": "A10G", "per_node": 1}})},
            "modelplane:node_pools.gpu: g5.12xlarge has 4 x A10G, but gpu says 1 x A10G; every "
            "instance type of a pool must match its gpu settings",
        ),
        (
            {"node_pools": pools(gpu={"instance_types": ["g5.xlarge"], "min_size": 3, "max_size": 2,
                                      "gpu": {"model": "A10G", "per_node": 1}})},
            "modelplane:node_pools.gpu: sizes must satisfy min_size <= desired_size <= max_size, "
            "got 3 <= 3 <= 2",
        ),
        (
            {"node_pools": pools(gpu={"instance_types": ["g5.mega"], "min_size": 0, "max_size": 2})},
            "modelplane:node_pools.gpu.instance_types[0]: 'g5.mega' is not an instance type",
        ),
        (
            {"node_pools": pools(gpu={"instance_types": ["g5.xlarge"], "min_size": 0, "max_size": 1,
                                      "gpu": {"model": "A10G", "per_node": 1,
                                              "mig": {"strategy": "mixed", "layout": {"1g.10gb": 7}}}})},
            "modelplane:node_pools.gpu: A10G GPUs do not support MIG; remove gpu.mig",
        ),
        (
            {"node_pools": pools(mig={"instance_types": ["p5.48xlarge"], "min_size": 0, "max_size": 1,
                                      "gpu": {"model": "H100-80GB", "per_node": 8,
                                              "mig": {"strategy": "mixed", "layout": {"3g.40gb": 3}}}})},
            "modelplane:node_pools.mig: gpu.mig.layout: 3g.40gb fits at most 2 times on one H100-80GB",
        ),
        (
            {"node_pools": pools(mig={"instance_types": ["p5.48xlarge"], "min_size": 0, "max_size": 1,
                                      "gpu": {"model": "H100-80GB", "per_node": 8,
                                              "mig": {"strategy": "single",
                                                      "layout": {"3g.40gb": 1, "1g.10gb": 3}}}})},
            "modelplane:node_pools.mig: MIG strategy single cuts every GPU the same way; use one "
            "profile in the layout or strategy mixed",
        ),
        (
            {"node_pools": pools(system=None)},
            "modelplane:node_pools: needs a 'system' pool of CPU instances with "
            "min_size >= 1 to run the platform's add-ons",
        ),
        (
            {"node_pools": pools(other={"instance_types": ["p4de.24xlarge"], "min_size": 0, "max_size": 1,
                                        "gpu": {"model": "A100-80GB", "per_node": 8,
                                                "mig": {"strategy": "single", "layout": {"1g.10gb": 7}}}})},
            "modelplane:node_pools: MIG pools use different strategies (mig: mixed, other: "
            "single); the NVIDIA device plugin reads one strategy per cluster, so use the same "
            "one in every pool",
        ),
    ],
)
def test_stack_rules(workspace, changes, expected):
    assert_stack_problem(workspace, changes, expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"cluster": {"endpoint": {"public_access": True}}},
            "modelplane:cluster.endpoint: public_access needs public_access_cidrs: list the networks "
            "allowed to reach the API (0.0.0.0/0 would allow everyone), or set public_access: false",
        ),
        (
            {"cluster": {"endpoint": {"public_access_cidrs": ["10.0.0.0/8"]}}},
            "modelplane:cluster.endpoint: public_access_cidrs has no effect with public_access: false; remove it",
        ),
        (
            {"cluster": {"endpoint": {"public_access": True, "public_access_cidrs": ["10.0.0.1/8"]}}},
            "modelplane:cluster.endpoint.public_access_cidrs[0]: '10.0.0.1/8' is not a CIDR block; write one "
            "like 10.0.0.0/16",
        ),
        (
            {"cluster": {"kubernetes_version": "1.29"}},
            "modelplane:cluster.kubernetes_version: the text '1.29' is not allowed; use one of: 1.34, 1.35",
        ),
        (
            {"cluster": {"vpc_cidr": "10.0.0.0/24"}},
            "modelplane:cluster: vpc_cidr 10.0.0.0/24 is too small for pod IPs across zones; use a /20 or larger",
        ),
        (
            {"cluster": {"admin_role_arns": ["admins"]}},
            "modelplane:cluster.admin_role_arns[0]: 'admins' is not an IAM role or user ARN; write "
            "arn:aws:iam::<account>:role/<name>",
        ),
        (
            {"cluster": {"availability_zones": ["eu-west-1a", "eu-west-1b"]}},
            "(file): cluster.availability_zones eu-west-1a, eu-west-1b are not in region us-west-2; name "
            "zones of us-west-2",
        ),
        (
            {"nvidia": {"provider": "device-plugin"}},
            "(file): nvidia.provider device-plugin cannot partition GPUs into MIG slices; set "
            "modelplane:nvidia.provider to gpu-operator (or leave it out) for the MIG pools",
        ),
        (
            {"addons": {"kserv": {"values": {}}}},
            "modelplane:addons: no add-on named kserv; add-ons: cert-manager, istio-base, istio-cni, istiod, "
            "istio-ingressgateway, knative-operator, kserve-crd, kserve, kserve-runtimes, kube-prometheus-stack, "
            "cluster-autoscaler, nvidia-device-plugin, gpu-operator, external-secrets (use extra_releases for other charts)",
        ),
        (
            {"extra_releases": [{"name": "kserve", "namespace": "x", "chart": "c", "version": "1"}]},
            "modelplane:extra_releases: release name kserve is taken (by an add-on or another extra "
            "release); choose another name",
        ),
        (
            {"gateway": {"tls": {"credential_name": "Bad_Name"}}},
            "modelplane:gateway.tls.credential_name: 'Bad_Name' is not a DNS-1123 label",
        ),
    ],
)
def test_platform_settings_rules(workspace, changes, expected):
    assert_stack_problem(workspace, changes, expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"node_pools": pools(cpu={"instance_types": ["m6i.large"], "min_size": 0, "max_size": 1,
                                      "labels": {"modelplane.dev/node-pool": "system"}})},
            "modelplane:node_pools.cpu.labels: modelplane.dev/node-pool would override a label modelplane or "
            "a node agent sets",
        ),
        (
            {"node_pools": pools(cpu={"instance_types": ["m6i.large"], "min_size": 0, "max_size": 1,
                                      "labels": {"bad key": "x"}})},
            "modelplane:node_pools.cpu.labels.bad key: 'bad key' is not a Kubernetes label key",
        ),
        (
            {"node_pools": pools(cpu={"instance_types": ["m6i.large"], "min_size": 0, "max_size": 100000})},
            "modelplane:node_pools.cpu.max_size: must be at most 1000, got the number 100000",
        ),
        (
            {"cluster": {"availability_zones": ["us-west-2a", "us-west-2a"]}},
            "modelplane:cluster.availability_zones: lists us-west-2a more than once; keep one of each",
        ),
        (
            {"serving": {"scale_to_zero_grace_period_seconds": 0}},
            "modelplane:serving.scale_to_zero_grace_period_seconds: must be at least 6, got the number 0",
        ),
        (
            {"cluster": {"admin_role_arns": ["arn:aws:sts::123456789012:assumed-role/admins/me"]}},
            "modelplane:cluster.admin_role_arns[0]: 'arn:aws:sts::123456789012:assumed-role/admins/me' is not "
            "an IAM role or user ARN",
        ),
    ],
)
def test_more_stack_rules(workspace, changes, expected):
    assert_stack_problem(workspace, changes, expected)


def test_stack_name_must_give_a_valid_cluster_name(workspace):
    workspace.stack("QA_x.y")
    assert problems_of(workspace, "QA_x.y") == [
        "stacks/Pulumi.QA_x.y.yaml: modelplane:cluster_name: the stack name gives the cluster name "
        "'modelplane-QA_x.y', which EKS refuses (letters, digits and '-', starting with a letter, at "
        "most 100); set modelplane:cluster_name"
    ]
    workspace.stack("QA_x.y", cluster_name="qa-cluster")
    assert load_stack(workspace.stacks, "QA_x.y", "stacks").cluster_name == "qa-cluster"


def test_nvidia_provider_defaults(workspace):
    workspace.stack()
    assert load_stack(workspace.stacks, "dev", "stacks").settings.nvidia_provider == "gpu-operator"
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    del pools["mig"]
    workspace.stack(node_pools=pools)
    assert load_stack(workspace.stacks, "dev", "stacks").settings.nvidia_provider == "device-plugin"
    workspace.stack(node_pools={"system": pools["system"]})
    assert load_stack(workspace.stacks, "dev", "stacks").settings.nvidia_provider is None


def test_missing_stack_file_names_the_known_ones(workspace):
    workspace.stack("dev")
    workspace.stack("prod")
    assert problems_of(workspace, "qa") == [
        "stacks/Pulumi.qa.yaml: (file): no such stack file; stacks in stacks/: dev, prod"
    ]
    assert stack_names(workspace.stacks) == ["dev", "prod"]


def test_stack_file_without_config(workspace):
    workspace.write("stacks/Pulumi.dev.yaml", {"encryptionsalt": "x"})
    assert problems_of(workspace) == [
        "stacks/Pulumi.dev.yaml: config: a stack file holds a 'config:' mapping of modelplane: keys"
    ]


def test_other_providers_keys_are_left_alone():
    config = {**STACK_CONFIG, "kubernetes:context": "x", "pulumi:tags": {"a": "b"}}
    assert settings_from_config(config, SOURCE).domain == "models.test.example.com"


def test_engine_strings_give_the_same_settings_as_the_file():
    """The Pulumi engine hands every value over as a string, objects as JSON."""
    as_strings = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in STACK_CONFIG.items()
    }
    # An account id that looks like a number must stay text.
    as_strings["modelplane:aws_account_id"] = "012345678901"
    from_engine = settings_from_engine_config(as_strings, SOURCE)
    from_file = settings_from_config({**STACK_CONFIG, "modelplane:aws_account_id": "012345678901"}, SOURCE)
    assert from_engine == from_file

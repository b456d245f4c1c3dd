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
            "addons, aws_account_id, cluster, cluster_name, domain, environment, extra_releases, "
            "gateway, node_pools, nvidia, region, serving",
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
    workspace.stack(**changes)
    problems = problems_of(workspace)
    assert any(problem.startswith(f"{SOURCE}: {expected}") for problem in problems), problems


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

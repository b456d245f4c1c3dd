"""Catalog-wide and per-stack rules: what two files, or a file and a stack, get wrong together."""

from __future__ import annotations

import pytest

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from tests.conftest import STACK_CONFIG, Workspace

MODEL_FILE = "models/fraud/scorer.yaml"
TEAM_FILE = "models/fraud/team.yaml"


def resolve(workspace: Workspace, stack: str = "dev"):
    catalog = load_catalog(workspace.models, "models")
    loaded = load_stack(workspace.stacks, stack, "stacks")
    return resolve_deployment(catalog, loaded, stack_names(workspace.stacks))


def problems_of(workspace: Workspace, stack: str = "dev") -> list[str]:
    with pytest.raises(InputError) as caught:
        resolve(workspace, stack)
    return [str(problem) for problem in caught.value.problems]


# Catalog-wide rules.

def test_two_teams_with_one_namespace(basic_workspace):
    basic_workspace.team("risk", namespace="team-fraud", storage={"s3_prefixes": ["s3://models-bucket/risk/"]})
    assert problems_of(basic_workspace) == [
        "models/fraud/team.yaml: namespace: 'team-fraud' is also the namespace of "
        "models/risk/team.yaml; every team needs its own",
        "models/risk/team.yaml: namespace: 'team-fraud' is also the namespace of "
        "models/fraud/team.yaml; every team needs its own",
    ]


def test_platform_namespaces_are_reserved(basic_workspace):
    basic_workspace.team(namespace="kube-system")
    assert problems_of(basic_workspace) == [
        "models/fraud/team.yaml: namespace: 'kube-system' belongs to the platform; choose another "
        "namespace"
    ]


def test_teams_may_not_share_storage(basic_workspace):
    basic_workspace.team("risk", storage={"s3_prefixes": ["s3://models-bucket/fraud/shared/"]})
    assert problems_of(basic_workspace) == [
        "models/fraud/team.yaml: storage.s3_prefixes[0]: s3://models-bucket/fraud/ overlaps "
        "s3://models-bucket/fraud/shared/ of team risk; teams may not read each other's "
        "artifacts, so give each team its own prefix",
        "models/risk/team.yaml: storage.s3_prefixes[0]: s3://models-bucket/fraud/shared/ overlaps "
        "s3://models-bucket/fraud/ of team fraud; teams may not read each other's artifacts, so "
        "give each team its own prefix",
    ]


def test_storage_outside_the_team_prefixes(basic_workspace):
    basic_workspace.model(
        storage_uri="s3://models-bucket/risk/scorer/",
        canary={"storage_uri": "s3://other-bucket/x/", "traffic_percent": 5},
    )
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: canary.storage_uri: s3://other-bucket/x/ is outside team "
        "fraud's storage (s3://models-bucket/fraud/); move the artifacts there or add the prefix "
        "to models/fraud/team.yaml",
        "models/fraud/scorer.yaml: storage_uri: s3://models-bucket/risk/scorer/ is outside team "
        "fraud's storage (s3://models-bucket/fraud/); move the artifacts there or add the prefix "
        "to models/fraud/team.yaml",
    ]


def test_non_s3_storage_is_not_prefix_checked(basic_workspace):
    basic_workspace.model(storage_uri="pvc://fraud-models/scorer")
    assert resolve(basic_workspace).models[0].spec.storage_uri == "pvc://fraud-models/scorer"


def test_duplicate_routes(basic_workspace):
    basic_workspace.model(name="other", route={"path": "/fraud/scorer"})
    assert problems_of(basic_workspace) == [
        "models/fraud/other.yaml: route.path: route /fraud/scorer is also the route of "
        "models/fraud/scorer.yaml; give one of them another route.path",
        "models/fraud/scorer.yaml: route.path: route /fraud/scorer is also the route of "
        "models/fraud/other.yaml; give one of them another route.path",
    ]


def test_nested_routes(basic_workspace):
    basic_workspace.model(name="other", route={"path": "/fraud/scorer/v2"})
    assert problems_of(basic_workspace) == [
        "models/fraud/other.yaml: route.path: route /fraud/scorer/v2 is nested under /fraud/scorer, "
        "the route of models/fraud/scorer.yaml; the gateway could send its requests to either, so "
        "choose a path outside it",
    ]


def test_routes_that_only_share_a_prefix_are_fine(basic_workspace):
    basic_workspace.model(name="scorer-v2")
    assert {m.route_path for m in resolve(basic_workspace).models} == {"/fraud/scorer", "/fraud/scorer-v2"}


# Per-stack rules.

def test_environment_key_must_be_a_stack(basic_workspace):
    basic_workspace.model(environments={"production": {"enabled": False}})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: environments.production: there is no stack 'production' "
        "(stacks: dev); use a stack name"
    ]


def test_overrides_merge_over_the_base(basic_workspace):
    basic_workspace.model(
        scaling={"min_replicas": 0, "max_replicas": 3, "target": 5},
        environments={"dev": {"scaling": {"max_replicas": 1}, "resources": {"memory": "1Gi"}}},
    )
    [model] = resolve(basic_workspace).models
    assert (model.min_replicas, model.max_replicas, model.target) == (0, 1, 5)
    assert (model.cpu, model.memory) == ("1", "1Gi")


def test_merged_override_is_checked(basic_workspace):
    basic_workspace.model(
        scaling={"min_replicas": 2, "max_replicas": 3},
        environments={"dev": {"scaling": {"max_replicas": 1}}},
    )
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: environments.dev.scaling: min_replicas (2) is more than "
        "max_replicas (1); raise max_replicas or lower min_replicas"
    ]


def test_a_cpu_request_overridden_above_the_limit_is_refused(basic_workspace):
    basic_workspace.model(
        resources={"cpu": "500m", "memory": "1Gi", "cpu_limit": "1"},
        environments={"dev": {"resources": {"cpu": "1200m"}}},
    )
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: environments.dev.resources: cpu_limit 1 is below the CPU "
        "request 1200m, which Kubernetes refuses; raise cpu_limit to at least the request, or "
        "leave it out (the stack's serving.cpu_limit_ratio times the request)"
    ]


def test_disabled_model_is_left_out(basic_workspace):
    basic_workspace.model(environments={"dev": {"enabled": False}})
    deployment = resolve(basic_workspace)
    assert deployment.models == ()
    assert [team.name for team in deployment.teams] == ["fraud"]


def test_critical_model_runs_two_replicas_in_prod(basic_workspace):
    basic_workspace.model(critical=True)
    basic_workspace.stack("prod", environment="prod")
    [model] = resolve(basic_workspace, "prod").models
    # max_replicas (1) rises with the floor.
    assert (model.min_replicas, model.max_replicas, model.highly_available) == (2, 2, True)
    [model] = resolve(basic_workspace, "dev").models
    assert (model.min_replicas, model.highly_available) == (0, False)


def test_the_critical_floor_is_a_stack_setting(basic_workspace):
    basic_workspace.model(critical=True, scaling={"max_replicas": 4})
    basic_workspace.stack("prod", environment="prod", serving={"availability": {"critical_min_replicas": 1}})
    [model] = resolve(basic_workspace, "prod").models
    assert (model.min_replicas, model.highly_available) == (1, False)
    # Any stack may set one, and a model that is not critical keeps its own floor.
    basic_workspace.stack(serving={"availability": {"critical_min_replicas": 2}})
    assert resolve(basic_workspace, "dev").models[0].min_replicas == 2
    basic_workspace.model(critical=False)
    assert resolve(basic_workspace, "dev").models[0].min_replicas == 0


def test_critical_model_cannot_go_below_the_floor_in_prod(basic_workspace):
    basic_workspace.model(
        critical=True,
        scaling={"min_replicas": 1, "max_replicas": 2},
        environments={"prod": {"scaling": {"min_replicas": 1}}},
    )
    basic_workspace.stack("prod", environment="prod")
    assert problems_of(basic_workspace, "prod") == [
        "models/fraud/scorer.yaml: environments.prod.scaling.min_replicas: the model is critical, "
        "so it keeps at least 2 replicas in stack prod "
        "(modelplane:serving.availability.critical_min_replicas); remove this override or set it "
        "to 2 or more"
    ]
    # Zero in a stack that is not prod is allowed.
    basic_workspace.stack("prod", environment="staging")
    assert resolve(basic_workspace, "prod").models[0].min_replicas == 1


def test_critical_model_cannot_be_disabled_in_prod(basic_workspace):
    basic_workspace.model(critical=True, environments={"prod": {"enabled": False}})
    basic_workspace.stack("prod", environment="prod")
    assert problems_of(basic_workspace, "prod") == [
        "models/fraud/scorer.yaml: environments.prod.enabled: the model is critical, so it must "
        "run in stack prod, where critical models keep at least 2 replicas "
        "(modelplane:serving.availability.critical_min_replicas); remove enabled: false or set "
        "critical: false"
    ]


def test_critical_replicas_need_a_node_each(basic_workspace):
    basic_workspace.model(critical=True)
    basic_workspace.stack("prod", environment="prod", serving={"availability": {"critical_min_replicas": 3}})
    assert problems_of(basic_workspace, "prod") == [
        "models/fraud/scorer.yaml: critical: the model is critical, so its 3 replicas in stack "
        "prod run on 3 different nodes, but its pools reach 2 at most: system (max_size 2); "
        "raise max_size in stacks/Pulumi.prod.yaml, or lower "
        "modelplane:serving.availability.critical_min_replicas or the model's min_replicas there"
    ]


def test_the_critical_floor_counts_against_the_quota(basic_workspace):
    basic_workspace.team(quota={"cpu": "2", "memory": "64Gi"})
    basic_workspace.model(critical=True)
    basic_workspace.stack("prod", environment="prod")
    [problem] = problems_of(basic_workspace, "prod")
    assert problem.startswith("models/fraud/team.yaml: quota.cpu: ")
    assert "2250m" in problem
    assert resolve(basic_workspace, "dev").models[0].min_replicas == 0


def test_whole_gpu_model_goes_to_a_pool_without_mig(basic_workspace):
    basic_workspace.model(gpu={"count": 1})
    [model] = resolve(basic_workspace).models
    assert (model.node_pools, model.gpu.resource, model.gpu.count) == (("gpu",), "nvidia.com/gpu", 1)


def test_mig_model_goes_to_the_pool_with_its_profile(basic_workspace):
    basic_workspace.model(gpu={"mig": "1g.10gb"})
    [model] = resolve(basic_workspace).models
    assert (model.node_pools, model.gpu.resource) == (("mig",), "nvidia.com/mig-1g.10gb")


def test_cpu_model_runs_on_the_cpu_pools_not_the_system_pool(basic_workspace):
    assert resolve(basic_workspace).models[0].node_pools == ("system",)
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["cpu-a"] = {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 2}
    pools["cpu-b"] = {"instance_types": ["m6i.2xlarge"], "min_size": 0, "max_size": 2}
    basic_workspace.stack(node_pools=pools)
    assert resolve(basic_workspace).models[0].node_pools == ("cpu-a", "cpu-b")
    basic_workspace.model(node_pool="system")
    assert resolve(basic_workspace).models[0].node_pools == ("system",)


def test_mig_slice_is_a_gpu_under_the_single_strategy(basic_workspace):
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["mig"] = {**pools["mig"], "gpu": {**pools["mig"]["gpu"], "mig": {"strategy": "single", "layout": {"1g.10gb": 7}}}}
    basic_workspace.stack(node_pools=pools)
    basic_workspace.model(gpu={"mig": "1g.10gb"})
    [model] = resolve(basic_workspace).models
    assert model.gpu.resource == "nvidia.com/gpu"


def test_more_gpus_than_a_node_has(basic_workspace):
    basic_workspace.model(gpu={"count": 2})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.count: 2 whole GPUs per replica do not fit a node of stack "
        "dev: its GPU pools without MIG have at most 1 per node (GPU pools: gpu (1 x A10G per "
        "node); mig (H100-80GB cut into 1g.10gb x7)); lower gpu.count, add a pool with 2 or more "
        "GPUs per node to stacks/Pulumi.dev.yaml, or set environments.dev.enabled: false"
    ]


def test_whole_gpus_in_a_stack_without_such_a_pool(basic_workspace):
    basic_workspace.stack(node_pools={"system": STACK_CONFIG["modelplane:node_pools"]["system"]})
    basic_workspace.model(gpu={"count": 1})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.count: 1 whole GPU per replica, but stack dev has no GPU "
        "pool without MIG (GPU pools: none); add one to stacks/Pulumi.dev.yaml or set "
        "environments.dev.enabled: false"
    ]


def test_explicit_pool_with_too_few_gpus_per_node(basic_workspace):
    basic_workspace.model(node_pool="gpu", gpu={"count": 2})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: node_pool: gpu (1 x A10G per node) in stack dev "
        "(stacks/Pulumi.dev.yaml) cannot serve 2 whole GPUs per replica (its nodes have 1 GPU "
        "each); lower gpu.count to 1, name another pool, or leave node_pool out"
    ]
    basic_workspace.model(node_pool="mig", gpu={"count": 1})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: node_pool: mig (H100-80GB cut into 1g.10gb x7) in stack dev "
        "(stacks/Pulumi.dev.yaml) cannot serve 1 whole GPU per replica (its GPUs are cut into MIG "
        "slices); name another pool or leave node_pool out"
    ]


def test_mig_profile_of_another_gpu_model(basic_workspace):
    basic_workspace.model(gpu={"mig": "1g.5gb"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.mig: no pool of stack dev is cut into 1g.5gb slices "
        "(1g.5gb is a profile of A100-40GB; GPU pools: gpu (1 x A10G per node); mig (H100-80GB "
        "cut into 1g.10gb x7)); add such a pool to stacks/Pulumi.dev.yaml or set "
        "environments.dev.enabled: false"
    ]


def test_explicit_pool_must_exist(basic_workspace):
    basic_workspace.model(node_pool="cpu-large")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: node_pool: stack dev (stacks/Pulumi.dev.yaml) has no node pool "
        "'cpu-large' (pools: gpu, mig, system); name one of them or set "
        "environments.dev.enabled: false"
    ]


def test_cpu_model_may_not_pin_a_gpu_pool(basic_workspace):
    basic_workspace.model(node_pool="gpu")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: node_pool: gpu is a GPU pool and the model asks for no GPU; "
        "GPU nodes are tainted for GPU work, so name a CPU pool or leave node_pool out"
    ]


def test_explicit_pool_must_serve_the_request(basic_workspace):
    basic_workspace.model(node_pool="gpu", gpu={"mig": "1g.10gb"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: node_pool: gpu (1 x A10G per node) in stack dev "
        "(stacks/Pulumi.dev.yaml) cannot serve a 1g.10gb MIG slice per replica (its GPUs are not "
        "cut into MIG slices); name another pool or leave node_pool out"
    ]
    basic_workspace.model(node_pool="mig", gpu={"mig": "2g.20gb"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: node_pool: mig (H100-80GB cut into 1g.10gb x7) in stack dev "
        "(stacks/Pulumi.dev.yaml) cannot serve a 2g.20gb MIG slice per replica (its MIG layout "
        "has no 2g.20gb slices); name another pool or leave node_pool out"
    ]


def test_replica_cpu_larger_than_any_node(basic_workspace):
    # Only the CPU is too big: 4Gi and 192Mi of sidecars fit the 6.5Gi an m6i.large leaves to pods.
    basic_workspace.model(resources={"cpu": "8", "memory": "4Gi"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources.cpu: 8 CPU per replica plus 125m for the sidecars "
        "does not fit pool system of stack dev (m6i.large: 1500m CPU allocatable); lower it, "
        "override it for this stack with environments.dev.resources.cpu, or add a larger instance "
        "type to the pool"
    ]


def test_replica_memory_larger_than_any_node_of_several_pools(basic_workspace):
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["cpu-a"] = {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 2}
    pools["cpu-b"] = {"instance_types": ["m6i.2xlarge"], "min_size": 0, "max_size": 2}
    basic_workspace.stack(node_pools=pools)
    basic_workspace.model(resources={"cpu": "1", "memory": "70Gi"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources.memory: 70Gi per replica plus 192Mi for the sidecars "
        "does not fit any of the pools cpu-a, cpu-b of stack dev (cpu-a m6i.xlarge: 14.5Gi "
        "allocatable, cpu-b m6i.2xlarge: 30.5Gi allocatable); lower it, override it for this stack "
        "with environments.dev.resources.memory, or add a larger instance type to one of them",
        # 70Gi is also more than the team's quota, whatever the stack.
        "models/fraud/scorer.yaml: resources.memory: 70Gi per replica plus 192Mi for the sidecars "
        "is more than team fraud's quota.memory of 64Gi (models/fraud/team.yaml), so no replica "
        "could start; lower it, override it for this stack with "
        "environments.dev.resources.memory, or raise quota.memory there",
    ]


def test_gpu_replica_memory_larger_than_the_gpu_nodes(basic_workspace):
    basic_workspace.model(gpu={"count": 1}, resources={"cpu": "1", "memory": "40Gi"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources.memory: 40Gi per replica plus 192Mi for the sidecars "
        "does not fit pool gpu of stack dev (g5.xlarge: 14.5Gi allocatable); lower it, override "
        "it for this stack with environments.dev.resources.memory, or add a larger instance type "
        "to the pool"
    ]


def test_both_dimensions_too_large_name_the_override_that_sets_them(basic_workspace):
    # The memory comes from the dev override, so that is the field to change; the CPU from the base.
    basic_workspace.model(resources={"cpu": "8", "memory": "1Gi"},
                          environments={"dev": {"resources": {"memory": "60Gi"}}})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: environments.dev.resources.memory: 60Gi per replica plus 192Mi "
        "for the sidecars does not fit pool system of stack dev (m6i.large: 6.5Gi allocatable); "
        "lower it or add a larger instance type to the pool",
        "models/fraud/scorer.yaml: resources.cpu: 8 CPU per replica plus 125m for the sidecars "
        "does not fit pool system of stack dev (m6i.large: 1500m CPU allocatable); lower it, "
        "override it for this stack with environments.dev.resources.cpu, or add a larger instance "
        "type to the pool",
    ]
    # The override is the way out: a smaller replica in dev only.
    basic_workspace.model(resources={"cpu": "8", "memory": "1Gi"},
                          environments={"dev": {"resources": {"cpu": "1"}}})
    assert resolve(basic_workspace).models[0].cpu == "1"


def test_the_fit_example_of_the_catalog_documentation(basic_workspace):
    # models/README.md, "Does a replica fit?": 3 CPU and 14Gi fit an m6i.xlarge, 15Gi does not.
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["cpu"] = {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 2}
    basic_workspace.stack(node_pools=pools)
    basic_workspace.model(resources={"cpu": "3", "memory": "14Gi"})
    assert resolve(basic_workspace).models[0].node_pools == ("cpu",)
    basic_workspace.model(resources={"cpu": "3", "memory": "15Gi"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources.memory: 15Gi per replica plus 192Mi for the sidecars "
        "does not fit pool cpu of stack dev (m6i.xlarge: 14.5Gi allocatable); lower it, override "
        "it for this stack with environments.dev.resources.memory, or add a larger instance type "
        "to the pool"
    ]
    basic_workspace.model(resources={"cpu": "3", "memory": "15Gi"},
                          environments={"dev": {"resources": {"memory": "12Gi"}}})
    assert resolve(basic_workspace).models[0].memory == "12Gi"
    # 3375m plus 125m of sidecars is exactly the 3500m left to pods; 1m more is not.
    basic_workspace.model(resources={"cpu": "3375m", "memory": "1Gi"})
    assert resolve(basic_workspace).models[0].cpu == "3375m"
    basic_workspace.model(resources={"cpu": "3376m", "memory": "1Gi"})
    assert problems_of(basic_workspace)[0].startswith(
        "models/fraud/scorer.yaml: resources.cpu: 3376m CPU per replica plus 125m for the sidecars "
        "does not fit pool cpu of stack dev (m6i.xlarge: 3500m CPU allocatable)"
    )


def test_cpu_and_memory_that_fit_only_different_instance_types(basic_workspace):
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["cpu"] = {"instance_types": ["c6i.2xlarge", "r6i.xlarge"], "min_size": 0, "max_size": 2}
    basic_workspace.stack(node_pools=pools)
    basic_workspace.model(resources={"cpu": "6", "memory": "20Gi"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources: 6 CPU and 20Gi per replica plus 125m CPU and 192Mi "
        "for the sidecars fit no single node of pool cpu of stack dev: the types with enough CPU "
        "have too little memory, and the other way round (c6i.2xlarge: 7500m CPU / 14.5Gi "
        "allocatable, r6i.xlarge: 3500m CPU / 30.5Gi allocatable); lower one of them, override "
        "them for this stack with environments.dev.resources, or add an instance type with room "
        "for both"
    ]


def test_floor_of_replicas_over_quota(basic_workspace):
    basic_workspace.team(quota={"cpu": "4", "memory": "64Gi"})
    basic_workspace.model(resources={"cpu": "1", "memory": "1Gi"}, scaling={"min_replicas": 2, "max_replicas": 2},
                          canary={"storage_uri": "s3://models-bucket/fraud/scorer/v2/", "traffic_percent": 10})
    assert problems_of(basic_workspace) == [
        "models/fraud/team.yaml: quota.cpu: the minimum replicas of the team's models in stack dev "
        "request 4500m (sidecars and canaries included), more than the quota of 4 (scorer: "
        "4500m); raise quota.cpu or lower the models' min_replicas (for this stack only: "
        "environments.dev.scaling.min_replicas)"
    ]


def test_one_replica_over_the_cpu_quota(basic_workspace):
    basic_workspace.team(quota={"cpu": "1", "memory": "64Gi"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources.cpu: 1 CPU per replica plus 125m for the sidecars is "
        "more than team fraud's quota.cpu of 1 (models/fraud/team.yaml), so no replica could "
        "start; lower it, override it for this stack with environments.dev.resources.cpu, or "
        "raise quota.cpu there"
    ]
    basic_workspace.model(environments={"dev": {"resources": {"cpu": "875m"}}})
    assert resolve(basic_workspace).models[0].cpu == "875m"
    basic_workspace.model(environments={"dev": {"resources": {"cpu": "900m"}}})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: environments.dev.resources.cpu: 900m CPU per replica plus 125m "
        "for the sidecars is more than team fraud's quota.cpu of 1 (models/fraud/team.yaml), so "
        "no replica could start; lower it or raise quota.cpu there"
    ]


def test_max_replicas_beyond_a_gpu_pool_are_a_warning_not_a_problem(basic_workspace):
    basic_workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 2})
    basic_workspace.model(name="other", gpu={"count": 1}, scaling={"max_replicas": 2})
    deployment = resolve(basic_workspace)
    assert [str(warning) for warning in deployment.warnings] == [
        "stacks/Pulumi.dev.yaml: modelplane:node_pools.gpu.max_size: pool gpu: at max replicas "
        "the models need 4 nvidia.com/gpu, 2 more than the 2 it offers at max size (2 node(s), 1 "
        "per node), so replicas beyond that stay pending; raise max_size to 4 if they should all "
        "run, or lower the max_replicas of fraud/other (2), fraud/scorer (2) (for this stack only: "
        "environments.dev.scaling.max_replicas)"
    ]
    basic_workspace.model(name="other", gpu={"count": 1}, scaling={"max_replicas": 1})
    basic_workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 1})
    assert resolve(basic_workspace).warnings == ()


def test_one_gpu_replica_needs_gpu_quota(basic_workspace):
    basic_workspace.team(quota={"cpu": "16", "memory": "64Gi", "gpu": 0})
    basic_workspace.model(gpu={"count": 1})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.count: 1 GPU per replica is more than team fraud's "
        "quota.gpu of 0 (models/fraud/team.yaml), so no replica could start; raise quota.gpu there"
    ]
    basic_workspace.stack(node_pools={**STACK_CONFIG["modelplane:node_pools"], "gpu": {
        "instance_types": ["g5.12xlarge"], "min_size": 0, "max_size": 1, "gpu": {"model": "A10G", "per_node": 4},
    }})
    basic_workspace.team(quota={"cpu": "16", "memory": "64Gi", "gpu": 1})
    basic_workspace.model(gpu={"count": 2})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.count: 2 GPUs per replica are more than team fraud's "
        "quota.gpu of 1 (models/fraud/team.yaml), so no replica could start; lower gpu.count or "
        "raise quota.gpu there"
    ]


def test_one_mig_replica_needs_mig_quota(basic_workspace):
    basic_workspace.team(quota={"cpu": "16", "memory": "64Gi"})
    basic_workspace.model(gpu={"mig": "1g.10gb"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.mig: one 1g.10gb slice per replica is more than team "
        "fraud's quota.mig.1g.10gb of 0 (models/fraud/team.yaml), so no replica could start; "
        "raise quota.mig.1g.10gb there"
    ]


def test_one_mig_replica_needs_gpu_quota_under_the_single_strategy(basic_workspace):
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["mig"] = {**pools["mig"], "gpu": {**pools["mig"]["gpu"], "mig": {"strategy": "single", "layout": {"1g.10gb": 7}}}}
    basic_workspace.stack(node_pools=pools)
    basic_workspace.team(quota={"cpu": "16", "memory": "64Gi", "mig": {"1g.10gb": 2}})
    basic_workspace.model(gpu={"mig": "1g.10gb"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: gpu.mig: one 1g.10gb slice per replica counts as one "
        "nvidia.com/gpu under the MIG strategy single of stack dev, which is more than team "
        "fraud's quota.gpu of 0 (models/fraud/team.yaml), so no replica could start; raise "
        "quota.gpu there"
    ]


def test_grpc_model_is_reached_by_host(basic_workspace):
    basic_workspace.model(format="pytorch", protocol="grpc-v2")
    [model] = resolve(basic_workspace).models
    assert (model.route_path, model.host) == (None, "scorer-fraud.models.test.example.com")


def test_a_replica_must_fit_what_a_node_leaves_free(basic_workspace):
    # An m6i.large has 2 vCPU; 1.4 cores plus 125m of sidecars is more than the 1.5 left to pods.
    basic_workspace.model(resources={"cpu": "1400m", "memory": "1Gi"})
    assert problems_of(basic_workspace)[0].startswith(
        "models/fraud/scorer.yaml: resources.cpu: 1400m CPU per replica plus 125m for the sidecars "
        "does not fit pool system of stack dev (m6i.large: 1500m CPU allocatable)"
    )
    basic_workspace.model(resources={"cpu": "1300m", "memory": "1Gi"})
    assert resolve(basic_workspace).models[0].cpu == "1300m"


def test_grpc_hosts_must_be_unique(basic_workspace):
    basic_workspace.team("b-c", storage={"s3_prefixes": ["s3://models-bucket/bc/"]})
    basic_workspace.team("c", storage={"s3_prefixes": ["s3://models-bucket/c/"]})
    basic_workspace.model(team="b-c", name="a", format="pytorch", protocol="grpc-v2",
                          storage_uri="s3://models-bucket/bc/a/")
    basic_workspace.model(team="c", name="a-b", format="pytorch", protocol="grpc-v2",
                          storage_uri="s3://models-bucket/c/a/")
    assert problems_of(basic_workspace) == [
        "models/b-c/a.yaml: name: gRPC host a-b-c.<domain> is also the host of models/c/a-b.yaml; "
        "rename one of the models",
        "models/c/a-b.yaml: name: gRPC host a-b-c.<domain> is also the host of models/b-c/a.yaml; "
        "rename one of the models",
    ]

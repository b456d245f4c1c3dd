"""The platform's rendered pieces: AWS shape, Helm add-ons, platform objects, resource graph."""

from __future__ import annotations

import copy

import pytest
import yaml

from components import pins
from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.render.addons import deep_merge
from components.render.cluster_shape import kubeconfig
from components.render.objects import object_id
from components.render.resource_graph import creation_order, logical_name, object_dependencies
from components.render.stack_render import render_stack
from tests.conftest import STACK_CONFIG, Workspace


def rendered(workspace: Workspace, stack: str = "dev"):
    catalog = load_catalog(workspace.models, "models")
    deployment = resolve_deployment(catalog, load_stack(workspace.stacks, stack, "stacks"), stack_names(workspace.stacks))
    return render_stack(deployment)


def objects_of(result) -> dict[str, dict]:
    return {object_id(obj): obj for obj in result.objects}


def releases_of(result) -> dict:
    return {release.name: release for release in result.releases}


# AWS shape.

def test_subnets_are_carved_from_the_vpc(basic_workspace):
    network = rendered(basic_workspace).cluster.network
    assert [(s.name, s.cidr) for s in network.subnets] == [
        ("private-us-west-2a", "10.0.0.0/18"),
        ("public-us-west-2a", "10.0.192.0/20"),
        ("private-us-west-2b", "10.0.64.0/18"),
        ("public-us-west-2b", "10.0.208.0/20"),
        ("private-us-west-2c", "10.0.128.0/18"),
        ("public-us-west-2c", "10.0.224.0/20"),
    ]
    private = network.private_subnets()[0]
    assert private.tags == {"kubernetes.io/cluster/modelplane-dev": "shared", "kubernetes.io/role/internal-elb": "1"}
    assert network.public_subnets()[0].tags["kubernetes.io/role/elb"] == "1"
    assert network.nat_gateway_zones == ("us-west-2a",)


def test_one_nat_gateway_per_zone_when_asked(basic_workspace):
    basic_workspace.stack(cluster={"nat_gateways": "per_az", "availability_zones": ["us-west-2a", "us-west-2d"]})
    network = rendered(basic_workspace).cluster.network
    assert network.nat_gateway_zones == ("us-west-2a", "us-west-2d")
    assert [s.cidr for s in network.private_subnets()] == ["10.0.0.0/18", "10.0.64.0/18"]


def test_gpu_node_group_shape(basic_workspace):
    groups = {g.pool: g for g in rendered(basic_workspace).cluster.node_groups}
    gpu = groups["gpu"]
    assert gpu.labels == {
        "modelplane.dev/node-pool": "gpu",
        "nvidia.com/gpu.present": "true",
        "k8s.amazonaws.com/accelerator": "nvidia-a10g",
    }
    assert [(t.key, t.value, t.effect, t.kubernetes_effect) for t in gpu.taints] == [
        ("nvidia.com/gpu", "true", "NO_SCHEDULE", "NoSchedule")
    ]
    assert gpu.autoscaler_tags == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/modelplane-dev": "owned",
        "k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator": "nvidia-a10g",
        "k8s.io/cluster-autoscaler/node-template/label/modelplane.dev/node-pool": "gpu",
        "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present": "true",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "1",
        # GPU pools are conservative by default: an emptied GPU node waits 30 minutes.
        "k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownunneededtime": "1800s",
    }
    assert (gpu.ami_type, gpu.capacity_type, gpu.min_size, gpu.desired_size) == ("AL2023_x86_64_NVIDIA", "ON_DEMAND", 0, 0)
    mig = groups["mig"]
    assert mig.labels["nvidia.com/mig.config"] == "modelplane-mig"
    assert mig.autoscaler_tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/mig-1g.10gb"] == "56"
    # Mixed MIG nodes offer no nvidia.com/gpu: no accelerator label (kubernetes/autoscaler#8095), and
    # the template's whole GPUs, which the autoscaler takes from the instance type, are zeroed.
    assert "k8s.amazonaws.com/accelerator" not in mig.labels
    assert not [tag for tag in mig.autoscaler_tags if "accelerator" in tag]
    assert mig.autoscaler_tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "0"
    system = groups["system"]
    assert system.taints == () and system.ami_type == "AL2023_x86_64_STANDARD"


OPTIONS = "k8s.io/cluster-autoscaler/node-template/autoscaling-options/"


def options_of(group) -> dict[str, str]:
    return {key.removeprefix(OPTIONS): value for key, value in group.autoscaler_tags.items() if key.startswith(OPTIONS)}


def test_cpu_pools_keep_the_autoscalers_defaults_and_gpu_pools_wait_longer(basic_workspace):
    groups = {g.pool: g for g in rendered(basic_workspace).cluster.node_groups}
    assert options_of(groups["system"]) == {}
    assert options_of(groups["gpu"]) == options_of(groups["mig"]) == {"scaledownunneededtime": "1800s"}


def test_a_pools_scale_down_settings_become_its_node_group_options(basic_workspace):
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    settings = {"unneeded_seconds": 3600, "unready_seconds": 900, "utilization_threshold": 0.3}
    for name in ("system", "gpu", "mig"):
        pools[name]["scale_down"] = dict(settings)
    basic_workspace.stack(node_pools=pools)
    groups = {g.pool: g for g in rendered(basic_workspace).cluster.node_groups}
    times = {"scaledownunneededtime": "3600s", "scaledownunreadytime": "900s"}
    assert options_of(groups["system"]) == {**times, "scaledownutilizationthreshold": "0.3"}
    # Whole-GPU nodes carry the accelerator label, so the autoscaler judges them by their GPUs.
    assert options_of(groups["gpu"]) == {**times, "scaledowngpuutilizationthreshold": "0.3"}
    # Mixed MIG nodes do not (kubernetes/autoscaler#8095): CPU and memory decide.
    assert options_of(groups["mig"]) == {**times, "scaledownutilizationthreshold": "0.3"}


@pytest.mark.parametrize(("scale_down", "message"), [
    ({"unneeded_seconds": 30}, "scale_down.unneeded_seconds: must be at least 60"),
    ({"unready_seconds": 86401}, "scale_down.unready_seconds: must be at most 86400"),
    ({"utilization_threshold": 0}, "scale_down.utilization_threshold: must be more than 0"),
    ({"utilization_threshold": 1.5}, "scale_down.utilization_threshold: must be at most 1"),
    ({"unneeded_time": "10m"}, "scale_down.unneeded_time: unknown field"),
])
def test_scale_down_settings_are_checked(basic_workspace, scale_down, message):
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    pools["gpu"]["scale_down"] = scale_down
    basic_workspace.stack(node_pools=pools)
    with pytest.raises(InputError) as caught:
        rendered(basic_workspace)
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"stacks/Pulumi.dev.yaml: modelplane:node_pools.gpu.{message}")


def test_single_strategy_advertises_slices_as_gpus(basic_workspace):
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    pools["mig"]["gpu"]["mig"]["strategy"] = "single"
    basic_workspace.stack(node_pools=pools)
    groups = {g.pool: g for g in rendered(basic_workspace).cluster.node_groups}
    assert groups["mig"].autoscaler_tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"] == "56"
    # Slices are nvidia.com/gpu here, which the autoscaler's GPU check knows: the label stays.
    assert groups["mig"].labels["k8s.amazonaws.com/accelerator"] == "nvidia-h100-80gb"


def test_kubeconfig_uses_aws_eks_get_token():
    config = kubeconfig("c", "https://endpoint", "Q0E=", "eu-west-1")
    assert config["clusters"][0]["cluster"] == {"server": "https://endpoint", "certificate-authority-data": "Q0E="}
    assert config["users"][0]["user"]["exec"]["args"] == ["eks", "get-token", "--cluster-name", "c", "--region", "eu-west-1"]


# Helm add-ons.

def test_every_addon_is_pinned_and_namespaced(basic_workspace):
    releases = releases_of(rendered(basic_workspace))
    assert list(releases) == [
        "cert-manager", "istio-base", "istio-cni", "istiod", "istio-ingressgateway", "knative-operator",
        "kserve-crd", "kserve", "kserve-runtimes", "kube-prometheus-stack", "cluster-autoscaler", "gpu-operator",
    ]
    assert releases["istiod"].chart == pins.ISTIOD
    assert releases["kserve"].chart.chart == "oci://ghcr.io/kserve/charts/kserve-resources"
    assert releases["kserve"].values["kserve"]["controller"]["deploymentMode"] == "Knative"
    assert releases["kserve"].values["kserve"]["controller"]["gateway"]["localGateway"]["gatewayService"] == (
        "knative-local-gateway.istio-ingress.svc.cluster.local"
    )
    assert releases["cluster-autoscaler"].values["image"]["tag"] == pins.CLUSTER_AUTOSCALER_IMAGE_TAGS["1.35"]
    assert releases["cluster-autoscaler"].values["rbac"]["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/modelplane-dev-cluster-autoscaler"
    }
    assert releases["istio-ingressgateway"].values["labels"]["istio"] == "ingressgateway"


def test_only_the_runtimes_the_models_use_are_enabled(basic_workspace):
    basic_workspace.model(name="ranker", format="onnx")
    runtimes = releases_of(rendered(basic_workspace))["kserve-runtimes"].values["kserve"]["servingruntime"]
    enabled = sorted(key for key, value in runtimes.items() if isinstance(value, dict) and not value["disabled"])
    assert runtimes["enabled"] is True
    assert enabled == ["sklearnserver", "tritonserver"]
    assert {key for key, value in runtimes.items() if isinstance(value, dict) and value["disabled"]} >= {
        "autogluonserver", "predictiveserver", "vllmserver",
    }
    assert "huggingfaceserver_multinode" not in runtimes


def test_gpu_operator_for_mig_device_plugin_otherwise(basic_workspace):
    releases = releases_of(rendered(basic_workspace))
    operator = releases["gpu-operator"].values
    assert operator["mig"] == {"strategy": "mixed"}
    assert operator["migManager"]["config"] == {"name": "modelplane-mig-parted-config", "default": "all-disabled"}
    assert operator["driver"] == {"enabled": False} and operator["toolkit"] == {"enabled": False}
    assert releases["gpu-operator"].depends_on == ("ConfigMap/nvidia-gpu/modelplane-mig-parted-config",)
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    del pools["mig"]
    basic_workspace.stack(node_pools=pools)
    releases = releases_of(rendered(basic_workspace))
    assert "gpu-operator" not in releases
    assert releases["nvidia-device-plugin"].values["migStrategy"] == "none"


def test_no_nvidia_addon_without_gpu_pools(basic_workspace):
    basic_workspace.stack(node_pools={"system": STACK_CONFIG["modelplane:node_pools"]["system"]})
    result = rendered(basic_workspace)
    assert not {"gpu-operator", "nvidia-device-plugin"} & set(releases_of(result))
    assert "Namespace/nvidia-gpu" not in objects_of(result)


def test_stack_overrides_are_deep_merged(basic_workspace):
    basic_workspace.stack(addons={"kube-prometheus-stack": {"values": {
        "prometheus": {"prometheusSpec": {"retention": "30d"}}, "alertmanager": {"enabled": False},
    }}})
    values = releases_of(rendered(basic_workspace))["kube-prometheus-stack"].values
    assert values["prometheus"]["prometheusSpec"]["retention"] == "30d"
    assert values["prometheus"]["prometheusSpec"]["podMonitorSelectorNilUsesHelmValues"] is False
    assert values["alertmanager"]["enabled"] is False
    assert values["alertmanager"]["alertmanagerSpec"] == {"nodeSelector": {"modelplane.dev/node-pool": "system"}}


def test_deep_merge_replaces_lists_and_scalars():
    assert deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": {"e": 1}}) == {
        "a": {"b": 1, "c": [2]}, "d": {"e": 1},
    }


def test_values_modelplane_relies_on_cannot_be_overridden(basic_workspace):
    basic_workspace.stack(addons={
        "kserve": {"values": {"kserve": {"controller": {"deploymentMode": "Standard"}}}},
        "nvidia-device-plugin": {"values": {"x": 1}},
    })
    with pytest.raises(InputError) as caught:
        rendered(basic_workspace)
    assert [str(p) for p in caught.value.problems] == [
        "stacks/Pulumi.dev.yaml: modelplane:addons.kserve.values.kserve.controller.deploymentMode: is set "
        "by modelplane, which relies on it; remove the override",
        "stacks/Pulumi.dev.yaml: modelplane:addons.nvidia-device-plugin: add-on nvidia-device-plugin is not "
        "installed in this stack (its GPU pools use gpu-operator); remove the override",
    ]


def test_extra_releases_come_after_the_addons(basic_workspace):
    basic_workspace.stack(extra_releases=[{
        "name": "external-dns", "namespace": "kube-system", "chart": "external-dns",
        "repository": "https://kubernetes-sigs.github.io/external-dns", "version": "1.15.0",
        "values": {"provider": "aws"},
    }])
    releases = rendered(basic_workspace).releases
    extra = releases[-1]
    assert (extra.name, extra.extra, extra.values) == ("external-dns", True, {"provider": "aws"})
    assert set(extra.depends_on) == {release.name for release in releases[:-1]}


# Platform objects.

def test_knative_serving_is_configured_for_gpu_models(basic_workspace):
    knative = objects_of(rendered(basic_workspace))["KnativeServing/knative-serving/knative-serving"]["spec"]
    assert knative["version"] == pins.KNATIVE_SERVING_VERSION
    config = knative["config"]
    assert config["deployment"]["progress-deadline"] == "1800s"
    assert config["deployment"]["queue-sidecar-cpu-request"] == "25m"
    assert config["deployment"]["pod-is-always-schedulable"] == "true"
    assert config["features"] == {
        "kubernetes.podspec-nodeselector": "enabled",
        "kubernetes.podspec-tolerations": "enabled",
        "kubernetes.podspec-affinity": "enabled",
        "kubernetes.podspec-topologyspreadconstraints": "enabled",
    }
    assert config["autoscaler"]["enable-scale-to-zero"] == "true"
    assert config["observability"] == {"metrics-protocol": "prometheus", "request-metrics-protocol": "prometheus"}
    assert config["istio"]["local-gateway.knative-serving.knative-local-gateway"] == (
        "knative-local-gateway.istio-ingress.svc.cluster.local"
    )
    # Every Knative service is cluster-local: the only public routes are modelplane's.
    assert config["domain"] == {"svc.cluster.local": ""}
    assert knative["ingress"]["istio"]["knative-local-gateway"] == {"selector": {"istio": "ingressgateway"}}
    assert knative["high-availability"] == {"replicas": 1}
    # Every config value is a string: the operator copies them into ConfigMaps.
    assert all(isinstance(v, str) for section in config.values() for v in section.values())


def test_progress_deadline_without_gpu_pools_and_explicit(basic_workspace):
    basic_workspace.stack(node_pools={"system": STACK_CONFIG["modelplane:node_pools"]["system"]})
    knative = objects_of(rendered(basic_workspace))["KnativeServing/knative-serving/knative-serving"]
    assert knative["spec"]["config"]["deployment"]["progress-deadline"] == "600s"
    basic_workspace.stack(serving={"progress_deadline_seconds": 2400})
    knative = objects_of(rendered(basic_workspace))["KnativeServing/knative-serving/knative-serving"]
    assert knative["spec"]["config"]["deployment"]["progress-deadline"] == "2400s"


def test_shared_gateway_binds_only_team_namespaces(basic_workspace):
    gateway = objects_of(rendered(basic_workspace))["Gateway/istio-ingress/modelplane-gateway"]["spec"]
    assert gateway == {
        "selector": {"istio": "ingressgateway"},
        "servers": [{
            "port": {"number": 80, "name": "http", "protocol": "HTTP"},
            "hosts": ["team-fraud/models.test.example.com", "team-fraud/*.models.test.example.com"],
        }],
    }


def test_gateway_tls_and_certificate(basic_workspace):
    basic_workspace.stack(
        gateway={"tls": {"credential_name": "models-tls", "cluster_issuer": "letsencrypt"}},
        dns={"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "zone": "example.com"},
    )
    objects = objects_of(rendered(basic_workspace))
    servers = objects["Gateway/istio-ingress/modelplane-gateway"]["spec"]["servers"]
    assert servers[0]["tls"] == {"httpsRedirect": True}
    assert servers[1]["tls"] == {"mode": "SIMPLE", "credentialName": "models-tls"}
    certificate = objects["Certificate/istio-ingress/models-tls"]["spec"]
    assert certificate == {
        "secretName": "models-tls",
        "dnsNames": ["models.test.example.com"],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt"},
    }
    assert objects["ClusterIssuer/letsencrypt"]["spec"]["acme"]["solvers"] == [{
        "selector": {"dnsZones": ["example.com"]},
        "dns01": {"route53": {"region": "us-west-2", "hostedZoneID": "Z0123456789ABCDEFGHIJ"}},
    }]


def test_a_tls_secret_kept_by_hand_needs_no_issuer(basic_workspace):
    basic_workspace.stack(gateway={"tls": {"credential_name": "models-tls"}})
    objects = objects_of(rendered(basic_workspace))
    servers = objects["Gateway/istio-ingress/modelplane-gateway"]["spec"]["servers"]
    assert servers[1]["tls"] == {"mode": "SIMPLE", "credentialName": "models-tls"}
    assert not [key for key in objects if key.startswith(("Certificate/", "ClusterIssuer/"))]


def test_mig_configuration(basic_workspace):
    config_map = objects_of(rendered(basic_workspace))["ConfigMap/nvidia-gpu/modelplane-mig-parted-config"]
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == {
        "version": "v1",
        "mig-configs": {
            "all-disabled": [{"devices": "all", "mig-enabled": False}],
            "modelplane-mig": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}],
        },
    }


def test_mesh_wide_strict_mtls_and_addon_namespaces(basic_workspace):
    objects = objects_of(rendered(basic_workspace))
    assert objects["PeerAuthentication/istio-system/default"]["spec"] == {"mtls": {"mode": "STRICT"}}
    # Knative's webhooks get their PERMISSIVE port from net-istio (tests/test_upstream_contracts.py).
    assert not [key for key in objects if key.startswith("PeerAuthentication/knative-serving/")]
    labels = objects["Namespace/knative-serving"]["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    assert objects["Namespace/istio-system"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


# Resource graph.

def test_object_dependencies(basic_workspace):
    result = rendered(basic_workspace)
    objects = objects_of(result)
    ids = list(objects)
    assert object_dependencies(objects["InferenceService/team-fraud/scorer"], ids) == (
        "Namespace/team-fraud", "kserve", "kserve-runtimes", "KnativeServing/knative-serving/knative-serving",
    )
    assert object_dependencies(objects["VirtualService/team-fraud/scorer-route"], ids) == (
        "Namespace/team-fraud", "istio-base",
    )
    assert object_dependencies(objects["Namespace/team-fraud"], ids) == ()


def test_logical_names():
    team_object = {"kind": "Role", "metadata": {"name": "owners", "namespace": "n", "labels": {"modelplane.dev/team": "t"}}}
    model_object = {"kind": "InferenceService", "metadata": {"name": "m", "namespace": "n", "labels": {
        "modelplane.dev/team": "t", "modelplane.dev/model": "m"}}}
    platform = {"kind": "Namespace", "metadata": {"name": "kserve"}}
    assert [logical_name(o) for o in (team_object, model_object, platform)] == [
        "t/role/owners", "t/m/inferenceservice/m", "platform/namespace/kserve",
    ]


def test_creation_order():
    assert creation_order({"c": ["a", "b"], "a": [], "b": ["a"]}) == ["a", "b", "c"]
    assert creation_order({"x": ["outside"]}, available=["outside"]) == ["x"]
    with pytest.raises(ValueError, match="cycle"):
        creation_order({"a": ["b"], "b": ["a"]})
    with pytest.raises(ValueError, match="nothing rendered: missing"):
        creation_order({"a": ["missing"]})


def test_bundled_release_graph_is_complete():
    """Every dependency of every release and object of a bundled stack resolves."""
    from tests.conftest import MODELS_DIR, STACKS_DIR
    from components.render.resource_graph import release_dependencies

    for name in ("dev", "staging", "prod"):
        deployment = resolve_deployment(load_catalog(MODELS_DIR), load_stack(STACKS_DIR, name), stack_names(STACKS_DIR))
        result = render_stack(deployment)
        ids = [object_id(obj) for obj in result.objects]
        graph = {object_id(obj): object_dependencies(obj, ids) for obj in result.objects}
        graph.update({r.name: release_dependencies(r, ids) for r in result.releases})
        assert len(creation_order(graph)) == len(graph)


def test_shared_gateway_keeps_the_local_gateway_port_to_the_platform(basic_workspace):
    policy = objects_of(rendered(basic_workspace))["NetworkPolicy/istio-ingress/shared-gateway"]["spec"]
    assert policy["podSelector"] == {"matchLabels": {"istio": "ingressgateway"}}
    public, local = policy["ingress"]
    assert "from" not in public and {p["port"] for p in public["ports"]} == {80, 443, 15020, 15021, 15090}
    assert local["ports"] == [{"protocol": "TCP", "port": 8081}]
    assert local["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["istio-ingress", "knative-serving"]


def test_knative_waits_for_the_mesh_and_reports_ready(basic_workspace):
    result = rendered(basic_workspace)
    objects = objects_of(result)
    knative = objects["KnativeServing/knative-serving/knative-serving"]
    assert knative["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}
    assert object_dependencies(knative, list(objects)) == (
        "Namespace/knative-serving", "knative-operator", "istiod", "istio-cni", "istio-ingressgateway",
    )


def test_kserve_publishes_no_routes_of_its_own(basic_workspace):
    kserve = releases_of(rendered(basic_workspace))["kserve"]
    assert kserve.values["kserve"]["controller"]["gateway"]["disableIstioVirtualHost"] is True
    basic_workspace.stack(addons={"kserve": {"values": {"kserve": {"controller": {"gateway": {
        "localGateway": {"gateway": "x/y"}}}}}}})
    with pytest.raises(InputError) as caught:
        rendered(basic_workspace)
    assert "modelplane:addons.kserve.values.kserve.controller.gateway.localGateway.gateway: is set by modelplane" in str(caught.value)


def test_prod_runs_two_gateways_and_two_istiods(basic_workspace):
    assert releases_of(rendered(basic_workspace))["istio-ingressgateway"].values["autoscaling"] == {"minReplicas": 1}
    basic_workspace.stack(environment="prod")
    releases = releases_of(rendered(basic_workspace))
    gateway = releases["istio-ingressgateway"].values
    assert gateway["autoscaling"] == {"minReplicas": 2} and gateway["podDisruptionBudget"] == {"minAvailable": 1}
    assert releases["istiod"].values["pilot"]["autoscaleMin"] == 2


def test_extra_release_gets_its_namespace(basic_workspace):
    basic_workspace.stack(extra_releases=[
        {"name": "external-dns", "namespace": "external-dns", "chart": "external-dns", "version": "1.15.0",
         "repository": "https://kubernetes-sigs.github.io/external-dns"},
        {"name": "tools", "namespace": "kube-system", "chart": "tools", "version": "1.0.0",
         "repository": "https://example.com/charts"},
    ])
    objects = objects_of(rendered(basic_workspace))
    assert "Namespace/external-dns" in objects and "Namespace/kube-system" not in objects


def test_prometheus_keeps_its_data_on_an_encrypted_volume(basic_workspace):
    result = rendered(basic_workspace)
    storage = objects_of(result)["StorageClass/gp3-encrypted"]
    assert (storage["provisioner"], storage["parameters"]) == ("ebs.csi.aws.com", {"type": "gp3", "encrypted": "true"})
    prometheus = releases_of(result)["kube-prometheus-stack"]
    claim = prometheus.values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3-encrypted" and claim["resources"]["requests"]["storage"] == "50Gi"
    assert prometheus.depends_on == ("StorageClass/gp3-encrypted",)
    addons = result.cluster.eks_addons
    assert addons["vpc-cni"].configuration == {"enableNetworkPolicy": "true"}
    assert addons["aws-ebs-csi-driver"].service_account == ("kube-system", "ebs-csi-controller-sa")


def test_long_cluster_names_give_distinct_node_group_names(basic_workspace):
    basic_workspace.stack(cluster_name="c" * 62)
    names = [group.node_group_name for group in rendered(basic_workspace).cluster.node_groups]
    assert len(set(names)) == len(names) and all(len(name) <= 63 and not name.endswith("-") for name in names)

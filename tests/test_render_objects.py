"""Every field the renderer writes for a team and for a model."""

from __future__ import annotations

import pytest

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.objects import object_id
from components.render.stack_render import render_stack_objects
from tests.conftest import STACK_CONFIG, Workspace


def render(workspace: Workspace, stack: str = "dev") -> dict[str, dict]:
    catalog = load_catalog(workspace.models, "models")
    loaded = load_stack(workspace.stacks, stack, "stacks")
    deployment = resolve_deployment(catalog, loaded, stack_names(workspace.stacks))
    return {object_id(obj): obj for obj in render_stack_objects(deployment)}


@pytest.fixture
def objects(basic_workspace) -> dict[str, dict]:
    return render(basic_workspace)


TEAM_LABELS = {
    "app.kubernetes.io/managed-by": "modelplane",
    "app.kubernetes.io/part-of": "modelplane",
    "modelplane.dev/team": "fraud",
    "modelplane.dev/cost-center": "CC-1",
}


def test_team_gets_exactly_these_objects(objects):
    team_objects = [key for key, obj in objects.items() if obj["metadata"]["labels"].get("modelplane.dev/team")]
    assert sorted(team_objects) == sorted([
        "Namespace/team-fraud",
        "ResourceQuota/team-fraud/team-quota",
        "LimitRange/team-fraud/container-defaults",
        "ServiceAccount/team-fraud/model-server",
        "Role/team-fraud/model-owners",
        "RoleBinding/team-fraud/model-owners",
        "NetworkPolicy/team-fraud/allow-platform-ingress",
        "PeerAuthentication/team-fraud/default",
        "AuthorizationPolicy/team-fraud/allow-platform",
        "Sidecar/team-fraud/default",
        "InferenceService/team-fraud/scorer",
        "VirtualService/team-fraud/scorer-route",
        "PodMonitor/team-fraud/model-servers",
        "PrometheusRule/team-fraud/modelplane-fraud",
        "ConfigMap/monitoring/modelplane-dashboard-fraud",
    ])


def test_namespace(objects):
    namespace = objects["Namespace/team-fraud"]
    assert namespace["metadata"]["labels"] == {
        **TEAM_LABELS,
        "istio-injection": "enabled",
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def test_resource_quota_lists_every_gpu_resource(objects):
    quota = objects["ResourceQuota/team-fraud/team-quota"]
    # The stack's MIG pool offers 1g.10gb slices; the team was given 2.
    assert quota["spec"]["hard"] == {
        "requests.cpu": "16",
        "requests.memory": "64Gi",
        "requests.nvidia.com/gpu": "2",
        "requests.nvidia.com/mig-1g.10gb": "2",
    }


def test_resource_quota_closes_mig_resources_the_team_was_not_given(basic_workspace):
    basic_workspace.team(quota={"cpu": "4", "memory": "8Gi"})
    quota = render(basic_workspace)["ResourceQuota/team-fraud/team-quota"]
    assert quota["spec"]["hard"]["requests.nvidia.com/mig-1g.10gb"] == "0"
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "0"


def test_limit_range(objects):
    assert objects["LimitRange/team-fraud/container-defaults"]["spec"] == {"limits": [{
        "type": "Container",
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
        "default": {"memory": "512Mi"},
    }]}


def test_model_service_account_assumes_the_team_role(objects):
    account = objects["ServiceAccount/team-fraud/model-server"]
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/modelplane-dev-fraud-models",
        "eks.amazonaws.com/sts-regional-endpoints": "true",
        "serving.kserve.io/s3-region": "us-west-2",
        "serving.kserve.io/s3-useanoncredential": "false",
    }


def test_owners_may_manage_models_and_read_what_explains_a_failure(objects):
    role = objects["Role/team-fraud/model-owners"]
    assert role["rules"] == [
        {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"apiGroups": [""], "resources": ["events", "pods", "pods/log"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["serving.knative.dev"], "resources": ["configurations", "revisions", "routes", "services"],
         "verbs": ["get", "list", "watch"]},
    ]
    # Nothing that reads secrets, opens a shell or changes the team's fences.
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"] for resource in rule["resources"]}
    assert not granted & {("", "secrets"), ("", "pods/exec"), ("", "pods/portforward"), ("", "resourcequotas")}
    binding = objects["RoleBinding/team-fraud/model-owners"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "model-owners"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "ml-fraud"}]
    assert not any(obj["kind"].startswith("Cluster") for obj in objects.values())


def test_sidecar_scopes_every_proxy_to_what_models_reach(objects):
    sidecar = objects["Sidecar/team-fraud/default"]
    assert "workloadSelector" not in sidecar["spec"]  # namespace-wide
    assert sidecar["spec"]["egress"] == [
        {"hosts": ["./*", "istio-system/*", "istio-ingress/*", "knative-serving/*"]}
    ]


def test_network_policy_admits_platform_namespaces_only(objects):
    policy = objects["NetworkPolicy/team-fraud/allow-platform-ingress"]["spec"]
    assert policy == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{
            "key": "kubernetes.io/metadata.name",
            "operator": "In",
            "values": ["istio-ingress", "knative-serving", "monitoring"],
        }]}}]}],
    }


def test_mesh_policies(objects):
    assert objects["PeerAuthentication/team-fraud/default"]["spec"] == {"mtls": {"mode": "STRICT"}}
    assert objects["AuthorizationPolicy/team-fraud/allow-platform"]["spec"] == {
        "action": "ALLOW",
        "rules": [{"from": [
            {"source": {"principals": [
                "cluster.local/ns/istio-ingress/sa/istio-ingressgateway",
                "cluster.local/ns/monitoring/sa/kube-prometheus-stack-prometheus",
            ]}},
            {"source": {"namespaces": ["knative-serving"]}},
        ]}],
    }


def test_minimal_inference_service(objects):
    service = objects["InferenceService/team-fraud/scorer"]
    assert service["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Knative"}
    assert service["metadata"]["labels"] == {
        **TEAM_LABELS, "modelplane.dev/model": "scorer", "app.kubernetes.io/name": "scorer",
        "networking.knative.dev/visibility": "cluster-local",
    }
    assert service["spec"] == {"predictor": {
        "minReplicas": 0,
        "maxReplicas": 1,
        "scaleMetric": "concurrency",
        "serviceAccountName": "model-server",
        "nodeSelector": {"modelplane.dev/node-pool": "system"},
        "labels": {
            "modelplane.dev/team": "fraud", "modelplane.dev/cost-center": "CC-1",
            "modelplane.dev/model": "scorer", "app.kubernetes.io/name": "scorer",
        },
        "annotations": {
            "sidecar.istio.io/proxyCPU": "100m",
            "sidecar.istio.io/proxyMemory": "128Mi",
            "traffic.sidecar.istio.io/excludeInboundPorts": "9091",
            "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes":
                "workload-socket,credential-socket,workload-certs,istio-data,kserve-provision-location",
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "8080",
            "prometheus.io/path": "/metrics",
            # A CPU model's cold-start defaults (components/catalog/cold_start.py).
            "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "0s",
            "autoscaling.knative.dev/scale-down-delay": "0s",
            "autoscaling.knative.dev/initial-scale": "1",
        },
        # At zero the request timeout covers a CPU model's expected cold start.
        "timeout": 300,
        "model": {
            "modelFormat": {"name": "sklearn"},
            "runtime": "kserve-sklearnserver",
            "protocolVersion": "v1",
            "storageUri": "s3://models-bucket/fraud/scorer/v1/",
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1250m", "memory": "2Gi"}},
            # threads is on by default: one thread per whole core requested.
            "env": [{"name": "MKL_NUM_THREADS", "value": "1"}, {"name": "OMP_NUM_THREADS", "value": "1"}],
        },
    }}


def test_full_inference_service(basic_workspace):
    basic_workspace.model(
        version="1.2.0",
        format="xgboost",
        protocol="v2",
        gpu={"count": 1},
        scaling={"min_replicas": 1, "max_replicas": 5, "metric": "rps", "target": 40},
        canary={"storage_uri": "s3://models-bucket/fraud/scorer/v2/", "traffic_percent": 20, "version": "2.0.0"},
        timeout_seconds=15,
        env={"B": "2", "A": "1"},
        args=["--enable_docs_url=true", "--configure_logging=false"],
        environments={"dev": {"scaling": {"max_replicas": 2}, "resources": {"cpu": "2"}}},
    )
    predictor = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]
    # The spec is the canary's revision: its pods carry the canary's version.
    assert predictor["labels"]["app.kubernetes.io/version"] == "2.0.0"
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 2)
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("rps", 40)
    assert predictor["timeout"] == 15
    assert predictor["canaryTrafficPercent"] == 20
    assert predictor["nodeSelector"] == {"modelplane.dev/node-pool": "gpu"}
    assert predictor["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    model = predictor["model"]
    # The spec is the new revision: the canary's artifacts, the stable revision keeps the rest.
    assert model["storageUri"] == "s3://models-bucket/fraud/scorer/v2/"
    assert (model["runtime"], model["protocolVersion"]) == ("kserve-xgbserver", "v2")
    # threads: the dev request (2 CPU) sizes the math libraries and xgbserver's --nthread.
    assert model["env"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "2"},
        {"name": "MKL_NUM_THREADS", "value": "2"}, {"name": "OMP_NUM_THREADS", "value": "2"},
    ]
    # In the file's order: KServe appends them to the runtime's own, and the server parses them so.
    assert model["args"] == ["--enable_docs_url=true", "--configure_logging=false", "--nthread=2"]
    assert model["resources"] == {
        "requests": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "2500m", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }


@pytest.mark.parametrize(
    ("resources", "override", "stack_ratio", "limit"),
    [
        # The stack's ratio (default 1.25) over the request, rounded up to a millicore.
        ({"cpu": "500m", "memory": "1Gi"}, None, None, "625m"),
        ({"cpu": "0.3", "memory": "1Gi"}, None, None, "375m"),
        ({"cpu": "1", "memory": "1Gi"}, None, 1.5, "1500m"),
        ({"cpu": "1", "memory": "1Gi"}, None, 1, "1"),
        # The model's own limit wins; a stack override of it wins over the base.
        ({"cpu": "1", "memory": "1Gi", "cpu_limit": "4"}, None, None, "4"),
        ({"cpu": "1", "memory": "1Gi", "cpu_limit": "4"}, {"cpu_limit": "1"}, None, "1"),
        # An override of the request alone scales the default limit with it.
        ({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1"}, None, "1250m"),
    ],
)
def test_cpu_is_always_limited(basic_workspace, resources, override, stack_ratio, limit):
    # KServe merges the model container over its runtime's, whose limits.cpu "1" would survive a
    # limit left out (tests/test_kserve_runtimes_contract.py), so the render always writes one.
    basic_workspace.model(resources=resources, environments={"dev": {"resources": override}} if override else None)
    if stack_ratio is not None:
        basic_workspace.stack(serving={"cpu_limit_ratio": stack_ratio})
    model = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]
    assert model["resources"]["limits"]["cpu"] == limit


def test_cpu_model_with_several_pools_gets_an_affinity(basic_workspace):
    pools = {**STACK_CONFIG["modelplane:node_pools"]}
    pools["cpu-a"] = {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 2}
    pools["cpu-b"] = {"instance_types": ["m6i.2xlarge"], "min_size": 0, "max_size": 2}
    basic_workspace.stack(node_pools=pools)
    predictor = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]
    assert "nodeSelector" not in predictor
    assert predictor["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "modelplane.dev/node-pool", "operator": "In", "values": ["cpu-a", "cpu-b"]},
        ]}],
    }}}


def test_mig_model_asks_for_its_slice(basic_workspace):
    basic_workspace.model(gpu={"mig": "1g.10gb"})
    predictor = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]
    assert predictor["model"]["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == "1"
    # And waits for mig-manager to have cut the node's GPUs (tests/test_mig_readiness.py).
    assert predictor["nodeSelector"] == {"modelplane.dev/node-pool": "mig", "nvidia.com/mig.config.state": "success"}


def test_route_on_the_shared_gateway(objects):
    route = objects["VirtualService/team-fraud/scorer-route"]["spec"]
    assert route == {
        "hosts": ["models.test.example.com"],
        "gateways": ["istio-ingress/modelplane-gateway"],
        "http": [{
            "name": "scorer",
            "match": [{"uri": {"exact": "/fraud/scorer"}}, {"uri": {"prefix": "/fraud/scorer/"}}],
            "rewrite": {"uri": "/", "authority": "scorer-predictor.team-fraud.svc.cluster.local"},
            "route": [{"destination": {
                "host": "knative-local-gateway.istio-ingress.svc.cluster.local",
                "port": {"number": 80},
            }}],
            "timeout": "300s",
        }],
    }


def test_custom_route_and_timeout(basic_workspace):
    basic_workspace.model(route={"path": "/fraud/score"}, timeout_seconds=5, scaling={"min_replicas": 1})
    http = render(basic_workspace)["VirtualService/team-fraud/scorer-route"]["spec"]["http"][0]
    assert http["match"] == [{"uri": {"exact": "/fraud/score"}}, {"uri": {"prefix": "/fraud/score/"}}]
    assert http["timeout"] == "5s"


@pytest.mark.parametrize(
    ("format", "protocol", "port"),
    [
        # KServe's grpc-v2 TorchServe e2e test uses 8081 (kserve/kserve @ v0.20.0
        # test/e2e/predictor/test_torchserve.py:127): the torchserve-kfs image's KServe wrapper
        # serves it (pytorch/serve @ v0.9.0 kubernetes/kserve/kserve_wrapper/__main__.py:126-129);
        # 7070 is TorchServe's own inference.proto, a different API.
        ("pytorch", "grpc-v2", 8081),
        # Triton: the runtime's args --grpc-port=9000 (kserve-runtime-configs @ v0.20.0
        # files/runtimes/resources.yaml, kserve-tritonserver); test/e2e/predictor/test_triton.py:106.
        ("onnx", "grpc-v2", 9000),
        # TF Serving: the runtime's args --port=9000 (same file, kserve-tensorflow-serving).
        ("tensorflow", "grpc-v1", 9000),
    ],
)
def test_grpc_model_declares_its_h2c_port(basic_workspace, format, protocol, port):
    basic_workspace.model(format=format, protocol=protocol)
    model = render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]
    assert model["ports"] == [{"name": "h2c", "containerPort": port, "protocol": "TCP"}]
    basic_workspace.model(format="pytorch")
    assert "ports" not in render(basic_workspace)["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["model"]


def test_grpc_route_by_host(basic_workspace):
    basic_workspace.model(format="pytorch", protocol="grpc-v2")
    spec = render(basic_workspace)["VirtualService/team-fraud/scorer-route"]["spec"]
    assert spec["hosts"] == ["scorer-fraud.models.test.example.com"]
    assert "match" not in spec["http"][0]
    assert spec["http"][0]["rewrite"] == {"authority": "scorer-predictor.team-fraud.svc.cluster.local"}


def test_disabled_model_renders_nothing(basic_workspace):
    basic_workspace.model(environments={"dev": {"enabled": False}})
    assert not any(key.startswith(("InferenceService", "VirtualService")) for key in render(basic_workspace))


@pytest.mark.parametrize("metric", ["cpu", "memory"])
def test_hpa_metrics_name_the_hpa_class_in_the_service_metadata(basic_workspace, metric):
    # KServe's webhook checks scaleMetric against the KPA's [concurrency, rps] unless the
    # InferenceService's own metadata.annotations (not predictor.annotations) name the HPA class
    # (kserve/kserve @ v0.20.0 pkg/apis/serving/v1beta1/inference_service_validation.go:121,
    # 446-466; pkg/constants/constants.go:290-294). The class and its value are Knative's
    # (knative/serving @ knative-v1.23.0 pkg/apis/autoscaling/register.go:38,42).
    basic_workspace.model(scaling={"min_replicas": 1, "max_replicas": 3, "metric": metric, "target": 70})
    service = render(basic_workspace)["InferenceService/team-fraud/scorer"]
    assert service["metadata"]["annotations"]["autoscaling.knative.dev/class"] == "hpa.autoscaling.knative.dev"
    assert "autoscaling.knative.dev/class" not in service["spec"]["predictor"]["annotations"]
    assert service["spec"]["predictor"]["scaleMetric"] == metric


def test_request_metrics_leave_the_autoscaler_class_to_knative(objects):
    # KServe sets the KPA class when none is given (pkg/controller/v1alpha1/utils/utils.go:57-59).
    annotations = objects["InferenceService/team-fraud/scorer"]["metadata"]["annotations"]
    assert "autoscaling.knative.dev/class" not in annotations


def test_every_local_volume_of_a_model_pod_is_safe_to_evict(objects):
    # cluster-autoscaler (kubernetes/autoscaler @ cluster-autoscaler-1.35.1 utils/drain/drain.go:
    # 37-38, 116-142) keeps a node whose pods have a non-memory emptyDir unless every such volume
    # is named in this annotation, split on "," without trimming. The volumes: Istio 1.30.3's
    # injection adds workload-socket, credential-socket, workload-certs and istio-data
    # (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml:473-495;
    # istio-envoy is memory-backed); KServe v0.20.0 adds kserve-provision-location
    # (pkg/constants/constants.go:210, pkg/utils/storage.go AddModelMount). Predictor annotations
    # reach the pod (pkg/controller/v1beta1/inferenceservice/components/predictor.go:164-172;
    # Knative copies the revision's to the Deployment's pod template, pkg/reconciler/revision/
    # resources/meta.go:36-48).
    annotations = objects["InferenceService/team-fraud/scorer"]["spec"]["predictor"]["annotations"]
    value = annotations["cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"]
    assert " " not in value
    assert value.split(",") == [
        "workload-socket", "credential-socket", "workload-certs", "istio-data", "kserve-provision-location",
    ]


def test_critical_model_in_prod_gets_a_disruption_budget_and_spread(basic_workspace):
    basic_workspace.model(critical=True, gpu={"count": 1})
    basic_workspace.stack("prod", environment="prod")
    objects = render(basic_workspace, "prod")
    selector = {"matchLabels": {"serving.kserve.io/inferenceservice": "scorer", "component": "predictor"}}
    budget = objects["PodDisruptionBudget/team-fraud/scorer-predictor"]
    assert budget["spec"] == {
        "maxUnavailable": 1, "selector": selector, "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    assert budget["metadata"]["labels"]["modelplane.dev/model"] == "scorer"
    predictor = objects["InferenceService/team-fraud/scorer"]["spec"]["predictor"]
    assert predictor["minReplicas"] == 2
    # Each revision spread on its own (a canary's or a rollout's other revision does not count).
    per_revision = ["serving.knative.dev/revision"]
    assert predictor["topologySpreadConstraints"] == [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "minDomains": 2, "labelSelector": selector, "matchLabelKeys": per_revision},
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": selector, "matchLabelKeys": per_revision},
    ]


def test_models_with_one_replica_or_not_critical_get_neither(basic_workspace):
    basic_workspace.model(critical=True)
    basic_workspace.stack("prod", environment="prod", serving={"availability": {"critical_min_replicas": 1}})
    basic_workspace.model(name="other", scaling={"min_replicas": 2, "max_replicas": 2}, route={"path": "/fraud/other"})
    objects = render(basic_workspace, "prod")
    assert not [key for key in objects if key.startswith("PodDisruptionBudget/")]
    for name in ("scorer", "other"):
        assert "topologySpreadConstraints" not in objects[f"InferenceService/team-fraud/{name}"]["spec"]["predictor"]

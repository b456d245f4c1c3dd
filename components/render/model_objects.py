"""Everything one model gets: its InferenceService and its route on the shared gateway."""

from __future__ import annotations

from components.catalog.deployed import DeployedModel
from components.catalog.model_spec import HPA_METRICS, THREAD_ENV_NAMES
from components.catalog.quantities import cpu_cores
from components.catalog.placement import ISTIO_PROXY_CPU, ISTIO_PROXY_MEMORY
from components.platform_names import (
    GPU_TAINT_KEY,
    LOCAL_GATEWAY_HOST,
    MODEL_LABEL,
    MODEL_SERVICE_ACCOUNT,
    NODE_POOL_LABEL,
    SHARED_GATEWAY_REF,
)
from components.render.cluster_shape import MIG_CONFIG_STATE_LABEL, MIG_CONFIG_STATE_READY
from components.render.objects import KubeObject, metadata
from components.render.probes import render_probes
from components.render.team_objects import team_labels

# Knative mode: request-driven autoscaling with scale to zero, canaries by revision.
DEPLOYMENT_MODE = "Knative"
# Where Knative's queue-proxy serves Prometheus request metrics (its http-usermetric port).
QUEUE_PROXY_METRICS_PORT = 9091
# Knative's autoscaler class for the cpu and memory metrics (Kubernetes' HPA). KServe's webhook
# accepts those metrics only when the InferenceService's own metadata names this class.
AUTOSCALER_CLASS_ANNOTATION = "autoscaling.knative.dev/class"
HPA_AUTOSCALER_CLASS = "hpa.autoscaling.knative.dev"
# The pod's emptyDir volumes (not memory-backed): Istio's sidecar injection adds the first four,
# KServe's storage initializer the last. cluster-autoscaler will not drain a node for a pod with
# local storage unless every such volume is listed (comma-separated, no spaces).
LOCAL_VOLUMES = ("workload-socket", "credential-socket", "workload-certs", "istio-data", "kserve-provision-location")
SAFE_TO_EVICT_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
# Knative's per-revision cold-start annotations (knative/serving @ knative-v1.23.0
# pkg/apis/autoscaling/register.go:57,60,94); KServe copies the predictor's annotations onto the
# Knative revision template (kserve v0.20.0 ksvc_reconciler.go:102,204).
SCALE_TO_ZERO_RETENTION_ANNOTATION = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"
SCALE_DOWN_DELAY_ANNOTATION = "autoscaling.knative.dev/scale-down-delay"
INITIAL_SCALE_ANNOTATION = "autoscaling.knative.dev/initial-scale"
# The autoscaler's behaviour (components/catalog/scaling_behavior.py), per revision: register.go
# :133,175,201 @ knative-v1.23.0. The KPA reads all three (reconciler/autoscaling/resources/
# metric.go:30-52, kpa/resources/decider.go:51-54); the HPA class only the window (hpa.go:105-115).
STABLE_WINDOW_ANNOTATION = "autoscaling.knative.dev/window"
PANIC_WINDOW_ANNOTATION = "autoscaling.knative.dev/panic-window-percentage"
PANIC_THRESHOLD_ANNOTATION = "autoscaling.knative.dev/panic-threshold-percentage"
VERSION_LABEL = "app.kubernetes.io/version"
# Labels KServe puts on every predictor pod of an InferenceService, whatever the revision (kserve
# v0.20.0 pkg/controller/v1beta1/inferenceservice/components/predictor.go:507-511 buildObjectMeta;
# in Knative mode they become the revision template's labels, ksvc_reconciler.go:164-166,199-201,
# which drop only the visibility label, constants.go:542-544).
KSERVE_INFERENCESERVICE_POD_LABEL = "serving.kserve.io/inferenceservice"
KSERVE_COMPONENT_POD_LABEL = "component"
KSERVE_PREDICTOR_COMPONENT = "predictor"
ZONE_TOPOLOGY_KEY = "topology.kubernetes.io/zone"
NODE_TOPOLOGY_KEY = "kubernetes.io/hostname"
# The label Knative puts on every pod of a revision (pkg/apis/serving/register.go:75-77 @ knative-v1.23.0).
KNATIVE_REVISION_LABEL = "serving.knative.dev/revision"


def model_labels(model: DeployedModel) -> dict[str, str]:
    labels = {**team_labels(model.team), MODEL_LABEL: model.name, "app.kubernetes.io/name": model.name}
    if model.spec.version:
        labels[VERSION_LABEL] = model.spec.version
    return labels


def pod_labels(model: DeployedModel) -> dict[str, str]:
    """Labels of the pods of the revision the InferenceService describes: while a canary runs
    that is the canary's revision, so its pods carry the canary's version (the stable revision's
    pods keep the labels they were created with)."""
    labels = model_labels(model)
    canary = model.spec.canary
    if canary is not None:
        labels.pop(VERSION_LABEL, None)
        if canary.version:
            labels[VERSION_LABEL] = canary.version
    return labels


def predictor_service_host(model: DeployedModel) -> str:
    """The cluster-local host Knative routes for the model's predictor (``<model>-predictor``)."""
    return f"{model.name}-predictor.{model.namespace}.svc.cluster.local"


def predictor_annotations(model: DeployedModel) -> dict[str, str]:
    annotations = {
        # The sidecar's requests are pinned because the team's quota check counts them.
        "sidecar.istio.io/proxyCPU": ISTIO_PROXY_CPU,
        "sidecar.istio.io/proxyMemory": ISTIO_PROXY_MEMORY,
        # Knative's queue-proxy serves request metrics on 9091. Prometheus sits outside the mesh,
        # so that port bypasses the sidecar (it serves nothing but metrics; the network policy
        # still admits only the platform's namespaces). Inference traffic stays on mTLS.
        "traffic.sidecar.istio.io/excludeInboundPorts": str(QUEUE_PROXY_METRICS_PORT),
        # The volumes hold nothing a new replica cannot rebuild (sockets, certificates, the
        # downloaded model), so the autoscaler may move the pod and consolidate nodes.
        SAFE_TO_EVICT_LOCAL_VOLUMES: ",".join(LOCAL_VOLUMES),
        # The cold-start policy (components/catalog/cold_start.py), in Knative's duration format.
        SCALE_TO_ZERO_RETENTION_ANNOTATION: f"{model.cold_start.idle_retention_seconds}s",
        SCALE_DOWN_DELAY_ANNOTATION: f"{model.cold_start.scale_down_delay_seconds}s",
        INITIAL_SCALE_ANNOTATION: str(model.cold_start.initial_replicas),
        **behavior_annotations(model),
    }
    metrics_port = model.spec.serving_runtime.metrics_port
    if metrics_port is not None:
        # Istio merges the model server's own metrics into the sidecar's plaintext endpoint
        # (15020), which Prometheus can scrape under STRICT mTLS. KServe's own
        # enable-prometheus-scraping annotation is not used: it points this merge at the
        # queue-proxy instead, whose metrics are scraped directly and would be counted twice.
        annotations.update({
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(metrics_port),
            "prometheus.io/path": "/metrics",
        })
    return annotations


def behavior_annotations(model: DeployedModel) -> dict[str, str]:
    """The model's autoscaler behaviour; a setting left to Knative's cluster default is absent."""
    behavior = model.behavior
    annotations = {}
    if behavior.stable_window_seconds is not None:
        annotations[STABLE_WINDOW_ANNOTATION] = f"{behavior.stable_window_seconds}s"
    if behavior.panic_window_percent is not None:
        annotations[PANIC_WINDOW_ANNOTATION] = str(behavior.panic_window_percent)
    if behavior.panic_threshold_percent is not None:
        annotations[PANIC_THRESHOLD_ANNOTATION] = str(behavior.panic_threshold_percent)
    return annotations


def render_model_objects(model: DeployedModel) -> list[KubeObject]:
    objects = [render_inference_service(model), render_model_route(model)]
    if model.highly_available:
        objects.append(render_disruption_budget(model))
    return objects


def predictor_pod_selector(model: DeployedModel) -> dict[str, str]:
    """Labels that select every predictor pod of the model: the stable and the canary revision."""
    return {KSERVE_INFERENCESERVICE_POD_LABEL: model.name, KSERVE_COMPONENT_POD_LABEL: KSERVE_PREDICTOR_COMPONENT}


def topology_spread(model: DeployedModel) -> list[dict]:
    """Where a critical model's replicas go: never two of its first ``min_replicas`` on one node,
    and preferably in different zones."""
    selector = {"matchLabels": predictor_pod_selector(model)}
    # Each revision is spread on its own: during a rollout or a canary the other revision's
    # replicas do not count against this one's skew (Knative labels every revision's pods with
    # serving.knative.dev/revision and copies topologySpreadConstraints whole:
    # pkg/apis/serving/fieldmask.go:245-246 @ knative-v1.23.0).
    per_revision = {"matchLabelKeys": [KNATIVE_REVISION_LABEL]}
    return [
        # minDomains: while fewer nodes carry a replica than the model's floor, a replica that
        # would share a node stays pending and cluster-autoscaler adds a node for it (without it
        # the scheduler counts only the nodes there are, and one node would take them all).
        {
            "maxSkew": 1, "topologyKey": NODE_TOPOLOGY_KEY, "whenUnsatisfiable": "DoNotSchedule",
            "minDomains": model.min_replicas, "labelSelector": selector, **per_revision,
        },
        # Preferred, not required: a pool is one node group over all the stack's zones, whose new
        # node's zone cluster-autoscaler does not choose, so a required zone spread could leave a
        # replica pending for good. The scheduler still favours the zone with the fewest.
        {"maxSkew": 1, "topologyKey": ZONE_TOPOLOGY_KEY, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector,
         **per_revision},
    ]


def render_disruption_budget(model: DeployedModel) -> KubeObject:
    """At most one of a critical model's replicas evicted at a time (node drains, cluster-autoscaler
    scale-down, node group upgrades); replicas that are not ready may always be evicted, so a
    broken one never blocks a drain."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(f"{model.name}-predictor", model.namespace, model_labels(model)),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": predictor_pod_selector(model)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def mig_ready_selector(model: DeployedModel) -> dict[str, str]:
    """Node labels a MIG model's pods wait for: mig-manager's ``success`` on the node.

    A MIG node boots with its layout's name already in ``nvidia.com/mig.config`` (a node-group
    label) and mig-manager partitions it after the NVIDIA stack starts. Until then the device
    plugin sees whole GPUs: under MIG strategy single it advertises them as ``nvidia.com/gpu``,
    the very resource a slice is asked for by, so a pod could start on a whole, unpartitioned GPU
    and then hold it while mig-manager tries to cut it (NVIDIA/gpu-operator#2670); under mixed
    the ``nvidia.com/mig-*`` resource appears only with the slices, and the label keeps pods off a
    node being re-partitioned or whose partitioning failed. Required at scheduling only, so a
    running pod is never evicted by a label change.
    """
    if model.spec.gpu is None or model.spec.gpu.mig is None:
        return {}
    return {MIG_CONFIG_STATE_LABEL: MIG_CONFIG_STATE_READY}


def thread_count(model: DeployedModel) -> int | None:
    """Threads the model server's math libraries get: the file's ``threads``, or the whole cores
    of the CPU request in this stack (500m -> 1, 2500m -> 2); ``None`` when threads is false."""
    threads = model.spec.threads
    if threads is False:
        return None
    if threads is not None:
        return threads
    return max(1, int(cpu_cores(model.cpu)))


def render_inference_service(model: DeployedModel) -> KubeObject:
    spec = model.spec
    requests = {"cpu": model.cpu, "memory": model.memory}
    # KServe merges this container over its ClusterServingRuntime's, key by key, so a limit left
    # out here is the runtime's (`limits.cpu: "1"` in every chart runtime): CPU is always limited
    # explicitly, above the request (the stack's serving.cpu_limit_ratio, or the model's own).
    # Memory is limited to what is requested so one model cannot starve its neighbours.
    limits = {"cpu": model.cpu_limit, "memory": model.memory}
    if model.gpu is not None:
        requests[model.gpu.resource] = str(model.gpu.count)
        limits[model.gpu.resource] = str(model.gpu.count)
    model_section = {
        "modelFormat": {"name": spec.format},
        "runtime": spec.serving_runtime.name,
        "protocolVersion": spec.protocol_version,
        "storageUri": spec.canary.storage_uri if spec.canary else spec.storage_uri,
        "resources": {"requests": requests, "limits": limits},
    }
    env = {name: {"name": name, "value": value} for name, value in spec.env.items()}
    threads = thread_count(model)
    if threads is not None:
        # Without these the libraries start one thread per core of the node, far more than the
        # CPU limit, and the kernel throttles the pod (unpredictable latency).
        env.update({name: {"name": name, "value": str(threads)} for name in THREAD_ENV_NAMES})
    # Read by the kubelet from the team's Secret when the pod starts; KServe merges env by name
    # and keeps valueFrom (container_merge.go:32-63 @ v0.20.0), Knative admits secretKeyRef
    # (k8s_validation.go:335-341, fieldmask.go:525-542 EnvVarSourceMask @ knative-v1.23.0).
    env.update({
        name: {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
        for name, ref in spec.secrets.items()
    })
    if env:
        model_section["env"] = [env[name] for name in sorted(env)]
    args = list(spec.args)
    if threads is not None and "--nthread" in spec.serving_runtime.runtime_flags:
        # The runtime passes --nthread=1; the server's argparse keeps the last value given
        # (python/xgbserver/xgbserver/__main__.py:31-36, lgbserver likewise, @ v0.20.0).
        args.append(f"--nthread={threads}")
    if args:
        # KServe appends these to the runtime's own args (MergeRuntimeContainers, v0.20.0
        # pkg/controller/v1beta1/inferenceservice/utils/utils.go:260).
        model_section["args"] = args
    # KServe merges these over the runtime's container, which sets no probe (MergeRuntimeContainers,
    # v0.20.0 utils.go:250-263; tests/test_kserve_runtimes_contract.py).
    model_section.update(render_probes(spec.probes, spec.serving_runtime, spec.name))
    if spec.is_grpc:
        # Knative proxies HTTP/2 (gRPC) only to a container port named h2c.
        port = spec.serving_runtime.grpc_port
        model_section["ports"] = [{"name": "h2c", "containerPort": port, "protocol": "TCP"}]
    predictor = {
        "minReplicas": model.min_replicas,
        "maxReplicas": model.max_replicas,
        "scaleMetric": model.metric,
        "serviceAccountName": MODEL_SERVICE_ACCOUNT,
        # Pod labels: every metric scraped from the pod carries team, model and cost center.
        "labels": pod_labels(model),
        "annotations": predictor_annotations(model),
        "model": model_section,
    }
    if model.target is not None:
        predictor["scaleTarget"] = model.target
    # The revision's timeoutSeconds and responseStartTimeoutSeconds (KServe sets both), which
    # Knative's activator enforces while a request waits for a replica at zero: always named, at
    # least the expected cold start where the model can scale to zero.
    predictor["timeout"] = model.timeout_seconds
    if spec.canary is not None:
        predictor["canaryTrafficPercent"] = spec.canary.traffic_percent
    ready = mig_ready_selector(model)
    if len(model.node_pools) == 1:
        predictor["nodeSelector"] = {NODE_POOL_LABEL: model.node_pools[0], **ready}
    elif model.node_pools:
        predictor["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": NODE_POOL_LABEL, "operator": "In", "values": list(model.node_pools)},
                *({"key": key, "operator": "In", "values": [value]} for key, value in ready.items()),
            ]}],
        }}}
    if model.highly_available:
        # KServe merges the predictor's pod fields over the runtime's (MergePodSpec, v0.20.0
        # utils.go:267-297; the runtimes set none of these) and Knative keeps them with
        # kubernetes.podspec-topologyspreadconstraints enabled (fieldmask.go:245-246).
        predictor["topologySpreadConstraints"] = topology_spread(model)
    if model.gpu is not None:
        predictor["tolerations"] = [
            {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
        ]
    labels = {
        **model_labels(model),
        # Knative programs no host-based route for the model on the public gateway: the only
        # way in is the reviewed path (or gRPC host) route below.
        "networking.knative.dev/visibility": "cluster-local",
    }
    annotations = {"serving.kserve.io/deploymentMode": DEPLOYMENT_MODE}
    if model.metric in HPA_METRICS:
        annotations[AUTOSCALER_CLASS_ANNOTATION] = HPA_AUTOSCALER_CLASS
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata(model.name, model.namespace, labels, annotations),
        "spec": {"predictor": predictor},
    }


def render_model_route(model: DeployedModel) -> KubeObject:
    """A VirtualService on the shared gateway: by path for HTTP models, by host for gRPC ones.

    Requests go through Knative's local gateway with the predictor's host, so Knative's routing
    (canary split, activator while scaled to zero) applies exactly as for in-cluster callers.
    """
    http_route: dict = {
        "name": model.name,
        "route": [{"destination": {"host": LOCAL_GATEWAY_HOST, "port": {"number": 80}}}],
    }
    if model.route_path is not None:
        http_route["match"] = [
            {"uri": {"exact": model.route_path}},
            {"uri": {"prefix": model.route_path + "/"}},
        ]
        http_route["rewrite"] = {"uri": "/", "authority": predictor_service_host(model)}
    else:
        http_route["rewrite"] = {"authority": predictor_service_host(model)}
    # The same timeout as the revision's: Istio has none by default, Knative enforces its own.
    http_route["timeout"] = f"{model.timeout_seconds}s"
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        # KServe itself owns a VirtualService named after the model; ours must not collide.
        "metadata": metadata(f"{model.name}-route", model.namespace, model_labels(model)),
        "spec": {
            "hosts": [model.host],
            "gateways": [SHARED_GATEWAY_REF],
            "http": [http_route],
        },
    }

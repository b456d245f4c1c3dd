"""The Helm add-ons, each one uniform unit: chart pin, namespace, default values, dependencies.

Default values come from a pure function of the stack; the stack's ``modelplane:addons.<name>.values``
are deep-merged on top. Values modelplane itself relies on elsewhere (a label the routes select,
the deployment mode the InferenceServices are written for) cannot be overridden: the stack gets a
clear error instead of a platform that silently stops routing.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import yaml

from components import pins
from components.catalog.deployed import StackDeployment
from components.catalog.placement import ISTIO_PROXY_CPU, ISTIO_PROXY_MEMORY, WHOLE_GPU_RESOURCE
from components.catalog.problems import Problem
from components.catalog.runtimes import SERVING_RUNTIMES
from components.catalog.stack_settings import SYSTEM_POOL
from components.catalog.stacks import config_key
from components.platform_names import (
    CERT_MANAGER_NAMESPACE,
    CERT_MANAGER_RELEASE,
    CLUSTER_AUTOSCALER_RELEASE,
    EXTERNAL_SECRETS_NAMESPACE,
    EXTERNAL_SECRETS_RELEASE,
    GPU_OPERATOR_RELEASE,
    INGRESS_GATEWAY_RELEASE,
    INGRESS_GATEWAY_SELECTOR,
    INGRESS_NAMESPACE,
    ISTIO_BASE_RELEASE,
    ISTIO_CNI_RELEASE,
    ISTIO_SYSTEM_NAMESPACE,
    ISTIOD_RELEASE,
    KNATIVE_OPERATOR_NAMESPACE,
    KNATIVE_OPERATOR_RELEASE,
    KNATIVE_SERVING_NAMESPACE,
    KSERVE_CRD_RELEASE,
    KSERVE_NAMESPACE,
    KSERVE_RELEASE,
    KSERVE_RUNTIMES_RELEASE,
    LOCAL_GATEWAY_HOST,
    MONITORING_NAMESPACE,
    NVIDIA_DEVICE_PLUGIN_RELEASE,
    NVIDIA_NAMESPACE,
    NODE_POOL_LABEL,
    PROMETHEUS_RELEASE,
    STORAGE_CLASS,
)
from components.render.cluster_shape import device_plugin_config_name
from components.render.iam import (
    CLUSTER_AUTOSCALER_NAMESPACE,
    CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
    IRSA_ROLE_ANNOTATION,
    cert_manager_role_name,
    cluster_autoscaler_role_name,
    iam_role_arn,
)

# The object every Knative-dependent release waits for (see platform_objects).
KNATIVE_SERVING_OBJECT = f"KnativeServing/{KNATIVE_SERVING_NAMESPACE}/knative-serving"
MIG_CONFIG_MAP = "modelplane-mig-parted-config"
# Every add-on Deployment, StatefulSet and Job runs on the system pool: not on the spot CPU pool
# (interruptions, and a pool at min_size 0 could never return there) nor on GPU nodes. DaemonSets
# (node agents) stay on every node. The system pool has no taint, so no toleration is needed.
SYSTEM_NODE_SELECTOR = {NODE_POOL_LABEL: SYSTEM_POOL}


def system_node_selector() -> dict[str, str]:
    return dict(SYSTEM_NODE_SELECTOR)


def system_node_affinity() -> dict[str, Any]:
    """The same as a required node affinity, for charts that take no nodeSelector."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
        "matchExpressions": [
            {"key": key, "operator": "In", "values": [value]} for key, value in SYSTEM_NODE_SELECTOR.items()
        ],
    }]}}}
# Runtimes of KServe's runtime chart that no model format of modelplane's maps to: always off.
# (The chart's huggingfaceserver_multinode values key has no `disabled` the chart reads: its
# kserve-huggingfaceserver-multinode runtime follows huggingfaceserver's, see kserve_runtimes.)
UNUSED_RUNTIME_KEYS = ("autogluonserver", "predictiveserver", "vllmserver")


@dataclass(frozen=True)
class HelmRelease:
    """One Helm release as modelplane will install it."""

    name: str
    namespace: str
    chart: pins.ChartPin
    values: dict[str, Any]
    # Release names and object ids (Kind/namespace/name) that must exist first.
    depends_on: tuple[str, ...] = ()
    # Dotted value paths modelplane relies on; stack overrides may not change them.
    managed_values: tuple[str, ...] = field(default=(), compare=False)
    extra: bool = False


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _has_path(values: Mapping[str, Any], dotted: str) -> bool:
    current: Any = values
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


# Each add-on: a pure function of the deployment, returning its release with default values.

def cert_manager(deployment: StackDeployment) -> HelmRelease:
    values: dict[str, Any] = {
        "crds": {"enabled": True},
        "nodeSelector": system_node_selector(),
        "webhook": {"nodeSelector": system_node_selector()},
        "cainjector": {"nodeSelector": system_node_selector()},
        "startupapicheck": {"nodeSelector": system_node_selector()},
    }
    managed = ["crds.enabled"]
    stack = deployment.stack
    if stack.settings.cluster_issuer:
        # The controller solves DNS-01 challenges with its ServiceAccount's IRSA role; the
        # role trusts exactly that ServiceAccount, so its name and creation stay modelplane's.
        values["serviceAccount"] = {"annotations": {
            IRSA_ROLE_ANNOTATION: iam_role_arn(stack, cert_manager_role_name(stack)),
        }}
        managed += ["serviceAccount.create", "serviceAccount.name"]
    return HelmRelease(
        CERT_MANAGER_RELEASE, CERT_MANAGER_NAMESPACE, pins.CERT_MANAGER, values,
        managed_values=tuple(managed),
    )


def istio_base(deployment: StackDeployment) -> HelmRelease:
    return HelmRelease(ISTIO_BASE_RELEASE, ISTIO_SYSTEM_NAMESPACE, pins.ISTIO_BASE, {"defaultRevision": "default"})


def istio_cni(deployment: StackDeployment) -> HelmRelease:
    # Istio's CNI plugin sets up traffic redirection on the node, so model pods need no
    # NET_ADMIN init container and pass the "baseline" Pod Security level. Its defaults
    # (chained after the AWS VPC CNI) suit EKS.
    return HelmRelease(ISTIO_CNI_RELEASE, ISTIO_SYSTEM_NAMESPACE, pins.ISTIO_CNI, {}, depends_on=(ISTIO_BASE_RELEASE,))


def istiod(deployment: StackDeployment) -> HelmRelease:
    return HelmRelease(
        ISTIOD_RELEASE, ISTIO_SYSTEM_NAMESPACE, pins.ISTIOD,
        {
            "pilot": {"cni": {"enabled": True}, "autoscaleMin": _replicas(deployment)},
            "nodeSelector": system_node_selector(),
            "meshConfig": {
                # Prometheus outside the mesh scrapes the sidecar's merged metrics on 15020,
                # which STRICT mTLS does not cover.
                "enablePrometheusMerge": True,
                # A model server must not receive traffic before its proxy is ready.
                "defaultConfig": {"holdApplicationUntilProxyStarts": True},
            },
            "global": {"proxy": {"resources": {"requests": {"cpu": ISTIO_PROXY_CPU, "memory": ISTIO_PROXY_MEMORY}}}},
        },
        depends_on=(ISTIO_BASE_RELEASE, ISTIO_CNI_RELEASE),
        managed_values=("pilot.cni.enabled", "meshConfig.enablePrometheusMerge"),
    )


def istio_gateway(deployment: StackDeployment) -> HelmRelease:
    gateway = deployment.stack.settings.gateway
    annotations = {
        # An NLB from the in-tree AWS cloud provider: no load balancer controller needed.
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
    }
    if gateway.load_balancer_scheme == "internal":
        annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] = "true"
    service: dict[str, Any] = {"type": "LoadBalancer", "annotations": annotations}
    if gateway.source_ranges:
        service["loadBalancerSourceRanges"] = list(gateway.source_ranges)
    replicas = _replicas(deployment)
    return HelmRelease(
        INGRESS_GATEWAY_RELEASE, INGRESS_NAMESPACE, pins.ISTIO_GATEWAY,
        {
            "labels": {"app": INGRESS_GATEWAY_RELEASE, **INGRESS_GATEWAY_SELECTOR},
            "service": service,
            "autoscaling": {"minReplicas": replicas},
            "podDisruptionBudget": {"minAvailable": 1} if replicas > 1 else {},
            "nodeSelector": system_node_selector(),
        },
        depends_on=(ISTIOD_RELEASE,),
        managed_values=("labels.istio", "service.type"),
    )


def _replicas(deployment: StackDeployment) -> int:
    """Every request passes the gateway, and every sidecar needs istiod: two of each in prod."""
    return 2 if deployment.stack.is_prod else 1


def knative_operator(deployment: StackDeployment) -> HelmRelease:
    # The chart has no nodeSelector values, only affinity (merged with its podAntiAffinity).
    return HelmRelease(
        KNATIVE_OPERATOR_RELEASE, KNATIVE_OPERATOR_NAMESPACE, pins.KNATIVE_OPERATOR,
        {"knative_operator": {
            "knative_operator": {"affinity": system_node_affinity()},
            "operator_webhook": {"affinity": system_node_affinity()},
        }},
    )


def kserve_crd(deployment: StackDeployment) -> HelmRelease:
    return HelmRelease(KSERVE_CRD_RELEASE, KSERVE_NAMESPACE, pins.KSERVE_CRD, {})


def kserve(deployment: StackDeployment) -> HelmRelease:
    return HelmRelease(
        KSERVE_RELEASE, KSERVE_NAMESPACE, pins.KSERVE_RESOURCES,
        {"kserve": {
            "controller": {
                # The chart default and the code default differ; InferenceServices also say it.
                "deploymentMode": "Knative",
                "nodeSelector": system_node_selector(),
                "gateway": {
                    "domain": deployment.stack.settings.domain,
                    # modelplane writes the only routes on the shared gateway; KServe's own
                    # host-based VirtualService would publish every model a second way.
                    "disableIstioVirtualHost": True,
                    # A hand-made deploymentMode: Standard InferenceService would otherwise get a
                    # Kubernetes Ingress (ingressClassName istio) publishing it on the domain.
                    "disableIngressCreation": True,
                    "ingressGateway": {"gateway": f"{KNATIVE_SERVING_NAMESPACE}/knative-ingress-gateway"},
                    "localGateway": {
                        "gateway": f"{KNATIVE_SERVING_NAMESPACE}/knative-local-gateway",
                        "gatewayService": LOCAL_GATEWAY_HOST,
                    },
                },
            },
            # modelplane writes the scraping annotations itself (see model_objects).
            "metricsaggregator": {"enablePrometheusScraping": "false", "enableMetricAggregation": "false"},
        }},
        depends_on=(KSERVE_CRD_RELEASE, CERT_MANAGER_RELEASE, KNATIVE_SERVING_OBJECT, INGRESS_GATEWAY_RELEASE),
        managed_values=(
            "kserve.controller.deploymentMode",
            "kserve.controller.gateway.disableIstioVirtualHost",
            "kserve.controller.gateway.disableIngressCreation",
            "kserve.controller.gateway.localGateway.gateway",
            "kserve.controller.gateway.localGateway.gatewayService",
            "kserve.controller.gateway.ingressGateway.gateway",
        ),
    )


def kserve_runtimes(deployment: StackDeployment) -> HelmRelease:
    """Only the ClusterServingRuntimes the stack's models use are enabled.

    One exception the chart imposes: kserve-huggingfaceserver-multinode is enabled exactly when
    kserve-huggingfaceserver is, since the chart gives it huggingfaceserver's ``disabled`` value.
    No model names it (modelplane's InferenceServices name their runtime), so it stays unused.
    """
    used = {model.spec.serving_runtime.chart_key for model in deployment.models}
    runtimes: dict[str, Any] = {"enabled": True}
    for runtime in sorted(SERVING_RUNTIMES.values(), key=lambda r: r.chart_key):
        runtimes[runtime.chart_key] = {"disabled": runtime.chart_key not in used}
    for key in UNUSED_RUNTIME_KEYS:
        runtimes[key] = {"disabled": True}
    return HelmRelease(
        KSERVE_RUNTIMES_RELEASE, KSERVE_NAMESPACE, pins.KSERVE_RUNTIMES,
        {"kserve": {"servingruntime": runtimes}},
        depends_on=(KSERVE_RELEASE,),
    )


def prometheus_stack(deployment: StackDeployment) -> HelmRelease:
    spec = {
        f"{kind}SelectorNilUsesHelmValues": False
        for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
    }
    return HelmRelease(
        PROMETHEUS_RELEASE, MONITORING_NAMESPACE, pins.KUBE_PROMETHEUS_STACK,
        {
            # Pick up every ServiceMonitor, PodMonitor and rule in the cluster, not only the
            # ones labelled with this release.
            "prometheus": {"prometheusSpec": {
                **spec,
                "retention": "35d",
                "nodeSelector": system_node_selector(),
                # On a persistent volume: the 30-day SLO windows must survive a restart.
                "storageSpec": {"volumeClaimTemplate": {"spec": {
                    "storageClassName": STORAGE_CLASS,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {
                        "storage": f"{deployment.stack.settings.monitoring.prometheus_storage_gib}Gi",
                    }},
                }}},
            }},
            "alertmanager": {"alertmanagerSpec": {"nodeSelector": system_node_selector()}},
            "prometheusOperator": {
                "nodeSelector": system_node_selector(),
                "admissionWebhooks": {"patch": {"nodeSelector": system_node_selector()}},
            },
            # Node labels are needed to sum GPU requests per pool.
            "kube-state-metrics": {
                "metricLabelsAllowlist": [f"nodes=[{NODE_POOL_LABEL}]"],
                "nodeSelector": system_node_selector(),
            },
            "grafana": {
                "nodeSelector": system_node_selector(),
                # Empty: the chart generates a password instead of its well-known default.
                "adminPassword": "",
                "sidecar": {"dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": "ALL",
                    "folderAnnotation": "grafana_folder",
                    "provider": {"foldersFromFilesStructure": True},
                }},
            },
        },
        depends_on=(f"StorageClass/{STORAGE_CLASS}",),
        managed_values=tuple(f"prometheus.prometheusSpec.{key}" for key in sorted(spec))
        + ("grafana.sidecar.dashboards.label",),
    )


def cluster_autoscaler(deployment: StackDeployment) -> HelmRelease:
    stack = deployment.stack
    version = stack.settings.cluster.kubernetes_version
    role_arn = iam_role_arn(stack, cluster_autoscaler_role_name(stack))
    return HelmRelease(
        CLUSTER_AUTOSCALER_RELEASE, CLUSTER_AUTOSCALER_NAMESPACE, pins.CLUSTER_AUTOSCALER,
        {
            "cloudProvider": "aws",
            "awsRegion": stack.settings.region,
            "autoDiscovery": {"clusterName": stack.cluster_name},
            "fullnameOverride": CLUSTER_AUTOSCALER_RELEASE,
            # Also keeps it off the nodes it may remove.
            "nodeSelector": system_node_selector(),
            "image": {"tag": pins.CLUSTER_AUTOSCALER_IMAGE_TAGS[version]},
            "rbac": {"serviceAccount": {
                "create": True,
                "name": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
                "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
            }},
            "extraArgs": {
                "balance-similar-node-groups": True,
                "expander": "least-waste",
                "skip-nodes-with-system-pods": False,
                # A GPU node takes longer than the default 15 minutes to join with its driver.
                "max-node-provision-time": "25m0s",
            },
        },
        managed_values=("autoDiscovery.clusterName", "rbac.serviceAccount.name"),
    )


# The device plugin configuration of GPU nodes without a time-sliced pool's label.
WHOLE_GPUS_DEVICE_PLUGIN_CONFIG = "whole-gpus"


def device_plugin_config(time_slices: int | None) -> str:
    """One device plugin configuration file (NVIDIA/k8s-device-plugin api/config/v1 @ v0.20.0:
    config.go Config, sharing.go Sharing.TimeSlicing, replicas.go ReplicatedResources).

    Time-sliced GPUs are renamed nvidia.com/gpu.shared (renameByDefault), so only models asking
    for a share land there, and a pod asking for more than one share is refused
    (failRequestsGreaterThanOne) rather than given a second turn on the same GPU.
    """
    config: dict[str, Any] = {"version": "v1", "flags": {"migStrategy": "none"}}
    if time_slices is not None:
        config["sharing"] = {"timeSlicing": {
            "renameByDefault": True,
            "failRequestsGreaterThanOne": True,
            "resources": [{"name": WHOLE_GPU_RESOURCE, "replicas": time_slices}],
        }}
    return yaml.safe_dump(config, sort_keys=True)


def device_plugin_config_values(deployment: StackDeployment) -> dict[str, Any]:
    """The chart's config values: one configuration per time-sliced pool, whole GPUs elsewhere
    (an empty dict when no pool is time-sliced)."""
    pools = deployment.stack.settings.node_pools
    shared = {name: pool for name, pool in sorted(pools.items()) if pool.gpu is not None and pool.gpu.sharing}
    if not shared:
        return {}
    configs = {device_plugin_config_name(name): device_plugin_config(pool.time_slices) for name, pool in shared.items()}
    configs[WHOLE_GPUS_DEVICE_PLUGIN_CONFIG] = device_plugin_config(None)
    return {"config": {"map": configs, "default": WHOLE_GPUS_DEVICE_PLUGIN_CONFIG}}


def nvidia_device_plugin(deployment: StackDeployment) -> HelmRelease:
    # Runs on nodes labelled nvidia.com/gpu.present (every GPU pool) and tolerates their taint.
    sharing = device_plugin_config_values(deployment)
    return HelmRelease(
        NVIDIA_DEVICE_PLUGIN_RELEASE, NVIDIA_NAMESPACE, pins.NVIDIA_DEVICE_PLUGIN,
        {
            **sharing,
            "migStrategy": "none",
            "gfd": {"enabled": True},
            # GPU feature discovery brings node-feature-discovery (chart alias nfd), whose master
            # and garbage collector are Deployments; its worker is a DaemonSet.
            "nfd": {
                "master": {"nodeSelector": system_node_selector()},
                "gc": {"nodeSelector": system_node_selector()},
            },
        },
        managed_values=("migStrategy",) + (("config.map", "config.default") if sharing else ()),
    )


def gpu_operator(deployment: StackDeployment) -> HelmRelease:
    settings = deployment.stack.settings
    a100_pools = any(
        pool.gpu is not None and pool.gpu.mig is not None and pool.gpu.model.startswith("A100")
        for pool in settings.node_pools.values()
    )
    return HelmRelease(
        GPU_OPERATOR_RELEASE, NVIDIA_NAMESPACE, pins.GPU_OPERATOR,
        {
            # The EKS AL2023 NVIDIA AMI ships the driver and the container toolkit.
            "driver": {"enabled": False},
            "toolkit": {"enabled": False},
            "mig": {"strategy": settings.mig_strategy if settings.mig_strategy != "none" else "single"},
            "migManager": {
                "enabled": True,
                # No `create`: the chart reads it only beside non-empty `data`
                # (deployments/gpu-operator/templates/mig_config.yaml:1 @ v26.7.0), and modelplane
                # writes the ConfigMap itself; `charts check` found it unread.
                "config": {"name": MIG_CONFIG_MAP, "default": "all-disabled"},
                # A100s need a GPU reset (a reboot on EC2) to change MIG mode; H100s do not.
                "env": [{"name": "WITH_REBOOT", "value": "true" if a100_pools else "false"}],
            },
            "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": True}},
            # The operator and node-feature-discovery's master and garbage collector are
            # Deployments; the operands and NFD's worker are DaemonSets.
            "operator": {"nodeSelector": system_node_selector()},
            "node-feature-discovery": {
                "master": {"nodeSelector": system_node_selector()},
                "gc": {"nodeSelector": system_node_selector()},
            },
        },
        depends_on=(f"ConfigMap/{NVIDIA_NAMESPACE}/{MIG_CONFIG_MAP}",) if settings.mig_strategy != "none" else (),
        managed_values=("mig.strategy", "migManager.config.name", "driver.enabled"),
    )


def external_secrets(deployment: StackDeployment) -> HelmRelease:
    # No IRSA role of its own: each team's SecretStore names the ServiceAccount whose role it
    # assumes, so the controller can read no team's secrets but through that team's store. The
    # controller, its webhook and its certificate controller are Deployments.
    return HelmRelease(
        EXTERNAL_SECRETS_RELEASE, EXTERNAL_SECRETS_NAMESPACE, pins.EXTERNAL_SECRETS,
        # installCRDs is left at the chart's default, true (values.yaml:57 @helm-chart-2.9.0),
        # and managed: the teams' SecretStores and ExternalSecrets need the CRDs. (The chart's
        # git source has no CRD templates, which its packaging generates, so a value set here
        # would show as unread in `charts check` against a source copy.)
        {
            "nodeSelector": system_node_selector(),
            "webhook": {"nodeSelector": system_node_selector()},
            "certController": {"nodeSelector": system_node_selector()},
        },
        managed_values=("installCRDs",),
    )


ADDON_UNITS: tuple[Callable[[StackDeployment], HelmRelease], ...] = (
    cert_manager, istio_base, istio_cni, istiod, istio_gateway, knative_operator,
    kserve_crd, kserve, kserve_runtimes, prometheus_stack, cluster_autoscaler,
)


def render_addon_releases(deployment: StackDeployment) -> tuple[list[HelmRelease], list[Problem]]:
    """Every release of the stack, overrides merged, and the problems with the overrides."""
    settings = deployment.stack.settings
    units = list(ADDON_UNITS)
    provider = settings.nvidia_provider
    if provider == "device-plugin":
        units.append(nvidia_device_plugin)
    elif provider == "gpu-operator":
        units.append(gpu_operator)
    if settings.secrets.provider == "aws-secrets-manager":
        units.append(external_secrets)
    releases, problems = [], []
    installed = set()
    for unit in units:
        release = unit(deployment)
        installed.add(release.name)
        override = settings.addons.get(release.name)
        if override is not None:
            for path in release.managed_values:
                if _has_path(override.values, path):
                    problems.append(Problem(
                        deployment.stack.source,
                        f"{config_key('addons')}.{release.name}.values.{path}",
                        "is set by modelplane, which relies on it; remove the override",
                    ))
            release = dataclasses.replace(release, values=deep_merge(release.values, override.values))
        releases.append(release)
    for name in sorted(set(settings.addons) - installed):
        problems.append(Problem(
            deployment.stack.source, f"{config_key('addons')}.{name}",
            f"add-on {name} is not installed in this stack ("
            + ("modelplane:secrets.provider is not aws-secrets-manager" if name == EXTERNAL_SECRETS_RELEASE
               else f"its GPU pools use {provider or 'no NVIDIA add-on'}")
            + "); remove the override",
        ))
    for extra in settings.extra_releases:
        releases.append(HelmRelease(
            extra.name, extra.namespace, pins.ChartPin(extra.chart, extra.version, extra.repository),
            dict(extra.values),
            # Extra releases come last: they may use anything the platform provides.
            depends_on=tuple(release.name for release in releases if not release.extra),
            extra=True,
        ))
    return releases, problems

"""Contracts with the upstream projects: the exact keys, names and values modelplane relies on.

Each test names the upstream file and tag it pins. Chart values are read from the chart sources
at the pinned tags in ``../shared/charts`` (see its INDEX.md; CI has it beside the clone); what
lives only in a controller's source is pinned here as a literal, with its file and line.
"""

from __future__ import annotations

import copy
import os
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.objects import object_id
from components.render.stack_render import render_stack
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, REPO, STACK_CONFIG, STACKS_DIR

SHARED = Path(os.environ.get("MODELPLANE_SHARED_DIR", REPO.parent / "shared"))
CHARTS = SHARED / "charts"


def chart_values(folder: str, subchart_archive: str | None = None) -> dict[str, Any]:
    """``values.yaml`` of a chart copy (``<release>@<tag>/<chart>``), or of a vendored subchart."""
    if not CHARTS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the upstream chart copies are missing: {CHARTS}")
        pytest.skip(f"no upstream chart copies at {CHARTS}")
    path = CHARTS / folder
    if subchart_archive is None:
        return yaml.safe_load((path / "values.yaml").read_text(encoding="utf-8"))
    with tarfile.open(path / "charts" / subchart_archive) as archive:
        name = subchart_archive.rsplit("-", 1)[0]
        member = archive.extractfile(f"{name}/values.yaml")
        assert member is not None
        return yaml.safe_load(member.read())


def has_path(values: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


def leaf_paths(values: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every value that is not a non-empty mapping."""
    if not isinstance(values, dict) or not values:
        return [prefix]
    paths = []
    for key, value in values.items():
        paths += leaf_paths(value, f"{prefix}.{key}" if prefix else key)
    return paths


def rendered_stack(name: str):
    deployment = resolve_deployment(
        load_catalog(MODELS_DIR, "models"), load_stack(STACKS_DIR, name, "stacks"), stack_names(STACKS_DIR),
    )
    return render_stack(deployment)


# Knative Serving knative-v1.23.0, through the Knative Operator knative-v1.23.0.

# knative/operator cmd/operator/kodata/ingress/1.23/istio/net-istio.yaml:281-318 @knative-v1.23.0:
# "Allows the Webhooks to be reached by kube-api with or without sidecar injection and with mTLS
# PERMISSIVE and STRICT". No mtls.mode, so the rest of each pod inherits the mesh's STRICT.
NET_ISTIO_WEBHOOK_PEER_AUTHENTICATIONS = {
    "webhook": {"selector": {"matchLabels": {"app": "webhook"}}, "portLevelMtls": {"8443": {"mode": "PERMISSIVE"}}},
    "net-istio-webhook": {
        "selector": {"matchLabels": {"app": "net-istio-webhook"}}, "portLevelMtls": {"8443": {"mode": "PERMISSIVE"}},
    },
}


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_knative_webhooks_are_left_to_net_istios_peer_authentications(stack):
    """A second workload-level policy on the same pods would be resolved by age (Istio 1.30.3
    pilot/pkg/security/authn/policy_applier.go:394, "the oldest one win"): render none."""
    objects = rendered_stack(stack).objects
    selectors = [
        obj["spec"].get("selector") for obj in objects
        if obj["kind"] == "PeerAuthentication" and obj["metadata"].get("namespace") == "knative-serving"
    ]
    assert selectors == []
    mesh = next(obj for obj in objects if object_id(obj) == "PeerAuthentication/istio-system/default")
    assert mesh["spec"] == {"mtls": {"mode": "STRICT"}}
    assert set(NET_ISTIO_WEBHOOK_PEER_AUTHENTICATIONS) == {"webhook", "net-istio-webhook"}

def test_pods_waiting_for_a_node_do_not_fail_their_revision():
    """knative/serving pkg/deployment/config.go:88-89,218 @knative-v1.23.0: key
    ``pod-is-always-schedulable`` of ConfigMap ``config-deployment``, a bool, default false; when
    false, pkg/reconciler/revision/reconcile_resources.go:105-112 copies PodScheduled=False into
    ResourcesAvailable=False (knative/serving#14862, PR #16146). The operator writes
    ``spec.config.deployment`` into ``config-deployment`` (knative/operator
    pkg/reconciler/common/config_maps.go:27-41 @knative-v1.23.0, the "config-" prefix optional)."""
    knative = next(obj for obj in rendered_stack("dev").objects if obj["kind"] == "KnativeServing")
    assert knative["spec"]["config"]["deployment"]["pod-is-always-schedulable"] == "true"


# cluster-autoscaler 1.35.1 on AWS.

# kubernetes/autoscaler @cluster-autoscaler-1.35.1: cloudprovider/aws/aws_cloud_provider.go:38-39
# GPULabel = "k8s.amazonaws.com/accelerator"; utils/gpu/gpu.go:46-52 GPUVendorResourceNames, of
# which NodeHasGpuAllocatable (:138-146) checks exact names; processors/customresources/
# gpu_processor.go:41-70 turns a ready node with the label and none of those resources unready.
AUTOSCALER_GPU_LABEL = "k8s.amazonaws.com/accelerator"
AUTOSCALER_GPU_RESOURCES = ("nvidia.com/gpu", "habana.ai/gaudi", "gpu.intel.com/xe", "amd.com/gpu", "microsoft.com/directx")
# cloudprovider/aws/aws_manager.go:268-342 buildNodeFromTemplate: capacity nvidia.com/gpu is the
# instance type's GPU count (:285) unless an ASG tag with this prefix overrides it (:290-294, :441-461).
AUTOSCALER_RESOURCE_TAG = "k8s.io/cluster-autoscaler/node-template/resources/"


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_no_node_is_labelled_a_gpu_the_autoscaler_cannot_count(stack):
    """kubernetes/autoscaler#8095 (open): a node with the GPU label whose GPUs are nvidia.com/mig-*
    counts as unready forever. Every labelled pool's template offers one of the resources the
    autoscaler counts; every GPU pool's template says how many whole GPUs it has."""
    for group in rendered_stack(stack).cluster.node_groups:
        offered = {
            tag.removeprefix(AUTOSCALER_RESOURCE_TAG): int(value)
            for tag, value in group.autoscaler_tags.items() if tag.startswith(AUTOSCALER_RESOURCE_TAG)
        }
        counted = any(offered.get(resource, 0) > 0 for resource in AUTOSCALER_GPU_RESOURCES)
        assert (AUTOSCALER_GPU_LABEL in group.labels) == counted, group.pool
        if group.gpu_model:
            assert "nvidia.com/gpu" in offered, group.pool


# kubernetes/autoscaler @ cluster-autoscaler-1.35.1 (and 1.34.4): per node group options are ASG
# tags under cloudprovider/aws/aws_manager.go:54 optionsTagsPrefix, parsed by GetAsgOptions
# (:214-266) with the keys of config/const.go:32-38: the thresholds with strconv.ParseFloat, the
# times with time.ParseDuration; a value that fails is only logged (klog.Warningf) and the
# default kept. AwsNodeGroup.GetOptions (aws_cloud_provider.go:269-274) hands them to scale-down.
AUTOSCALER_OPTIONS_TAG = "k8s.io/cluster-autoscaler/node-template/autoscaling-options/"
AUTOSCALER_DURATION_OPTIONS = ("scaledownunneededtime", "scaledownunreadytime")
AUTOSCALER_FLOAT_OPTIONS = ("scaledownutilizationthreshold", "scaledowngpuutilizationthreshold")
# Go's time.ParseDuration: a sequence of decimal numbers with units.
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_node_group_options_are_keys_and_values_the_autoscaler_parses(stack):
    """Every autoscaling-options tag is one GetAsgOptions reads, with a value it parses; the GPU
    threshold only on pools the autoscaler counts as GPU nodes (the accelerator label:
    core/scaledown/eligibility/eligibility.go:173-190 picks the threshold by GetNodeGpuConfig)."""
    from components.render import cluster_shape
    assert cluster_shape.AUTOSCALING_OPTIONS_TAG_PREFIX + "/" == AUTOSCALER_OPTIONS_TAG
    gpu_pools_wait = []
    for group in rendered_stack(stack).cluster.node_groups:
        options = {
            tag.removeprefix(AUTOSCALER_OPTIONS_TAG): value
            for tag, value in group.autoscaler_tags.items() if tag.startswith(AUTOSCALER_OPTIONS_TAG)
        }
        assert set(options) <= set(AUTOSCALER_DURATION_OPTIONS + AUTOSCALER_FLOAT_OPTIONS), group.pool
        for key in AUTOSCALER_DURATION_OPTIONS:
            if key in options:
                assert _GO_DURATION.fullmatch(options[key]), (group.pool, key)
        for key in AUTOSCALER_FLOAT_OPTIONS:
            if key in options:
                assert 0 < float(options[key]) <= 1, (group.pool, key)
        if "scaledowngpuutilizationthreshold" in options:
            assert AUTOSCALER_GPU_LABEL in group.labels, group.pool
        if group.gpu_model:
            gpu_pools_wait.append(_seconds(options["scaledownunneededtime"]) > 600)
    # config/const.go:46 DefaultScaleDownUnneededTime is 10 minutes; GPU pools wait longer.
    assert gpu_pools_wait and all(gpu_pools_wait)


# KServe v0.20.0 charts.

def test_every_runtime_of_the_chart_is_switched_by_modelplane():
    """kserve/kserve charts/kserve-runtime-configs/values.yaml @v0.20.0: each runtime's
    ``kserve.servingruntime.<key>.disabled`` defaults to false, so every runtime modelplane does not
    switch off is installed and enabled. The one runtime key modelplane leaves alone is
    ``huggingfaceserver_multinode``: files/runtimes/clusterservingruntimes-patch.yaml:438 sets that
    runtime's ``disabled`` from ``huggingfaceserver.disabled``, so its own ``disabled`` is read by
    nothing."""
    chart = chart_values("kserve-runtimes@v0.20.0/kserve-runtime-configs")["kserve"]["servingruntime"]
    runtime_keys = {key for key, value in chart.items() if isinstance(value, dict) and "disabled" in value}
    values = rendered_stack("prod").releases
    runtimes = next(r for r in values if r.name == "kserve-runtimes").values["kserve"]["servingruntime"]
    set_keys = {key for key, value in runtimes.items() if isinstance(value, dict)}
    assert set_keys == runtime_keys - {"huggingfaceserver_multinode"}
    assert all(set(runtimes[key]) == {"disabled"} for key in set_keys)
    # The whole chart renders nothing unless this is true (templates/runtimes/resources.yaml:1).
    assert has_path(chart, "enabled") and runtimes["enabled"] is True


# Add-on workloads on the system pool.

SYSTEM = {"modelplane.dev/node-pool": "system"}
# Per release: the chart copy, and the values path of each Deployment, StatefulSet or Job it
# creates, with the path the chart's own values.yaml has it at (None when the copy lacks it). Line
# numbers are at the pinned tags. DaemonSets (istio-cni, node exporter, NVIDIA operands, NFD
# worker, device plugin) are not pinned: they belong on every node.
WORKLOADS: dict[str, tuple[str | None, dict[str, str | None]]] = {
    # templates deployment.yaml, webhook-deployment.yaml, cainjector-deployment.yaml,
    # startupapicheck-job.yaml (values.yaml:510, :969, :1361, :1619) @v1.21.1.
    "cert-manager": ("cert-manager@v1.21.1/cert-manager", {
        "nodeSelector": "nodeSelector",
        "webhook.nodeSelector": "webhook.nodeSelector",
        "cainjector.nodeSelector": "cainjector.nodeSelector",
        "startupapicheck.nodeSelector": "startupapicheck.nodeSelector",
    }),
    # Istio 1.30.3: defaults live under _internal_defaults_do_not_set and the user's top-level
    # values are merged over them (templates/zzz_profile.yaml); deployment.yaml:70-82 / :122-133.
    "istiod": ("istiod@1.30.3/istio-discovery", {"nodeSelector": "_internal_defaults_do_not_set.nodeSelector"}),
    "istio-ingressgateway": ("istio-ingressgateway@1.30.3/gateway", {
        "nodeSelector": "_internal_defaults_do_not_set.nodeSelector",
    }),
    # knative-v1.23.0 templates/operator.yaml:74-81, 803-810: affinity only, no nodeSelector.
    "knative-operator": ("knative-operator@knative-v1.23.0/knative-operator", {
        "knative_operator.knative_operator.affinity": "knative_operator.knative_operator.affinity",
        "knative_operator.operator_webhook.affinity": "knative_operator.operator_webhook.affinity",
    }),
    # v0.20.0 files/kserve/deployment-patch.yaml:29-40 (values.yaml:166); the only Deployment.
    "kserve": ("kserve@v0.20.0/kserve-resources", {"kserve.controller.nodeSelector": "kserve.controller.nodeSelector"}),
    # 88.5.3: prometheus.yaml:90, alertmanager.yaml:51, prometheus-operator/deployment.yaml:241,
    # job-patch/job-patchWebhook.yaml:67 and job-createSecret.yaml:58. The copy does not vendor the
    # grafana and kube-state-metrics subcharts; their keys were read upstream:
    # grafana-community/helm-charts charts/grafana/values.yaml:438 @grafana-12.11.1 (_pod.tpl:1548)
    # and prometheus-community/helm-charts charts/kube-state-metrics/values.yaml:360
    # @kube-state-metrics-8.4.0 (deployment.yaml:355).
    "kube-prometheus-stack": ("kube-prometheus-stack@kube-prometheus-stack-88.5.3/kube-prometheus-stack", {
        "prometheus.prometheusSpec.nodeSelector": "prometheus.prometheusSpec.nodeSelector",
        "alertmanager.alertmanagerSpec.nodeSelector": "alertmanager.alertmanagerSpec.nodeSelector",
        "prometheusOperator.nodeSelector": "prometheusOperator.nodeSelector",
        "prometheusOperator.admissionWebhooks.patch.nodeSelector": "prometheusOperator.admissionWebhooks.patch.nodeSelector",
        "grafana.nodeSelector": None,
        "kube-state-metrics.nodeSelector": None,
    }),
    # cluster-autoscaler-chart-9.54.0 deployment.yaml:325-328 (values.yaml:329).
    "cluster-autoscaler": ("cluster-autoscaler@cluster-autoscaler-chart-9.54.0/cluster-autoscaler", {
        "nodeSelector": "nodeSelector",
    }),
    # v26.7.0 templates/operator.yaml:86-97 (values.yaml:82); node-feature-discovery 0.19.0,
    # vendored under charts/: master.yaml:169 (values.yaml:227), nfd-gc.yaml:118 (:1182).
    "gpu-operator": ("gpu-operator@v26.7.0/gpu-operator", {
        "operator.nodeSelector": "operator.nodeSelector",
        "node-feature-discovery.master.nodeSelector": "charts/node-feature-discovery:master.nodeSelector",
        "node-feature-discovery.gc.nodeSelector": "charts/node-feature-discovery:gc.nodeSelector",
    }),
    # v0.20.0: node-feature-discovery 0.19.0 as dependency alias nfd (Chart.yaml:11-15, enabled by
    # gfd.enabled), vendored as charts/node-feature-discovery-0.19.0.tgz.
    "nvidia-device-plugin": ("nvidia-device-plugin@v0.20.0/nvidia-device-plugin", {
        "nfd.master.nodeSelector": "node-feature-discovery-0.19.0.tgz:master.nodeSelector",
        "nfd.gc.nodeSelector": "node-feature-discovery-0.19.0.tgz:gc.nodeSelector",
    }),
}
# Releases that create no Deployment, StatefulSet or Job: CRDs, runtimes, and istio-cni's DaemonSet.
NO_WORKLOADS = {"istio-base", "istio-cni", "kserve-crd", "kserve-runtimes"}
# knative/operator @knative-v1.23.0 cmd/operator/kodata/knative-serving/1.23.0/2-serving-core.yaml
# (activator, autoscaler, controller, webhook), 3-serving-hpa.yaml (autoscaler-hpa),
# ingress/1.23/istio/net-istio.yaml (net-istio-controller, net-istio-webhook),
# 4-serving-post-install-jobs.yaml:21,90 (generateName storage-version-migration-serving-,
# cleanup-serving-). pkg/reconciler/common/workload_override.go:40-75 matches spec.workloads[].name
# to a Deployment's or StatefulSet's name and a Job's generateName.
KNATIVE_SERVING_WORKLOADS = {
    "activator", "autoscaler", "controller", "webhook", "autoscaler-hpa", "net-istio-controller",
    "net-istio-webhook", "storage-version-migration-serving-", "cleanup-serving-",
}


def chart_has(folder: str, where: str) -> bool:
    if ":" not in where:
        return has_path(chart_values(folder), where)
    source, path = where.split(":")
    if source.endswith(".tgz"):
        return has_path(chart_values(folder, source), path)
    return has_path(chart_values(f"{folder}/{source}"), path)


def pins_to_system(value: Any) -> bool:
    if isinstance(value, dict) and "nodeAffinity" in value:
        terms = value["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        return terms == [{"matchExpressions": [
            {"key": key, "operator": "In", "values": [v]} for key, v in SYSTEM.items()
        ]}]
    return value == SYSTEM


def value_at(values: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        values = values[part]
    return values


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_addon_workload_runs_on_the_system_pool(stack):
    releases = {release.name: release for release in rendered_stack(stack).releases}
    assert set(releases) - NO_WORKLOADS <= set(WORKLOADS)
    for name, release in releases.items():
        if name in NO_WORKLOADS:
            continue
        folder, paths = WORKLOADS[name]
        for ours, upstream in paths.items():
            assert pins_to_system(value_at(release.values, ours)), f"{name}: {ours}"
            if upstream is not None:
                assert chart_has(folder, upstream), f"{name}: {upstream} is not in {folder}'s values"


def test_knative_serving_workloads_run_on_the_system_pool():
    knative = next(obj for obj in rendered_stack("dev").objects if obj["kind"] == "KnativeServing")
    workloads = knative["spec"]["workloads"]
    assert {workload["name"] for workload in workloads} == KNATIVE_SERVING_WORKLOADS
    # nodeSelector only: an affinity override replaces the upstream pod anti-affinity
    # (workload_override.go replaceAffinities).
    assert all(workload == {"name": workload["name"], "nodeSelector": SYSTEM} for workload in workloads)


def test_kserve_creates_no_ingress_of_its_own():
    """kserve/kserve charts/kserve-resources values.yaml:154 @v0.20.0
    ``kserve.controller.gateway.disableIngressCreation`` (default false) becomes the
    inferenceservice-config ``ingress`` key ``disableIngressCreation`` (files/common/
    configmap-patch.yaml:88-89), read by the Standard-mode reconcilers
    (pkg/controller/v1beta1/inferenceservice/reconcilers/ingress/kube_ingress_reconciler.go:106)."""
    chart = chart_values("kserve@v0.20.0/kserve-resources")
    assert has_path(chart, "kserve.controller.gateway.disableIngressCreation")
    assert has_path(chart, "kserve.controller.gateway.disableIstioVirtualHost")
    kserve = next(r for r in rendered_stack("prod").releases if r.name == "kserve")
    gateway = kserve.values["kserve"]["controller"]["gateway"]
    assert gateway["disableIngressCreation"] is True and gateway["disableIstioVirtualHost"] is True


# Cold starts: Knative Serving knative-v1.23.0, KServe v0.20.0, Istio 1.30.3.

# knative/serving pkg/apis/autoscaling/register.go:57 (initial-scale), :60 (scale-down-delay), :94
# (scale-to-zero-pod-retention-period) @knative-v1.23.0.
KNATIVE_COLD_START_ANNOTATIONS = (
    "autoscaling.knative.dev/initial-scale",
    "autoscaling.knative.dev/scale-down-delay",
    "autoscaling.knative.dev/scale-to-zero-pod-retention-period",
)
# register.go:144 WindowMax: annotation_validation.go:135-149 (scale-down-delay: 0 to WindowMax,
# whole seconds) and :151-162 (retention: 0 to WindowMax).
KNATIVE_WINDOW_MAX_SECONDS = 3600
# kserve/kserve pkg/constants/constants.go:534-540 @v0.20.0: the only annotations KServe keeps off
# the Knative Service; the rest of the predictor's reach the revision template
# (components/predictor.go:164-166, 513-517; reconcilers/knative/ksvc_reconciler.go:102, 204).
KSERVE_DISALLOWED_ANNOTATIONS = (
    "autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale",
    "internal.serving.kserve.io/storage-initializer-sourceuri", "kubectl.kubernetes.io/last-applied-configuration",
    "serving.kserve.io/model-format",
)
# knative/serving pkg/reconciler/autoscaling/kpa/scaler.go:69 activationTimeoutBuffer, :196-213:
# a revision still activating after progress deadline + 30 s is scaled back to zero.
KNATIVE_ACTIVATION_BUFFER_SECONDS = 30
_GO_SECONDS = re.compile(r"^([0-9]+)s$")


def _seconds(text: str) -> int:
    match = _GO_SECONDS.fullmatch(text)
    assert match, f"{text!r} is not a whole number of seconds in Go's duration format"
    return int(match[1])


def _knative_config(objects) -> dict:
    return next(obj for obj in objects if obj["kind"] == "KnativeServing")["spec"]["config"]


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_cold_start_annotations_pass_knatives_validation_and_reach_the_revision(stack):
    """annotation_validation.go:135-162 (durations within [0, 1h], whole seconds) and :265-275
    (initial-scale >= 0; 0 only with config-autoscaler allow-zero-initial-scale, read by
    pkg/autoscaler/config/config.go:78, default false :62)."""
    objects = rendered_stack(stack).objects
    zero_initial = False
    for service in (obj for obj in objects if obj["kind"] == "InferenceService"):
        annotations = service["spec"]["predictor"]["annotations"]
        assert set(KNATIVE_COLD_START_ANNOTATIONS) <= set(annotations)
        assert not set(annotations) & set(KSERVE_DISALLOWED_ANNOTATIONS)
        for key in KNATIVE_COLD_START_ANNOTATIONS[1:]:
            assert 0 <= _seconds(annotations[key]) <= KNATIVE_WINDOW_MAX_SECONDS
        initial = int(annotations["autoscaling.knative.dev/initial-scale"])
        assert initial >= 0
        zero_initial = zero_initial or initial == 0
    allowed = _knative_config(objects)["autoscaler"].get("allow-zero-initial-scale", "false")
    assert not zero_initial or allowed == "true"


def test_the_catalog_bounds_are_knatives():
    from components.catalog.cold_start import MAX_AUTOSCALING_WINDOW_SECONDS, ColdStart
    assert MAX_AUTOSCALING_WINDOW_SECONDS == KNATIVE_WINDOW_MAX_SECONDS
    ColdStart(idle_retention_seconds=KNATIVE_WINDOW_MAX_SECONDS, scale_down_delay_seconds=0, initial_replicas=0)
    with pytest.raises(ValueError):
        ColdStart(idle_retention_seconds=KNATIVE_WINDOW_MAX_SECONDS + 1)


# Scaling behaviour: knative/serving pkg/apis/autoscaling/register.go @knative-v1.23.0: the
# annotation keys (:133 window, :175 panic-window-percentage, :201 panic-threshold-percentage) and
# their bounds (:141 WindowMin 6s, :144 WindowMax 1h, :184/:190 panic window 1-100, :212/:216
# panic threshold 110-1000), enforced by annotation_validation.go:93-133 (floats) and :164-175
# (window: whole seconds).
KNATIVE_WINDOW = ("autoscaling.knative.dev/window", 6, 3600)
KNATIVE_PANIC_WINDOW = ("autoscaling.knative.dev/panic-window-percentage", 1, 100)
KNATIVE_PANIC_THRESHOLD = ("autoscaling.knative.dev/panic-threshold-percentage", 110, 1000)
KNATIVE_HPA_CLASS = "hpa.autoscaling.knative.dev"


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_behavior_annotations_pass_knatives_validation_and_fit_the_autoscaler_class(stack):
    """The KPA reads the window and the panic window (pkg/reconciler/autoscaling/resources/
    metric.go:30-52) and the panic threshold (kpa/resources/decider.go:51-54); Knative's HPA
    class writes the HPA from the window alone, as both stabilisation windows
    (hpa/resources/hpa.go:105-115), so a panic annotation there would be silently ignored."""
    seen = set()
    for service in (obj for obj in rendered_stack(stack).objects if obj["kind"] == "InferenceService"):
        annotations = service["spec"]["predictor"]["annotations"]
        key, low, high = KNATIVE_WINDOW
        if key in annotations:
            assert low <= _seconds(annotations[key]) <= high
            seen.add(key)
        for key, low, high in (KNATIVE_PANIC_WINDOW, KNATIVE_PANIC_THRESHOLD):
            if key in annotations:
                assert low <= float(annotations[key]) <= high
                seen.add(key)
        if service["metadata"].get("annotations", {}).get("autoscaling.knative.dev/class") == KNATIVE_HPA_CLASS:
            assert KNATIVE_PANIC_WINDOW[0] not in annotations and KNATIVE_PANIC_THRESHOLD[0] not in annotations
    # The fixture exercises the window and the panic threshold (GPU models' defaults).
    assert {KNATIVE_WINDOW[0], KNATIVE_PANIC_THRESHOLD[0]} <= seen


def test_the_behavior_bounds_are_knatives():
    from components.catalog import scaling_behavior as behavior
    assert (behavior.MIN_STABLE_WINDOW_SECONDS, behavior.MAX_STABLE_WINDOW_SECONDS) == KNATIVE_WINDOW[1:]
    assert (behavior.MIN_PANIC_WINDOW_PERCENT, behavior.MAX_PANIC_WINDOW_PERCENT) == KNATIVE_PANIC_WINDOW[1:]
    assert (behavior.MIN_PANIC_THRESHOLD_PERCENT, behavior.MAX_PANIC_THRESHOLD_PERCENT) == KNATIVE_PANIC_THRESHOLD[1:]
    from components.render import model_objects
    assert (model_objects.STABLE_WINDOW_ANNOTATION, model_objects.PANIC_WINDOW_ANNOTATION,
            model_objects.PANIC_THRESHOLD_ANNOTATION) == (
        KNATIVE_WINDOW[0], KNATIVE_PANIC_WINDOW[0], KNATIVE_PANIC_THRESHOLD[0])
    assert model_objects.HPA_AUTOSCALER_CLASS == KNATIVE_HPA_CLASS


def test_max_scale_up_rate_is_a_cluster_setting_above_one():
    """pkg/autoscaler/config/config.go:80 reads max-scale-up-rate from config-autoscaler and :151-152
    refuses 1.0 or less; the decider takes it from there for every revision
    (kpa/resources/decider.go:77), and no annotation overrides it."""
    from components.catalog.platform_settings import ServingSettings
    assert ServingSettings(max_scale_up_rate=1.01).max_scale_up_rate == 1.01
    with pytest.raises(ValueError):
        ServingSettings(max_scale_up_rate=1.0)


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_every_request_may_wait_out_a_cold_start(stack):
    """Knative's activator holds a request for a revision at zero inside a timeout handler set to
    the revision's timeoutSeconds and responseStartTimeoutSeconds (knative/serving
    cmd/activator/main.go:231-247 @knative-v1.23.0), which KServe sets from the predictor's
    ``timeout`` (ksvc_reconciler.go:207-212 @v0.20.0). Istio sets no route timeout unless the
    VirtualService names one (pilot/pkg/networking/core/route/route.go:1336-1340 @1.30.3): ours names
    the revision's, so neither cuts a cold start short; and Knative refuses a timeout above
    max-revision-timeout-seconds."""
    rendered = rendered_stack(stack)
    objects = {object_id(obj): obj for obj in rendered.objects}
    maximum = int(_knative_config(rendered.objects)["defaults"]["max-revision-timeout-seconds"])
    deadline = _seconds(_knative_config(rendered.objects)["deployment"]["progress-deadline"])
    for model in rendered.deployment.models:
        predictor = objects[f"InferenceService/{model.namespace}/{model.name}"]["spec"]["predictor"]
        route = objects[f"VirtualService/{model.namespace}/{model.name}-route"]["spec"]["http"][0]
        assert route["timeout"] == f"{predictor['timeout']}s"
        assert predictor["timeout"] <= maximum
        if predictor["minReplicas"] == 0:
            assert predictor["timeout"] >= model.cold_start.expected_seconds, model.name
        # A cold start that outlasts Knative's activation window fails however long the request waits.
        assert model.cold_start.expected_seconds <= deadline + KNATIVE_ACTIVATION_BUFFER_SECONDS, model.name


# Istio 1.30.3: how a model pod reaches S3, STS (IRSA) and a model hub (hf://).
# - The storage initializer is in the mesh: with native sidecars (Kubernetes >= 1.33) the injector
#   orders init containers "{istio-init/istio-validation} => proxy => rest ... so init containers
#   are part of the mesh" (pkg/kube/inject/webhook.go:805-812 @1.30.3), and Istio CNI redirects
#   their traffic to the proxy.
# - A Sidecar's egress hosts select registry services; traffic to anything else falls to the
#   outbound listener's catch-all chain: PassthroughCluster when the proxy's policy is ALLOW_ANY,
#   BlackHoleCluster otherwise (pilot/pkg/networking/core/listener_builder.go:230-245,
#   pilot/pkg/networking/util/util.go:518-522 IsAllowAnyOutbound @1.30.3).
# - A Sidecar without outboundTrafficPolicy takes the mesh's (pilot/pkg/model/sidecar.go:345-353),
#   whose default is ALLOW_ANY (pkg/config/mesh/mesh.go:83 @1.30.3) unless meshConfig sets one.
# So no ServiceEntry is needed for s3.<region>.amazonaws.com, <bucket>.s3.<region>.amazonaws.com,
# sts.<region>.amazonaws.com or huggingface.co, as long as the team's proxies stay ALLOW_ANY.
OUTBOUND_TRAFFIC_MODES = {"ALLOW_ANY", "REGISTRY_ONLY"}


def _sidecar_crd_modes() -> set[str]:
    import json

    path = SHARED / "crds" / "networking.istio.io_Sidecar_v1.json"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the upstream CRD schemas are missing: {path}")
        pytest.skip(f"no upstream CRD schemas at {path}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    policy = schema["properties"]["spec"]["properties"]["outboundTrafficPolicy"]
    return set(policy["properties"]["mode"]["enum"])


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_model_pods_reach_s3_sts_and_hubs_through_istios_passthrough(stack):
    rendered = rendered_stack(stack)
    sidecars = [obj for obj in rendered.objects if obj["kind"] == "Sidecar"]
    team_namespaces = {team.namespace for team in rendered.deployment.teams}
    assert {obj["metadata"]["namespace"] for obj in sidecars} == team_namespaces
    for sidecar in sidecars:
        # Written in each team's Sidecar, not inherited: a mesh-wide REGISTRY_ONLY (an istiod
        # values override) would otherwise blackhole every model download.
        assert sidecar["spec"]["outboundTrafficPolicy"] == {"mode": "ALLOW_ANY"}, object_id(sidecar)
        assert "*/*" not in sidecar["spec"]["egress"][0]["hosts"]
    # No ServiceEntry is rendered: none is needed under ALLOW_ANY.
    assert not any(obj["kind"] == "ServiceEntry" for obj in rendered.objects)
    assert OUTBOUND_TRAFFIC_MODES <= _sidecar_crd_modes()


def test_the_mesh_default_outbound_policy_is_left_to_istio():
    """The istiod chart sets no outboundTrafficPolicy (values.yaml, meshConfig under
    _internal_defaults_do_not_set @1.30.3), nor does modelplane: the other meshed namespaces
    (gateway, Knative) keep Istio's ALLOW_ANY default."""
    chart = chart_values("istiod@1.30.3/istio-discovery")["_internal_defaults_do_not_set"]
    assert has_path(chart, "meshConfig.enablePrometheusMerge")
    assert not has_path(chart, "meshConfig.outboundTrafficPolicy")
    assert not has_path(chart, "global.outboundTrafficPolicy")
    release = next(r for r in rendered_stack("prod").releases if r.name == "istiod")
    assert not has_path(release.values, "meshConfig.outboundTrafficPolicy")


# GPU time-slicing: NVIDIA/k8s-device-plugin @ v0.20.0 (the chart nvidia-device-plugin 0.20.0).
# api/config/v1/config.go:35-38 (version, flags, sharing), flags.go:60 (flags.migStrategy),
# sharing.go:22 (sharing.timeSlicing), replicas.go:31-33 (renameByDefault,
# failRequestsGreaterThanOne, resources) and :82-85 (name, rename, devices, replicas; devices
# default to "all", :231-234; replicas at least 2, :251-252); a renamed resource is
# <name>.shared (resources.go:89 DefaultSharedRename, consts.go:26).
DEVICE_PLUGIN_CONFIG_KEYS = {"version", "flags", "sharing"}
DEVICE_PLUGIN_TIME_SLICING_KEYS = {"renameByDefault", "failRequestsGreaterThanOne", "resources"}
DEVICE_PLUGIN_RESOURCE_KEYS = {"name", "rename", "devices", "replicas"}
DEVICE_PLUGIN_MIN_REPLICAS = 2
DEVICE_PLUGIN_SHARED_SUFFIX = ".shared"


def test_time_sliced_pools_get_a_device_plugin_configuration_it_reads(workspace):
    """The chart builds its ConfigMap from config.map and config-manager picks an entry by the
    node label nvidia.com/device-plugin.config, else config.default (chart values.yaml:20-28,
    templates/daemonset-device-plugin.yml:75-84, _helpers.tpl hasDefaultConfig: with several
    entries and no default, nodes without the label would get none)."""
    from components.catalog.placement import SHARED_GPU_RESOURCE, WHOLE_GPU_RESOURCE
    from components.catalog.stack_settings import TimeSlicing
    chart = chart_values("nvidia-device-plugin@v0.20.0/nvidia-device-plugin")
    assert {"map", "default", "fallbackStrategies"} <= set(chart["config"])
    template = (CHARTS / "nvidia-device-plugin@v0.20.0/nvidia-device-plugin/templates/daemonset-device-plugin.yml").read_text()
    assert 'name: NODE_LABEL\n          value: "nvidia.com/device-plugin.config"' in template
    assert SHARED_GPU_RESOURCE == WHOLE_GPU_RESOURCE + DEVICE_PLUGIN_SHARED_SUFFIX
    with pytest.raises(ValueError):
        TimeSlicing(replicas=DEVICE_PLUGIN_MIN_REPLICAS - 1)

    workspace.team(quota={"cpu": "8", "memory": "32Gi", "gpu_shares": 1})
    workspace.model(gpu={"shares": 1})
    pools = copy.deepcopy(STACK_CONFIG["modelplane:node_pools"])
    del pools["mig"]
    pools["gpu"]["gpu"]["sharing"] = {"time_slicing": {"replicas": 3}}
    workspace.stack(node_pools=pools)
    deployment = resolve_deployment(
        load_catalog(workspace.models, "models"), load_stack(workspace.stacks, "dev", "stacks"), ["dev"],
    )
    rendered = render_stack(deployment)
    config = next(r for r in rendered.releases if r.name == "nvidia-device-plugin").values["config"]
    assert config["default"] in config["map"]
    group = next(g for g in rendered.cluster.node_groups if g.pool == "gpu")
    chosen = yaml.safe_load(config["map"][group.labels["nvidia.com/device-plugin.config"]])
    assert set(chosen) <= DEVICE_PLUGIN_CONFIG_KEYS and chosen["version"] == "v1"
    time_slicing = chosen["sharing"]["timeSlicing"]
    assert set(time_slicing) <= DEVICE_PLUGIN_TIME_SLICING_KEYS and time_slicing["renameByDefault"] is True
    [resource] = time_slicing["resources"]
    assert set(resource) <= DEVICE_PLUGIN_RESOURCE_KEYS
    assert resource == {"name": WHOLE_GPU_RESOURCE, "replicas": 3}
    assert resource["replicas"] >= DEVICE_PLUGIN_MIN_REPLICAS
    # What the nodes offer (the renamed resource, replicas per GPU) is what the model asks for.
    assert group.autoscaler_tags[AUTOSCALER_RESOURCE_TAG + SHARED_GPU_RESOURCE] == "3"
    [model] = deployment.models
    assert model.gpu.resource == SHARED_GPU_RESOURCE


# Critical models' disruption budgets and spread: the labels KServe v0.20.0 puts on predictor pods.
# pkg/controller/v1beta1/inferenceservice/components/predictor.go:497-517 buildObjectMeta: the
# runtime's labels, the InferenceService's, the predictor's, then
# serving.kserve.io/inferenceservice=<name> (constants.go:34,59,61) and component=predictor
# (constants.go:403, inference_service_status.go:117). In Knative mode
# reconcilers/knative/ksvc_reconciler.go:164-166,199-201 makes them the revision template's
# labels, less ServiceLabelDisallowedList (constants.go:542-544: the visibility label only).
KSERVE_ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
KNATIVE_VISIBILITY_LABEL = "networking.knative.dev/visibility"
# knative/serving @knative-v1.23.0 pkg/apis/serving/fieldmask.go:245-246 keeps a revision's
# topologySpreadConstraints only when this flag is not Disabled; pkg/apis/config/features.go:78,88
# (default Disabled).
KNATIVE_TOPOLOGY_SPREAD_FLAG = "kubernetes.podspec-topologyspreadconstraints"


def _kserve_predictor_pod_labels(service: dict) -> dict[str, str]:
    labels = {
        **service["metadata"].get("labels", {}), **service["spec"]["predictor"].get("labels", {}),
        KSERVE_ISVC_POD_LABEL: service["metadata"]["name"], "component": "predictor",
    }
    labels.pop(KNATIVE_VISIBILITY_LABEL, None)
    return labels


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, selector
    return selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_disruption_budgets_and_spread_select_exactly_their_models_pods(stack):
    objects = rendered_stack(stack).objects
    services = [obj for obj in objects if obj["kind"] == "InferenceService"]
    budgets = {
        (obj["metadata"]["namespace"], obj["metadata"]["name"]): obj for obj in objects
        if obj["kind"] == "PodDisruptionBudget"
    }
    spread = [service for service in services if "topologySpreadConstraints" in service["spec"]["predictor"]]
    assert {(s["metadata"]["namespace"], f"{s['metadata']['name']}-predictor") for s in spread} == set(budgets)
    if stack == "prod":
        # The fixture's critical models (transaction-scorer, query-embedder) run two replicas.
        assert len(budgets) == 2
    for service in spread:
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        selectors = [budgets[(namespace, f"{name}-predictor")]["spec"]["selector"]] + [
            constraint["labelSelector"] for constraint in service["spec"]["predictor"]["topologySpreadConstraints"]
        ]
        for selector in selectors:
            # The pods of both revisions while a canary runs: no version label.
            assert _selects(selector, _kserve_predictor_pod_labels(service))
            for other in services:
                if other is not service and other["metadata"]["namespace"] == namespace:
                    assert not _selects(selector, _kserve_predictor_pod_labels(other))


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_topology_spread_reaches_the_revision(stack):
    objects = rendered_stack(stack).objects
    spread = any(
        "topologySpreadConstraints" in obj["spec"]["predictor"] for obj in objects if obj["kind"] == "InferenceService"
    )
    features = _knative_config(objects)["features"]
    assert features.get(KNATIVE_TOPOLOGY_SPREAD_FLAG, "disabled").lower() != "disabled" or not spread


# External Secrets Operator, chart and app 2.9.0 (external-secrets/external-secrets @v2.9.0).
# providers/v1/aws/auth/auth.go:256-300 credsFromServiceAccount: a SecretStore's
# auth.jwt.serviceAccountRef names a ServiceAccount of the store's namespace; its role comes from
# this annotation (:278-282), and the token ESO requests for it (TokenRequest,
# auth/token_fetcher.go) has the audience of eks.amazonaws.com/audience, else sts.amazonaws.com
# (:57-58, :284-291). The chart lets the controller create those tokens
# (deploy/charts/external-secrets/templates/rbac.yaml:186-191 @helm-chart-2.9.0).
ESO_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
ESO_TOKEN_AUDIENCE = "sts.amazonaws.com"
# providers/v1/aws/secretsmanager/secretsmanager.go:144-172,769-822: a remoteRef with key and
# property (no version, no metadataPolicy) is one GetSecretValue of AWSCURRENT; DescribeSecret
# only for metadataPolicy Fetch, ListSecrets/BatchGetSecretValue only for dataFrom.find.
ESO_REMOTE_REF_FIELDS = {"key", "property"}


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_external_secrets_need_nothing_but_the_teams_get_secret_value(stack):
    from components.render.iam import irsa_trust_policy
    from components.render.team_iam import team_secrets_role_arn

    rendered = rendered_stack(stack)
    deployment = rendered.deployment
    teams = {team.namespace: team for team in deployment.teams}
    objects = rendered.objects
    stores = [obj for obj in objects if obj["kind"] == "SecretStore"]
    if stack == "staging":
        assert [store["metadata"]["namespace"] for store in stores] == ["team-search"]
    for store in stores:
        namespace = store["metadata"]["namespace"]
        account_name = store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
        account = next(
            obj for obj in objects if obj["kind"] == "ServiceAccount"
            and obj["metadata"]["namespace"] == namespace and obj["metadata"]["name"] == account_name
        )
        assert account["metadata"]["annotations"][ESO_ROLE_ANNOTATION] == team_secrets_role_arn(
            deployment.stack, teams[namespace]
        )
        assert "eks.amazonaws.com/audience" not in account["metadata"]["annotations"]
        trust = irsa_trust_policy("arn:aws:iam::1:oidc-provider/issuer", "issuer", namespace, account_name)
        assert trust["Statement"][0]["Condition"]["StringEquals"]["issuer:aud"] == ESO_TOKEN_AUDIENCE
    for external in (obj for obj in objects if obj["kind"] == "ExternalSecret"):
        spec = external["spec"]
        assert "dataFrom" not in spec
        assert spec["secretStoreRef"] == {"kind": "SecretStore", "name": "aws-secrets-manager"}
        team = teams[external["metadata"]["namespace"]]
        for item in spec["data"]:
            assert set(item["remoteRef"]) == ESO_REMOTE_REF_FIELDS
            assert item["remoteRef"]["key"].startswith(f"modelplane/{stack}/{team.name}/")


# The chart's own read-only role for ExternalSecrets names them "externalsecrets" of API group
# external-secrets.io with get/watch/list (deploy/charts/external-secrets/templates/rbac.yaml:257-275
# @helm-chart-2.9.0; the type is namespaced: apis/externalsecrets/v1/externalsecret_types.go:744
# @v2.9.0), so a Role in the team's namespace can grant it.
def test_owners_read_external_secrets_as_the_charts_view_role_names_them():
    from components.render.team_objects import EXTERNAL_SECRETS_READ_RULE

    assert EXTERNAL_SECRETS_READ_RULE == {
        "apiGroups": ["external-secrets.io"], "resources": ["externalsecrets"], "verbs": ["get", "list", "watch"],
    }
    rendered = rendered_stack("staging")
    roles = [obj for obj in rendered.objects if obj["kind"] == "Role" and obj["metadata"]["name"] == "model-owners"]
    assert roles and all(EXTERNAL_SECRETS_READ_RULE in role["rules"] for role in roles)

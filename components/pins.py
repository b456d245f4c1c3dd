"""Every version modelplane installs, in one place, with the reason beside each.

No version literal lives anywhere else (a test checks). Charts that release together share one
constant. To upgrade: change the constant here, run ``make test`` (golden files show the change),
then ``pulumi preview --diff`` per stack and apply dev, staging, prod in that order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    """A Helm chart at one version: ``repository`` is a Helm repo URL, or ``None`` for OCI charts
    whose ``chart`` is the full ``oci://`` reference."""

    chart: str
    version: str
    repository: str | None = None


# EKS: 1.35 is in standard support; Knative 1.23 needs >= 1.34, Istio 1.30 covers 1.32-1.36, and
# cluster-autoscaler must match the minor version (see CLUSTER_AUTOSCALER_IMAGE_TAGS).
KUBERNETES_VERSION = "1.35"
SUPPORTED_KUBERNETES_VERSIONS = ("1.34", "1.35")

# cert-manager: KServe's webhooks get their certificates from it; it also issues the gateway's
# certificate (DNS-01 in Route 53). v1.21.2 is a patch release of 1.21 that fixes controller and
# webhook panics (its release notes, as quoted in the Renovate upgrade of sylva-projects/sylva-core,
# MR 9292); its chart is unchanged from v1.21.1, whose copy the contract tests read (no commit
# under deploy/charts on release-1.21 after v1.21.1).
CERT_MANAGER = ChartPin("cert-manager", "v1.21.2", "https://charts.jetstack.io")

# Istio: base (CRDs), istiod, cni and gateway release together and must share one version.
# 1.30.5 is announced on istio.io ("Announcing Istio 1.30.5", news/releases/1.30.x); the git tags
# of istio/istio read for the contract tests end at 1.30.3, and no chart under manifests/charts
# changed on release-1.30 after it, so the 1.30.3 chart copy stands for this version.
ISTIO_VERSION = "1.30.5"
ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
ISTIO_BASE = ChartPin("base", ISTIO_VERSION, ISTIO_REPOSITORY)
ISTIO_CNI = ChartPin("cni", ISTIO_VERSION, ISTIO_REPOSITORY)
ISTIOD = ChartPin("istiod", ISTIO_VERSION, ISTIO_REPOSITORY)
ISTIO_GATEWAY = ChartPin("gateway", ISTIO_VERSION, ISTIO_REPOSITORY)

# Knative: the operator's chart version carries a "v"; the KnativeServing resource asks the
# operator for the matching Serving release. 1.21+ is needed for the OpenTelemetry request
# metrics (kn_serving_invocation_duration_seconds) the monitoring relies on.
KNATIVE_VERSION = "1.23.0"
KNATIVE_OPERATOR = ChartPin("knative-operator", f"v{KNATIVE_VERSION}", "https://knative.github.io/operator")
KNATIVE_SERVING_VERSION = KNATIVE_VERSION

# KServe: the CRDs, the controller and the serving runtimes are three OCI charts of one release
# (the controller chart was renamed kserve-resources in v0.17).
KSERVE_VERSION = "v0.20.0"
KSERVE_CRD = ChartPin("oci://ghcr.io/kserve/charts/kserve-crd", KSERVE_VERSION)
KSERVE_RESOURCES = ChartPin("oci://ghcr.io/kserve/charts/kserve-resources", KSERVE_VERSION)
KSERVE_RUNTIMES = ChartPin("oci://ghcr.io/kserve/charts/kserve-runtime-configs", KSERVE_VERSION)

# Prometheus operator v0.93 (PodMonitor portNumber, PrometheusRule keep_firing_for), Grafana.
KUBE_PROMETHEUS_STACK = ChartPin(
    "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"
)

# NVIDIA: the device plugin alone for whole GPUs; the GPU operator (mig-manager) when a pool
# uses MIG, because only mig-manager partitions GPUs.
NVIDIA_DEVICE_PLUGIN = ChartPin("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
GPU_OPERATOR = ChartPin("gpu-operator", "v26.7.0", "https://helm.ngc.nvidia.com/nvidia")

# External Secrets Operator, only in stacks whose modelplane:secrets.provider is
# aws-secrets-manager: it copies each team's secrets from AWS Secrets Manager into Kubernetes
# Secrets. 2.9.0 (app v2.9.0, tag helm-chart-2.9.0) is the newest release read: external-secrets.io/v1
# ExternalSecret and SecretStore, and IRSA through a SecretStore's auth.jwt.serviceAccountRef
# (providers/v1/aws/auth/auth.go:256-300 @v2.9.0), so each team's store assumes its own role.
EXTERNAL_SECRETS = ChartPin("external-secrets", "2.9.0", "https://charts.external-secrets.io")

# cluster-autoscaler: chart 9.54 ships 1.35; the image must match the cluster's minor version.
CLUSTER_AUTOSCALER = ChartPin("cluster-autoscaler", "9.54.0", "https://kubernetes.github.io/autoscaler")
CLUSTER_AUTOSCALER_IMAGE_TAGS = {"1.34": "v1.34.4", "1.35": "v1.35.1"}

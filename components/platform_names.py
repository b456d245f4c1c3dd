"""Names of the platform's own namespaces, services and labels, shared by every layer.

Pure constants: the catalog checks user input against them, the renderer writes them, the Pulumi
components install into them. Changing one renames live objects.
"""

from __future__ import annotations

ISTIO_SYSTEM_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
KNATIVE_OPERATOR_NAMESPACE = "knative-operator"
KNATIVE_SERVING_NAMESPACE = "knative-serving"
KSERVE_NAMESPACE = "kserve"
CERT_MANAGER_NAMESPACE = "cert-manager"
MONITORING_NAMESPACE = "monitoring"
NVIDIA_NAMESPACE = "nvidia-gpu"
KUBE_SYSTEM_NAMESPACE = "kube-system"
EXTERNAL_SECRETS_NAMESPACE = "external-secrets"

# Namespaces a team may not take: Kubernetes' own and the platform's.
RESERVED_NAMESPACES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease",
    ISTIO_SYSTEM_NAMESPACE, INGRESS_NAMESPACE, KNATIVE_OPERATOR_NAMESPACE,
    KNATIVE_SERVING_NAMESPACE, KSERVE_NAMESPACE, CERT_MANAGER_NAMESPACE, MONITORING_NAMESPACE,
    NVIDIA_NAMESPACE, EXTERNAL_SECRETS_NAMESPACE,
})

# The shared ingress: an Istio gateway deployment (Helm release) and the Gateway resource on it.
INGRESS_GATEWAY_RELEASE = "istio-ingressgateway"
# Knative and KServe select their gateways by this pod label; the shared gateway carries it.
INGRESS_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
INGRESS_GATEWAY_SERVICE_ACCOUNT = INGRESS_GATEWAY_RELEASE
SHARED_GATEWAY_NAME = "modelplane-gateway"
SHARED_GATEWAY_REF = f"{INGRESS_NAMESPACE}/{SHARED_GATEWAY_NAME}"
# Knative's cluster-local gateway, served by the same pods; routes to a model go through it so
# Knative's activator can hold requests while a scaled-to-zero model starts.
LOCAL_GATEWAY_SERVICE_NAME = "knative-local-gateway"
LOCAL_GATEWAY_HOST = f"{LOCAL_GATEWAY_SERVICE_NAME}.{INGRESS_NAMESPACE}.svc.cluster.local"

# The label every node of a pool carries, used by models to pick their pool.
NODE_POOL_LABEL = "modelplane.dev/node-pool"
# The taint on GPU pools, so only pods that ask for GPUs land there.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "true"

# Labels modelplane puts on what it renders.
LABEL_PREFIX = "modelplane.dev"
TEAM_LABEL = f"{LABEL_PREFIX}/team"
MODEL_LABEL = f"{LABEL_PREFIX}/model"
COST_CENTER_LABEL = f"{LABEL_PREFIX}/cost-center"
MANAGED_BY_LABELS = {"app.kubernetes.io/managed-by": "modelplane", "app.kubernetes.io/part-of": "modelplane"}

# The ServiceAccount a team's models run as (IRSA-annotated for the team's S3 prefixes).
MODEL_SERVICE_ACCOUNT = "model-server"

# The Helm add-ons, by release name (also the keys of a stack's modelplane:addons).
CERT_MANAGER_RELEASE = "cert-manager"
# The controller's ServiceAccount: the chart's fullname, which is the release name when that
# contains the chart name (cert-manager chart v1.21.1, templates/_helpers.tpl).
CERT_MANAGER_SERVICE_ACCOUNT = CERT_MANAGER_RELEASE
ISTIO_BASE_RELEASE = "istio-base"
ISTIO_CNI_RELEASE = "istio-cni"
ISTIOD_RELEASE = "istiod"
KNATIVE_OPERATOR_RELEASE = "knative-operator"
KSERVE_CRD_RELEASE = "kserve-crd"
KSERVE_RELEASE = "kserve"
KSERVE_RUNTIMES_RELEASE = "kserve-runtimes"
PROMETHEUS_RELEASE = "kube-prometheus-stack"
CLUSTER_AUTOSCALER_RELEASE = "cluster-autoscaler"
NVIDIA_DEVICE_PLUGIN_RELEASE = "nvidia-device-plugin"
GPU_OPERATOR_RELEASE = "gpu-operator"
EXTERNAL_SECRETS_RELEASE = "external-secrets"
ADDON_RELEASES = (
    CERT_MANAGER_RELEASE, ISTIO_BASE_RELEASE, ISTIO_CNI_RELEASE, ISTIOD_RELEASE,
    INGRESS_GATEWAY_RELEASE, KNATIVE_OPERATOR_RELEASE, KSERVE_CRD_RELEASE, KSERVE_RELEASE,
    KSERVE_RUNTIMES_RELEASE, PROMETHEUS_RELEASE, CLUSTER_AUTOSCALER_RELEASE,
    NVIDIA_DEVICE_PLUGIN_RELEASE, GPU_OPERATOR_RELEASE, EXTERNAL_SECRETS_RELEASE,
)

# The ServiceAccount whose IRSA role reads a team's secrets in AWS Secrets Manager. No pod runs
# as it: the External Secrets Operator requests its tokens for the team's SecretStore.
SECRETS_SERVICE_ACCOUNT = "secrets-reader"
# The team's SecretStore, and where its secrets live in AWS Secrets Manager:
# modelplane/<stack>/<team>/<secret>, one JSON object of keys per secret.
SECRET_STORE_NAME = "aws-secrets-manager"
SECRETS_MANAGER_PATH_ROOT = "modelplane"

# Encrypted gp3 volumes from the EBS CSI driver (Prometheus' storage).
STORAGE_CLASS = "gp3-encrypted"

"""Everything a team gets once, whatever its models: namespace, limits, access and isolation."""

from __future__ import annotations

from components.catalog.deployed import StackDeployment
from components.catalog.placement import (
    ISTIO_PROXY_CPU,
    ISTIO_PROXY_MEMORY,
    SHARED_GPU_RESOURCE,
    WHOLE_GPU_RESOURCE,
    gpu_offer,
    mig_resource_name,
)
from components.catalog.loader import CatalogTeam
from components.platform_names import (
    COST_CENTER_LABEL,
    INGRESS_GATEWAY_SERVICE_ACCOUNT,
    INGRESS_NAMESPACE,
    KNATIVE_SERVING_NAMESPACE,
    MODEL_SERVICE_ACCOUNT,
    MONITORING_NAMESPACE,
    PROMETHEUS_RELEASE,
    TEAM_LABEL,
)
from components.render.objects import KubeObject, metadata
from components.render.team_iam import team_role_arn

OWNERS_ROLE = "model-owners"
# kube-prometheus-stack names Prometheus' ServiceAccount <release>-prometheus.
PROMETHEUS_PRINCIPAL = f"cluster.local/ns/{MONITORING_NAMESPACE}/sa/{PROMETHEUS_RELEASE}-prometheus"
# Namespaces whose pods may reach a team's models: the shared gateway, Knative's activator (it
# holds requests while a model scales from zero) and Prometheus (its scrapes use the ports that
# bypass the sidecar, so only the network policy sees them).
ADMITTED_NAMESPACES = (INGRESS_NAMESPACE, KNATIVE_SERVING_NAMESPACE, MONITORING_NAMESPACE)


def team_labels(team: CatalogTeam) -> dict[str, str]:
    return {TEAM_LABEL: team.name, COST_CENTER_LABEL: team.spec.cost_center}


def render_team_objects(team: CatalogTeam, deployment: StackDeployment) -> list[KubeObject]:
    """The namespace of ``team`` and the objects that fence it in."""
    return [
        render_namespace(team),
        render_resource_quota(team, deployment),
        render_limit_range(team),
        render_model_service_account(team, deployment),
        render_owners_role(team, deployment),
        render_owners_role_binding(team),
        render_network_policy(team),
        render_peer_authentication(team),
        render_authorization_policy(team),
        render_sidecar_scope(team),
    ]


def render_namespace(team: CatalogTeam) -> KubeObject:
    labels = {
        **team_labels(team),
        "istio-injection": "enabled",
        # Baseline is enforced: KServe's runtimes do not all meet "restricted" (seccomp, non-root),
        # but violations of it are reported so teams can tighten their images.
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(team.namespace, labels=labels)}


def render_resource_quota(team: CatalogTeam, deployment: StackDeployment) -> KubeObject:
    quota = team.spec.quota
    hard = {
        "requests.cpu": quota.cpu,
        "requests.memory": quota.memory,
        f"requests.{WHOLE_GPU_RESOURCE}": str(quota.gpu),
    }
    if quota.gpu_shares:
        hard[f"requests.{SHARED_GPU_RESOURCE}"] = str(quota.gpu_shares)
    # A resource missing from a quota is unlimited, so every MIG resource the stack offers is
    # listed, at zero unless the team was given some.
    offered: set[str] = set()
    for pool in deployment.stack.settings.node_pools.values():
        offered.update(gpu_offer(pool, deployment.stack.settings.mig_strategy))
    for profile, count in quota.mig.items():
        hard[f"requests.{mig_resource_name(profile)}"] = str(count)
    for resource in sorted(offered - {WHOLE_GPU_RESOURCE}):
        hard.setdefault(f"requests.{resource}", "0")
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": metadata("team-quota", team.namespace, team_labels(team)),
        "spec": {"hard": hard},
    }


def render_limit_range(team: CatalogTeam) -> KubeObject:
    # Containers that state no requests (init containers, sidecars added by webhooks) get these,
    # so the quota on requests admits them and they are still accounted for.
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": metadata("container-defaults", team.namespace, team_labels(team)),
        "spec": {"limits": [{
            "type": "Container",
            "defaultRequest": {"cpu": ISTIO_PROXY_CPU, "memory": ISTIO_PROXY_MEMORY},
            "default": {"memory": "512Mi"},
        }]},
    }


def render_model_service_account(team: CatalogTeam, deployment: StackDeployment) -> KubeObject:
    region = deployment.stack.settings.region
    annotations = {
        "eks.amazonaws.com/role-arn": team_role_arn(deployment.stack, team),
        "eks.amazonaws.com/sts-regional-endpoints": "true",
        # KServe's storage initializer reads S3 settings from the ServiceAccount
        # (pkg/credentials/s3/utils.go @v0.20.0): s3-region becomes AWS_DEFAULT_REGION, from
        # which boto3 picks the regional HTTPS endpoint. No s3-endpoint or s3-usehttps: they
        # become AWS_ENDPOINT_URL, which botocore applies to every client, including the STS
        # client of IRSA, so AssumeRoleWithWebIdentity would go to S3 (kserve/kserve#3482).
        "serving.kserve.io/s3-region": region,
        "serving.kserve.io/s3-useanoncredential": "false",
    }
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(MODEL_SERVICE_ACCOUNT, team.namespace, team_labels(team), annotations),
        # Model servers never call the Kubernetes API; the IRSA token is mounted separately.
        "automountServiceAccountToken": False,
    }


# What a team's owners may do in its namespace. They manage InferenceServices of their own (the
# catalog issue asks for it: trying a model before it goes through review); the catalog's own are
# guarded against them by the ValidatingAdmissionPolicy of components/render/catalog_guard.py,
# which covers every resource written here (RBAC cannot scope a verb by label).
OWNER_WRITE_VERBS = ("create", "delete", "patch", "update")
OWNERS_RULES: tuple[dict, ...] = (
    {
        "apiGroups": ["serving.kserve.io"],
        "resources": ["inferenceservices"],
        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
    },
    {
        # What an owner reads to see why a model does not start: its pods and logs, the
        # namespace's events, and the Knative objects KServe creates (a failed revision
        # carries the reason). Read-only: the catalog is changed by review, not by hand.
        "apiGroups": [""],
        "resources": ["events", "pods", "pods/log"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["events.k8s.io"],
        "resources": ["events"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["serving.knative.dev"],
        "resources": ["configurations", "revisions", "routes", "services"],
        "verbs": ["get", "list", "watch"],
    },
)


# Where the External Secrets Operator copies the team's secrets, owners read the ExternalSecrets'
# status (whether a key was found, when it last synced: the reason a model's Secret is missing).
# Read-only and only the ExternalSecrets: never the Secrets, the SecretStore or anything to write.
EXTERNAL_SECRETS_READ_RULE: dict = {
    "apiGroups": ["external-secrets.io"],
    "resources": ["externalsecrets"],
    "verbs": ["get", "list", "watch"],
}


def owners_rules(deployment: StackDeployment) -> list[dict]:
    """The owners' Role's rules in this stack."""
    rules = list(OWNERS_RULES)
    if deployment.stack.settings.secrets.provider == "aws-secrets-manager":
        rules.append(EXTERNAL_SECRETS_READ_RULE)
    return rules


def owner_writable_rules() -> list[dict]:
    """The rules of the owners' Role that grant a write verb (what the catalog guard must cover)."""
    return [rule for rule in OWNERS_RULES if set(rule["verbs"]) & set(OWNER_WRITE_VERBS)]


def render_owners_role(team: CatalogTeam, deployment: StackDeployment) -> KubeObject:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(OWNERS_ROLE, team.namespace, team_labels(team)),
        "rules": [dict(rule, apiGroups=list(rule["apiGroups"]), resources=list(rule["resources"]),
                       verbs=list(rule["verbs"])) for rule in owners_rules(deployment)],
    }


def render_owners_role_binding(team: CatalogTeam) -> KubeObject:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(OWNERS_ROLE, team.namespace, team_labels(team)),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": OWNERS_ROLE},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
            for group in team.spec.owners
        ],
    }


def render_network_policy(team: CatalogTeam) -> KubeObject:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata("allow-platform-ingress", team.namespace, team_labels(team)),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": list(ADMITTED_NAMESPACES),
            }]}}]}],
        },
    }


def render_peer_authentication(team: CatalogTeam) -> KubeObject:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": metadata("default", team.namespace, team_labels(team)),
        "spec": {"mtls": {"mode": "STRICT"}},
    }


def render_authorization_policy(team: CatalogTeam) -> KubeObject:
    gateway = f"cluster.local/ns/{INGRESS_NAMESPACE}/sa/{INGRESS_GATEWAY_SERVICE_ACCOUNT}"
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata("allow-platform", team.namespace, team_labels(team)),
        "spec": {
            "action": "ALLOW",
            # Mesh identities: the shared gateway, Knative's components (the activator) and
            # Prometheus. Prometheus matters here only if it runs with a sidecar: by default it
            # scrapes the ports that bypass the sidecar, which the network policy governs.
            "rules": [{"from": [
                {"source": {"principals": [gateway, PROMETHEUS_PRINCIPAL]}},
                {"source": {"namespaces": [KNATIVE_SERVING_NAMESPACE]}},
            ]}],
        },
    }


# What a model's sidecar needs to know: its own namespace, the control plane, the shared gateway
# and Knative (the activator). Without a Sidecar resource every proxy holds the configuration of
# every Service in the mesh, and each Knative revision adds several, so Envoy's memory grows with
# the whole catalog until the LimitRange's 512Mi limit kills it.
SIDECAR_EGRESS_HOSTS = ("./*", "istio-system/*", f"{INGRESS_NAMESPACE}/*", f"{KNATIVE_SERVING_NAMESPACE}/*")
# Egress hosts choose which registry services a proxy is configured for; they do not stop traffic
# to hosts outside the registry. Those (S3, STS for IRSA, a model hub for hf://) leave through the
# outbound listener's catch-all, which goes to PassthroughCluster under ALLOW_ANY and to
# BlackHoleCluster under REGISTRY_ONLY (pilot/pkg/networking/core/listener_builder.go:230-245 and
# pilot/pkg/networking/util/util.go:518-522 @1.30.3). The storage initializer is inside the mesh:
# with native sidecars the injector puts istio-proxy before every other init container "so init
# containers are part of the mesh" (pkg/kube/inject/webhook.go:805-812). ALLOW_ANY is written here
# rather than inherited from the mesh (a Sidecar without outboundTrafficPolicy takes the mesh's:
# pilot/pkg/model/sidecar.go:345-353), so a mesh-wide REGISTRY_ONLY cannot cut every model's
# download. REGISTRY_ONLY with ServiceEntries is not the secure default it looks like here: pods can
# leave the mesh (an owner's InferenceService may set sidecar.istio.io/inject: "false"), so it is
# no egress boundary, and what a pod can read is bounded by its team's IAM role instead.
SIDECAR_OUTBOUND_TRAFFIC_POLICY = "ALLOW_ANY"


def render_sidecar_scope(team: CatalogTeam) -> KubeObject:
    """The namespace-wide Sidecar (named ``default``, no selector): Istio applies it to every proxy
    in the namespace (networking/v1 Sidecar; ``namespace/host`` egress hosts, ``.`` for its own
    namespace: pilot/pkg/model/sidecar.go @1.30.3)."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Sidecar",
        "metadata": metadata("default", team.namespace, team_labels(team)),
        "spec": {
            "egress": [{"hosts": list(SIDECAR_EGRESS_HOSTS)}],
            "outboundTrafficPolicy": {"mode": SIDECAR_OUTBOUND_TRAFFIC_POLICY},
        },
    }

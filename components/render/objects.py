"""Small shared pieces of rendered Kubernetes objects: metadata, identity and a stable order."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from components.platform_names import MANAGED_BY_LABELS, MODEL_LABEL, TEAM_LABEL

COMPONENT_LABEL = "app.kubernetes.io/component"
MONITORING_COMPONENT = "monitoring"

KubeObject = dict[str, Any]

# Apply order: what others depend on comes first (namespaces before what lives in them, CRD
# instances after the plain objects). Also the order of the rendered stream.
KIND_ORDER = (
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "ResourceQuota",
    "LimitRange",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "Service",
    "NetworkPolicy",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "Gateway",
    "KnativeServing",
    "InferenceService",
    "VirtualService",
    "PodMonitor",
    "ServiceMonitor",
    "PrometheusRule",
)


def metadata(
    name: str,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Object metadata with modelplane's managed-by labels merged in."""
    result: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY_LABELS, **(labels or {})}}
    if namespace is not None:
        result["namespace"] = namespace
    if annotations:
        result["annotations"] = dict(annotations)
    return result


def object_id(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): how objects are named in output."""
    meta = obj["metadata"]
    if "namespace" in meta:
        return f"{obj['kind']}/{meta['namespace']}/{meta['name']}"
    return f"{obj['kind']}/{meta['name']}"


def owner_of(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(team, model) an object belongs to, from its labels; ``None`` for platform objects."""
    labels = obj["metadata"].get("labels", {})
    return labels.get(TEAM_LABEL), labels.get(MODEL_LABEL)


def from_catalog(obj: Mapping[str, Any]) -> bool:
    """Whether an object follows from the catalog (a team's, a model's, or the monitoring of all
    models) rather than from the platform alone; the ModelServing component registers these."""
    labels = obj["metadata"].get("labels", {})
    return TEAM_LABEL in labels or labels.get(COMPONENT_LABEL) == MONITORING_COMPONENT


def _sort_key(obj: Mapping[str, Any]) -> tuple:
    team, model = owner_of(obj)
    kind = obj["kind"]
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    meta = obj["metadata"]
    # Platform objects first, then team by team, each team's own objects before its models'.
    return (team is not None, team or "", model or "", rank, meta.get("namespace", ""), meta["name"])


def sort_objects(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Objects in a stable order; raise ``ValueError`` if two share an identity (a renderer bug)."""
    ordered = sorted(objects, key=_sort_key)
    seen: set[str] = set()
    for obj in ordered:
        identity = object_id(obj)
        if identity in seen:
            raise ValueError(f"rendered twice: {identity}")
        seen.add(identity)
    return ordered

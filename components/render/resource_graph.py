"""How rendered objects and releases depend on each other, and the names they get in Pulumi.

A custom resource needs the release that installs its CRD (and, for InferenceServices, a
running KServe and Knative); a namespaced object needs its namespace. The Pulumi components
turn these keys into ``depends_on``; the plan prints them.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from components.platform_names import (
    CERT_MANAGER_RELEASE,
    EXTERNAL_SECRETS_RELEASE,
    INGRESS_GATEWAY_RELEASE,
    ISTIO_BASE_RELEASE,
    ISTIO_CNI_RELEASE,
    ISTIOD_RELEASE,
    KNATIVE_OPERATOR_RELEASE,
    KSERVE_RELEASE,
    KSERVE_RUNTIMES_RELEASE,
    PROMETHEUS_RELEASE,
)
from components.render.addons import KNATIVE_SERVING_OBJECT, HelmRelease
from components.render.objects import KubeObject, object_id, owner_of

# API group -> what must be installed before objects of that group can be created.
GROUP_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "networking.istio.io": (ISTIO_BASE_RELEASE,),
    "security.istio.io": (ISTIO_BASE_RELEASE,),
    # Knative's activator and gateways need the mesh (sidecar injection, the gateway) at start.
    "operator.knative.dev": (KNATIVE_OPERATOR_RELEASE, ISTIOD_RELEASE, ISTIO_CNI_RELEASE, INGRESS_GATEWAY_RELEASE),
    # Models need the controller, its webhooks, the runtimes they name and Knative Serving.
    "serving.kserve.io": (KSERVE_RELEASE, KSERVE_RUNTIMES_RELEASE, KNATIVE_SERVING_OBJECT),
    "monitoring.coreos.com": (PROMETHEUS_RELEASE,),
    "cert-manager.io": (CERT_MANAGER_RELEASE,),
    "external-secrets.io": (EXTERNAL_SECRETS_RELEASE,),
}


def api_group(obj: Mapping) -> str:
    api_version = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def object_dependencies(obj: KubeObject, rendered_ids: Iterable[str]) -> tuple[str, ...]:
    """Keys (release names, object ids) ``obj`` waits for; only namespaces modelplane renders count."""
    keys = list(GROUP_REQUIREMENTS.get(api_group(obj), ()))
    namespace = obj["metadata"].get("namespace")
    if namespace and f"Namespace/{namespace}" in set(rendered_ids):
        keys.insert(0, f"Namespace/{namespace}")
    return tuple(key for key in keys if key != object_id(obj))


def release_dependencies(release: HelmRelease, rendered_ids: Iterable[str]) -> tuple[str, ...]:
    keys = list(release.depends_on)
    if f"Namespace/{release.namespace}" in set(rendered_ids):
        keys.insert(0, f"Namespace/{release.namespace}")
    return tuple(keys)


def logical_name(obj: Mapping) -> str:
    """The Pulumi resource name of an object: derived from its team and model, stable across runs.

    ``<team>/<model>/<kind>/<name>`` for a model's objects, ``<team>/<kind>/<name>`` for a team's,
    ``platform/<kind>/[<namespace>/]<name>`` for the platform's. Renaming a model therefore
    replaces its objects (unless the old name is given as an alias).
    """
    team, model = owner_of(obj)
    meta = obj["metadata"]
    kind = obj["kind"].lower()
    if team and model:
        return f"{team}/{model}/{kind}/{meta['name']}"
    if team:
        return f"{team}/{kind}/{meta['name']}"
    where = f"{meta['namespace']}/" if "namespace" in meta else ""
    return f"platform/{kind}/{where}{meta['name']}"


def creation_order(dependencies: Mapping[str, Iterable[str]], available: Iterable[str] = ()) -> list[str]:
    """Keys of ``dependencies`` ordered so each comes after what it depends on.

    Stable: among keys that are ready, the given order is kept. Dependencies on ``available`` keys
    (created elsewhere) are satisfied from the start. A missing key or a cycle is a renderer bug
    and raises ``ValueError``.
    """
    done = set(available)
    pending = {key: [d for d in deps if d not in done] for key, deps in dependencies.items()}
    unknown = sorted({d for deps in pending.values() for d in deps} - set(pending))
    if unknown:
        raise ValueError(f"dependencies on nothing rendered: {', '.join(unknown)}")
    order: list[str] = []
    while pending:
        ready = [key for key, deps in pending.items() if all(d in done for d in deps)]
        if not ready:
            raise ValueError(f"dependency cycle among: {', '.join(sorted(pending))}")
        for key in ready:
            order.append(key)
            done.add(key)
            del pending[key]
    return order

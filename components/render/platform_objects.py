"""Kubernetes objects of the platform itself that modelplane writes (the Helm charts write the rest):
add-on namespaces, mesh-wide mTLS, the shared Gateway, the KnativeServing resource and the MIG
configuration."""

from __future__ import annotations

from typing import Any

import yaml

from components import pins
from components.catalog.cold_start import DEFAULT_REQUEST_TIMEOUT_SECONDS, MAX_REQUEST_TIMEOUT_SECONDS
from components.catalog.deployed import StackDeployment
from components.catalog.platform_settings import ACME_SERVERS
from components.catalog.placement import QUEUE_PROXY_CPU, QUEUE_PROXY_MEMORY
from components.platform_names import (
    CERT_MANAGER_NAMESPACE,
    INGRESS_GATEWAY_RELEASE,
    INGRESS_GATEWAY_SELECTOR,
    INGRESS_NAMESPACE,
    ISTIO_SYSTEM_NAMESPACE,
    KNATIVE_OPERATOR_NAMESPACE,
    KNATIVE_SERVING_NAMESPACE,
    KSERVE_NAMESPACE,
    LOCAL_GATEWAY_HOST,
    MONITORING_NAMESPACE,
    NVIDIA_NAMESPACE,
    SHARED_GATEWAY_NAME,
    STORAGE_CLASS,
)
from components.render.addons import MIG_CONFIG_MAP, system_node_selector
from components.render.catalog_guard import render_catalog_guard
from components.render.cluster_shape import mig_config_name
from components.render.objects import KubeObject, metadata

_INJECTED = {"istio-injection": "enabled"}


def _pod_security(level: str) -> dict[str, str]:
    return {"pod-security.kubernetes.io/enforce": level}


# Namespaces of the add-ons, with the labels they need. Privileged ones run node agents
# (Istio CNI, node exporter, NVIDIA device plugin) that need host access.
ADDON_NAMESPACES: dict[str, dict[str, str]] = {
    ISTIO_SYSTEM_NAMESPACE: _pod_security("privileged"),
    # Sidecars in the gateway and in Knative's activator give them mesh identities, which the
    # teams' STRICT mTLS and authorization policies require.
    INGRESS_NAMESPACE: {**_INJECTED, **_pod_security("baseline")},
    KNATIVE_SERVING_NAMESPACE: {**_INJECTED, **_pod_security("baseline")},
    KNATIVE_OPERATOR_NAMESPACE: _pod_security("baseline"),
    KSERVE_NAMESPACE: _pod_security("baseline"),
    CERT_MANAGER_NAMESPACE: _pod_security("baseline"),
    MONITORING_NAMESPACE: _pod_security("privileged"),
    NVIDIA_NAMESPACE: _pod_security("privileged"),
}

# Namespaces every EKS cluster has.
PREEXISTING_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})

# Knative Serving's workloads as the operator names them (Deployments by name, Jobs by their
# generateName): serving-core, serving-hpa, net-istio and the post-install jobs of 1.23. All run on
# the system pool, like the add-ons.
KNATIVE_SERVING_WORKLOADS = (
    "activator", "autoscaler", "autoscaler-hpa", "controller", "webhook",
    "net-istio-controller", "net-istio-webhook",
    "storage-version-migration-serving-", "cleanup-serving-",
)

# Knative's default revision timeout; a model may raise its own up to the maximum (every model's
# InferenceService names its timeout, see components/catalog/cold_start.py).
REVISION_TIMEOUT_SECONDS = DEFAULT_REQUEST_TIMEOUT_SECONDS
MAX_REVISION_TIMEOUT_SECONDS = MAX_REQUEST_TIMEOUT_SECONDS


def render_platform_objects(deployment: StackDeployment) -> list[KubeObject]:
    objects = [render_addon_namespace(name, deployment) for name in sorted(ADDON_NAMESPACES)
               if name != NVIDIA_NAMESPACE or deployment.stack.settings.nvidia_provider]
    # Extra releases install into namespaces modelplane creates too (Helm does not create them).
    known = set(ADDON_NAMESPACES) | {team.namespace for team in deployment.teams} | PREEXISTING_NAMESPACES
    for namespace in sorted({r.namespace for r in deployment.stack.settings.extra_releases} - known):
        objects.append({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": metadata(namespace, labels=_pod_security("baseline"))})
    objects += [
        render_mesh_mtls(),
        render_gateway_network_policy(),
        render_shared_gateway(deployment),
        render_knative_serving(deployment),
        *render_catalog_guard(deployment),
    ]
    objects.append(render_storage_class())
    if deployment.stack.settings.mig_strategy != "none":
        objects.append(render_mig_config(deployment))
    if deployment.stack.settings.cluster_issuer:
        objects.append(render_cluster_issuer(deployment))
        objects.append(render_gateway_certificate(deployment))
    return objects


def render_storage_class() -> KubeObject:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": metadata(STORAGE_CLASS),
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true"},
        # Created in the zone of the node that first mounts it.
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Retain",
    }


def render_addon_namespace(name: str, deployment: StackDeployment) -> KubeObject:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, labels=ADDON_NAMESPACES[name])}


def render_mesh_mtls() -> KubeObject:
    """Mesh-wide STRICT mTLS: a PeerAuthentication in Istio's root namespace."""
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": metadata("default", ISTIO_SYSTEM_NAMESPACE),
        "spec": {"mtls": {"mode": "STRICT"}},
    }


# Knative's webhooks, which the API server (no mesh identity) calls on 8443, need no policy of
# modelplane's: net-istio 1.23 ships PeerAuthentications `webhook` and `net-istio-webhook` that
# make that port PERMISSIVE under the mesh-wide STRICT default (see tests/test_upstream_contracts.py).

# The shared gateway's listeners: 80/443 for the world, 8081 for Knative's local gateway, which
# any caller could use to reach any model (it forwards as the gateway's identity), so only the
# gateway itself and Knative may reach it. 15021 (health), 15020 and 15090 (metrics) stay open.
PUBLIC_GATEWAY_PORTS = (80, 443, 15020, 15021, 15090)
LOCAL_GATEWAY_PORT = 8081


def render_gateway_network_policy() -> KubeObject:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata("shared-gateway", INGRESS_NAMESPACE),
        "spec": {
            "podSelector": {"matchLabels": dict(INGRESS_GATEWAY_SELECTOR)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"ports": [{"protocol": "TCP", "port": port} for port in PUBLIC_GATEWAY_PORTS]},
                {
                    "from": [{"namespaceSelector": {"matchExpressions": [{
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": [INGRESS_NAMESPACE, KNATIVE_SERVING_NAMESPACE],
                    }]}}],
                    "ports": [{"protocol": "TCP", "port": LOCAL_GATEWAY_PORT}],
                },
            ],
        },
    }


def gateway_hosts(deployment: StackDeployment) -> list[str]:
    """Only the teams' namespaces may bind routes for the domain to the shared gateway."""
    domain = deployment.stack.settings.domain
    hosts = []
    for namespace in sorted(team.namespace for team in deployment.teams):
        hosts += [f"{namespace}/{domain}", f"{namespace}/*.{domain}"]
    return hosts


def render_shared_gateway(deployment: StackDeployment) -> KubeObject:
    hosts = gateway_hosts(deployment)
    tls = deployment.stack.settings.gateway.tls
    http: dict[str, Any] = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts}
    servers = [http]
    if tls is not None:
        http["tls"] = {"httpsRedirect": True}
        servers.append({
            "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
            "hosts": hosts,
            "tls": {"mode": "SIMPLE", "credentialName": tls.credential_name},
        })
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": metadata(SHARED_GATEWAY_NAME, INGRESS_NAMESPACE),
        "spec": {"selector": dict(INGRESS_GATEWAY_SELECTOR), "servers": servers},
    }


def render_knative_serving(deployment: StackDeployment) -> KubeObject:
    settings = deployment.stack.settings
    serving = settings.serving
    replicas = serving.high_availability_replicas or (2 if deployment.stack.is_prod else 1)
    gateway_service = f"{INGRESS_GATEWAY_RELEASE}.{INGRESS_NAMESPACE}.svc.cluster.local"
    # Every value of spec.config is a string: the operator writes them into ConfigMaps.
    config = {
        # Every Knative service is cluster-local: nothing is published on the shared gateway
        # except the reviewed routes modelplane writes (even for an InferenceService a team
        # owner creates by hand).
        "domain": {"svc.cluster.local": ""},
        # The gateway runs in istio-ingress, not istio-system: these (legacy-form) keys make the
        # operator move its local-gateway Service there too.
        "istio": {
            f"gateway.{KNATIVE_SERVING_NAMESPACE}.knative-ingress-gateway": gateway_service,
            f"local-gateway.{KNATIVE_SERVING_NAMESPACE}.knative-local-gateway": LOCAL_GATEWAY_HOST,
        },
        "deployment": {
            "progress-deadline": f"{settings.progress_deadline_seconds}s",
            # Pinned: the teams' quota checks count the queue-proxy's requests.
            "queue-sidecar-cpu-request": QUEUE_PROXY_CPU,
            "queue-sidecar-memory-request": QUEUE_PROXY_MEMORY,
            # A pod waiting for cluster-autoscaler to add a (GPU) node is not a failure: without
            # this, its PodScheduled=False reason marks the revision and the InferenceService
            # failed ("Unschedulable") until the node joins.
            "pod-is-always-schedulable": "true",
        },
        # Without these Knative drops the nodeSelector, tolerations and affinity that put GPU
        # models on GPU nodes.
        "features": {
            "kubernetes.podspec-nodeselector": "enabled",
            "kubernetes.podspec-tolerations": "enabled",
            "kubernetes.podspec-affinity": "enabled",
            # Critical models' replicas are spread over nodes and zones.
            "kubernetes.podspec-topologyspreadconstraints": "enabled",
        },
        "autoscaler": {
            "enable-scale-to-zero": "true",
            "scale-to-zero-grace-period": f"{serving.scale_to_zero_grace_period_seconds}s",
            "stable-window": f"{serving.stable_window_seconds}s",
            # Lets a revision ask for initial-scale 0 (a new revision of a scale-to-zero GPU
            # model starts no node); without it Knative's webhook refuses that annotation. The
            # cluster-wide initial-scale stays 1.
            "allow-zero-initial-scale": "true",
            **({"max-scale-up-rate": str(serving.max_scale_up_rate)} if serving.max_scale_up_rate is not None else {}),
        },
        "defaults": {
            "revision-timeout-seconds": str(REVISION_TIMEOUT_SECONDS),
            "max-revision-timeout-seconds": str(MAX_REVISION_TIMEOUT_SECONDS),
        },
        # Prometheus endpoints for the control plane (9090) and queue-proxy request metrics (9091).
        "observability": {"metrics-protocol": "prometheus", "request-metrics-protocol": "prometheus"},
    }
    return {
        "apiVersion": "operator.knative.dev/v1beta1",
        "kind": "KnativeServing",
        # pulumi-kubernetes waits for the condition, so KServe and the models start only once
        # Knative Serving is ready.
        "metadata": metadata("knative-serving", KNATIVE_SERVING_NAMESPACE,
                             annotations={"pulumi.com/waitFor": "condition=Ready"}),
        "spec": {
            "version": pins.KNATIVE_SERVING_VERSION,
            "high-availability": {"replicas": replicas},
            "ingress": {"istio": {
                "enabled": True,
                "knative-ingress-gateway": {"selector": dict(INGRESS_GATEWAY_SELECTOR)},
                "knative-local-gateway": {"selector": dict(INGRESS_GATEWAY_SELECTOR)},
            }},
            "config": config,
            # A nodeSelector, not an affinity: the operator replaces a workload's whole affinity,
            # which would drop the upstream pod anti-affinity of the control plane.
            "workloads": [
                {"name": name, "nodeSelector": system_node_selector()} for name in KNATIVE_SERVING_WORKLOADS
            ],
        },
    }


def render_mig_config(deployment: StackDeployment) -> KubeObject:
    """The mig-parted configuration: one named layout per MIG pool, selected by node label."""
    configs: dict[str, Any] = {"all-disabled": [{"devices": "all", "mig-enabled": False}]}
    for name, pool in sorted(deployment.stack.settings.node_pools.items()):
        if pool.gpu is not None and pool.gpu.mig is not None:
            configs[mig_config_name(name)] = [{
                "devices": "all",
                "mig-enabled": True,
                "mig-devices": dict(sorted(pool.gpu.mig.layout.items())),
            }]
    document = yaml.safe_dump({"version": "v1", "mig-configs": configs}, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(MIG_CONFIG_MAP, NVIDIA_NAMESPACE),
        "data": {"config.yaml": document},
    }


def gateway_dns_names(deployment: StackDeployment) -> list[str]:
    """The names clients reach the gateway at: the domain, and ``*.<domain>`` when gRPC models
    (reached at ``<model>-<team>.<domain>``) exist. The certificate and the DNS records cover them."""
    domain = deployment.stack.settings.domain
    names = [domain]
    if any(model.spec.is_grpc for model in deployment.models):
        names.append(f"*.{domain}")
    return names


def acme_account_key_secret(issuer: str) -> str:
    return f"{issuer}-account-key"


def render_cluster_issuer(deployment: StackDeployment) -> KubeObject:
    """Let's Encrypt through DNS-01 on the stack's Route 53 zone (which also issues the wildcard).

    No credentials in the issuer: cert-manager uses its ServiceAccount's IRSA role (ambient
    credentials, on by default for ClusterIssuers). ``hostedZoneID`` spares it the zone lookup
    (route53:ListHostedZonesByName), which its policy does not allow. Field names as in
    pkg/apis/acme/v1/types_issuer.go @v1.21.1 (server :45, email :39, privateKeySecretRef :92,
    dnsZones :233, hostedZoneID :660, region :686: ignored under IRSA, whose webhook sets AWS_REGION,
    and written for whoever reads the object).
    """
    settings = deployment.stack.settings
    tls, dns = settings.gateway.tls, settings.dns
    assert tls is not None and tls.cluster_issuer and dns is not None
    acme: dict[str, Any] = {
        "server": ACME_SERVERS[tls.acme_server],
        "privateKeySecretRef": {"name": acme_account_key_secret(tls.cluster_issuer)},
        "solvers": [{
            "selector": {"dnsZones": [dns.zone]},
            "dns01": {"route53": {"region": settings.region, "hostedZoneID": dns.hosted_zone_id}},
        }],
    }
    if tls.acme_email:
        acme["email"] = tls.acme_email
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": metadata(tls.cluster_issuer),
        "spec": {"acme": acme},
    }


def render_gateway_certificate(deployment: StackDeployment) -> KubeObject:
    settings = deployment.stack.settings
    tls = settings.gateway.tls
    assert tls is not None and tls.cluster_issuer
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata(tls.credential_name, INGRESS_NAMESPACE),
        "spec": {
            "secretName": tls.credential_name,
            # A wildcard needs the DNS-01 issuer above.
            "dnsNames": gateway_dns_names(deployment),
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": tls.cluster_issuer},
        },
    }

"""Stack settings of the platform itself: cluster, gateway, Knative, NVIDIA and the Helm add-ons."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from components import pins
from components.catalog.cold_start import ColdStart
from components.catalog.fields import MAX_ITEMS, MAX_PEOPLE, DnsLabel, Hostname, StrictModel, check_unique_items
from components.catalog.problems import shown_text

# EKS access entries take IAM roles and users (not STS session ARNs).
_IAM_PRINCIPAL = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]+$")
_AZ = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$")
_CHART_REPOSITORY = re.compile(r"^(https://\S+|oci://\S+)$")

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"{shown_text(value, 80)} is not a CIDR block; write one like 10.0.0.0/16") from None
    return value


def check_principal(value: str) -> str:
    if not _IAM_PRINCIPAL.match(value):
        raise ValueError(
            f"{shown_text(value, 80)} is not an IAM role or user ARN; write arn:aws:iam::<account>:role/<name>"
        )
    return value


def check_availability_zone(value: str) -> str:
    if not _AZ.match(value):
        raise ValueError(f"{shown_text(value, 80)} is not an availability zone; write one like us-west-2a")
    return value


Cidr = Annotated[str, AfterValidator(check_cidr)]
PrincipalArn = Annotated[str, AfterValidator(check_principal)]
AvailabilityZone = Annotated[str, AfterValidator(check_availability_zone)]


class EndpointSettings(StrictModel):
    """Who can reach the Kubernetes API. The private endpoint is always on."""

    public_access: bool = Field(
        default=False, description="Also expose the API endpoint publicly (to public_access_cidrs)."
    )
    public_access_cidrs: list[Cidr] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="CIDRs allowed to reach the public endpoint (your office, VPN or CI egress).",
    )

    @model_validator(mode="after")
    def _cidrs_named(self) -> "EndpointSettings":
        if self.public_access and not self.public_access_cidrs:
            raise ValueError(
                "public_access needs public_access_cidrs: list the networks allowed to reach the "
                "API (0.0.0.0/0 would allow everyone), or set public_access: false"
            )
        if not self.public_access and self.public_access_cidrs:
            raise ValueError("public_access_cidrs has no effect with public_access: false; remove it")
        return self


class ClusterSettings(StrictModel):
    kubernetes_version: Literal[pins.SUPPORTED_KUBERNETES_VERSIONS] = Field(  # type: ignore[valid-type]
        default=pins.KUBERNETES_VERSION, description="EKS Kubernetes version."
    )
    endpoint: EndpointSettings = Field(default_factory=EndpointSettings)
    admin_role_arns: list[PrincipalArn] = Field(
        default_factory=list, max_length=MAX_PEOPLE, description="IAM principals given cluster-admin through EKS access entries."
    )
    log_types: list[Literal[CONTROL_PLANE_LOG_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(CONTROL_PLANE_LOG_TYPES),
        description="Control plane logs sent to CloudWatch.",
    )
    vpc_cidr: Cidr = "10.0.0.0/16"
    availability_zones: Annotated[list[AvailabilityZone], AfterValidator(check_unique_items)] | None = Field(
        default=None, min_length=2, description="Zones of the subnets; default <region>a, b and c."
    )
    nat_gateways: Literal["single", "per_az"] = Field(
        default="single", description="One NAT gateway (cheaper) or one per zone (survives a zone outage)."
    )

    @model_validator(mode="after")
    def _vpc_fits(self) -> "ClusterSettings":
        network = ipaddress.ip_network(self.vpc_cidr)
        if network.prefixlen > 20:
            raise ValueError(
                f"vpc_cidr {self.vpc_cidr} is too small for pod IPs across zones; use a /20 or larger"
            )
        return self


# Route 53 hosted zone ids: up to 32 upper-case letters and digits (Route 53 API ResourceId),
# such as Z1D633PJN98FT9.
_HOSTED_ZONE_ID = re.compile(r"[0-9A-Z]{1,32}")
# An e-mail address as ACME servers accept it: one @, a dotted domain, no spaces.
_EMAIL = re.compile(r"[^@\s]{1,64}@([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}")


def check_hosted_zone_id(value: str) -> str:
    if not _HOSTED_ZONE_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Route 53 hosted zone id; write the id alone, like "
            "Z0123456789ABCDEFGHIJ (without /hostedzone/)"
        )
    return value


def check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address; write one like platform-team@example.com")
    return value

# Let's Encrypt's ACME directories (https://letsencrypt.org/docs/staging-environment/).
ACME_SERVERS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


class TlsSettings(StrictModel):
    credential_name: DnsLabel = Field(
        description="Secret in istio-ingress holding the gateway's certificate (tls.crt, tls.key)."
    )
    cluster_issuer: DnsLabel | None = Field(
        default=None,
        description="cert-manager ClusterIssuer that keeps the secret issued; modelplane creates "
        "it (ACME DNS-01 through Route 53), so the stack needs modelplane:dns.",
    )
    acme_server: Literal[tuple(ACME_SERVERS)] = Field(  # type: ignore[valid-type]
        default="letsencrypt",
        description="Let's Encrypt production, or letsencrypt-staging (untrusted certificates, "
        "higher rate limits) while trying a stack out.",
    )
    acme_email: Annotated[str, AfterValidator(check_email)] | None = Field(
        default=None, description="Contact address of the ACME account (optional)."
    )

    @model_validator(mode="after")
    def _acme_needs_issuer(self) -> "TlsSettings":
        unused = sorted({"acme_server", "acme_email"} & self.model_fields_set)
        if unused and self.cluster_issuer is None:
            raise ValueError(
                f"{', '.join(unused)} configure the ClusterIssuer modelplane creates; set "
                "cluster_issuer too, or remove them (the secret is then yours to keep issued)"
            )
        return self


class DnsSettings(StrictModel):
    """The Route 53 public hosted zone that holds the stack's domain."""

    hosted_zone_id: Annotated[str, AfterValidator(check_hosted_zone_id)] = Field(
        description="Id of the hosted zone (Z...), as the Route 53 console shows it."
    )
    zone: Hostname = Field(description="The zone's domain: the stack's domain or a parent of it.")
    manage_records: bool = Field(
        default=True,
        description="Point the domain (and *.<domain> for gRPC models) at the gateway's load "
        "balancer with alias records; false when the records are kept elsewhere.",
    )


class GatewaySettings(StrictModel):
    tls: TlsSettings | None = Field(default=None, description="HTTPS on 443 (HTTP redirects there).")
    load_balancer_scheme: Literal["internet-facing", "internal"] = "internet-facing"
    source_ranges: list[Cidr] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="CIDRs allowed through the load balancer; all when empty."
    )


class ColdStartSettings(StrictModel):
    """The stack's cold-start defaults, over modelplane's, for models whose files leave a field out."""

    gpu: ColdStart = Field(default_factory=ColdStart, description="Models with a GPU or a MIG slice.")
    cpu: ColdStart = Field(default_factory=ColdStart, description="Models without a GPU.")


# A critical model's floor in prod stacks: one replica is no availability, since a node drain, a
# spot interruption or a zone outage takes it down.
PROD_CRITICAL_MIN_REPLICAS = 2
MAX_CRITICAL_MIN_REPLICAS = 20


class AvailabilitySettings(StrictModel):
    """How the stack keeps its critical models (``critical: true``) serving."""

    critical_min_replicas: int | None = Field(
        default=None, ge=0, le=MAX_CRITICAL_MIN_REPLICAS,
        description="Replicas every critical model keeps at least in this stack; from 2 on, each "
        "gets a PodDisruptionBudget and its replicas are spread over nodes and zones. Default: 2 "
        "in prod stacks, 0 (no floor) elsewhere.",
    )


class ServingSettings(StrictModel):
    """Knative Serving settings that matter for GPU models."""

    # Knative refuses a grace period under 6 seconds.
    scale_to_zero_grace_period_seconds: int = Field(default=30, ge=6, le=3600)
    stable_window_seconds: int = Field(default=60, ge=6, le=3600)
    # Knative reads it from config-autoscaler only, for every revision (knative/serving @
    # knative-v1.23.0 pkg/autoscaler/config/config.go:80, above 1.0 at :151-152; the KPA's
    # decider takes it from there, kpa/resources/decider.go:77): no per-model annotation exists.
    max_scale_up_rate: float | None = Field(
        default=None, gt=1, le=1000,
        description="Most a model's replicas may grow in one autoscaler step, as a multiple of "
        "the ready ones (Knative's max-scale-up-rate, for every model of the stack); Knative's "
        "1000 when left out.",
    )
    progress_deadline_seconds: int | None = Field(
        default=None,
        ge=60,
        le=7200,
        description="How long a new revision may take to become ready; default 600, or 1800 in "
        "stacks with GPU pools (a GPU node scaling up from zero plus a model load exceeds 600).",
    )
    high_availability_replicas: int | None = Field(
        default=None, ge=1, le=5, description="Replicas of Knative's control plane; 2 in prod, 1 otherwise."
    )
    cpu_limit_ratio: float = Field(
        default=1.25,
        ge=1,
        le=10,
        description="CPU limit of a model server as a multiple of its request, for models whose "
        "files set no resources.cpu_limit (KServe's runtimes would otherwise cap every model at 1 CPU).",
    )
    cold_start: ColdStartSettings = Field(
        default_factory=ColdStartSettings,
        description="Cold-start defaults of GPU and CPU models (see models/README.md, Cold starts).",
    )
    availability: AvailabilitySettings = Field(
        default_factory=AvailabilitySettings,
        description="Replicas, disruption budgets and spread of critical models.",
    )


class SecretsSettings(StrictModel):
    """Where the Kubernetes Secrets that models read (their ``secrets``) come from."""

    provider: Literal["kubernetes", "aws-secrets-manager"] = Field(
        default="kubernetes",
        description="kubernetes: the Secrets are created in the team namespaces by other means; "
        "aws-secrets-manager: the External Secrets Operator copies them from AWS Secrets Manager "
        "(modelplane/<stack>/<team>/<secret>), each team through a role that reads its own path only.",
    )
    refresh_interval_seconds: int = Field(
        default=3600, ge=60, le=86400,
        description="How often a Secret is read again from AWS Secrets Manager (a rotated value "
        "reaches new pods after this).",
    )


class NvidiaSettings(StrictModel):
    provider: Literal["device-plugin", "gpu-operator"] | None = Field(
        default=None,
        description="device-plugin for whole GPUs; gpu-operator (needed for MIG, which only its "
        "mig-manager can partition). Default: gpu-operator when a pool uses MIG.",
    )


class AddonSettings(StrictModel):
    """Stack overrides of one add-on: Helm values deep-merged over modelplane's defaults."""

    values: dict[str, Any] = Field(default_factory=dict)


class ExtraRelease(StrictModel):
    """A Helm release modelplane does not know, added by the stack without code changes."""

    name: DnsLabel
    namespace: DnsLabel
    chart: str = Field(min_length=1)
    repository: Annotated[str, Field(pattern=_CHART_REPOSITORY.pattern)] | None = None
    version: str = Field(min_length=1)
    values: dict[str, Any] = Field(default_factory=dict)


class SloDefaults(StrictModel):
    p95_latency_ms: int = Field(default=1000, ge=1, le=600_000)
    error_rate: float = Field(default=0.05, gt=0, lt=1)
    availability: float = Field(default=0.99, gt=0, lt=1)


class MonitoringSettings(StrictModel):
    slo_defaults: SloDefaults = Field(
        default_factory=SloDefaults, description="SLOs of models whose files set none."
    )
    runbook_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = Field(
        default="https://github.com/modelplane/modelplane/blob/main/docs/runbooks.md",
        description="Page of runbooks; each alert links to its section.",
    )
    gpu_saturation_ratio: float = Field(
        default=0.9, gt=0, le=1,
        description="Alert when a GPU pool's requests reach this share of what its max size offers.",
    )
    prometheus_storage_gib: int = Field(
        default=50, ge=10, le=16384,
        description="Prometheus' persistent volume: it must hold 35 days for the 30-day SLOs.",
    )


# USD per hour: the dearest instance type in the bundled table costs about 63; a price past this
# is a typo, and a bound keeps every cost computed from it exact (1e30 overflowed the cents).
MAX_PRICE_PER_HOUR = 1000


class CostSettings(StrictModel):
    default_active_hours_per_day: float = Field(
        default=4, ge=0, le=24,
        description="Hours a day a scale-to-zero model serves, unless its file says otherwise.",
    )
    spot_price_ratio: float = Field(
        default=0.4, gt=0, le=1, description="Spot price as a share of on-demand, for spot pools."
    )
    prices: dict[str, Annotated[float, Field(gt=0, le=MAX_PRICE_PER_HOUR)]] = Field(
        default_factory=dict,
        description="On-demand USD per hour by instance type, over the bundled price table.",
    )
    scale_to_zero_overlap: Literal["independent", "apart"] = Field(
        default="independent",
        description="How scale-to-zero models' active hours overlap: independent (each active "
        "at uniformly random hours, independently of the others, so woken nodes are shared when "
        "models happen to be active together) or apart (never together: each wakes nodes alone, "
        "the most node-hours).",
    )
    wakes_per_day: float = Field(
        default=1, ge=0, le=1440,
        description="How often a day a scale-to-zero model starts from zero (each start "
        "downloads its artifacts).",
    )
    default_model_size_gib: float = Field(
        default=5, gt=0, le=10000,
        description="Size of a model's artifacts unless its file says otherwise (usage.model_size_gib).",
    )

"""Stack settings: the ``modelplane:`` keys of ``stacks/Pulumi.<stack>.yaml``.

The same model validates the file when the CLI reads it offline and the configuration the Pulumi
engine hands to ``infra/__main__.py``, so both see exactly the same settings.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.catalog.fields import MAX_ITEMS, DnsLabel, Hostname, LabelKey, LabelValue, S3Bucket, StrictModel, check_unique_items
from components.catalog.hardware import GPU_MODELS, INSTANCE_TYPES, mig_layout_problem
from components.catalog.platform_settings import (
    AddonSettings,
    ClusterSettings,
    CostSettings,
    DnsSettings,
    ExtraRelease,
    GatewaySettings,
    MonitoringSettings,
    PROD_CRITICAL_MIN_REPLICAS,
    NvidiaSettings,
    PrincipalArn,
    SecretsSettings,
    ServingSettings,
)
from components.catalog.model_spec import RoutePrefix
from components.catalog.problems import shown_text
from components.catalog.team_spec import MigProfileName
from components.platform_names import ADDON_RELEASES

# Knative's default progress deadline; a GPU node scaling up from zero (minutes) plus pulling a
# model server image and loading the model exceeds it, and the revision would fail and never
# become ready (kserve#1247, knative#14939): stacks with GPU pools get 1800 s.
PROGRESS_DEADLINE_SECONDS = 600
GPU_PROGRESS_DEADLINE_SECONDS = 1800

# The pool that runs the platform's own add-ons; every stack has one.
SYSTEM_POOL = "system"
# Node label prefixes of modelplane, NVIDIA's agents, EKS and Kubernetes: pools may not set them.
RESERVED_LABEL_PREFIXES = ("modelplane.dev/", "nvidia.com/", "k8s.amazonaws.com/", "eks.amazonaws.com/",
                           "kubernetes.io/", "k8s.io/", "node.kubernetes.io/")

_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")


def check_account_id(value: str) -> str:
    if not _ACCOUNT_ID.match(value):
        raise ValueError(f"{shown_text(value, 80)} is not an AWS account id; write its 12 digits in quotes")
    return value


def check_region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{shown_text(value, 80)} is not an AWS region; write one like us-west-2")
    return value


def check_instance_type(value: str) -> str:
    if value not in INSTANCE_TYPES:
        raise ValueError(
            f"{shown_text(value, 80)} is not an instance type modelplane knows (it needs its CPUs, memory and "
            f"GPUs); known: {', '.join(INSTANCE_TYPES)}"
        )
    return value


InstanceTypeName = Annotated[str, AfterValidator(check_instance_type)]

AmiType = Literal[
    "AL2023_x86_64_STANDARD",
    "AL2023_x86_64_NVIDIA",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_x86_64_NVIDIA",
]
MigStrategy = Literal["single", "mixed"]


class MigSettings(StrictModel):
    """How every GPU of the pool is cut into MIG slices."""

    strategy: MigStrategy = Field(
        description="single: slices appear as nvidia.com/gpu, one profile per pool; "
        "mixed: slices appear as nvidia.com/mig-<profile>."
    )
    layout: dict[MigProfileName, Annotated[int, Field(ge=1)]] = Field(
        min_length=1, description="Slices per GPU by profile, e.g. {1g.10gb: 7}."
    )


# How many pods may share one GPU by time-slicing: the device plugin asks for at least 2
# (NVIDIA/k8s-device-plugin api/config/v1/replicas.go:251-252 @ v0.20.0); more than 16 pods
# taking turns on one GPU is a typo, not a plan.
MAX_TIME_SLICES = 16


class TimeSlicing(StrictModel):
    replicas: int = Field(
        ge=2, le=MAX_TIME_SLICES,
        description="Pods that may share each GPU, taking turns (no memory or fault isolation).",
    )


class GpuSharing(StrictModel):
    """GPUs shared between pods without MIG."""

    time_slicing: TimeSlicing = Field(
        description="The NVIDIA device plugin offers each GPU replicas times, as nvidia.com/gpu.shared."
    )


class GpuPoolSettings(StrictModel):
    model: Literal[tuple(GPU_MODELS)] = Field(  # type: ignore[valid-type]
        description="GPU model of the pool's instance types."
    )
    per_node: int = Field(ge=1, description="GPUs per node.")
    mig: MigSettings | None = Field(default=None, description="MIG partitioning; none when absent.")
    sharing: GpuSharing | None = Field(
        default=None, description="Time-slicing of whole GPUs (not with MIG); none when absent."
    )


# cluster-autoscaler's own defaults (kubernetes/autoscaler cluster-autoscaler/config/const.go:46-52
# @ cluster-autoscaler-1.35.1): a node unneeded for 10 minutes, or unready for 20, is removed.
MAX_SCALE_DOWN_SECONDS = 24 * 3600
# GPU pools: a GPU node takes minutes to join (driver, NVIDIA agents) and a model minutes to load
# on it, and GPU models at zero keep their last replica 15 minutes: an emptied GPU node waits 30
# minutes before it goes, so a model used twice an hour does not pay for a new node each time.
GPU_SCALE_DOWN_UNNEEDED_SECONDS = 1800


class NodeScaleDown(StrictModel):
    """When cluster-autoscaler removes the pool's nodes; fields left out keep its defaults (or
    the pool kind's: GPU pools wait 30 minutes)."""

    unneeded_seconds: int | None = Field(
        default=None, ge=60, le=MAX_SCALE_DOWN_SECONDS,
        description="How long a node must be unneeded before it is removed; 1800 for GPU pools, "
        "cluster-autoscaler's 600 otherwise.",
    )
    unready_seconds: int | None = Field(
        default=None, ge=60, le=MAX_SCALE_DOWN_SECONDS,
        description="How long an unready node must stay unready before it is removed; "
        "cluster-autoscaler's 1200 when left out.",
    )
    utilization_threshold: float | None = Field(
        default=None, gt=0, le=1,
        description="A node whose requests (GPUs on a GPU node) are at or below this share of "
        "what it offers is a candidate for removal; cluster-autoscaler's 0.5 when left out.",
    )


class NodePool(StrictModel):
    # EKS takes at most 20 instance types per managed node group (CreateNodegroup instanceTypes).
    instance_types: list[InstanceTypeName] = Field(min_length=1, max_length=20)
    capacity_type: Literal["on_demand", "spot"] = "on_demand"
    min_size: int = Field(ge=0, le=1000)
    max_size: int = Field(ge=1, le=1000)
    desired_size: int | None = Field(default=None, ge=0, le=1000)
    disk_size_gib: int = Field(default=100, ge=20, le=16384)
    ami_type: AmiType | None = Field(
        default=None,
        description="EKS AMI type; AL2023_x86_64_NVIDIA for GPU pools, AL2023_x86_64_STANDARD "
        "otherwise.",
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, max_length=MAX_ITEMS, description="Extra node labels (not under modelplane's or NVIDIA's prefixes)."
    )
    gpu: GpuPoolSettings | None = None
    scale_down: NodeScaleDown = Field(
        default_factory=NodeScaleDown, description="When cluster-autoscaler removes the pool's nodes."
    )

    @field_validator("labels")
    @classmethod
    def _own_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in labels if key.startswith(RESERVED_LABEL_PREFIXES))
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)} would override a label modelplane or a node agent sets "
                f"(reserved prefixes: {', '.join(RESERVED_LABEL_PREFIXES)}); use your own prefix"
            )
        return labels

    @model_validator(mode="after")
    def _consistent(self) -> "NodePool":
        desired = self.desired_size if self.desired_size is not None else self.min_size
        if not self.min_size <= desired <= self.max_size:
            raise ValueError(
                f"sizes must satisfy min_size <= desired_size <= max_size, got "
                f"{self.min_size} <= {desired} <= {self.max_size}"
            )
        instances = [INSTANCE_TYPES[name] for name in self.instance_types]
        gpu_instances = sorted(i.name for i in instances if i.gpu_model)
        if self.gpu is None:
            if gpu_instances:
                raise ValueError(
                    f"{', '.join(gpu_instances)} have GPUs but the pool has no gpu settings; "
                    "add gpu: {model, per_node} or use CPU instance types"
                )
            if self.ami_type and "NVIDIA" in self.ami_type:
                raise ValueError(f"ami_type {self.ami_type} is for GPU pools; this pool has no gpu")
            return self
        for instance in instances:
            if instance.gpu_model != self.gpu.model or instance.gpu_count != self.gpu.per_node:
                offers = (
                    f"{instance.gpu_count} x {instance.gpu_model}" if instance.gpu_model else "no GPU"
                )
                raise ValueError(
                    f"{instance.name} has {offers}, but gpu says {self.gpu.per_node} x "
                    f"{self.gpu.model}; every instance type of a pool must match its gpu settings"
                )
        if self.ami_type and "NVIDIA" not in self.ami_type:
            raise ValueError(f"ami_type {self.ami_type} has no NVIDIA driver; use AL2023_x86_64_NVIDIA")
        if self.gpu.sharing is not None:
            if self.gpu.mig is not None:
                raise ValueError(
                    "gpu.sharing and gpu.mig cannot both be set: a pool's GPUs are either cut "
                    "into MIG slices or shared by time-slicing; remove one"
                )
            if self.ami_type and self.ami_type.startswith("BOTTLEROCKET"):
                raise ValueError(
                    "Bottlerocket runs its own NVIDIA device plugin, which modelplane's "
                    "time-slicing configuration does not reach; use ami_type AL2023_x86_64_NVIDIA "
                    "or remove gpu.sharing"
                )
        mig = self.gpu.mig
        if mig is not None:
            model = GPU_MODELS[self.gpu.model]
            if not model.supports_mig:
                raise ValueError(f"{model.name} GPUs do not support MIG; remove gpu.mig")
            if self.ami_type and self.ami_type.startswith("BOTTLEROCKET"):
                raise ValueError(
                    "MIG layouts are applied by NVIDIA's mig-manager, which needs "
                    "ami_type AL2023_x86_64_NVIDIA"
                )
            if mig.strategy == "single" and len(mig.layout) != 1:
                raise ValueError(
                    "MIG strategy single cuts every GPU the same way; use one profile in the "
                    "layout or strategy mixed"
                )
            problem = mig_layout_problem(model, mig.layout)
            if problem:
                raise ValueError(f"gpu.mig.layout: {problem}")
        return self

    @property
    def effective_ami_type(self) -> str:
        if self.ami_type:
            return self.ami_type
        return "AL2023_x86_64_NVIDIA" if self.gpu else "AL2023_x86_64_STANDARD"

    @property
    def scale_down_unneeded_seconds(self) -> int | None:
        """The pool's unneeded time; ``None`` keeps cluster-autoscaler's default."""
        if self.scale_down.unneeded_seconds is not None:
            return self.scale_down.unneeded_seconds
        return GPU_SCALE_DOWN_UNNEEDED_SECONDS if self.gpu is not None else None

    @property
    def time_slices(self) -> int:
        """Pods that may share one GPU of the pool (1 without time-slicing)."""
        if self.gpu is None or self.gpu.sharing is None:
            return 1
        return self.gpu.sharing.time_slicing.replicas

    def mig_slices_per_node(self) -> dict[str, int]:
        """MIG profile -> slices one node offers (empty when MIG is off)."""
        if self.gpu is None or self.gpu.mig is None:
            return {}
        return {name: count * self.gpu.per_node for name, count in self.gpu.mig.layout.items()}


class StackSettings(StrictModel):
    """Everything a stack file configures for modelplane."""

    environment: Literal["dev", "staging", "prod"] = Field(
        description="What the stack is for; prod keeps critical models at two replicas by default."
    )
    region: Annotated[str, AfterValidator(check_region)] = Field(
        description="AWS region (the aws:region key)."
    )
    aws_account_id: Annotated[str, AfterValidator(check_account_id)] = Field(
        description="AWS account the stack deploys into; IAM role ARNs are derived from it."
    )
    deployer_role_arns: Annotated[list[PrincipalArn], AfterValidator(check_unique_items)] = Field(
        min_length=1,
        description="The IAM roles (or users) that run `pulumi up` for this stack, e.g. CI's deploy "
        "role; only they may create, change or delete the catalog's InferenceServices (the catalog "
        "guard), so list every identity that deploys, or its applies are refused.",
    )
    domain: Hostname = Field(description="Host name of the shared inference gateway.")
    model_buckets: Annotated[list[S3Bucket], AfterValidator(check_unique_items)] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="The S3 buckets teams may keep model artifacts in; a team's prefixes and "
        "its models' s3:// URIs must lie in one of them, so a catalog change can not grant "
        "a team's role access to any other bucket.",
    )
    route_grants: dict[
        DnsLabel, Annotated[list[RoutePrefix], AfterValidator(check_unique_items), Field(max_length=MAX_ITEMS)]
    ] = Field(
        default_factory=dict, max_length=MAX_ITEMS,
        description="Gateway path prefixes a team may route under besides its own /<team>/, by "
        "team name (such as fraud: [/payments/]); the platform grants them here, since a model "
        "file could otherwise take another team's paths.",
    )
    cluster_name: DnsLabel | None = Field(
        default=None, description="EKS cluster name; default modelplane-<stack>."
    )
    node_pools: dict[DnsLabel, NodePool] = Field(
        max_length=MAX_ITEMS, description="Node pools by name; 'system' runs the add-ons."
    )
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    dns: DnsSettings | None = Field(
        default=None, description="Route 53 zone of the domain: certificates (DNS-01) and gateway records."
    )
    serving: ServingSettings = Field(default_factory=ServingSettings)
    nvidia: NvidiaSettings = Field(default_factory=NvidiaSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    addons: dict[str, AddonSettings] = Field(
        default_factory=dict, description="Helm values per add-on, merged over the defaults."
    )
    extra_releases: list[ExtraRelease] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="Further Helm releases installed after the add-ons."
    )

    @field_validator("node_pools")
    @classmethod
    def _pools(cls, node_pools: dict[str, NodePool]) -> dict[str, NodePool]:
        system = node_pools.get(SYSTEM_POOL)
        if system is None or system.gpu is not None or system.min_size < 1:
            raise ValueError(
                f"needs a '{SYSTEM_POOL}' pool of CPU instances with min_size >= 1 to run the "
                "platform's add-ons"
            )
        strategies = {
            name: pool.gpu.mig.strategy
            for name, pool in node_pools.items()
            if pool.gpu is not None and pool.gpu.mig is not None
        }
        if len(set(strategies.values())) > 1:
            listed = ", ".join(f"{name}: {strategy}" for name, strategy in sorted(strategies.items()))
            raise ValueError(
                f"MIG pools use different strategies ({listed}); the NVIDIA device plugin reads "
                "one strategy per cluster, so use the same one in every pool"
            )
        return node_pools

    @field_validator("addons")
    @classmethod
    def _known_addons(cls, addons: dict[str, AddonSettings]) -> dict[str, AddonSettings]:
        unknown = sorted(set(addons) - set(ADDON_RELEASES))
        if unknown:
            raise ValueError(
                f"no add-on named {', '.join(unknown)}; add-ons: {', '.join(ADDON_RELEASES)} "
                "(use extra_releases for other charts)"
            )
        return addons

    @field_validator("extra_releases")
    @classmethod
    def _extra_release_names(cls, releases: list[ExtraRelease]) -> list[ExtraRelease]:
        names = [release.name for release in releases]
        clashes = sorted({name for name in names if name in ADDON_RELEASES or names.count(name) > 1})
        if clashes:
            raise ValueError(
                f"release name {', '.join(clashes)} is taken (by an add-on or another extra "
                "release); choose another name"
            )
        return releases

    @model_validator(mode="after")
    def _zones_in_region(self) -> "StackSettings":
        foreign = [zone for zone in self.cluster.availability_zones or [] if not zone.startswith(self.region)]
        if foreign:
            raise ValueError(
                f"cluster.availability_zones {', '.join(foreign)} are not in region {self.region}; "
                f"name zones of {self.region}"
            )
        return self

    @model_validator(mode="after")
    def _priced_instance_types(self) -> "StackSettings":
        unknown = sorted(set(self.cost.prices) - set(INSTANCE_TYPES))
        if unknown:
            raise ValueError(
                f"cost.prices names {', '.join(unknown)}, which modelplane does not know; use "
                "instance types of the node pools"
            )
        return self

    @model_validator(mode="after")
    def _nvidia_can_partition(self) -> "StackSettings":
        if self.nvidia.provider == "device-plugin" and self.mig_strategy != "none":
            raise ValueError(
                "nvidia.provider device-plugin cannot partition GPUs into MIG slices; set "
                "modelplane:nvidia.provider to gpu-operator (or leave it out) for the MIG pools"
            )
        return self

    @model_validator(mode="after")
    def _time_slicing_has_its_device_plugin(self) -> "StackSettings":
        shared = sorted(name for name, pool in self.node_pools.items() if pool.gpu is not None and pool.gpu.sharing)
        if shared and self.nvidia_provider == "gpu-operator":
            fields = ", ".join(f"modelplane:node_pools.{name}.gpu.sharing" for name in shared)
            raise ValueError(
                f"{fields}: the pool shares GPUs by time-slicing, which modelplane configures in "
                "the NVIDIA device plugin, and this stack runs the GPU operator instead (for its "
                "MIG pools, or modelplane:nvidia.provider); keep time-sliced pools in stacks "
                "without MIG, or remove gpu.sharing"
            )
        return self

    @property
    def cluster_issuer(self) -> str | None:
        """The ClusterIssuer modelplane creates (a valid stack with one has ``dns``), or ``None``."""
        tls = self.gateway.tls
        return tls.cluster_issuer if tls is not None else None

    @property
    def nvidia_provider(self) -> str | None:
        """Which NVIDIA add-on the stack installs; ``None`` when it has no GPU pool."""
        if not any(pool.gpu for pool in self.node_pools.values()):
            return None
        if self.nvidia.provider:
            return self.nvidia.provider
        return "gpu-operator" if self.mig_strategy != "none" else "device-plugin"

    @property
    def critical_min_replicas(self) -> int:
        """Replicas a critical model keeps at least in this stack (0: no floor)."""
        explicit = self.serving.availability.critical_min_replicas
        if explicit is not None:
            return explicit
        return PROD_CRITICAL_MIN_REPLICAS if self.environment == "prod" else 0

    @property
    def has_gpu_pools(self) -> bool:
        return any(pool.gpu for pool in self.node_pools.values())

    @property
    def progress_deadline_seconds(self) -> int:
        """Knative's progress deadline in this stack: how long a new revision, and a revision
        coming back from zero, may take to start."""
        if self.serving.progress_deadline_seconds is not None:
            return self.serving.progress_deadline_seconds
        return GPU_PROGRESS_DEADLINE_SECONDS if self.has_gpu_pools else PROGRESS_DEADLINE_SECONDS

    @property
    def availability_zones(self) -> list[str]:
        return self.cluster.availability_zones or [f"{self.region}{zone}" for zone in "abc"]

    @property
    def mig_strategy(self) -> str:
        """The cluster's MIG strategy: ``none`` when no pool uses MIG."""
        for pool in self.node_pools.values():
            if pool.gpu is not None and pool.gpu.mig is not None:
                return pool.gpu.mig.strategy
        return "none"

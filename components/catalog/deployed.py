"""The catalog resolved for one stack: the types the renderer and the reviews read."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from components.catalog.cold_start import ColdStartPolicy
from components.catalog.loader import CatalogModel, CatalogTeam
from components.catalog.model_spec import ModelSpec
from components.catalog.placement import GpuClaim
from components.catalog.scaling_behavior import BehaviorPolicy
from components.catalog.problems import Problem
from components.catalog.stacks import Stack


@dataclass(frozen=True)
class ModelSlo:
    """A model's objectives in one stack: its own, or the stack's defaults."""

    p95_latency_ms: int
    error_rate: float
    availability: float


def revisions_of(spec: ModelSpec) -> int:
    """Revisions of a model that run at once: two while a canary runs beside the stable one."""
    return 2 if spec.canary is not None else 1


@dataclass(frozen=True)
class DeployedModel:
    """One model as it runs in one stack."""

    team: CatalogTeam
    model: CatalogModel
    min_replicas: int
    max_replicas: int
    metric: str
    target: int | None
    cpu: str
    # Always set: KServe's runtimes limit CPU to 1 unless the model container says otherwise.
    cpu_limit: str
    memory: str
    gpu: GpuClaim | None
    # The node pools a replica may be scheduled on (one for GPU models and pinned models).
    node_pools: tuple[str, ...]
    route_path: str | None
    host: str
    slo: ModelSlo
    cold_start: ColdStartPolicy
    # Seconds a request may take, a cold start included: the revision's, and the route's.
    timeout_seconds: int
    # The autoscaler's windows and panic mode (``None`` fields: Knative's cluster settings).
    behavior: BehaviorPolicy = BehaviorPolicy()

    @property
    def spec(self) -> ModelSpec:
        return self.model.spec

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def namespace(self) -> str:
        return self.team.namespace

    @property
    def scales_to_zero(self) -> bool:
        return self.min_replicas == 0

    @property
    def highly_available(self) -> bool:
        """A critical model kept at two replicas or more: it gets a disruption budget, and its
        replicas are spread over nodes and zones."""
        return self.spec.critical and self.min_replicas >= 2

    @property
    def revisions_at_floor(self) -> int:
        """Revisions that keep ``min_replicas`` each: two while a canary runs beside the stable one."""
        return revisions_of(self.spec)


@dataclass(frozen=True)
class StackDeployment:
    """The whole catalog resolved for one stack."""

    stack: Stack
    teams: tuple[CatalogTeam, ...]
    models: tuple[DeployedModel, ...]
    # What is allowed but likely unintended (GPU pools too small for every max replica).
    warnings: tuple[Problem, ...] = ()

    def models_of(self, team: CatalogTeam) -> tuple[DeployedModel, ...]:
        return self._models_by_team.get(team.name, ())

    @cached_property
    def _models_by_team(self) -> dict[str, tuple[DeployedModel, ...]]:
        # Built once: asked per team (cost, rules), a scan each time was quadratic in the catalog.
        by_team: dict[str, list[DeployedModel]] = {}
        for model in self.models:
            by_team.setdefault(model.team.name, []).append(model)
        return {name: tuple(models) for name, models in by_team.items()}

"""Everything one stack consists of, rendered offline: AWS shape, Helm releases, Kubernetes objects.

``render_stack`` is the single entry point the CLI and the Pulumi program share, so what the
offline plan shows is exactly what ``pulumi up`` creates.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.catalog.deployed import StackDeployment
from components.catalog.problems import raise_if_any
from components.render.addons import HelmRelease, render_addon_releases
from components.render.cluster_shape import ClusterShape, render_cluster_shape
from components.render.model_objects import render_model_objects
from components.render.dashboards import render_dashboard_objects
from components.render.monitoring import render_monitoring_objects
from components.render.objects import KubeObject, sort_objects
from components.render.platform_objects import render_platform_objects
from components.render.team_objects import render_team_objects
from components.render.team_secrets import render_team_secret_objects


@dataclass(frozen=True)
class ReleaseObjects:
    """The objects one Helm release's chart renders (``modelplane ... --charts DIR``)."""

    release: str
    # "<chart> <version>" and where its files were read from.
    chart: str
    source: str
    objects: tuple[KubeObject, ...]
    # What a reviewer must know about this render (a substituted patch release, a missing subchart).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedStack:
    deployment: StackDeployment
    cluster: ClusterShape
    releases: tuple[HelmRelease, ...]
    objects: tuple[KubeObject, ...]
    # Empty unless the charts were rendered too (components.charts.stack_charts), in release order.
    chart_objects: tuple[ReleaseObjects, ...] = ()


def render_stack_objects(deployment: StackDeployment) -> list[KubeObject]:
    """Every Kubernetes object modelplane writes: the platform's, each team's, each model's."""
    objects: list[KubeObject] = list(render_platform_objects(deployment))
    for team in deployment.teams:
        objects.extend(render_team_objects(team, deployment))
        objects.extend(render_team_secret_objects(team, deployment))
    for model in deployment.models:
        objects.extend(render_model_objects(model))
    objects.extend(render_monitoring_objects(deployment))
    objects.extend(render_dashboard_objects(deployment))
    return sort_objects(objects)


def render_stack(deployment: StackDeployment) -> RenderedStack:
    """The whole stack; raises ``InputError`` when the stack's add-on overrides are wrong."""
    releases, problems = render_addon_releases(deployment)
    raise_if_any(problems)
    return RenderedStack(
        deployment=deployment,
        cluster=render_cluster_shape(deployment.stack),
        releases=tuple(releases),
        objects=tuple(render_stack_objects(deployment)),
    )

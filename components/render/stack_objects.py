"""Every Kubernetes object modelplane writes into one stack's cluster, in a stable order."""

from __future__ import annotations

from components.catalog.deployment import StackDeployment
from components.render.model_objects import render_model_objects
from components.render.objects import KubeObject, sort_objects
from components.render.team_objects import render_team_objects


def render_stack_objects(deployment: StackDeployment) -> list[KubeObject]:
    """Team objects for every team, model objects for every model the stack runs."""
    objects: list[KubeObject] = []
    for team in deployment.teams:
        objects.extend(render_team_objects(team, deployment))
    for model in deployment.models:
        objects.extend(render_model_objects(model))
    return sort_objects(objects)

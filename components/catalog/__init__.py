"""Layer 1 (pure): the ``models/`` catalog and the stack settings, read and validated.

Nothing here imports ``pulumi``; the offline CLI and the Pulumi program share it.
"""

from components.catalog.deployed import DeployedModel, StackDeployment
from components.catalog.deployment import resolve_deployment
from components.catalog.placement import GpuClaim
from components.catalog.loader import Catalog, CatalogModel, CatalogTeam, load_catalog
from components.catalog.problems import InputError, Problem
from components.catalog.stacks import Stack, load_stack, load_stacks, stack_names

__all__ = [
    "Catalog",
    "CatalogModel",
    "CatalogTeam",
    "DeployedModel",
    "GpuClaim",
    "InputError",
    "Problem",
    "Stack",
    "StackDeployment",
    "load_catalog",
    "load_stack",
    "load_stacks",
    "resolve_deployment",
    "stack_names",
]

"""Reading a workspace's ``models/`` and ``stacks/`` into validated, rendered stacks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from components.catalog import (
    Catalog,
    InputError,
    Problem,
    Stack,
    StackDeployment,
    load_catalog,
    load_stack,
    load_stacks,
    resolve_deployment,
    stack_names,
)
from components.catalog.loader import SpecCache
from components.catalog.problems import WHOLE_FILE, raise_if_any
from components.catalog.stacks import stray_stack_files
from components.render.addons import render_addon_releases
from components.render.stack_render import RenderedStack, render_stack


@dataclass(frozen=True)
class Paths:
    models: Path
    stacks: Path


def shown(path: Path) -> str:
    """A path as messages print it."""
    text = path.as_posix()
    return text.rstrip("/") or text  # `/` stays `/`


class CatalogOnce:
    """A catalog read and validated at most once, however many stacks ask for it (``review``):
    each ask returns the same catalog, or raises the same problems."""

    def __init__(self, models: Path, shown_as: str, spec_cache: SpecCache | None = None):
        self._models, self._shown_as, self._spec_cache = models, shown_as, spec_cache
        self._catalog: Catalog | None = None
        self._problems: list[Problem] | None = None

    def load(self) -> Catalog:
        if self._catalog is None and self._problems is None:
            try:
                self._catalog = load_catalog(self._models, self._shown_as, self._spec_cache)
            except InputError as error:
                self._problems = list(error.problems)
        if self._problems is not None:
            raise InputError(list(self._problems))
        assert self._catalog is not None
        return self._catalog


def load_deployment(paths: Paths, stack_name: str, catalog_once: CatalogOnce | None = None) -> StackDeployment:
    """Catalog and stack, validated and resolved; every problem of both is raised together.

    ``catalog_once`` shares the catalog between stacks (default: read here)."""
    catalog, stack = load_catalog_and_stack(paths, stack_name, catalog_once)
    return resolve_deployment(catalog, stack, stack_names(paths.stacks))


def load_catalog_and_stack(paths: Paths, stack_name: str,
                           catalog_once: CatalogOnce | None = None) -> tuple[Catalog, Stack]:
    """The catalog's files and the stack's settings, each validated on its own (not resolved
    together); every problem of both is raised together."""
    problems: list[Problem] = []
    catalog = stack = None
    try:
        catalog = catalog_once.load() if catalog_once else load_catalog(paths.models, shown(paths.models))
    except InputError as error:
        problems.extend(error.problems)
    try:
        stack = load_stack(paths.stacks, stack_name, shown(paths.stacks))
    except InputError as error:
        problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    assert catalog is not None and stack is not None
    return catalog, stack


def load_rendered_stack(paths: Paths, stack_name: str, catalog_once: CatalogOnce | None = None) -> RenderedStack:
    return render_stack(load_deployment(paths, stack_name, catalog_once))


def load_checked_deployment(paths: Paths, stack_name: str) -> StackDeployment:
    """The deployment with every problem :func:`load_rendered_stack` would raise, without
    rendering the objects (which only a bug can fail): what ``cost`` needs."""
    deployment = load_deployment(paths, stack_name)
    raise_if_any(render_addon_releases(deployment)[1])
    return deployment


def validate_all(paths: Paths, only_stack: str | None) -> tuple[Catalog, list[Stack], list[Problem]]:
    """Validate the catalog against one stack, or against every stack in the stacks folder.

    Returns the catalog, the stacks and the warnings of every stack (allowed, but worth a look);
    raises :class:`InputError` with every problem.
    """
    problems: list[Problem] = []
    warnings: list[Problem] = []
    catalog: Catalog | None = None
    stacks: list[Stack] = []
    try:
        catalog = load_catalog(paths.models, shown(paths.models))
    except InputError as error:
        problems.extend(error.problems)
    problems.extend(stray_stack_files(paths.stacks, shown(paths.stacks)))
    names = [only_stack] if only_stack else stack_names(paths.stacks)
    if not names:
        problems.append(Problem(shown(paths.stacks), WHOLE_FILE, "no Pulumi.<stack>.yaml files"))
    try:
        stacks = load_stacks(paths.stacks, names, shown(paths.stacks))
    except InputError as error:
        problems.extend(error.problems)
    if catalog is not None:
        for stack in stacks:
            try:
                deployment = resolve_deployment(catalog, stack, stack_names(paths.stacks))
                # The add-on overrides are the one thing rendering itself checks.
                raise_if_any(render_addon_releases(deployment)[1])
                warnings.extend(deployment.warnings)
            except InputError as error:
                problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    assert catalog is not None
    return catalog, stacks, warnings

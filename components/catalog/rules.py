"""Catalog-wide rules: what no single file can get wrong on its own, but two files together can."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from components.catalog.loader import Catalog, CatalogModel, CatalogTeam
from components.catalog.problems import Problem
from components.platform_names import RESERVED_NAMESPACES


def route_path(team: CatalogTeam, model: CatalogModel) -> str | None:
    """The model's path on the shared gateway; ``None`` for gRPC models, which route by host."""
    if model.spec.is_grpc:
        return None
    if model.spec.route is not None:
        return model.spec.route.path
    return f"/{team.name}/{model.name}"


def catalog_problems(catalog: Catalog) -> list[Problem]:
    """Every catalog-wide problem, independent of the stack."""
    return [
        *_namespace_problems(catalog),
        *_storage_overlap_problems(catalog),
        *_storage_location_problems(catalog),
        *_route_problems(catalog),
        *_grpc_host_problems(catalog),
        *_canary_version_problems(catalog),
    ]


def _canary_version_problems(catalog: Catalog) -> list[Problem]:
    """A versioned model's canary needs a version of its own: its pods would otherwise be labelled
    (and their metrics counted) as the stable version."""
    problems = []
    for _, model in catalog.models():
        canary = model.spec.canary
        if canary is not None and model.spec.version and not canary.version:
            problems.append(Problem(
                model.source, "canary.version",
                f"the model is version {model.spec.version} and the canary runs other artifacts; "
                "give the canary its own version (its pods and metrics carry it), e.g. the one its "
                "storage_uri holds",
            ))
    return problems


def _namespace_problems(catalog: Catalog) -> list[Problem]:
    problems = []
    owners: dict[str, list[CatalogTeam]] = defaultdict(list)
    for team in catalog.teams:
        owners[team.namespace].append(team)
        if team.namespace in RESERVED_NAMESPACES:
            problems.append(Problem(
                team.source, "namespace",
                f"{team.namespace!r} belongs to the platform; choose another namespace",
            ))
    for namespace, teams in owners.items():
        if len(teams) > 1:
            for team in teams:
                others = ", ".join(other.source for other in teams if other is not team)
                problems.append(Problem(
                    team.source, "namespace",
                    f"{namespace!r} is also the namespace of {others}; every team needs its own",
                ))
    return problems


def _storage_overlap_problems(catalog: Catalog) -> list[Problem]:
    # Sorted, the prefixes that start with a given one follow it directly, so each prefix is
    # compared only with those (linear for prefixes that do not nest, as in every valid catalog).
    prefixes = sorted(
        ((prefix, index, team) for team in catalog.teams for index, prefix in enumerate(team.spec.storage.s3_prefixes)),
        key=lambda entry: (entry[0], entry[2].name, entry[1]),
    )

    def overlap(team: CatalogTeam, index: int, prefix: str, other: CatalogTeam, other_prefix: str) -> Problem:
        return Problem(
            team.source, f"storage.s3_prefixes[{index}]",
            f"{prefix} overlaps {other_prefix} of team {other.name}; teams may not read "
            "each other's artifacts, so give each team its own prefix",
        )

    problems = []
    for position, (prefix, index, team) in enumerate(prefixes):
        for inner, inner_index, other in prefixes[position + 1:]:
            if not inner.startswith(prefix):
                break
            if other is not team:
                problems.append(overlap(team, index, prefix, other, inner))
                problems.append(overlap(other, inner_index, inner, team, prefix))
    return problems


def _storage_location_problems(catalog: Catalog) -> list[Problem]:
    problems = []
    for team, model in catalog.models():
        uris = [("storage_uri", model.spec.storage_uri)]
        if model.spec.canary is not None:
            uris.append(("canary.storage_uri", model.spec.canary.storage_uri))
        for field, uri in uris:
            if not uri.startswith("s3://"):
                continue
            if not any(uri.startswith(prefix) for prefix in team.spec.storage.s3_prefixes):
                allowed = ", ".join(team.spec.storage.s3_prefixes)
                problems.append(Problem(
                    model.source, field,
                    f"{uri} is outside team {team.name}'s storage ({allowed}); move the "
                    f"artifacts there or add the prefix to {team.source}",
                ))
    return problems


def _route_problems(catalog: Catalog) -> list[Problem]:
    # Indexed by path so a catalog of thousands of models is checked in linear time.
    by_path: dict[str, list[CatalogModel]] = defaultdict(list)
    for team, model in catalog.models():
        path = route_path(team, model)
        if path is not None:
            by_path[path].append(model)
    problems = _shared_by_several(
        by_path, "route.path",
        lambda path, other: f"route {path} is also the route of {other.source}; give one of them another route.path",
    )
    for path, models in by_path.items():
        for model in models:
            segments = path.split("/")
            for end in range(2, len(segments)):
                ancestor = "/".join(segments[:end])
                for other in by_path.get(ancestor, ()):
                    problems.append(Problem(
                        model.source, "route.path",
                        f"route {path} is nested under {ancestor}, the route of {other.source}; "
                        "the gateway could send its requests to either, so choose a path outside it",
                    ))
    return problems


def route_grant_problems(catalog: Catalog, grants: dict[str, list[str]], stack_file: str) -> list[Problem]:
    """A model routes under its team's own ``/<team>/`` or a prefix the stack grants the team: a
    model file alone cannot take another team's paths (``/search/new`` from team fraud)."""
    problems = []
    for team, model in catalog.models():
        if model.spec.route is None or model.spec.is_grpc:
            continue
        path = model.spec.route.path
        allowed = [f"/{team.name}/", *grants.get(team.name, ())]
        if not any(path.startswith(prefix) for prefix in allowed):
            problems.append(Problem(
                model.source, "route.path",
                f"route {path} is outside {', '.join(allowed)}, the paths of team {team.name}; "
                f"choose a path under /{team.name}/, or ask the platform team to grant the prefix "
                f"in modelplane:route_grants of {stack_file}",
            ))
    return problems


def _grpc_host_problems(catalog: Catalog) -> list[Problem]:
    """gRPC models are reached at <model>-<team>.<domain>; two of them must not share a host."""
    by_host: dict[str, list[CatalogModel]] = defaultdict(list)
    for team, model in catalog.models():
        if model.spec.is_grpc:
            by_host[f"{model.name}-{team.name}"].append(model)
    return _shared_by_several(
        by_host, "name",
        lambda host, other: f"gRPC host {host}.<domain> is also the host of {other.source}; rename one of the models",
    )


def _shared_by_several(
    groups: dict[str, list[CatalogModel]], field: str, message: Callable[[str, CatalogModel], str]
) -> list[Problem]:
    """One problem per model and per other model that has the same value (a route, a host)."""
    return [
        Problem(model.source, field, message(value, other))
        for value, models in groups.items()
        for model in models
        for other in models
        if other is not model
    ]

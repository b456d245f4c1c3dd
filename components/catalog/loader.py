"""Reading ``models/``: one folder per team, a ``team.yaml`` and one YAML file per model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel, ValidationError

from components.catalog.fields import check_dns_label
from components.catalog.model_spec import ModelSpec
from components.catalog.problems import WHOLE_FILE, InputError, Problem
from components.catalog.team_spec import TeamSpec
from components.catalog.validation_messages import describe_value, problems_from_validation_error
from components.catalog.yaml_files import parse_yaml_text, read_regular_file, symlink_problem

TEAM_FILE = "team.yaml"
# Documentation and editor schemas may sit beside the catalog; nothing else is silently skipped.
TOP_LEVEL_EXTRAS = frozenset({"README.md", "model.schema.json", "team.schema.json"})
TEAM_LEVEL_EXTRAS = frozenset({"README.md"})


@dataclass(frozen=True)
class CatalogModel:
    source: str
    spec: ModelSpec

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class CatalogTeam:
    source: str
    spec: TeamSpec
    models: tuple[CatalogModel, ...]

    @property
    def name(self) -> str:
        return self.spec.team

    @property
    def namespace(self) -> str:
        return self.spec.namespace_name


@dataclass(frozen=True)
class Catalog:
    """Every team and model, validated file by file (catalog-wide rules are in ``rules``)."""

    teams: tuple[CatalogTeam, ...]

    def models(self) -> Iterator[tuple[CatalogTeam, CatalogModel]]:
        for team in self.teams:
            for model in team.models:
                yield team, model

    @property
    def model_count(self) -> int:
        return sum(len(team.models) for team in self.teams)


# Validated specs by file kind and content: a spec depends on nothing but the file's bytes, so the
# two sides of a review share every file the change leaves alone.
SpecCache = dict[tuple[type[BaseModel], bytes], BaseModel]


def load_catalog(models_dir: Path, shown_as: str | None = None, spec_cache: SpecCache | None = None) -> Catalog:
    """Read and validate every file under ``models_dir``; raise :class:`InputError` with all problems.

    ``shown_as`` is how the directory appears in messages (default: as given). ``spec_cache``
    holds the specs of files already validated (by their bytes), to reuse and to add to; only
    valid files are kept, so every problem is found again with this catalog's paths.
    """
    shown_root = shown_as if shown_as is not None else str(models_dir)
    linked = symlink_problem(models_dir, shown_root)
    if linked is not None:
        # A linked catalog would be read at one path in the work tree and another in the base
        # of a diff, so every model would look new and a deletion would pass review.
        raise InputError([linked])
    if not models_dir.is_dir():
        raise InputError([Problem(shown_root, WHOLE_FILE, "not a directory of team folders")])
    problems: list[Problem] = []
    teams: list[CatalogTeam] = []
    for entry in sorted(models_dir.iterdir()):
        shown = f"{shown_root}/{entry.name}"
        linked = symlink_problem(entry, shown)
        if linked is not None:
            problems.append(linked)
        elif entry.is_dir():
            team = _load_team(entry, shown, problems, spec_cache)
            if team is not None:
                teams.append(team)
        elif entry.name not in TOP_LEVEL_EXTRAS:
            problems.append(Problem(
                shown, WHOLE_FILE,
                f"stray file; {shown_root}/ holds one folder per team (and README.md), move or "
                "delete it",
            ))
    if not teams and not problems:
        problems.append(Problem(shown_root, WHOLE_FILE, "no team folders; add <team>/team.yaml"))
    if problems:
        raise InputError(problems)
    return Catalog(teams=tuple(teams))


def _load_team(folder: Path, shown_folder: str, problems: list[Problem], spec_cache: SpecCache | None) -> CatalogTeam | None:
    try:
        check_dns_label(folder.name)
    except ValueError as error:
        problems.append(Problem(shown_folder, WHOLE_FILE, f"team folder name: {error}"))
        return None
    team_path = folder / TEAM_FILE
    team_shown = f"{shown_folder}/{TEAM_FILE}"
    team_spec = None
    if not team_path.is_file() and not team_path.is_symlink():
        problems.append(Problem(
            team_shown, WHOLE_FILE,
            "file missing; every team folder needs a team.yaml with team, owners, cost_center, "
            "storage and quota",
        ))
    else:
        team_spec = _load_spec(team_path, team_shown, TeamSpec, problems, spec_cache)
        if team_spec is not None and team_spec.team != folder.name:
            problems.append(Problem(
                team_shown, "team",
                f"is {team_spec.team!r} but the folder is {folder.name!r}; they must be equal",
            ))
            team_spec = None
    models = []
    for entry in sorted(folder.iterdir()):
        shown = f"{shown_folder}/{entry.name}"
        if entry.name == TEAM_FILE:
            continue
        linked = symlink_problem(entry, shown)
        if linked is not None:
            problems.append(linked)
            continue
        if entry.name in TEAM_LEVEL_EXTRAS:
            continue
        if entry.is_dir() or entry.suffix != ".yaml":
            hint = f"rename it to {entry.stem}.yaml" if entry.suffix == ".yml" else "move or delete it"
            problems.append(Problem(
                shown, WHOLE_FILE,
                f"stray {'folder' if entry.is_dir() else 'file'}; a team folder holds team.yaml "
                f"and one <model>.yaml per model, {hint}",
            ))
            continue
        spec = _load_spec(entry, shown, ModelSpec, problems, spec_cache)
        if spec is None:
            continue
        if spec.name != entry.stem:
            problems.append(Problem(
                shown, "name",
                f"is {spec.name!r} but the file is {entry.name}; rename the file to "
                f"{spec.name}.yaml or change name to {entry.stem!r}",
            ))
            continue
        models.append(CatalogModel(source=shown, spec=spec))
    if team_spec is None:
        return None
    return CatalogTeam(source=team_shown, spec=team_spec, models=tuple(models))


def _load_spec(path: Path, shown: str, model: type[BaseModel], problems: list[Problem],
               spec_cache: SpecCache | None):
    raw, problem = read_regular_file(path, shown)
    if problem is not None:
        problems.append(problem)
        return None
    if spec_cache is not None and (model, raw) in spec_cache:
        return spec_cache[model, raw]
    data, read_problems = parse_yaml_text(raw, shown)
    if read_problems:
        problems.extend(read_problems)
        return None
    if not isinstance(data, dict):
        problems.append(Problem(
            shown, WHOLE_FILE,
            f"expected a mapping of fields (name: value lines), got {describe_value(data)}",
        ))
        return None
    try:
        spec = model.model_validate(data)
    except ValidationError as error:
        problems.extend(problems_from_validation_error(error, model, shown))
        return None
    if spec_cache is not None:
        spec_cache[model, raw] = spec
    return spec

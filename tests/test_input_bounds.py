"""Small hostile inputs must not cost much: lists have natural bounds, and catalog-wide checks and
the diff's rename detection do not compare everything with everything."""

from __future__ import annotations

import random

import pytest

from components.catalog.fields import MAX_PEOPLE, check_unique_items
from components.catalog.loader import Catalog, CatalogTeam
from components.catalog.rules import catalog_problems
from components.cli.main import main
from components.review.diff import ADDED, REMOVED, EntryChange, StateEntry, _renames
from components.catalog.team_spec import TeamSpec
from tests.conftest import TEAM


def test_a_team_with_thousands_of_owners_is_refused_with_one_line(basic_workspace, monkeypatch, capsys):
    basic_workspace.team(owners=[f"g{n}" for n in range(10_000)])
    monkeypatch.chdir(basic_workspace.root)
    assert main(["validate"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"models/fraud/team.yaml: owners: has 10000 items, more than the {MAX_PEOPLE} allowed; keep the ones in use",
        "1 problem found; nothing was written",
    ]


def test_repeated_items_are_found_in_one_pass():
    with pytest.raises(ValueError, match="lists a, c more than once"):
        check_unique_items(["a", "b", "a", "c", "c", "c"])
    assert check_unique_items(["a", "b"]) == ["a", "b"]


def _team(name: str, prefixes: list[str]) -> CatalogTeam:
    spec = TeamSpec.model_validate({**TEAM, "team": name, "storage": {"s3_prefixes": prefixes}})
    return CatalogTeam(f"models/{name}/team.yaml", spec, ())


def _overlaps_by_brute_force(teams: list[CatalogTeam]) -> set[tuple[str, str, str]]:
    found = set()
    for team in teams:
        for index, prefix in enumerate(team.spec.storage.s3_prefixes):
            for other in teams:
                if other is team:
                    continue
                for other_prefix in other.spec.storage.s3_prefixes:
                    if prefix.startswith(other_prefix) or other_prefix.startswith(prefix):
                        found.add((team.source, f"storage.s3_prefixes[{index}]", other_prefix))
    return found


@pytest.mark.parametrize("seed", range(20))
def test_prefix_overlaps_match_the_comparison_of_every_pair(seed):
    """The sorted sweep finds exactly the overlaps that comparing every pair finds."""
    rng = random.Random(seed)
    folders = ["a/", "a/b/", "a/b/c/", "ab/", "b/", "b/a/", "c/"]
    teams = [
        _team(f"team{n}", sorted({f"s3://models-bucket/{rng.choice(folders)}" for _ in range(rng.randint(1, 3))}))
        for n in range(rng.randint(2, 5))
    ]
    problems = [p for p in catalog_problems(Catalog(tuple(teams))) if "overlaps" in p.message]
    found = {(p.file, p.field, p.message.split(" overlaps ")[1].split(" of team ")[0]) for p in problems}
    assert found == _overlaps_by_brute_force(teams)
    assert len(problems) == len(set(problems))


def _state(team: str, model: str, storage: str) -> StateEntry:
    body = {"spec": {"predictor": {"model": {"storageUri": storage}}}}
    return StateEntry(f"InferenceService/team-{team}/{model}", "InferenceService", team, model, body)


def test_renames_pair_each_added_model_with_one_removed_model():
    before = {e.key: e for e in (_state("t", "old-a", "s3://b/x/"), _state("t", "old-b", "s3://b/x/"),
                                  _state("t", "gone", "s3://b/y/"), _state("u", "elsewhere", "s3://b/z/"))}
    after = {e.key: e for e in (_state("t", "new", "s3://b/x/"), _state("u", "moved", "s3://b/y/"))}
    changes = [EntryChange(e.key, e.kind, e.team, e.model, REMOVED) for e in before.values()]
    changes += [EntryChange(e.key, e.kind, e.team, e.model, ADDED) for e in after.values()]
    # Two removed models had the artifacts of the one added: only the first is its old name; the same
    # artifacts in another team are not a rename.
    assert _renames(before, after, changes) == [("t/old-a", "t/new")]

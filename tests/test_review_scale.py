"""Work that grows with what changes: review reads each side of the catalog once for every stack,
validates a file the change leaves alone once for both sides, renames diff in near-linear work,
and cost renders no objects."""

from __future__ import annotations

import shutil

import pytest

from benchmarks.synthetic_catalog import write_synthetic_catalog
from components.catalog import load_catalog, load_stack, resolve_deployment
from components.cli import inputs
from components.cli.inputs import Paths
from components.cli.main import main
from components.catalog import loader
from components.render import stack_render
from components.render.stack_render import render_stack
from components.review import field_changes
from components.review.compare import review_stacks
from components.review.diff import diff_stack
from tests.conftest import commit_as_base


def counting(monkeypatch, module, name: str) -> list[int]:
    """Count the calls of ``module.name`` (still calling it)."""
    calls = [0]
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.fixture
def reviewed_repo(repo):
    """The ``repo`` fixture with three stacks, three models, one of them changed since the base."""
    repo.model(name="second")
    repo.model(name="third")
    repo.stack("staging", environment="staging")
    repo.stack("prod", environment="prod")
    commit_as_base(repo)
    repo.model(name="second", resources={"cpu": "1", "memory": "3Gi"})
    return repo


def test_review_reads_each_side_of_the_catalog_once_for_every_stack(reviewed_repo, monkeypatch):
    catalogs = counting(monkeypatch, inputs, "load_catalog")
    parsed = counting(monkeypatch, loader, "parse_yaml_text")
    reviews = review_stacks(Paths(reviewed_repo.models, reviewed_repo.stacks), "base")
    assert [r.stack for r in reviews] == ["dev", "prod", "staging"]
    assert all(r.diff is not None and r.diff.has_changes for r in reviews), [r.problems for r in reviews]
    assert catalogs[0] == 2  # the work tree's and the base's, not six
    # team.yaml and the two unchanged models once for both sides, the changed model once per side.
    assert parsed[0] == 5


def test_a_shared_catalogs_problems_are_reported_for_every_stack(reviewed_repo):
    (reviewed_repo.models / "fraud" / "third.yaml").write_text("name: third\n")
    reviews = review_stacks(Paths(reviewed_repo.models, reviewed_repo.stacks), "base")
    # The work tree's problems, in every stack's review, as when each stack read the catalog.
    [problems] = {r.problems for r in reviews}
    assert problems and all(p.file == str(reviewed_repo.models / "fraud" / "third.yaml") for p in problems)


def test_a_spec_shared_between_sides_keeps_each_sides_paths(reviewed_repo):
    cache: loader.SpecCache = {}
    head = load_catalog(reviewed_repo.models, "models", cache)
    again = load_catalog(reviewed_repo.models, "base:models", cache)
    assert [m.source for _, m in again.models()] == [f"base:{m.source}" for _, m in head.models()]
    assert [m.spec for _, m in again.models()] == [m.spec for _, m in head.models()]


def test_cost_renders_no_objects_and_keeps_the_add_on_checks(in_workspace, monkeypatch, capsys):
    def refuse(deployment):
        raise AssertionError("cost rendered the Kubernetes objects")

    monkeypatch.setattr(stack_render, "render_stack_objects", refuse)
    assert main(["cost", "--stack", "dev"]) == 0, capsys.readouterr().err
    in_workspace.stack(addons={"nvidia-device-plugin": {"values": {"x": 1}}})
    capsys.readouterr()
    assert main(["cost", "--stack", "dev"]) == 1
    assert "modelplane:addons.nvidia-device-plugin: add-on nvidia-device-plugin is not installed" in capsys.readouterr().err


@pytest.fixture
def in_workspace(basic_workspace, monkeypatch):
    monkeypatch.chdir(basic_workspace.root)
    return basic_workspace


def test_a_thousand_renames_diff_in_linear_work(tmp_path, monkeypatch):
    """1,000 models renamed (same artifacts, new names). The bound is on work, not on time: the
    list items compared by identity stay within a small multiple of the entries compared (a
    quadratic match would compare about a million); it took 0.4 CPU-seconds on the 2-core machine."""
    write_synthetic_catalog(tmp_path / "base", teams=10, models_per_team=100)
    shutil.copytree(tmp_path / "base", tmp_path / "head")
    for path in sorted((tmp_path / "head" / "models").glob("*/model-*.yaml")):
        renamed = path.stem.replace("model-", "renamed-")
        path.with_name(f"{renamed}.yaml").write_text(path.read_text().replace(f"name: {path.stem}", f"name: {renamed}"))
        path.unlink()

    def rendered(root):
        catalog = load_catalog(root / "models")
        return render_stack(resolve_deployment(catalog, load_stack(root / "stacks", "prod"), ["dev", "prod", "staging"]))

    base, head = rendered(tmp_path / "base"), rendered(tmp_path / "head")
    identities = counting(monkeypatch, field_changes, "item_identity")
    diff = diff_stack(base, head, allow_delete=True)
    assert len(diff.renames) == 1000
    assert diff.renames[0] == ("team000/model-000", "team000/renamed-000")
    assert identities[0] <= 5 * (len(base.objects) + len(head.objects))

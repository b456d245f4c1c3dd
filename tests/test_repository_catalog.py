"""What a catalog pull request must satisfy: the only tests that read the repository's own
``models/`` and ``stacks/``.

They belong to the platform team using modelplane and change freely (a team added, a model
removed, a pool resized). So nothing here names a team, a model or a number of theirs: it checks
that every stack validates, that the generated files committed beside them are current, and that
the workflows cover every stack. Each failure says the one command that fixes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.catalog.json_schema import catalog_json_schemas
from components.cli.main import main
from tests.conftest import REPO

REPO_MODELS = REPO / "models"
REPO_STACKS = REPO / "stacks"
REPO_STACK_NAMES = sorted(path.name[len("Pulumi."):-len(".yaml")] for path in REPO_STACKS.glob("Pulumi.*.yaml"))
WORKFLOWS = REPO / ".github" / "workflows"


def run_cli(capsys, monkeypatch, *argv: str) -> tuple[int, str, str]:
    monkeypatch.chdir(REPO)
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_repository_has_stacks():
    assert REPO_STACK_NAMES, "stacks/ holds no Pulumi.<stack>.yaml"


@pytest.mark.parametrize("stack", REPO_STACK_NAMES)
def test_catalog_validates_for_every_stack(stack, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "validate", "--stack", stack)
    assert code == 0, f"`make validate` (modelplane validate --stack {stack}) fails:\n{err}"
    assert out.startswith("ok: ")


@pytest.mark.parametrize("file_name", sorted(catalog_json_schemas()))
def test_committed_json_schemas_are_current(file_name):
    generated = catalog_json_schemas()[file_name]
    path = REPO_MODELS / file_name
    assert path.is_file() and path.read_text(encoding="utf-8") == generated, (
        f"models/{file_name} is not what this version of modelplane generates: run `make schema` and commit it"
    )


def test_codeowners_grants_nothing_the_catalog_no_longer_gives(capsys, monkeypatch):
    """A new team's rule may be missing (a warning: the platform owns its folder meanwhile); a
    rule for a removed team or an old reviewer list fails."""
    code, _, err = run_cli(capsys, monkeypatch, "codeowners", "--check")
    assert code == 0, err


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def stack_region(stack: str) -> str:
    config = yaml.safe_load((REPO_STACKS / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    return config["aws:region"]


def test_pull_request_previews_cover_every_stack_in_its_region():
    include = workflow("pull-request.yml")["jobs"]["preview"]["strategy"]["matrix"]["include"]
    listed = {entry["stack"]: entry["region"] for entry in include}
    expected = {stack: stack_region(stack) for stack in REPO_STACK_NAMES}
    assert listed == expected, (
        "the preview matrix of .github/workflows/pull-request.yml must list every stacks/Pulumi.<stack>.yaml "
        "with its aws:region"
    )


def test_deploys_cover_every_stack_in_its_region():
    jobs = workflow("deploy.yml")["jobs"]
    regions = {}
    for stack in REPO_STACK_NAMES:
        assert stack in jobs, f".github/workflows/deploy.yml has no job for stack {stack}"
        steps = [s for s in jobs[stack]["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")]
        regions[stack] = steps[0]["with"]["aws-region"]
    assert regions == {stack: stack_region(stack) for stack in REPO_STACK_NAMES}


# --- the promise itself: a catalog pull request needs no other file changed ------------------------

def repository_files() -> list[Path]:
    """The files of the work tree that git would commit (tracked and new, not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    return [Path(name) for name in listed if name and (REPO / name).is_file()]


def copy_repository(target: Path) -> None:
    for relative in repository_files():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, destination)


def pools(stack_file: Path) -> dict:
    return yaml.safe_load(stack_file.read_text(encoding="utf-8"))["config"].get("modelplane:node_pools", {})


def write_yaml(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def add_team_with_cpu_gpu_and_mig_models(root: Path) -> None:
    """A new team whose models use what the stacks offer: a CPU model everywhere, a whole-GPU model
    and a MIG model in the stacks that have such a pool (disabled elsewhere)."""
    stack_files = sorted((root / "stacks").glob("Pulumi.*.yaml"))
    whole_gpu_stacks, mig_stacks, profile = [], [], None
    for stack_file in stack_files:
        name = stack_file.name[len("Pulumi."):-len(".yaml")]
        for pool in pools(stack_file).values():
            gpu = pool.get("gpu") or {}
            layout = (gpu.get("mig") or {}).get("layout") or {}
            if gpu and not layout and name not in whole_gpu_stacks:
                whole_gpu_stacks.append(name)
            if layout and (profile is None or profile in layout) and name not in mig_stacks:
                profile = profile or sorted(layout)[0]
                mig_stacks.append(name)
    all_stacks = [f.name[len("Pulumi."):-len(".yaml")] for f in stack_files]
    team = root / "models" / "payments"
    write_yaml(team / "team.yaml", {
        "team": "payments",
        "description": "Card payment models.",
        "owners": ["ml-payments"],
        "reviewers": ["@acme/ml-payments"],
        "cost_center": "CC-2001",
        "storage": {"s3_prefixes": ["s3://acme-ml-models/payments/"]},
        "quota": {"cpu": "24", "memory": "96Gi", "gpu": 2, **({"mig": {profile: 2}} if profile else {})},
    })
    base = {"storage_uri": "s3://acme-ml-models/payments/{name}/v1/", "version": "1.0.0"}

    def model(name: str, extra: dict, enabled_in: list[str]) -> None:
        body = {"name": name, "description": f"The {name} model.", **extra,
                "storage_uri": base["storage_uri"].format(name=name), "version": base["version"]}
        disabled = [stack for stack in all_stacks if stack not in enabled_in]
        if disabled:
            body["environments"] = {stack: {"enabled": False} for stack in disabled}
        write_yaml(team / f"{name}.yaml", body)

    model("card-scorer", {"format": "sklearn", "resources": {"cpu": "1", "memory": "2Gi"}}, all_stacks)
    if whole_gpu_stacks:
        model("receipt-reader", {"format": "pytorch", "gpu": {"count": 1},
                                 "resources": {"cpu": "2", "memory": "8Gi"}}, whole_gpu_stacks)
    if profile:
        model("merchant-matcher", {"format": "onnx", "gpu": {"mig": profile},
                                   "resources": {"cpu": "1", "memory": "4Gi"}}, mig_stacks)


def remove_a_model(root: Path) -> None:
    model_files = sorted(p for p in (root / "models").glob("*/*.yaml") if p.name != "team.yaml")
    model_files[-1].unlink()


def grow_a_node_pool(root: Path) -> None:
    stack_file = sorted((root / "stacks").glob("Pulumi.*.yaml"))[0]
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    name, pool = sorted(document["config"]["modelplane:node_pools"].items())[-1]
    pool["max_size"] = pool["max_size"] + 2
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@pytest.mark.skipif(os.environ.get("MODELPLANE_INNER_SUITE") == "1", reason="already inside the copied suite")
def test_a_catalog_pull_request_needs_no_other_file_changed(tmp_path):
    """Copy the repository, make the changes a catalog pull request makes (a new team with CPU, GPU
    and MIG models, a model removed, a node pool resized), and run the test suite of the copy:
    it stays green with nothing regenerated."""
    root = tmp_path / "repository"
    copy_repository(root)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        # The upstream chart sources and CRDs stay beside the repository, as in CI; linked, not copied.
        (tmp_path / "shared").symlink_to(shared)
    add_team_with_cpu_gpu_and_mig_models(root)
    remove_a_model(root)
    grow_a_node_pool(root)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "PYTHONPATH": str(root), "MODELPLANE_INNER_SUITE": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]

"""The modelplane command: exit codes, output, and nothing written when the input is wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from components.cli.main import EXIT_CHANGES, EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE, main
from components.cli.object_tree import RENDER_MARKER
from tests.conftest import REPO


@pytest.fixture
def in_workspace(basic_workspace, monkeypatch):
    monkeypatch.chdir(basic_workspace.root)
    return basic_workspace


def rendered_count(workspace) -> tuple[int, int]:
    """(all objects, platform objects) the workspace's dev stack renders."""
    from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
    from components.render.objects import owner_of
    from components.render.stack_render import render_stack_objects

    deployment = resolve_deployment(
        load_catalog(workspace.models), load_stack(workspace.stacks, "dev"), stack_names(workspace.stacks)
    )
    objects = render_stack_objects(deployment)
    return len(objects), sum(1 for obj in objects if owner_of(obj)[0] is None)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_ok(in_workspace, capsys):
    assert run(capsys, "validate") == (0, "ok: 1 teams, 1 models, valid for 1 stack (dev)\n", "")


def test_validate_reports_every_problem_and_exits_1(in_workspace, capsys):
    in_workspace.model(name="b", format="sklaern")
    in_workspace.write("models/fraud/c.yaml", "- x\n")
    code, out, err = run(capsys, "validate")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "models/fraud/b.yaml: format: the text 'sklaern' is not allowed (did you mean sklearn?); "
        "use one of: huggingface, lightgbm, mlflow, onnx, paddle, pmml, pytorch, sklearn, "
        "tensorflow, tensorrt, triton, xgboost",
        "models/fraud/c.yaml: (file): expected a mapping of fields (name: value lines), got a list",
        "2 problems found; nothing was written",
    ]


def test_validate_checks_every_stack_unless_told(in_workspace, capsys):
    in_workspace.stack("prod", environment="prod", node_pools={"system": {"instance_types": ["m6i.large"], "min_size": 1, "max_size": 1}})
    in_workspace.model(gpu={"count": 1})
    code, _, err = run(capsys, "validate")
    assert code == 1
    assert "models/fraud/scorer.yaml: gpu.count: 1 whole GPU per replica, but stack prod has no GPU pool" in err
    assert run(capsys, "validate", "--stack", "dev")[0] == 0


def test_validate_prints_warnings_on_stderr_and_exits_0(in_workspace, capsys):
    # Two A10G nodes at most, and the model may scale to 3 replicas of 1 GPU: allowed, but the
    # third replica would stay pending.
    in_workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 3})
    assert run(capsys, "validate") == (
        0,
        "ok: 1 teams, 1 models, valid for 1 stack (dev)\n",
        "warning: stacks/Pulumi.dev.yaml: modelplane:node_pools.gpu.max_size: pool gpu: at max "
        "replicas the models need 3 nvidia.com/gpu, 1 more than the 2 it offers at max size (2 "
        "node(s), 1 per node), so replicas beyond that stay pending; raise max_size to 3 if they "
        "should all run, or lower the max_replicas of fraud/scorer (3) (for this stack only: "
        "environments.dev.scaling.max_replicas)\n",
    )


def test_validate_warnings_do_not_hide_problems(in_workspace, capsys):
    # A warning in one stack, a problem in another: the problem decides the exit code.
    in_workspace.model(gpu={"count": 1}, scaling={"min_replicas": 1, "max_replicas": 3},
                       environments={"prod": {"resources": {"cpu": "64"}}})
    in_workspace.stack("prod")
    code, out, err = run(capsys, "validate")
    assert (code, out) == (1, "")
    assert err.splitlines()[0].startswith(
        "models/fraud/scorer.yaml: environments.prod.resources.cpu: 64 CPU per replica plus 125m"
    )
    code, out, err = run(capsys, "validate", "--stack", "dev")
    assert (code, out) == (0, "ok: 1 teams, 1 models, valid for 1 stack (dev)\n")
    assert err.startswith("warning: stacks/Pulumi.dev.yaml: modelplane:node_pools.gpu.max_size: pool gpu:")


def test_render_to_stdout_is_deterministic(in_workspace, capsys):
    first = run(capsys, "render", "--stack", "dev")
    second = run(capsys, "render", "--stack", "dev")
    assert first == second and first[0] == 0
    assert first[1].startswith("---\napiVersion: v1\nkind: Namespace\n")


def test_render_to_a_directory(in_workspace, capsys):
    total, _ = rendered_count(in_workspace)
    code, _, err = run(capsys, "render", "--stack", "dev", "--out", "out")
    assert code == 0 and err == f"wrote {total} objects to out\n"
    out = in_workspace.root / "out"
    assert (out / RENDER_MARKER).is_file()
    assert (out / "_cluster" / "namespace-team-fraud.yaml").is_file()
    assert (out / "team-fraud" / "inferenceservice-scorer.yaml").read_text().startswith("---\n")
    # A second render replaces the tree: a model removed from the catalog leaves no stale file.
    in_workspace.model(environments={"dev": {"enabled": False}})
    assert run(capsys, "render", "--stack", "dev", "--out", "out")[0] == 0
    assert not (out / "team-fraud" / "inferenceservice-scorer.yaml").exists()
    assert not [p for p in in_workspace.root.iterdir() if p.name.startswith(".out")]


def test_render_refuses_a_directory_it_did_not_write(in_workspace, capsys):
    in_workspace.write("mine/notes.txt", "keep me\n")
    code, _, err = run(capsys, "render", "--stack", "dev", "--out", "mine")
    assert code == 1
    assert err.splitlines()[0] == (
        "mine: (file): exists and was not written by modelplane render; name a new or empty directory"
    )
    assert (in_workspace.root / "mine" / "notes.txt").read_text() == "keep me\n"


def test_bad_input_writes_nothing(in_workspace, capsys):
    in_workspace.model(scaling={"min_replicas": 5, "max_replicas": 1})
    code, out, _ = run(capsys, "render", "--stack", "dev", "--out", "out")
    assert (code, out) == (1, "")
    assert not (in_workspace.root / "out").exists()
    code, out, _ = run(capsys, "render", "--stack", "dev")
    assert (code, out) == (1, "")


def test_unknown_stack(in_workspace, capsys):
    code, _, err = run(capsys, "plan", "--stack", "qa")
    assert code == 1
    assert err.splitlines()[0] == "stacks/Pulumi.qa.yaml: (file): no such stack file; stacks in stacks/: dev"


def test_plan_groups_objects_by_team_and_model(in_workspace, capsys):
    code, out, _ = run(capsys, "plan", "--stack", "dev")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "stack dev (dev): cluster modelplane-dev, Kubernetes 1.35, us-west-2, gateway models.test.example.com"
    )
    total, platform = rendered_count(in_workspace)
    assert f"Kubernetes objects: {total}" in lines
    assert f"  platform: {platform} objects" in lines
    assert f"  fraud: {total - platform} objects" in lines
    assert "Helm releases: 12" in lines
    assert "  gpu-operator: chart gpu-operator v26.7.0 from https://helm.ngc.nvidia.com/nvidia, namespace nvidia-gpu" in lines
    assert "    model scorer:" in lines
    assert "      + InferenceService team-fraud/scorer" in lines
    network = next(line for line in lines if line.startswith("  network: "))
    assert network.endswith(", S3 gateway endpoint com.amazonaws.us-west-2.s3 on the private route tables")


def test_console_script_prints_no_traceback(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", b"\x00\xff")
    result = subprocess.run(
        [sys.executable, "-m", "components.cli", "validate"],
        cwd=basic_workspace.root, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("models/fraud/scorer.yaml: (file): file is not UTF-8 text")


def test_exit_codes_are_distinct():
    # CI tells them apart: 0 and 3 pass a pull request, 1 and 2 fail it.
    assert (EXIT_OK, EXIT_INPUT_ERROR, EXIT_USAGE, EXIT_CHANGES) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["diff", "--stack", "dev"], "the following arguments are required: --base"),
        (["review", "--base", "main", "--allow-delte"], "unrecognized arguments: --allow-delte"),
        (["review", "--base", "main", "--format", "html"], "argument --format: invalid choice: 'html'"),
    ],
    ids=["missing-argument", "misspelled-flag", "unknown-format"],
)
def test_a_usage_error_exits_2_not_the_code_of_differences(in_workspace, argv, message):
    result = subprocess.run(
        [sys.executable, "-m", "components.cli", *argv],
        cwd=in_workspace.root, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert message in result.stderr.splitlines()[-1]


def test_version_is_the_installed_distribution_of_pyproject(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert capsys.readouterr().out == f"modelplane {project['version']}\n"


@pytest.mark.parametrize(
    "command, default, formats",
    [("cost", "text", "text, markdown, json"), ("diff", "text", "text, markdown, json"),
     ("review", "markdown", "text, markdown, json"), ("plan", "text", "text, markdown, svg"),
     ("validate", None, None), ("render", None, None), ("codeowners", None, None), ("schema", None, None)],
)
def test_help_shows_the_formats_and_the_default(command, default, formats, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # argparse wraps help to the terminal's width
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    if default is None:
        assert "--format" not in out
    else:
        help_line = rf"\n  --format FORMAT +output format: {formats} \(default: {default}\)\n"
        assert re.search(help_line, out), out


LAYOUT_HINT = (
    "run modelplane from the repository root, which holds models/<team>/*.yaml and "
    "stacks/Pulumi.<stack>.yaml, or pass --models and --stacks"
)


@pytest.mark.parametrize(
    "argv",
    [["validate"], ["render", "--stack", "dev"], ["plan", "--stack", "dev"], ["cost", "--stack", "dev"],
     ["diff", "--stack", "dev", "--base", "HEAD"], ["review", "--base", "HEAD"], ["codeowners", "--check"]],
    ids=lambda argv: argv[0],
)
def test_run_from_a_subdirectory_names_the_expected_layout(basic_workspace, capsys, monkeypatch, argv):
    # Before, each command listed the files it could not find; review printed an empty review, exit 0.
    monkeypatch.chdir(basic_workspace.models / "fraud")
    assert run(capsys, *argv) == (1, "", f"no models/ directory here: {LAYOUT_HINT}\n")


def test_a_missing_stacks_directory_is_named(in_workspace, capsys):
    (in_workspace.stacks / "Pulumi.dev.yaml").unlink()
    in_workspace.stacks.rmdir()
    assert run(capsys, "validate") == (1, "", f"no stacks/ directory here: {LAYOUT_HINT}\n")
    # codeowners reads only models/.
    assert run(capsys, "codeowners", "--out", "-", "--platform-reviewer", "@acme/platform")[0] == 0


def test_a_subdirectory_with_explicit_paths_works(basic_workspace, capsys, monkeypatch):
    monkeypatch.chdir(basic_workspace.models)
    code, out, _ = run(capsys, "validate", "--models", ".", "--stacks", "../stacks")
    assert (code, out) == (0, "ok: 1 teams, 1 models, valid for 1 stack (dev)\n")


def test_the_subdirectory_error_has_no_traceback(basic_workspace):
    result = subprocess.run(
        [sys.executable, "-m", "components.cli", "plan", "--stack", "dev"],
        cwd=basic_workspace.models, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"no models/ directory here: {LAYOUT_HINT}\n")


def test_schema_command_writes_both_schemas(in_workspace, capsys):
    assert run(capsys, "schema", "--out", "models")[0] == 0
    assert (Path("models") / "model.schema.json").is_file()
    assert (Path("models") / "team.schema.json").is_file()


def test_codeowners_cannot_write_into_a_directory(in_workspace, capsys):
    (in_workspace.root / "taken").mkdir()
    code, _, err = run(capsys, "codeowners", "--out", "taken")
    assert code == 1
    assert err.splitlines()[0] == "taken: (file): cannot write: Is a directory"


def test_codeowners_uses_the_repository_of_the_catalog(in_workspace, capsys, tmp_path, monkeypatch):
    in_workspace.team(reviewers=["@acme/fraud"])
    in_workspace.write("pyproject.toml", '[tool.modelplane]\nplatform_reviewers = ["@acme/platform"]\n')
    monkeypatch.chdir(tmp_path.parent)
    code, out, _ = run(capsys, "codeowners", "--models", str(in_workspace.models), "--out", "-")
    assert code == 0
    assert out.splitlines()[-2:] == ["* @acme/platform", "/models/fraud/ @acme/fraud"]


def test_codeowners_writes_github_codeowners_by_default(in_workspace, capsys):
    in_workspace.team(reviewers=["@acme/fraud"])
    code, _, err = run(capsys, "codeowners", "--platform-reviewer", "@acme/platform")
    assert (code, err) == (0, "wrote .github/CODEOWNERS\n")
    assert Path(".github/CODEOWNERS").read_text().splitlines()[-1] == "/models/fraud/ @acme/fraud"


def test_codeowners_check_only_warns_about_a_new_team(in_workspace, capsys):
    in_workspace.team(reviewers=["@acme/fraud"])
    assert run(capsys, "codeowners", "--platform-reviewer", "@acme/platform")[0] == 0
    in_workspace.team("payments", reviewers=["@acme/payments"])
    code, _, err = run(capsys, "codeowners", "--platform-reviewer", "@acme/platform", "--check")
    assert code == 0
    assert err.splitlines()[0].startswith(
        "warning: .github/CODEOWNERS: no rule `/models/payments/ @acme/payments` yet; until it is added "
        "the platform reviewers own that folder; run `modelplane codeowners --out .github/CODEOWNERS`"
    )


def test_codeowners_check_fails_on_a_grant_the_catalog_no_longer_gives(in_workspace, capsys):
    in_workspace.team(reviewers=["@acme/fraud"])
    assert run(capsys, "codeowners", "--platform-reviewer", "@acme/platform")[0] == 0
    in_workspace.team(reviewers=["@acme/fraud-new"])
    code, _, err = run(capsys, "codeowners", "--platform-reviewer", "@acme/platform", "--check")
    assert code == 1
    assert ".github/CODEOWNERS: (file): rule `/models/fraud/ @acme/fraud` grants ownership the catalog no longer gives" in err
    assert Path(".github/CODEOWNERS").read_text().splitlines()[-1] == "/models/fraud/ @acme/fraud"

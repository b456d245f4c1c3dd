"""The GitHub Actions workflows: linted offline, and the facts the project relies on.

Two linters run on both files, offline: check-jsonschema with its bundled copy of SchemaStore's
github-workflow schema (structure: keys, types, events), and actionlint (the kjanat fork, whose wheel
ships the binary) for what a schema cannot see: expression contexts, action inputs, needs, and the
`run:` scripts through ShellCheck when it is on PATH. Each is shown a broken copy to prove it bites.

The scripts of the steps whose behaviour matters (the review's exit codes and label, the Pulumi
credentials gate) are run here with bash, against a stub `modelplane`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
PULL_REQUEST = WORKFLOWS / "pull-request.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
WORKFLOW_FILES = [PULL_REQUEST, DEPLOY]

# What can change what `pulumi up` does; both workflows watch these.
WATCHED_PATHS = {"models/**", "stacks/**", "components/**", "infra/**"}
DEPLOY_ORDER = ["dev", "staging", "prod"]
REVIEW_LABEL = "allow-prod-delete"
# Well-known actions only, each pinned to a major version.
ALLOWED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "aws-actions/configure-aws-credentials",
    "pulumi/actions",
    "marocchino/sticky-pull-request-comment",
}


# --- helpers ---------------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True.
    return workflow["on"] if "on" in workflow else workflow[True]


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def one_step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    found = steps_using(job, action)
    assert len(found) == 1, f"expected one {action} step, found {len(found)}"
    return found[0]


def step_index(job: dict[str, Any], predicate) -> int:
    return next(i for i, s in enumerate(job["steps"]) if predicate(s))


def runs(command: str):
    return lambda step: step.get("run", "").strip() == command


def uses(action: str):
    return lambda step: step.get("uses", "").split("@")[0] == action


def venv_tool(name: str) -> str:
    """A console script installed next to this interpreter (the venv's bin), not one from PATH."""
    tool = shutil.which(name, path=str(Path(sys.executable).parent))
    assert tool, f"{name} is not installed in this environment: `make test` installs the dev extras"
    return tool


def run_step_script(
    script: str, cwd: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, dict[str, str], str]:
    """Runs a step's `run:` script as GitHub does for `shell: bash` (bash --noprofile --norc -eo pipefail).

    Returns the process, what the step wrote to $GITHUB_OUTPUT and to $GITHUB_STEP_SUMMARY.
    """
    output, summary = cwd / "github_output", cwd / "step_summary"
    output.write_text("")
    summary.write_text("")
    script_file = cwd / "step.sh"
    script_file.write_text(script)
    process = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return process, outputs, summary.read_text()


# --- linters ---------------------------------------------------------------------------------


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_tool("actionlint"), "-oneline", "-no-color", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(path):
    result = check_jsonschema(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actionlint_finds_nothing(path):
    result = actionlint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def broken_copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text()
    assert old in text, f"{old!r} is not in {source.name}: update this test"
    broken = tmp_path / source.name
    broken.write_text(text.replace(old, new, 1))
    return broken


@pytest.mark.parametrize(
    "source, old, new, error",
    [
        (PULL_REQUEST, "    runs-on: ubuntu-latest\n", "    run-on: ubuntu-latest\n", "'runs-on' is a required property"),
        (PULL_REQUEST, "      pull-requests: write", "      pull-request: write", "$.jobs.review.permissions"),
        (DEPLOY, "  push:\n", "  pushed:\n", "$.on"),
    ],
    ids=["misspelled-runs-on", "unknown-permission", "unknown-event"],
)
def test_schema_check_rejects_a_broken_workflow(tmp_path, source, old, new, error):
    result = check_jsonschema(broken_copy(tmp_path, source, old, new))
    assert result.returncode == 1, result.stdout + result.stderr
    assert error in result.stdout


@pytest.mark.parametrize(
    "source, old, new, error",
    [
        # The mistake the credentials gate exists to avoid: secrets are not readable in a job's `if:`.
        (
            PULL_REQUEST,
            "if: needs.pulumi-credentials.outputs.configured == 'true'",
            "if: secrets.PULUMI_ACCESS_TOKEN != ''",
            'context "secrets" is not allowed here',
        ),
        (PULL_REQUEST, "fetch-depth: 0", "fetch-deph: 0", 'input "fetch-deph" is not defined in action "actions/checkout'),
        (DEPLOY, "needs: dev", "needs: deev", 'job "staging" needs job "deev" which does not exist'),
        (DEPLOY, "stack-name: prod\n", "stack-nam: prod\n", 'input "stack-nam" is not defined'),
    ],
    ids=["secret-in-job-if", "checkout-input-typo", "unknown-needs", "pulumi-input-typo"],
)
def test_actionlint_rejects_a_broken_workflow(tmp_path, source, old, new, error):
    result = actionlint(broken_copy(tmp_path, source, old, new))
    assert result.returncode == 1, result.stdout + result.stderr
    assert error in result.stdout


# --- facts of both workflows -----------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_only_well_known_actions_pinned_to_a_major_version(path):
    for job in load(path)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                action, _, version = step["uses"].partition("@")
                assert action in ALLOWED_ACTIONS, step["uses"]
                assert re.fullmatch(r"v\d+", version), step["uses"]


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_scripts_take_expressions_through_env_and_make_targets_exist(path):
    # `${{ }}` pasted into a script is an injection risk and would keep the scripts from running here.
    targets = set(re.findall(r"^([\w.-]+):", (REPO / "Makefile").read_text(), re.MULTILINE))
    workflow = load(path)
    assert workflow["defaults"]["run"]["shell"] == "bash"
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "")
            assert "${{" not in script, script
            for target in re.findall(r"\bmake (\S+)", script):
                assert target in targets, f"make {target}: no such target in the Makefile"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_jobs_that_run_pulumi_get_python_deps_and_aws_credentials_first(path):
    for name, job in load(path)["jobs"].items():
        if not steps_using(job, "pulumi/actions"):
            continue
        pulumi = step_index(job, uses("pulumi/actions"))
        # Pulumi.yaml runs the program from .venv, which `make validate` creates.
        assert step_index(job, runs("make validate")) < pulumi, name
        assert step_index(job, uses("aws-actions/configure-aws-credentials")) < pulumi, name
        assert job["permissions"]["id-token"] == "write", name  # OIDC
        assert one_step_using(job, "pulumi/actions")["env"] == {
            "PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"
        }, name


# --- pull-request.yml ------------------------------------------------------------------------


def test_pull_request_triggers_on_the_catalog_stacks_and_code():
    on = triggers(load(PULL_REQUEST))
    assert set(on) == {"pull_request"}
    paths = set(on["pull_request"]["paths"])
    assert WATCHED_PATHS | {".github/workflows/pull-request.yml"} <= paths
    # Adding or removing the label must re-run the review.
    assert {"opened", "synchronize", "reopened", "labeled", "unlabeled"} <= set(on["pull_request"]["types"])


def test_a_new_push_cancels_the_previous_run_of_the_same_pull_request():
    concurrency = load(PULL_REQUEST)["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


def test_pull_request_jobs_are_never_skipped_by_event():
    # A job skipped by `if:` reports success; only the credentials gate may skip one (preview).
    jobs = load(PULL_REQUEST)["jobs"]
    assert {name for name, job in jobs.items() if "if" in job} == {"preview"}


def codeowners_step() -> dict[str, Any]:
    return load(PULL_REQUEST)["jobs"]["test"]["steps"][-1]


def test_test_job_runs_make_test_on_python_3_11_then_checks_codeowners():
    job = load(PULL_REQUEST)["jobs"]["test"]
    assert one_step_using(job, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert job["steps"][-2]["run"] == "make test"
    assert codeowners_step()["run"].startswith(".venv/bin/modelplane codeowners --check")


def test_review_job_setup():
    job = load(PULL_REQUEST)["jobs"]["review"]
    assert "needs" not in job
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert one_step_using(job, "actions/checkout")["with"]["fetch-depth"] == 0
    assert one_step_using(job, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert step_index(job, runs("make validate")) < step_index(job, lambda s: s.get("id") == "review")


def review_step() -> dict[str, Any]:
    return next(s for s in load(PULL_REQUEST)["jobs"]["review"]["steps"] if s.get("id") == "review")


def test_the_allow_delete_flag_follows_the_label():
    env = review_step()["env"]
    assert env["ALLOW_PROD_DELETE"] == f"${{{{ contains(github.event.pull_request.labels.*.name, '{REVIEW_LABEL}') }}}}"
    assert env["BASE_REF"] == "${{ github.base_ref }}"


STUB = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$STUB_ARGS"
printf '%s' "$STUB_STDOUT"
exit "$STUB_EXIT"
"""


def install_stub(tmp_path: Path) -> None:
    stub = tmp_path / ".venv" / "bin" / "modelplane"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text(STUB)
    stub.chmod(0o755)


def run_review(tmp_path: Path, *, label: bool, exit_code: int, stdout: str):
    install_stub(tmp_path)
    env = {
        "BASE_REF": "main",
        "ALLOW_PROD_DELETE": "true" if label else "false",
        "RUN_URL": "https://example.invalid/run/1",
        "STUB_ARGS": str(tmp_path / "args"),
        "STUB_STDOUT": stdout,
        "STUB_EXIT": str(exit_code),
    }
    process, outputs, summary = run_step_script(review_step()["run"], tmp_path, env)
    args = (tmp_path / "args").read_text().splitlines()
    comment = (tmp_path / "review.md").read_text()
    return process, outputs, summary, args, comment


@pytest.mark.parametrize("label", [False, True], ids=["unlabelled", "labelled"])
def test_review_command_and_the_label(tmp_path, label):
    process, outputs, _, args, _ = run_review(tmp_path, label=label, exit_code=0, stdout="no changes\n")
    assert process.returncode == 0, process.stderr
    expected = ["review", "--base", "origin/main", "--format", "markdown"]
    assert args == expected + (["--allow-delete"] if label else [])
    assert outputs == {"status": "0"}


@pytest.mark.parametrize("exit_code", [0, 1, 2, 3, 42])
def test_review_step_records_the_exit_code_and_keeps_the_comment(tmp_path, exit_code):
    # The step itself never fails: the comment is posted first, the last step fails on an error.
    markdown = "## modelplane review\n\n| stack | added |\n|---|---|\n| prod | 1 |\n"
    process, outputs, summary, _, comment = run_review(tmp_path, label=False, exit_code=exit_code, stdout=markdown)
    assert process.returncode == 0, process.stderr
    assert outputs == {"status": str(exit_code)}
    assert comment == markdown
    assert summary == markdown


def test_a_review_that_prints_nothing_still_replaces_the_comment(tmp_path):
    process, outputs, _, _, comment = run_review(tmp_path, label=False, exit_code=1, stdout="")
    assert process.returncode == 0 and outputs == {"status": "1"}
    assert "exited 1" in comment and "https://example.invalid/run/1" in comment


def verdict_step() -> dict[str, Any]:
    return load(PULL_REQUEST)["jobs"]["review"]["steps"][-1]


def test_the_review_is_one_sticky_comment_and_the_verdict_comes_after_it():
    steps = load(PULL_REQUEST)["jobs"]["review"]["steps"]
    review = step_index({"steps": steps}, lambda s: s.get("id") == "review")
    post = step_index({"steps": steps}, uses("marocchino/sticky-pull-request-comment"))
    post_step = steps[post]
    assert post_step["with"]["path"] == "review.md" and post_step["with"]["header"]
    assert review < post < len(steps) - 1
    # The verdict reads the recorded code on every run: no `if:` that could skip it.
    verdict = verdict_step()
    assert "if" not in verdict
    assert verdict["env"] == {"STATUS": "${{ steps.review.outputs.status }}"}


@pytest.mark.parametrize(
    "exit_code, passes, message",
    [
        (0, True, "modelplane review: no change"),
        (3, True, "modelplane review: changes, shown in the review comment"),
        (1, False, "::error::modelplane review found a problem or an unacknowledged change (exit 1)"),
        (2, False, "::error::modelplane review was called wrongly (exit 2, a usage error)"),
        (42, False, "::error::modelplane review exited '42', which is none of its exit codes"),
    ],
    ids=["no-change", "changes", "input-problem", "usage-error", "unknown-code"],
)
def test_the_job_passes_only_on_no_change_or_changes(tmp_path, exit_code, passes, message):
    # modelplane's codes: 0 no change, 1 a problem or an unacknowledged change, 2 a usage error
    # (argparse), 3 differences found. The review step records the code; the last step decides.
    _, outputs, _, _, _ = run_review(tmp_path, label=False, exit_code=exit_code, stdout="review\n")
    process, _, _ = run_step_script(verdict_step()["run"], tmp_path, {"STATUS": outputs["status"]})
    assert (process.returncode == 0) is passes, process.stdout + process.stderr
    assert process.stdout.startswith(message)


def test_the_verdict_fails_when_the_review_recorded_no_code(tmp_path):
    process, _, _ = run_step_script(verdict_step()["run"], tmp_path, {"STATUS": ""})
    assert process.returncode == 1
    assert process.stdout.startswith("::error::modelplane review exited '', which is none of its exit codes")


@pytest.mark.parametrize("exit_code", [0, 1])
def test_the_codeowners_step_annotates_warnings_and_fails_on_a_stale_rule(tmp_path, exit_code):
    install_stub(tmp_path)
    printed = "warning: .github/CODEOWNERS: no rule `/models/payments/ @acme/payments` yet\nok\n"
    env = {"STUB_ARGS": str(tmp_path / "args"), "STUB_STDOUT": printed, "STUB_EXIT": str(exit_code)}
    process, _, _ = run_step_script(codeowners_step()["run"], tmp_path, env)
    assert process.returncode == exit_code  # pipefail: the sed after it does not hide a failure
    assert (tmp_path / "args").read_text().splitlines() == ["codeowners", "--check"]
    assert process.stdout == "::warning::.github/CODEOWNERS: no rule `/models/payments/ @acme/payments` yet\nok\n"


def test_diff_and_review_run_only_where_their_exit_code_is_read():
    # They exit 3 on changes, which a plain step takes for a failure: the review step records the
    # code and the verdict step reads it. Everything else exits 0 or 1 (2 on a usage error).
    calls = {
        (path.name, name, command)
        for path in WORKFLOW_FILES
        for name, job in load(path)["jobs"].items()
        for step in job["steps"]
        for command in re.findall(r"bin/modelplane (\w+)", step.get("run", ""))
    }
    assert calls == {("pull-request.yml", "test", "codeowners"), ("pull-request.yml", "review", "review")}


def test_review_arguments_are_accepted_by_the_cli():
    from components.cli.main import build_parser

    parser = build_parser()
    for extra in ([], ["--allow-delete"]):
        parser.parse_args(["review", "--base", "origin/main", "--format", "markdown", *extra])


def test_preview_never_runs_without_the_pulumi_secret():
    jobs = load(PULL_REQUEST)["jobs"]
    gate = jobs["pulumi-credentials"]
    assert gate["outputs"]["configured"] == "${{ steps.check.outputs.configured }}"
    check = next(s for s in gate["steps"] if s.get("id") == "check")
    assert check["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
    # Every job that runs Pulumi waits for the gate and runs only when it says yes.
    pulumi_jobs = [name for name, job in jobs.items() if steps_using(job, "pulumi/actions")]
    assert pulumi_jobs == ["preview"]
    preview = jobs["preview"]
    assert preview["needs"] == "pulumi-credentials"
    assert preview["if"] == "needs.pulumi-credentials.outputs.configured == 'true'"


@pytest.mark.parametrize("token, configured", [("pul-secret", "true"), ("", "false")], ids=["set", "unset"])
def test_the_credentials_gate_script(tmp_path, token, configured):
    gate = load(PULL_REQUEST)["jobs"]["pulumi-credentials"]
    check = next(s for s in gate["steps"] if s.get("id") == "check")
    process, outputs, _ = run_step_script(check["run"], tmp_path, {"PULUMI_ACCESS_TOKEN": token})
    assert process.returncode == 0, process.stderr
    assert outputs == {"configured": configured}


def test_preview_matrix_shape():
    """Which stacks the matrix lists is the repository's business (test_repository_catalog.py)."""
    job = load(PULL_REQUEST)["jobs"]["preview"]
    include = job["strategy"]["matrix"]["include"]
    assert include
    for entry in include:
        assert set(entry) == {"stack", "region", "role"}, entry
        assert entry["role"].startswith("${{ vars."), entry["stack"]
    assert job["strategy"]["fail-fast"] is False
    assert "environment" not in job  # the deploy environments' approvals would gate every preview
    assert job["permissions"]["pull-requests"] == "write"
    credentials = one_step_using(job, "aws-actions/configure-aws-credentials")["with"]
    assert credentials == {"role-to-assume": "${{ matrix.role }}", "aws-region": "${{ matrix.region }}"}
    assert one_step_using(job, "pulumi/actions")["with"] == {
        "command": "preview",
        "stack-name": "${{ matrix.stack }}",
        "diff": True,
        "comment-on-pr": True,
    }


# --- deploy.yml ------------------------------------------------------------------------------


def test_deploy_triggers_on_main_and_by_hand():
    on = triggers(load(DEPLOY))
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]
    pr_paths = set(triggers(load(PULL_REQUEST))["pull_request"]["paths"]) - {".github/workflows/pull-request.yml"}
    assert set(on["push"]["paths"]) - {".github/workflows/deploy.yml"} == pr_paths
    assert WATCHED_PATHS <= pr_paths


def test_deploys_never_overlap_and_are_never_cancelled():
    assert load(DEPLOY)["concurrency"] == {"group": "deploy", "cancel-in-progress": False}


def test_deploy_runs_the_tests_then_dev_staging_prod_in_order():
    jobs = load(DEPLOY)["jobs"]
    assert list(jobs) == ["test", *DEPLOY_ORDER]
    assert jobs["test"]["steps"][-1]["run"] == "make test"
    previous = "test"
    for stack in DEPLOY_ORDER:
        job = jobs[stack]
        assert job["needs"] == previous, stack
        assert job["environment"] == stack  # its protection rules gate staging and prod
        assert "if" not in job, stack
        previous = stack


@pytest.mark.parametrize("stack", DEPLOY_ORDER)
def test_each_deploy_job_applies_its_own_stack(stack):
    job = load(DEPLOY)["jobs"][stack]
    assert one_step_using(job, "pulumi/actions")["with"] == {"command": "up", "stack-name": stack}
    credentials = one_step_using(job, "aws-actions/configure-aws-credentials")["with"]
    # The region must be the stack's own: test_repository_catalog.py compares it with stacks/.
    assert set(credentials) == {"role-to-assume", "aws-region"}
    assert credentials["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert one_step_using(job, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}

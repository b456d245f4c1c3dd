"""Hostile values in catalog and stack files, and hostile conditions around the command (a closed
pipe, a full disk, a read-only folder, a kill mid-render): exit 1 (or the documented code) with one
line naming the file and the field, never a traceback, and nothing written."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.cli import object_tree
from components.cli.main import EXIT_BROKEN_PIPE, EXIT_INPUT_ERROR, EXIT_OK, main
from components.cli.object_tree import RENDER_MARKER
from components.platform_names import RESERVED_NAMESPACES
from components.render.addons import render_addon_releases
from components.render.stack_render import render_stack
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACKS_DIR, commit_as_base

SUMMARY = "1 problem found; nothing was written"


@pytest.fixture
def in_workspace(basic_workspace, monkeypatch):
    monkeypatch.chdir(basic_workspace.root)
    return basic_workspace


def run(capsys, *args: str) -> tuple[int, str, list[str]]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def problems_of(workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        catalog = load_catalog(workspace.models, "models")
        resolve_deployment(catalog, load_stack(workspace.stacks, "dev", "stacks"), stack_names(workspace.stacks))
    return [str(problem) for problem in caught.value.problems]


def tree_snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- 6: numbers no computation can take --------------------------------------------------------

@pytest.mark.parametrize(("price", "message"), [
    (float("inf"), "must be a finite number, got the number inf"),
    (float("nan"), "must be a finite number, got the number nan"),
    (1e30, "must be at most 1000, got the number 1e+30"),
    (10**4000, "is far too large, got the number 100000... (4001 digits); check the number"),
])
def test_a_cost_price_must_be_a_finite_bounded_number(in_workspace, capsys, price, message):
    """`.inf` or 1e30 passed validate and crashed plan, cost and review (Decimal.quantize)."""
    in_workspace.stack(cost={"prices": {"m6i.large": price}})
    for command in ("validate", "plan", "cost", "render"):
        args = [command] if command == "validate" else [command, "--stack", "dev"]
        code, out, err = run(capsys, *args)
        assert (code, out) == (EXIT_INPUT_ERROR, ""), command
        assert err == [f"stacks/Pulumi.dev.yaml: modelplane:cost.prices.m6i.large: {message}", SUMMARY]


def test_a_4001_digit_number_is_not_echoed_in_full(in_workspace, capsys):
    in_workspace.stack(node_pools={"system": {"instance_types": ["m6i.large"], "min_size": 1, "max_size": 10**4000}})
    code, _, err = run(capsys, "validate")
    assert code == EXIT_INPUT_ERROR
    assert err[0] == (
        "stacks/Pulumi.dev.yaml: modelplane:node_pools.system.max_size: must be at most 1000, got the "
        "number 100000... (4001 digits)"
    )


def test_a_long_value_is_cut_in_the_message(in_workspace, capsys):
    in_workspace.stack(domain="a" * 5000 + ".example.com")
    code, _, err = run(capsys, "validate")
    assert code == EXIT_INPUT_ERROR
    assert err[0].startswith("stacks/Pulumi.dev.yaml: modelplane:domain: 'aaaaaaaa")
    assert "... (5012 characters) is not a DNS name" in err[0] and len(err[0]) < 250


# --- 6: the command's surroundings ---------------------------------------------------------------

class FailingStdout:
    """A standard output whose reader went away, or whose disk is full."""

    def __init__(self, error: OSError):
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error

    def fileno(self) -> int:
        raise ValueError("no descriptor")


def test_a_closed_pipe_exits_quietly(in_workspace, monkeypatch, capsys):
    """`modelplane plan | head -1`: no traceback, no message, the shell's code for SIGPIPE."""
    monkeypatch.setattr(sys, "stdout", FailingStdout(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    assert main(["plan", "--stack", "dev"]) == EXIT_BROKEN_PIPE == 141
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_in_a_real_pipeline_prints_no_traceback(in_workspace):
    process = subprocess.Popen(
        [sys.executable, "-m", "components.cli", "render", "--stack", "dev"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(1)
    process.stdout.close()
    assert process.stderr.read() == b""
    assert process.wait(timeout=60) in (EXIT_OK, EXIT_BROKEN_PIPE)


def test_a_full_disk_on_standard_output_is_one_line(in_workspace, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", FailingStdout(OSError(errno.ENOSPC, "No space left on device")))
    assert main(["plan", "--stack", "dev"]) == EXIT_INPUT_ERROR
    assert capsys.readouterr().err == "cannot write the output: No space left on device\n"


def fail_writes_into(monkeypatch, folder: Path, error: OSError, after: int = 0) -> None:
    """Every Path.write_text into ``folder`` after the first ``after`` raises ``error``."""
    real = Path.write_text
    done = []

    def write_text(self, *args, **kwargs):
        if self.absolute().parent == folder:
            if len(done) >= after:
                raise error
            done.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)


@pytest.mark.parametrize(("error", "after"), [
    (PermissionError(errno.EACCES, "Permission denied"), 0),
    (OSError(errno.ENOSPC, "No space left on device"), 1),
])
def test_schema_into_a_read_only_or_full_folder_writes_nothing(in_workspace, monkeypatch, capsys, error, after):
    out = in_workspace.root / "schemas"
    out.mkdir()
    (out / "model.schema.json").write_text("old model schema\n")
    fail_writes_into(monkeypatch, out, error, after)
    code, _, err = run(capsys, "schema", "--out", "schemas")
    assert code == EXIT_INPUT_ERROR
    assert err[0].startswith("schemas/") and err[0].endswith(f"(file): cannot write: {error.strerror}")
    assert tree_snapshot(out) == {"model.schema.json": b"old model schema\n"}


def test_codeowners_on_a_full_disk_leaves_the_file_as_it_was(in_workspace, monkeypatch, capsys):
    owners = in_workspace.write(".github/CODEOWNERS", "* @acme/platform\n")
    fail_writes_into(monkeypatch, owners.parent, OSError(errno.ENOSPC, "No space left on device"))
    code, _, err = run(capsys, "codeowners", "--platform-reviewer", "@acme/platform")
    assert (code, err[0]) == (EXIT_INPUT_ERROR, ".github/CODEOWNERS: (file): cannot write: No space left on device")
    assert tree_snapshot(owners.parent) == {"CODEOWNERS": b"* @acme/platform\n"}


def test_out_slash_is_shown_as_slash(in_workspace, capsys):
    code, _, err = run(capsys, "render", "--stack", "dev", "--out", "/")
    assert code == EXIT_INPUT_ERROR
    assert err[0] == "/: (file): exists and was not written by modelplane render; name a new or empty directory"


def test_a_base_with_a_symlink_out_of_the_repository_is_refused(repo, monkeypatch, capsys):
    os.symlink("/etc/passwd", repo.models / "fraud" / "leak.yaml")
    commit_as_base(repo)
    (repo.models / "fraud" / "leak.yaml").unlink()
    monkeypatch.chdir(repo.root)
    code, out, err = run(capsys, "diff", "--stack", "dev", "--base", "base")
    assert (code, out) == (EXIT_INPUT_ERROR, "")
    assert err == [
        "base:models/fraud/leak.yaml: (file): is a symbolic link at the base; the catalog is read from "
        "real files only, so replace it with what it points to on that branch",
        SUMMARY,
    ]
    code, out, _ = run(capsys, "review", "--base", "base", "--format", "text")
    assert code == EXIT_INPUT_ERROR and "base:models/fraud/leak.yaml: (file): is a symbolic link" in out
    assert "root:" not in out  # /etc/passwd was not read


def test_stacks_outside_the_repository_with_a_base(repo, monkeypatch, capsys, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "Pulumi.dev.yaml").write_bytes((repo.stacks / "Pulumi.dev.yaml").read_bytes())
    monkeypatch.chdir(repo.root)
    code, out, err = run(capsys, "diff", "--stack", "dev", "--base", "base", "--stacks", str(elsewhere))
    assert (code, out) == (EXIT_INPUT_ERROR, "")
    assert err[0].startswith(f"{elsewhere.as_posix()}: (file): is outside the git repository ")
    assert err[0].endswith("; --base compares the folders of one repository, so pass --models and --stacks inside it")


# --- 8: routes -----------------------------------------------------------------------------------

def test_a_team_cannot_route_under_another_teams_paths(basic_workspace):
    basic_workspace.team("search", storage={"s3_prefixes": ["s3://models-bucket/search/"]})
    basic_workspace.model(route={"path": "/search/new"})
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: route.path: route /search/new is outside /fraud/, the paths of team "
        "fraud; choose a path under /fraud/, or ask the platform team to grant the prefix in "
        "modelplane:route_grants of stacks/Pulumi.dev.yaml",
    ]


def test_the_stack_can_grant_a_team_more_paths(basic_workspace):
    basic_workspace.model(route={"path": "/payments/score"})
    basic_workspace.stack(route_grants={"fraud": ["/payments/"]})
    catalog = load_catalog(basic_workspace.models, "models")
    deployment = resolve_deployment(catalog, load_stack(basic_workspace.stacks, "dev"), ["dev"])
    assert [model.route_path for model in deployment.models] == ["/payments/score"]
    # The grant is the team's alone, and a prefix: /payments-other is not under /payments/.
    basic_workspace.model(route={"path": "/payments-other/score"})
    assert problems_of(basic_workspace)[0].startswith(
        "models/fraud/scorer.yaml: route.path: route /payments-other/score is outside /fraud/, /payments/"
    )


@pytest.mark.parametrize(("grant", "message"), [
    ("/payments", "'/payments' must end with '/' after a path"),
    ("/", "'/' must end with '/' after a path"),
    ("/../", "'/..' has a segment starting with '.'"),
])
def test_a_grant_is_a_normalised_prefix(basic_workspace, grant, message):
    basic_workspace.stack(route_grants={"fraud": [grant]})
    with pytest.raises(InputError) as caught:
        load_stack(basic_workspace.stacks, "dev", "stacks")
    assert str(caught.value.problems[0]).startswith(
        f"stacks/Pulumi.dev.yaml: modelplane:route_grants.fraud[0]: {message}"
    )


@pytest.mark.parametrize(("path", "message"), [
    ("/fraud/../search/x", "has a segment starting with '.' ('.', '..', .well-known); route paths are plain /segment/segment"),
    ("/fraud/./x", "has a segment starting with '.'"),
    ("/.well-known/acme-challenge", "has a segment starting with '.'"),
    ("/fraud/%2e%2e/x", "is not a route path"),
    ("/fraud//x", "is not a route path"),
    ("/fraud/x/", "is not a route path"),
    ("/Fraud/X", "has capitals; route paths are lower case: write /fraud/x"),
])
def test_routes_are_normalised(in_workspace, capsys, path, message):
    in_workspace.model(route={"path": path})
    code, out, err = run(capsys, "validate")
    assert (code, out) == (EXIT_INPUT_ERROR, "")
    assert err[0].startswith(f"models/fraud/scorer.yaml: route.path: {path!r} {message}")


def test_route_matching_is_case_sensitive_so_paths_are_lower_case():
    """Istio turns a match into an Envoy route with ``case_sensitive: !ignoreUriCase``
    (pilot/pkg/networking/core/route/route.go:1115@1.30.3): without ignoreUriCase, /Fraud/x and
    /fraud/x would be two routes; modelplane sets no ignoreUriCase and allows lower case only."""
    for name in FIXTURE_STACKS:
        deployment = resolve_deployment(load_catalog(MODELS_DIR), load_stack(STACKS_DIR, name), stack_names(STACKS_DIR))
        routes = [obj for obj in render_stack(deployment).objects if obj["kind"] == "VirtualService"]
        matches = [m for route in routes for http in route["spec"]["http"] for m in http.get("match", [])]
        assert matches
        for match in matches:
            assert "ignoreUriCase" not in match
            path = match["uri"].get("exact") or match["uri"]["prefix"]
            assert path == path.lower()


# --- 9: namespaces -------------------------------------------------------------------------------

def test_a_team_namespace_may_not_be_an_extra_releases(basic_workspace):
    basic_workspace.stack(extra_releases=[{"name": "vault", "namespace": "team-fraud", "chart": "vault", "version": "0.28.0"}])
    assert problems_of(basic_workspace) == [
        "models/fraud/team.yaml: namespace: 'team-fraud' is the namespace of the extra release vault of "
        "stack dev (stacks/Pulumi.dev.yaml); the platform owns it, so choose another namespace",
    ]


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_every_namespace_the_platform_installs_into_is_reserved(stack):
    deployment = resolve_deployment(load_catalog(MODELS_DIR), load_stack(STACKS_DIR, stack), stack_names(STACKS_DIR))
    team_namespaces = {team.namespace for team in deployment.teams}
    releases, _ = render_addon_releases(deployment)
    used = {release.namespace for release in releases}
    used |= {obj["metadata"]["namespace"] for obj in render_stack(deployment).objects if "namespace" in obj["metadata"]}
    assert used - team_namespaces <= RESERVED_NAMESPACES
    assert {release.namespace for release in releases} <= RESERVED_NAMESPACES


# --- 10: render --out ----------------------------------------------------------------------------

def render_into(capsys, out: str = "out") -> int:
    return run(capsys, "render", "--stack", "dev", "--out", out)[0]


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".out"))


def test_a_kill_between_the_renames_is_repaired_by_the_next_run(in_workspace, monkeypatch, capsys):
    """Without an atomic exchange the swap is two renames; a kill between them leaves the old tree
    complete beside the path, and the next run puts it back before anything else."""
    assert render_into(capsys) == EXIT_OK
    out = in_workspace.root / "out"
    before = tree_snapshot(out)
    monkeypatch.setattr(object_tree, "_exchange", lambda first, second: False)
    real_rename = Path.rename

    def killed(self, target):
        if Path(target).absolute() == out:
            raise KeyboardInterrupt  # stands in for kill -9: no cleanup code runs after it
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", killed)
    monkeypatch.setattr(object_tree.shutil, "rmtree", lambda path: None)  # a killed run removes nothing
    with pytest.raises(KeyboardInterrupt):
        main(["render", "--stack", "dev", "--out", "out"])
    assert not out.exists() and leftovers(in_workspace.root) == [".out.modelplane-old", ".out.modelplane-staging"]
    monkeypatch.undo()
    monkeypatch.chdir(in_workspace.root)
    assert object_tree.clear_leftovers(out) is None and tree_snapshot(out) == before
    in_workspace.model(environments={"dev": {"enabled": False}})
    assert render_into(capsys) == EXIT_OK
    assert leftovers(in_workspace.root) == []
    assert not (out / "team-fraud" / "inferenceservice-scorer.yaml").exists()


def test_the_exchange_keeps_a_complete_tree_at_the_path(in_workspace, monkeypatch, capsys):
    """With renameat2(RENAME_EXCHANGE) the path never lacks a tree; fail right after it."""
    assert render_into(capsys) == EXIT_OK
    out = in_workspace.root / "out"
    exchanged = []
    real_exchange = object_tree._exchange

    def exchange_then_fail(first, second):
        done = real_exchange(first, second)
        exchanged.append(done)
        if done:
            raise OSError(errno.EIO, "Input/output error")
        return done

    monkeypatch.setattr(object_tree, "_exchange", exchange_then_fail)
    in_workspace.model(environments={"dev": {"enabled": False}})
    code = render_into(capsys)
    if exchanged != [True]:
        pytest.skip("this file system has no atomic exchange; the two-rename path is tested above")
    assert code == EXIT_INPUT_ERROR
    assert (out / RENDER_MARKER).is_file()
    monkeypatch.undo()
    monkeypatch.chdir(in_workspace.root)
    assert render_into(capsys) == EXIT_OK and leftovers(in_workspace.root) == []


def test_leftovers_of_the_earlier_scheme_are_cleared(in_workspace, capsys):
    for name in (".out.abcd1234", ".out.old.efgh5678/tree"):
        (in_workspace.root / name).mkdir(parents=True)
    (in_workspace.root / ".out.old.efgh5678" / "tree" / RENDER_MARKER).write_text("x")
    keep = in_workspace.write(".out.notes/keep.txt", "mine\n")
    assert render_into(capsys) == EXIT_OK
    assert leftovers(in_workspace.root) == [".out.notes"] and keep.read_text() == "mine\n"


def test_concurrent_renders_take_turns(in_workspace, capsys):
    results: list[int] = []
    workers = [
        threading.Thread(target=lambda: results.append(object_tree_write(in_workspace.root / "out")))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert results == [0, 0, 0, 0]
    assert (in_workspace.root / "out" / RENDER_MARKER).is_file()
    assert leftovers(in_workspace.root) == []


def object_tree_write(out: Path) -> int:
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"n{i}"}} for i in range(50)]
    object_tree.write_object_tree(objects, out)
    return 0


def test_a_read_only_target_leaves_nothing(in_workspace, monkeypatch, capsys):
    assert render_into(capsys) == EXIT_OK
    out = in_workspace.root / "out"
    before = tree_snapshot(out)
    real_access = os.access
    monkeypatch.setattr(object_tree.os, "access", lambda path, mode: False if Path(path).absolute() == out else real_access(path, mode))
    for _ in range(2):
        code, _, err = run(capsys, "render", "--stack", "dev", "--out", "out")
        assert (code, err[0]) == (EXIT_INPUT_ERROR, "out: (file): cannot write: Permission denied")
    assert tree_snapshot(out) == before and leftovers(in_workspace.root) == []


def test_an_unwritable_parent_leaves_nothing(in_workspace, monkeypatch, capsys):
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name.startswith(".out."):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, _, err = run(capsys, "render", "--stack", "dev", "--out", "out")
    assert (code, err[0]) == (EXIT_INPUT_ERROR, "out: (file): cannot write: Permission denied")
    assert leftovers(in_workspace.root) == [] and not (in_workspace.root / "out").exists()


# --- 11: smaller ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["K_SINK", "K_CE_OVERRIDES", "K_ANYTHING", "K_SERVICE", "PORT",
                                  "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ROLE_ARN"])
def test_platform_env_names_are_refused(in_workspace, capsys, name):
    in_workspace.model(env={name: "x"})
    code, _, err = run(capsys, "validate")
    assert code == EXIT_INPUT_ERROR
    assert err[0] == (
        f"models/fraud/scorer.yaml: env.{name}: {name} is set by the platform (Knative, KServe or the "
        "IAM role of the team); remove it"
    )


def test_env_names_merely_containing_k_are_fine(basic_workspace):
    basic_workspace.model(env={"TOP_K": "5", "KAFKA_TOPIC": "x", "k_lower": "y"})
    assert load_catalog(basic_workspace.models).teams


@pytest.mark.parametrize("reviewer", ["@acme/ml\x00fraud", "@acme/ml`fraud", "@acme/x y", "@-acme", "@acme-",
                                      "@ac--me", "@" + "a" * 40, "a\x00b@example.com", "x`y@example.com",
                                      "@acme/ml-fraud\n* @evil"])
def test_codeowners_reviewers_follow_githubs_name_rules(in_workspace, capsys, reviewer):
    in_workspace.team(reviewers=[reviewer])
    code, out, err = run(capsys, "codeowners", "--out", "-")
    assert (code, out) == (EXIT_INPUT_ERROR, "")
    assert err[0].startswith("models/fraud/team.yaml: reviewers[0]: ")
    assert "is not a GitHub owner; write @user, @org/team or an e-mail address" in err[0]
    assert "\x00" not in err[0] and len(err) == 2


@pytest.mark.parametrize("reviewer", ["@acme", "@acme/ml-fraud", "@a/b.c_d", "ml.fraud+x@acme.example.com"])
def test_valid_reviewers_are_accepted(in_workspace, capsys, reviewer):
    in_workspace.team(reviewers=[reviewer])
    code, out, _ = run(capsys, "codeowners", "--out", "-", "--platform-reviewer", "@acme/platform")
    assert code == EXIT_OK and f"/models/fraud/ {reviewer}\n" in out


def test_platform_reviewers_follow_the_same_rules(in_workspace, capsys):
    in_workspace.write("pyproject.toml", '[tool.modelplane]\nplatform_reviewers = ["@acme/platform`x"]\n')
    code, _, err = run(capsys, "codeowners", "--out", "-")
    assert code == EXIT_INPUT_ERROR
    assert err[0].startswith("pyproject.toml: tool.modelplane.platform_reviewers[0]: '@acme/platform`x' is not a GitHub owner")
    code, _, err = run(capsys, "codeowners", "--out", "-", "--platform-reviewer", "@x\x00")
    assert code == EXIT_INPUT_ERROR and err[0].startswith("--platform-reviewer: (file): '@x\\x00' is not a GitHub owner")


@pytest.mark.parametrize("name", ["Pulumi.prod.yml", "prod.yaml", "Pulumi.prod.yaml.bak", "Pulumi.prod"])
def test_a_misnamed_stack_file_is_an_error(in_workspace, capsys, name):
    in_workspace.write(f"stacks/{name}", (in_workspace.stacks / "Pulumi.dev.yaml").read_text())
    in_workspace.write("stacks/README.md", "notes are fine\n")
    code, out, err = run(capsys, "validate")
    assert (code, out) == (EXIT_INPUT_ERROR, "")
    assert err == [
        f"stacks/{name}: (file): is not named Pulumi.<stack>.yaml, so no stack reads it; rename it (for "
        "example Pulumi.prod.yaml) or move it out of the stacks folder",
        SUMMARY,
    ]


def test_a_misnamed_stack_file_fails_the_review(repo, monkeypatch, capsys):
    repo.write("stacks/Pulumi.prod.yml", (repo.stacks / "Pulumi.dev.yaml").read_text())
    monkeypatch.chdir(repo.root)
    code, out, _ = run(capsys, "review", "--base", "base")
    assert code == EXIT_INPUT_ERROR
    assert "stacks/Pulumi.prod.yml: (file): is not named Pulumi.<stack>.yaml" in out


@pytest.mark.parametrize(("key", "value", "field"), [
    ("domain", {"secure": "AAABAJk2c2VjcmV0"}, "modelplane:domain"),
    ("addons", {"kserve": {"values": {"token": {"secure": "AAAB"}}}}, "modelplane:addons.kserve.values.token"),
    ("extra_releases", [{"name": "x", "namespace": "x", "chart": "x", "version": "1",
                         "values": {"password": {"secure": "AAAB"}}}], "modelplane:extra_releases[0].values.password"),
    ("aws:region", {"secure": "AAAB"}, "aws:region"),
])
def test_pulumi_secrets_in_modelplane_settings_are_refused(in_workspace, capsys, key, value, field):
    """Offline, `{secure: ...}` is the ciphertext mapping: render would show it, while `pulumi up`
    applies the decrypted value; the review would not show what is deployed."""
    in_workspace.stack(**{key: value})
    code, out, err = run(capsys, "render", "--stack", "dev")
    assert (code, out) == (EXIT_INPUT_ERROR, "")
    assert err == [
        f"stacks/Pulumi.dev.yaml: {field}: is a Pulumi secret ({{secure: ...}}); modelplane settings are "
        "read offline by validate, render and review, which cannot decrypt it, so they must be plain "
        "values: keep secrets in a Kubernetes Secret and refer to it by name",
        SUMMARY,
    ]


def test_secrets_of_other_providers_are_theirs(basic_workspace):
    basic_workspace.stack(**{"kubernetes:kubeconfig": {"secure": "AAAB"}})
    assert load_stack(basic_workspace.stacks, "dev").settings.domain == "models.test.example.com"


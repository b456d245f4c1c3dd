"""Catalog pull requests are untrusted: what they put where a catalog file belongs is read only if
it is a regular file inside the catalog, and never through a link."""

from __future__ import annotations

import os
import threading

import pytest

from components.catalog import InputError, load_catalog, load_stack
from components.cli.main import main

LINK_MESSAGE = (
    "is a symbolic link; the catalog is read from real files and folders inside the repository "
    "only, so replace the link with what it points to"
)


def problems_of(workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_catalog(workspace.models, "models")
    return [str(problem) for problem in caught.value.problems]


def test_a_model_file_linked_anywhere_is_refused_without_reading_it(basic_workspace):
    os.symlink("/etc/passwd", basic_workspace.models / "fraud" / "leak.yaml")
    assert problems_of(basic_workspace) == [f"models/fraud/leak.yaml: (file): {LINK_MESSAGE}"]


def test_a_linked_team_file_and_team_folder_are_refused(basic_workspace, tmp_path):
    team_file = basic_workspace.models / "fraud" / "team.yaml"
    real = tmp_path / "elsewhere-team.yaml"
    real.write_bytes(team_file.read_bytes())
    team_file.unlink()
    os.symlink(real, team_file)
    os.symlink(basic_workspace.models / "fraud", basic_workspace.models / "payments")
    assert problems_of(basic_workspace) == [
        f"models/fraud/team.yaml: (file): {LINK_MESSAGE}",
        f"models/payments: (file): {LINK_MESSAGE}",
    ]


def test_a_linked_catalog_or_stacks_folder_is_refused(basic_workspace, capsys, monkeypatch):
    """`git mv models catalog && ln -s catalog models` would read the base of a diff at the wrong
    path, so every model would look new and a prod deletion would pass the guard."""
    (basic_workspace.root / "models").rename(basic_workspace.root / "catalog")
    os.symlink("catalog", basic_workspace.root / "models")
    (basic_workspace.root / "stacks").rename(basic_workspace.root / "settings")
    os.symlink("settings", basic_workspace.root / "stacks")
    monkeypatch.chdir(basic_workspace.root)
    assert main(["validate"]) == 1
    err = capsys.readouterr().err
    assert f"models: (file): {LINK_MESSAGE}" in err.splitlines()
    with pytest.raises(InputError) as caught:
        load_stack(basic_workspace.root / "stacks", "dev", "stacks")
    assert [str(p) for p in caught.value.problems] == [f"stacks: (file): {LINK_MESSAGE}"]


def test_a_linked_stack_file_is_refused(basic_workspace):
    stack = basic_workspace.stacks / "Pulumi.dev.yaml"
    stack.rename(basic_workspace.root / "dev.yaml")
    os.symlink(basic_workspace.root / "dev.yaml", stack)
    with pytest.raises(InputError) as caught:
        load_stack(basic_workspace.stacks, "dev", "stacks")
    assert [str(p) for p in caught.value.problems] == [f"stacks/Pulumi.dev.yaml: (file): {LINK_MESSAGE}"]


def test_a_fifo_does_not_hang_validation(basic_workspace):
    os.mkfifo(basic_workspace.models / "fraud" / "pipe.yaml")
    result: list[list[str]] = []
    reader = threading.Thread(target=lambda: result.append(problems_of(basic_workspace)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "reading a FIFO hung"
    assert result == [["models/fraud/pipe.yaml: (file): is not a regular file; the catalog holds YAML files only"]]


def test_an_endless_file_is_read_no_further_than_the_limit(basic_workspace):
    big = basic_workspace.models / "fraud" / "big.yaml"
    big.write_bytes(b"name: big\n" + b"#" * (300 * 1024))
    assert problems_of(basic_workspace) == [
        "models/fraud/big.yaml: (file): file is over the 262144 byte limit for catalog files; keep only "
        "the settings here and model artifacts in storage"
    ]


@pytest.mark.parametrize("field, value, message", [
    ("cpu", "10000000000000000000000000000",
     "'10000000000000000000000000000' is more than 1000000 cores, more than any cluster has; check the number"),
    ("memory", "1" + "0" * 4000 + "Gi",
     "'10000000000000000000000000000000'... (4003 characters) is more than 1Ei, more than any cluster has; "
     "check the number"),
])
def test_absurd_quantities_are_refused_with_a_short_message(basic_workspace, field, value, message):
    basic_workspace.model(resources={"cpu": "1", "memory": "2Gi", field: value})
    assert problems_of(basic_workspace) == [f"models/fraud/scorer.yaml: resources.{field}: {message}"]


@pytest.mark.parametrize("text, line", [
    ("name: scorer\ncritical: !!bool yes\n", 2),
    ("name: !!str scorer\n", 1),
    ("name: scorer\nversion: !!timestamp 2026-01-01\n", 2),
    ("name: scorer\nenv: !custom {A: b}\n", 2),
])
def test_explicit_yaml_tags_are_refused(basic_workspace, text, line):
    basic_workspace.write("models/fraud/scorer.yaml", text)
    [problem] = problems_of(basic_workspace)
    assert problem.startswith(f"models/fraud/scorer.yaml: line {line}: YAML tag ")
    assert problem.endswith("is not supported; write the plain value (quote it to keep it text)")


def test_a_date_is_read_as_text(basic_workspace):
    from components.catalog.yaml_files import parse_yaml_text

    assert parse_yaml_text(b"version: 2026-01-01\n", "x.yaml") == ({"version": "2026-01-01"}, [])


@pytest.mark.parametrize("key, message", [
    ("modelplane-gateway", "namespace 'modelplane-gateway' is not 'modelplane', so nothing would read this key; "
                           "write modelplane:<setting>"),
    ("ModelPlane:gateway", "namespace 'ModelPlane' is not 'modelplane', so nothing would read this key; "
                           "write modelplane:gateway"),
    ("modelplan:gateway", "namespace 'modelplan' is not 'modelplane', so nothing would read this key; "
                          "write modelplane:<setting>"),
    ("gateway", "configuration keys are <namespace>:<name>; write modelplane:gateway"),
])
def test_a_mistyped_config_namespace_is_an_error(basic_workspace, key, message):
    import yaml

    path = basic_workspace.stacks / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"][key if ":" in key or key == "gateway" else f"{key}:tls"] = {"enabled": True}
    path.write_text(yaml.safe_dump(document))
    shown_key = key if ":" in key or key == "gateway" else f"{key}:tls"
    with pytest.raises(InputError) as caught:
        load_stack(basic_workspace.stacks, "dev", "stacks")
    assert [str(p) for p in caught.value.problems] == [f"stacks/Pulumi.dev.yaml: {shown_key}: {message}"]


def test_other_providers_namespaces_are_left_to_them(basic_workspace):
    import yaml

    path = basic_workspace.stacks / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"].update({"aws:profile": "platform", "kubernetes:enableServerSideApply": "true"})
    path.write_text(yaml.safe_dump(document))
    assert load_stack(basic_workspace.stacks, "dev", "stacks").name == "dev"


def deployment_problems(workspace) -> list[str]:
    from components.catalog import resolve_deployment, stack_names

    catalog = load_catalog(workspace.models, "models")
    with pytest.raises(InputError) as caught:
        resolve_deployment(catalog, load_stack(workspace.stacks, "dev", "stacks"), stack_names(workspace.stacks))
    return [str(problem) for problem in caught.value.problems]


def test_a_team_can_not_grant_itself_another_bucket(basic_workspace):
    basic_workspace.team(storage={"s3_prefixes": ["s3://models-bucket/fraud/", "s3://acme-pulumi-state/.pulumi/"]})
    basic_workspace.model(storage_uri="s3://acme-pulumi-state/.pulumi/stacks/")
    fix = ("use one of the buckets stack dev allows (models-bucket, other-bucket, acme-ml-models), or have "
           "the platform team add it to modelplane:model_buckets in stacks/Pulumi.dev.yaml")
    problems = deployment_problems(basic_workspace)
    assert f"models/fraud/team.yaml: storage.s3_prefixes[1]: bucket acme-pulumi-state is not one stack dev keeps models in; {fix}" in problems
    assert f"models/fraud/scorer.yaml: storage_uri: bucket acme-pulumi-state is not one stack dev keeps models in; {fix}" in problems


@pytest.mark.parametrize("prefix, problem", [
    ("s3://models-bucket/${aws:UserAgent}/", "holds *, ?, $, {, } or a space or control character; S3 paths here are plain text"),
    ("s3://models-bucket/fraud/../search/", "has an empty, '.' or '..' segment; write each folder once, as s3://bucket/folder/"),
    ("s3://models-bucket//fraud/", "has an empty, '.' or '..' segment; write each folder once, as s3://bucket/folder/"),
])
def test_team_prefixes_hold_no_policy_variables_or_odd_segments(basic_workspace, prefix, problem):
    basic_workspace.team(storage={"s3_prefixes": [prefix]})
    found = problems_of(basic_workspace)
    assert f"models/fraud/team.yaml: storage.s3_prefixes[0]: {prefix!r} {problem}" in found


def test_storage_uris_hold_no_policy_variables(basic_workspace):
    basic_workspace.model(storage_uri="s3://models-bucket/fraud/${aws:username}/")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: storage_uri: 's3://models-bucket/fraud/${aws:username}/' holds *, ?, $, {, } "
        "or a space or control character; S3 paths here are plain text"
    ]

"""Bad files never crash the loader: each gets one clear line naming the file, the place and the fix."""

from __future__ import annotations

import pytest

from components.catalog import InputError, load_catalog
from components.catalog.yaml_files import MAX_FILE_BYTES


def problems_of(workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_catalog(workspace.models, "models")
    return [str(problem) for problem in caught.value.problems]


def test_valid_catalog_loads(basic_workspace):
    catalog = load_catalog(basic_workspace.models, "models")
    assert [team.name for team in catalog.teams] == ["fraud"]
    assert [model.name for model in catalog.teams[0].models] == ["scorer"]
    assert catalog.teams[0].models[0].source == "models/fraud/scorer.yaml"


def test_malformed_yaml_names_file_and_line(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "name: scorer\nformat: [sklearn\n")
    [problem] = problems_of(basic_workspace)
    assert problem.startswith("models/fraud/scorer.yaml: line 3: invalid YAML: ")


def test_empty_file(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "\n# nothing here yet\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): file is empty; expected a YAML mapping"
    ]


def test_document_with_only_null(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "---\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): expected a mapping of fields (name: value lines), "
        "got nothing (null)"
    ]


def test_list_where_a_mapping_belongs(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "- name: scorer\n- format: sklearn\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): expected a mapping of fields (name: value lines), "
        "got a list"
    ]


def test_list_where_a_nested_mapping_belongs(basic_workspace):
    basic_workspace.model(resources=["cpu", "memory"])
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: resources: expected a mapping of fields, got a list"
    ]


def test_duplicate_keys(basic_workspace):
    basic_workspace.write(
        "models/fraud/scorer.yaml",
        "name: scorer\nformat: sklearn\nname: other\n",
    )
    assert problems_of(basic_workspace) == [
        'models/fraud/scorer.yaml: line 3: duplicate key "name" (first on line 1); keep only one'
    ]


def test_duplicate_nested_keys(basic_workspace):
    basic_workspace.write(
        "models/fraud/scorer.yaml",
        "name: scorer\nresources:\n  cpu: 1\n  cpu: 2\n",
    )
    assert problems_of(basic_workspace) == [
        'models/fraud/scorer.yaml: line 4: duplicate key "cpu" (first on line 3); keep only one'
    ]


def test_tab_indentation(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "name: scorer\nresources:\n\tcpu: 1\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: line 3: tab used for indentation; indent with spaces"
    ]


def test_huge_file(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "# padding\n" * 30000)
    size = (basic_workspace.models / "fraud" / "scorer.yaml").stat().st_size
    assert size > MAX_FILE_BYTES
    assert problems_of(basic_workspace) == [
        f"models/fraud/scorer.yaml: (file): file is over the {MAX_FILE_BYTES} byte limit for catalog "
        "files; keep only the settings here and model artifacts in storage"
    ]


def test_file_that_is_not_utf8(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", b"name: \xff\xfescorer\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): file is not UTF-8 text (invalid byte at offset 6); "
        "save it as UTF-8"
    ]


def test_utf8_byte_order_mark_is_accepted(basic_workspace):
    path = basic_workspace.models / "fraud" / "scorer.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_catalog(basic_workspace.models, "models").model_count == 1


def test_aliases_are_rejected(basic_workspace):
    basic_workspace.write(
        "models/fraud/scorer.yaml",
        "name: scorer\nresources: &r\n  cpu: 1\n  memory: 1Gi\nenv: *r\n",
    )
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: line 2: YAML anchor &r is not supported; write the value out in full"
    ]


def test_several_documents_in_one_file(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "name: a\n---\nname: b\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): file holds 2 YAML documents; put exactly one in each file"
    ]


def test_stray_files(basic_workspace):
    basic_workspace.write("models/fraud/notes.txt", "remember to retrain\n")
    basic_workspace.write("models/fraud/other.yml", "name: other\n")
    basic_workspace.write("models/fraud/old/scorer.yaml", "name: scorer\n")
    basic_workspace.write("models/todo.txt", "x\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/notes.txt: (file): stray file; a team folder holds team.yaml and one "
        "<model>.yaml per model, move or delete it",
        "models/fraud/old: (file): stray folder; a team folder holds team.yaml and one "
        "<model>.yaml per model, move or delete it",
        "models/fraud/other.yml: (file): stray file; a team folder holds team.yaml and one "
        "<model>.yaml per model, rename it to other.yaml",
        "models/todo.txt: (file): stray file; models/ holds one folder per team (and README.md), "
        "move or delete it",
    ]


def test_documentation_and_schemas_are_not_stray(basic_workspace):
    basic_workspace.write("models/README.md", "# catalog\n")
    basic_workspace.write("models/model.schema.json", "{}\n")
    basic_workspace.write("models/fraud/README.md", "# fraud\n")
    assert load_catalog(basic_workspace.models, "models").model_count == 1


def test_missing_team_file(workspace):
    workspace.model()
    assert problems_of(workspace) == [
        "models/fraud/team.yaml: (file): file missing; every team folder needs a team.yaml with "
        "team, owners, cost_center, storage and quota"
    ]


def test_team_folder_must_be_a_dns_label(workspace):
    workspace.write("models/Fraud_Team/team.yaml", {"team": "x"})
    assert problems_of(workspace) == [
        "models/Fraud_Team: (file): team folder name: 'Fraud_Team' is not a DNS-1123 label: use "
        "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
    ]


def test_team_name_must_equal_folder(basic_workspace):
    basic_workspace.team("fraud", team="risk")
    assert problems_of(basic_workspace) == [
        "models/fraud/team.yaml: team: is 'risk' but the folder is 'fraud'; they must be equal"
    ]


def test_model_name_must_equal_file_name(basic_workspace):
    basic_workspace.model(file="scorer-v2")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer-v2.yaml: name: is 'scorer' but the file is scorer-v2.yaml; rename the "
        "file to scorer.yaml or change name to 'scorer-v2'"
    ]


def test_every_file_is_reported_at_once(basic_workspace):
    basic_workspace.write("models/fraud/a.yaml", "")
    basic_workspace.write("models/fraud/b.yaml", "- x\n")
    basic_workspace.model(name="c", format="sklaern")
    assert [line.split(":")[0] for line in problems_of(basic_workspace)] == [
        "models/fraud/a.yaml",
        "models/fraud/b.yaml",
        "models/fraud/c.yaml",
    ]


def test_missing_models_directory(workspace):
    with pytest.raises(InputError) as caught:
        load_catalog(workspace.root / "nowhere", "nowhere")
    assert [str(p) for p in caught.value.problems] == [
        "nowhere: (file): not a directory of team folders"
    ]


def test_empty_models_directory(workspace):
    assert problems_of(workspace) == ["models: (file): no team folders; add <team>/team.yaml"]


def test_deeply_nested_values(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "name: " + "[" * 5000 + "1" + "]" * 5000 + "\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): values are nested too deeply; flatten the file"
    ]


def test_a_number_too_long_to_read(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "name: " + "9" * 5000 + "\n")
    assert problems_of(basic_workspace) == [
        "models/fraud/scorer.yaml: (file): a value cannot be read (a number far too long?); fix or quote it"
    ]


def test_every_problem_is_one_line(basic_workspace):
    basic_workspace.write("models/fraud/scorer.yaml", "name: a\n  bad: [\n")
    [problem] = problems_of(basic_workspace)
    assert "\n" not in problem

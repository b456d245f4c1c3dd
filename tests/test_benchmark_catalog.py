"""`make benchmark` measures a synthetic catalog: it must stay valid as the rules change, or the
benchmark silently stops measuring (it broke once when stacks began to require allowed buckets)."""

from __future__ import annotations

from benchmarks.catalog_scale import EXPECTED_CODES
from benchmarks.synthetic_catalog import write_synthetic_catalog
from components.cli.main import EXIT_CHANGES, main


def test_the_synthetic_catalog_validates_for_every_stack(tmp_path, monkeypatch, capsys):
    write_synthetic_catalog(tmp_path, teams=2, models_per_team=12)
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0, capsys.readouterr().err


def test_the_large_benchmarks_team_size_validates_for_every_stack(tmp_path, monkeypatch, capsys):
    """`--large` runs 10,000 models in 50 teams: 200 a team. Critical GPU models (the first at
    model-120) once kept more warm GPU replicas in prod than the fixture's GPU pools' max_size holds,
    so that benchmark measured a catalog that fails validation."""
    write_synthetic_catalog(tmp_path, teams=2, models_per_team=200)
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 0, capsys.readouterr().err


def test_the_benchmark_expects_the_documented_diff_exit_code():
    assert EXPECTED_CODES == {"diff --stack prod": EXIT_CHANGES, "review (3 stacks)": EXIT_CHANGES}


def test_the_peers_write_modelplanes_objects(tmp_path):
    """With one model per team, every model has the first model's shape, so each templating peer
    must write exactly modelplane's InferenceServices and VirtualServices."""
    from benchmarks import peers
    from components.render.manifests import dump_objects

    write_synthetic_catalog(tmp_path, teams=3, models_per_team=1)
    expected = dump_objects(peers.rendered_two_kinds(tmp_path))
    text = peers.first_model_text(tmp_path)
    assert expected.count("kind: InferenceService\n") == 3
    assert peers.run_jinja2(tmp_path, text) == expected
    # Helm joins the documents with blank lines of its own: the same objects, not the same bytes.
    import yaml

    assert list(yaml.safe_load_all(peers.run_helm(tmp_path, text))) == list(yaml.safe_load_all(expected))

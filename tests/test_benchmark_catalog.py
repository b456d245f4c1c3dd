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


def test_the_benchmark_expects_the_documented_diff_exit_code():
    assert EXPECTED_CODES == {"diff (prod)": EXIT_CHANGES}

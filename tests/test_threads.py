"""``threads``: the math libraries' thread pools sized to the CPU request, not to the node."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from components.catalog import InputError, load_catalog, load_stack, resolve_deployment, stack_names
from components.render.model_objects import thread_count
from components.render.stack_render import render_stack

FILE = "models/fraud/scorer.yaml"


def _deployed(workspace):
    catalog = load_catalog(workspace.models, "models")
    stack = load_stack(workspace.stacks, "dev", "stacks")
    return resolve_deployment(catalog, stack, stack_names(workspace.stacks)).models[0]


def _model_section(workspace) -> dict:
    catalog = load_catalog(workspace.models, "models")
    stack = load_stack(workspace.stacks, "dev", "stacks")
    rendered = render_stack(resolve_deployment(catalog, stack, stack_names(workspace.stacks)))
    service = next(obj for obj in rendered.objects if obj["kind"] == "InferenceService")
    return service["spec"]["predictor"]["model"]


def _env(section: dict) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in section.get("env", [])}


def _problems(workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_catalog(workspace.models, "models")
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(("cpu", "threads"), [("500m", "1"), ("1", "1"), ("1250m", "1")])
def test_threads_are_the_whole_cores_of_the_request(basic_workspace, cpu, threads):
    basic_workspace.model(resources={"cpu": cpu, "memory": "2Gi"})
    env = _env(_model_section(basic_workspace))
    assert env["OMP_NUM_THREADS"] == threads
    assert env["MKL_NUM_THREADS"] == threads
    # pytorch/pytorch#19001: torch reads no TORCH_NUM_THREADS, so the platform does not set it.
    assert "TORCH_NUM_THREADS" not in env


@pytest.mark.parametrize(("cpu", "threads"), [("100m", 1), ("2500m", 2), ("2999m", 2), ("16", 16)])
def test_the_count_rounds_the_request_down(basic_workspace, cpu, threads):
    # Down, so the threads never outnumber the cores requested.
    deployed = _deployed(basic_workspace)
    assert thread_count(dataclasses.replace(deployed, cpu=cpu)) == threads


def test_the_stack_override_of_the_request_sizes_the_threads(basic_workspace):
    basic_workspace.model(resources={"cpu": "500m", "memory": "2Gi"}, threads=None,
                          environments={"dev": {"resources": {"cpu": "1"}}})
    assert _deployed(basic_workspace).cpu == "1"
    assert _env(_model_section(basic_workspace))["OMP_NUM_THREADS"] == "1"


def test_a_number_of_threads_overrides_the_request(basic_workspace):
    basic_workspace.model(threads=6)
    env = _env(_model_section(basic_workspace))
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"]) == ("6", "6")


def test_threads_false_sets_nothing_and_leaves_env_to_the_file(basic_workspace):
    basic_workspace.model(threads=False, env={"OMP_NUM_THREADS": "8"})
    section = _model_section(basic_workspace)
    assert _env(section) == {"OMP_NUM_THREADS": "8"}
    assert "args" not in section


@pytest.mark.parametrize("runtime_format", ["xgboost", "lightgbm"])
def test_xgboost_and_lightgbm_servers_get_nthread_last(basic_workspace, runtime_format):
    basic_workspace.model(format=runtime_format, threads=2, args=["--configure_logging=false"])
    assert _model_section(basic_workspace)["args"] == ["--configure_logging=false", "--nthread=2"]


def test_other_servers_get_no_nthread(basic_workspace):
    assert "args" not in _model_section(basic_workspace)


def test_nthread_from_the_platform_wins_over_the_runtimes():
    # KServe appends the model's args to the runtime's --nthread=1 (kserve-runtime-configs chart
    # @ v0.20.0; merge pinned by tests/test_kserve_runtimes_contract.py). xgbserver and lgbserver
    # declare it as `parser.add_argument("--nthread", default=DEFAULT_NTHREAD, type=int)`
    # (python/xgbserver/xgbserver/__main__.py:31-36, python/lgbserver/lgbserver/__main__.py:31-36
    # @ v0.20.0), a plain store action, so the last value given is the one the server uses.
    parser = argparse.ArgumentParser()
    parser.add_argument("--nthread", default=1, type=int)
    args, _ = parser.parse_known_args(["--model_name=m", "--nthread=1", "--nthread=4"])
    assert args.nthread == 4


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"threads": True}, "threads: threads is on by default; write a number of threads, or false to turn it off"),
        ({"threads": 0}, "threads: threads is a count from 1 to 256, or false to set no threads"),
        ({"threads": 257}, "threads: threads is a count from 1 to 256"),
        (
            {"env": {"OMP_NUM_THREADS": "4"}},
            "env: OMP_NUM_THREADS is set by the platform from threads; remove it and write "
            "threads: <count>, or set threads: false to manage it yourself",
        ),
        (
            {"threads": 2, "secrets": {"MKL_NUM_THREADS": {"secret": "s", "key": "k"}}},
            "secrets: MKL_NUM_THREADS is set by the platform from threads",
        ),
    ],
)
def test_threads_rules(basic_workspace, changes, expected):
    basic_workspace.model(**changes)
    problems = _problems(basic_workspace)
    assert len(problems) == 1
    assert problems[0].startswith(f"{FILE}: {expected}"), problems[0]

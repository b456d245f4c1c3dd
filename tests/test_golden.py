"""Golden files pin the rendered output of the bundled catalog, so every change is a reviewable diff.

Regenerate after an intended change with ``MODELPLANE_UPDATE_GOLDEN=1 make test`` and review the
diff of ``tests/golden/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.render.manifests import dump_objects
from components.render.stack_render import render_stack, render_stack_objects
from components.review.diff import desired_state
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, PLATFORM_FIXTURE, REPO, STACKS_DIR

# The desired state's entries that are not Kubernetes objects (those are in render-<stack>.yaml).
NOT_KUBERNETES_OBJECTS = {"HelmRelease", "EksCluster", "NodePool", "IamRole"}

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MODELPLANE_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; run with MODELPLANE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; review and regenerate"


def render_fixture(stack: str) -> str:
    catalog = load_catalog(MODELS_DIR, "models")
    deployment = resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR))
    return dump_objects(render_stack_objects(deployment))


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_rendered_stack_matches_golden(stack):
    check_golden(f"render-{stack}.yaml", render_fixture(stack))


def test_rendering_is_byte_identical_across_processes():
    """Fresh interpreters with different hash seeds: no set or dict order leaks into the output."""
    outputs = set()
    for seed in ("0", "1", "12345"):
        result = subprocess.run(
            [sys.executable, "-m", "components.cli", "render", "--stack", "prod"],
            cwd=PLATFORM_FIXTURE, capture_output=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert outputs.pop().decode() == render_fixture("prod")


@pytest.mark.parametrize("stack", FIXTURE_STACKS)
def test_desired_state_matches_golden(stack):
    """Everything else `pulumi up` manages (Helm releases and values, node pools, IAM): a
    version pin or a default value that changes shows as a reviewable diff."""
    catalog = load_catalog(MODELS_DIR, "models")
    rendered = render_stack(resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR)))
    state = {
        key: entry.body for key, entry in desired_state(rendered).items() if entry.kind in NOT_KUBERNETES_OBJECTS
    }
    check_golden(f"state-{stack}.json", json.dumps(state, indent=2, sort_keys=True) + "\n")


def test_pictures_match_golden_and_are_byte_identical_across_processes():
    """The pictures of the prod fixture: the Mermaid diagrams of ``plan --format markdown`` and the
    SVG of ``plan --format svg`` (a change to the drawing or to the packing is a reviewable diff)."""
    from components.review.diagrams import fenced, pool_diagram, routes_diagram
    from components.review.packing import pack_stack
    from components.review.pool_pictures import pictures_by_pool
    from components.review.pool_svg import stack_pools_svg

    catalog = load_catalog(MODELS_DIR, "models")
    deployment = resolve_deployment(catalog, load_stack(STACKS_DIR, "prod", "stacks"), stack_names(STACKS_DIR))
    packings = [pack_stack(deployment, "always-on"), pack_stack(deployment, "peak")]
    diagrams = fenced(routes_diagram(deployment))
    for _, states in pictures_by_pool(deployment, packings):
        diagrams += fenced(pool_diagram(states))
    check_golden("diagrams-prod.md", "\n".join(diagrams) + "\n")
    svg = stack_pools_svg(deployment, packings)
    check_golden("pools-prod.svg", svg)
    outputs = {
        subprocess.run(
            [sys.executable, "-m", "components.cli", "plan", "--stack", "prod", "--format", "svg"],
            cwd=PLATFORM_FIXTURE, capture_output=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)},
        ).stdout
        for seed in ("0", "12345")
    }
    assert outputs == {svg.encode()}

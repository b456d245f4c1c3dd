"""Golden files pin the rendered output of the bundled catalog, so every change is a reviewable diff.

Regenerate after an intended change with ``MODELPLANE_UPDATE_GOLDEN=1 make test`` and review the
diff of ``tests/golden/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.json_schema import catalog_json_schemas
from components.render.manifests import dump_objects
from components.render.stack_render import render_stack_objects
from tests.conftest import BUNDLED_STACKS, MODELS_DIR, STACKS_DIR

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("MODELPLANE_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; run with MODELPLANE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; review and regenerate"


def render_bundled(stack: str) -> str:
    catalog = load_catalog(MODELS_DIR, "models")
    deployment = resolve_deployment(catalog, load_stack(STACKS_DIR, stack, "stacks"), stack_names(STACKS_DIR))
    return dump_objects(render_stack_objects(deployment))


@pytest.mark.parametrize("stack", BUNDLED_STACKS)
def test_rendered_stack_matches_golden(stack):
    check_golden(f"render-{stack}.yaml", render_bundled(stack))


def test_rendering_is_byte_identical_across_runs():
    assert render_bundled("prod") == render_bundled("prod")


@pytest.mark.parametrize("file_name", sorted(catalog_json_schemas()))
def test_committed_json_schemas_are_current(file_name):
    """models/*.schema.json must be regenerated (modelplane schema) when the models change."""
    generated = catalog_json_schemas()[file_name]
    committed = (MODELS_DIR / file_name).read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(generated)
    assert committed == generated

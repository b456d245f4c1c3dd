"""JSON Schemas of the catalog files, generated from the pydantic models, for editors.

Editors that understand ``# yaml-language-server: $schema=...`` (VS Code's YAML extension and
others) complete and check model files with them. The pydantic models stay the authority; the
schemas say as much of them as JSON Schema can (the same patterns, bounds and enums, the
cross-field rules as ``if``/``then`` and ``oneOf``), and ``tests/test_json_schemas.py`` feeds
both the same documents. Left to ``modelplane validate``: what needs another file or a stack
(names equal to file names, storage under the team's prefixes, pools and quotas), a memory
amount under 1Mi written with a unit, ``min_replicas`` above an explicit ``max_replicas``, and
whole numbers written as ``2.0``.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from components.catalog.model_spec import ModelSpec
from components.catalog.team_spec import TeamSpec

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "model.schema.json": ModelSpec,
    "team.schema.json": TeamSpec,
}


def catalog_json_schemas() -> dict[str, str]:
    """File name -> schema text (stable: sorted keys, trailing newline)."""
    texts = {}
    for file_name, model in SCHEMA_FILES.items():
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **model.model_json_schema(),
        }
        texts[file_name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return texts

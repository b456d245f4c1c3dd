"""JSON Schemas of the catalog files, generated from the pydantic models, for editors.

Editors that understand ``# yaml-language-server: $schema=...`` (VS Code's YAML extension and
others) complete and check model files with them. The pydantic models stay the authority: some
rules (MIG profiles per GPU, storage under the team's prefixes) are only checked by
``modelplane validate``.
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

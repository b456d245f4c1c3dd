"""Shared fixtures: the library's own fixture catalogs under ``tests/catalogs/``, and builders for
small throwaway ones.

The repository's ``models/`` and ``stacks/`` belong to the platform team using modelplane; only
``tests/test_repository_catalog.py`` reads them, and only for what a catalog pull request must
satisfy. Every other test uses a fixture catalog here, so a pull request that adds a model never
needs a test or a golden file changed.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CATALOGS = REPO / "tests" / "catalogs"
# The platform fixture: four teams, CPU, whole-GPU and MIG models, three stacks. Golden files pin
# its renders (tests/golden/).
PLATFORM_FIXTURE = CATALOGS / "platform"
MODELS_DIR = PLATFORM_FIXTURE / "models"
STACKS_DIR = PLATFORM_FIXTURE / "stacks"
FIXTURE_STACKS = ("dev", "prod", "staging")

TEAM = {
    "team": "fraud",
    "owners": ["ml-fraud"],
    "cost_center": "CC-1",
    "storage": {"s3_prefixes": ["s3://models-bucket/fraud/"]},
    "quota": {"cpu": "16", "memory": "64Gi", "gpu": 2, "mig": {"1g.10gb": 2}},
}
MODEL = {
    "name": "scorer",
    "format": "sklearn",
    "storage_uri": "s3://models-bucket/fraud/scorer/v1/",
    "resources": {"cpu": "1", "memory": "2Gi"},
}
STACK_CONFIG = {
    "aws:region": "us-west-2",
    "modelplane:environment": "dev",
    "modelplane:aws_account_id": "123456789012",
    "modelplane:deployer_role_arns": ["arn:aws:iam::123456789012:role/deployer"],
    "modelplane:domain": "models.test.example.com",
    "modelplane:model_buckets": ["models-bucket", "other-bucket", "acme-ml-models"],
    "modelplane:node_pools": {
        "system": {"instance_types": ["m6i.large"], "min_size": 1, "max_size": 2},
        "gpu": {
            "instance_types": ["g5.xlarge"],
            "min_size": 0,
            "max_size": 2,
            "gpu": {"model": "A10G", "per_node": 1},
        },
        "mig": {
            "instance_types": ["p5.48xlarge"],
            "min_size": 0,
            "max_size": 1,
            "gpu": {
                "model": "H100-80GB",
                "per_node": 8,
                "mig": {"strategy": "mixed", "layout": {"1g.10gb": 7}},
            },
        },
    },
}


def merged(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level keys replaced (``None`` removes a key)."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


class Workspace:
    """A throwaway repository layout: ``models/`` and ``stacks/`` under a temporary directory."""

    def __init__(self, root: Path):
        self.root = root
        self.models = root / "models"
        self.stacks = root / "stacks"
        self.models.mkdir()
        self.stacks.mkdir()

    def write(self, relative: str, content: Any) -> Path:
        """Write ``content`` (a dict or list is dumped as YAML, str and bytes as they are)."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return path

    def team(self, name: str = "fraud", **changes: Any) -> Path:
        return self.write(f"models/{name}/team.yaml", merged(TEAM, **{"team": name, **changes}))

    def model(self, team: str = "fraud", name: str = "scorer", file: str | None = None, **changes: Any) -> Path:
        """Write a model file (``file`` is its stem, ``name`` by default)."""
        return self.write(f"models/{team}/{file or name}.yaml", merged(MODEL, name=name, **changes))

    def stack(self, name: str = "dev", **changes: Any) -> Path:
        config = copy.deepcopy(STACK_CONFIG)
        for key, value in changes.items():
            full = key if ":" in key else f"modelplane:{key}"
            if value is None:
                config.pop(full, None)
            else:
                config[full] = value
        return self.write(f"stacks/Pulumi.{name}.yaml", {"config": config})


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """An empty workspace; tests add the files they need."""
    return Workspace(tmp_path)


@pytest.fixture
def basic_workspace(workspace: Workspace) -> Workspace:
    """One team with one CPU model and a dev stack: valid as it is."""
    workspace.team()
    workspace.model()
    workspace.stack()
    return workspace


def git(workspace: Workspace, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(workspace.root), *args], check=True, capture_output=True, text=True,
    ).stdout


def commit_as_base(workspace: Workspace) -> None:
    """Commit the workspace as it is and point the ref ``base`` at it."""
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "base")
    git(workspace, "tag", "-f", "base")


@pytest.fixture
def repo(basic_workspace: Workspace) -> Workspace:
    """The basic workspace committed as the base of a change (ref ``base``)."""
    git(basic_workspace, "init", "-q", "-b", "main")
    git(basic_workspace, "config", "user.email", "test@example.com")
    git(basic_workspace, "config", "user.name", "test")
    commit_as_base(basic_workspace)
    return basic_workspace

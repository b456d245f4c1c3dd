"""A large synthetic catalog for benchmarks: N teams, M models each, valid for the test fixture's stacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
STACKS = REPO / "tests" / "catalogs" / "platform" / "stacks"
FORMATS = ("sklearn", "xgboost", "lightgbm", "pytorch", "onnx", "huggingface", "tensorflow")


def write_synthetic_catalog(root: Path, teams: int, models_per_team: int) -> Path:
    """Write ``root/models`` and copy the test fixture's ``stacks`` (the benchmark must not depend on the
    platform team's own stacks); return ``root``."""
    models = root / "models"
    if models.exists():
        shutil.rmtree(models)
    shutil.copytree(STACKS, root / "stacks", dirs_exist_ok=True)
    for t in range(teams):
        team = f"team{t:03d}"
        folder = models / team
        folder.mkdir(parents=True)
        _dump(folder / "team.yaml", {
            "team": team,
            "owners": [f"ml-{team}"],
            "cost_center": f"CC-{t:04d}",
            "storage": {"s3_prefixes": [f"s3://acme-ml-models/bench/{team}/"]},
            "quota": {"cpu": "400", "memory": "1600Gi", "gpu": 8, "mig": {"1g.10gb": 16}},
        })
        for m in range(models_per_team):
            name = f"model-{m:03d}"
            spec = {
                "name": name,
                "format": FORMATS[m % len(FORMATS)],
                "storage_uri": f"s3://acme-ml-models/bench/{team}/{name}/v1/",
                "version": f"1.{m}.0",
                "resources": {"cpu": "500m", "memory": "1Gi"},
                "scaling": {"min_replicas": 0, "max_replicas": 3, "metric": "concurrency", "target": 10},
                "env": {"MODEL_ID": f"{team}-{name}"},
            }
            if m % 17 == 1:
                spec["gpu"] = {"count": 1}
            if m % 23 == 2:
                spec["gpu"] = {"mig": "1g.10gb"}
                spec["environments"] = {"dev": {"enabled": False}}
            if m % 13 == 3:
                spec["canary"] = {"storage_uri": f"s3://acme-ml-models/bench/{team}/{name}/v2/", "traffic_percent": 10,
                                  "version": f"2.{m}.0"}
            # Critical models keep warm replicas in prod; only CPU ones are, so that the GPU pools'
            # max_size in the fixture's prod stack holds any number of models per team (at 200 a
            # team, critical GPU models alone would need 200 L40S nodes).
            if m % 10 == 0 and "gpu" not in spec:
                spec["critical"] = True
            _dump(folder / f"{name}.yaml", spec)
    return root


def _dump(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

"""The editors' JSON Schemas say what the validator says, wherever JSON Schema can say it.

Every case below goes to both the pydantic model and the generated schema, and both must give the
expected answer. What JSON Schema cannot express stays out of the cases and is checked by
``modelplane validate`` alone: a memory amount under 1Mi written with a unit (``512Ki``),
``min_replicas`` above an explicit ``max_replicas``, a whole number written as ``2.0`` (JSON has one
kind of number), and everything that needs another file (names equal to file and folder names,
``environments`` keys that are stack names, storage under the team's prefixes).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError

from components.catalog.json_schema import SCHEMA_FILES, catalog_json_schemas
from components.catalog.model_spec import MAX_MODEL_NAME_LENGTH
from tests.conftest import MODEL, TEAM


def _ecma_pattern(validator, pattern: str, instance: Any, schema: dict):
    # JSON Schema patterns are ECMA-262 regexes, whose $ matches only at the very end of the text;
    # python-jsonschema searches with Python's re, whose $ also matches before a final newline.
    if not validator.is_type(instance, "string"):
        return
    python = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if not re.search(python, instance):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


EditorValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
SCHEMAS = {file_name: json.loads(text) for file_name, text in catalog_json_schemas().items()}


def changed(base: dict, **fields: Any) -> dict:
    """``base`` with dotted fields set (``resources__cpu`` is resources.cpu); ``...`` removes one."""
    document = copy.deepcopy(base)
    for dotted, value in fields.items():
        *parents, last = dotted.split("__")
        target = document
        for part in parents:
            target = target.setdefault(part, {})
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return document


MODEL_CASES = [
    ("the base model", MODEL, True),
    ("a name of 47 characters", changed(MODEL, name="a" * MAX_MODEL_NAME_LENGTH), True),
    ("a name of 48 characters", changed(MODEL, name="a" * (MAX_MODEL_NAME_LENGTH + 1)), False),
    ("a name with digits and dashes", changed(MODEL, name="a1-b2"), True),
    ("a name starting with a digit", changed(MODEL, name="1scorer"), False),
    ("a name in capitals", changed(MODEL, name="Scorer"), False),
    ("a name ending in a dash", changed(MODEL, name="scorer-"), False),
    ("a name with a trailing newline", changed(MODEL, name="scorer\n"), False),
    ("an unknown field", changed(MODEL, replicas=2), False),
    ("an unknown field in resources", changed(MODEL, resources__gpu=1), False),
    ("resources left out", changed(MODEL, resources=...), False),
    ("cpu in millicores", changed(MODEL, resources__cpu="500m"), True),
    ("cpu as a whole number", changed(MODEL, resources__cpu=2), True),
    ("cpu as a fraction", changed(MODEL, resources__cpu=0.5), True),
    ("cpu as a fraction of a millicore", changed(MODEL, resources__cpu="0.5m"), True),
    ("cpu of zero", changed(MODEL, resources__cpu="0"), False),
    ("cpu of zero millicores", changed(MODEL, resources__cpu="0.00m"), False),
    ("cpu as the number zero", changed(MODEL, resources__cpu=0), False),
    ("negative cpu", changed(MODEL, resources__cpu=-1), False),
    ("cpu with a memory unit", changed(MODEL, resources__cpu="1Gi"), False),
    ("cpu in words", changed(MODEL, resources__cpu="2 cores"), False),
    ("cpu in exponent notation", changed(MODEL, resources__cpu="1e3"), False),
    ("cpu as a boolean", changed(MODEL, resources__cpu=True), False),
    ("memory in Mi", changed(MODEL, resources__memory="512Mi"), True),
    ("memory in decimal units", changed(MODEL, resources__memory="1.5G"), True),
    ("memory as 1Mi of bytes", changed(MODEL, resources__memory=1048576), True),
    ("memory as fewer bytes than 1Mi", changed(MODEL, resources__memory=1000), False),
    ("memory in millibytes", changed(MODEL, resources__memory="4096m"), False),
    ("memory in gb", changed(MODEL, resources__memory="4gb"), False),
    ("memory in GI", changed(MODEL, resources__memory="4GI"), False),
    ("memory as a boolean", changed(MODEL, resources__memory=False), False),
    ("an override of memory", changed(MODEL, environments={"dev": {"resources": {"memory": "1Gi"}}}), True),
    ("an override of cpu to zero", changed(MODEL, environments={"dev": {"resources": {"cpu": "0"}}}), False),
    ("an unknown override", changed(MODEL, environments={"dev": {"replicas": 1}}), False),
    ("whole GPUs", changed(MODEL, gpu={"count": 2}), True),
    ("a MIG slice", changed(MODEL, gpu={"mig": "1g.10gb"}), True),
    ("a MIG slice and a null count", changed(MODEL, gpu={"mig": "1g.10gb", "count": None}), True),
    ("whole GPUs and a MIG slice", changed(MODEL, gpu={"count": 1, "mig": "1g.10gb"}), False),
    ("a share of a time-sliced GPU", changed(MODEL, gpu={"shares": 1}), True),
    ("two shares", changed(MODEL, gpu={"shares": 2}), False),
    ("a share and a whole GPU", changed(MODEL, gpu={"shares": 1, "count": 1}), False),
    ("a GPU request of neither", changed(MODEL, gpu={}), False),
    ("a GPU request of two nulls", changed(MODEL, gpu={"count": None, "mig": None}), False),
    ("zero GPUs", changed(MODEL, gpu={"count": 0}), False),
    ("an unknown MIG profile", changed(MODEL, gpu={"mig": "9g.99gb"}), False),
    ("a misspelt format", changed(MODEL, format="sklaern"), False),
    ("an unknown protocol", changed(MODEL, protocol="v3"), False),
    ("a runtime that serves the format", changed(MODEL, runtime="kserve-mlserver", protocol="v2"), True),
    ("a runtime that does not serve the format", changed(MODEL, runtime="kserve-mlserver", format="pytorch"), False),
    ("a protocol the runtime does not speak", changed(MODEL, runtime="kserve-mlserver", protocol="v1"), False),
    ("gRPC on the format's default runtime", changed(MODEL, format="tensorflow", protocol="grpc-v1"), True),
    ("gRPC the default runtime does not speak", changed(MODEL, protocol="grpc-v2"), False),
    ("gRPC with a route", changed(MODEL, format="pytorch", protocol="grpc-v2", route={"path": "/a"}), False),
    ("a route", changed(MODEL, route={"path": "/fraud/scoring"}), True),
    ("a route ending in /", changed(MODEL, route={"path": "/fraud/"}), False),
    ("a route without its leading /", changed(MODEL, route={"path": "fraud"}), False),
    ("a route with '..'", changed(MODEL, route={"path": "/fraud/../search"}), False),
    ("a route under .well-known", changed(MODEL, route={"path": "/.well-known/x"}), False),
    ("a route with capitals", changed(MODEL, route={"path": "/Fraud/x"}), False),
    ("storage on a claim", changed(MODEL, storage_uri="pvc://fraud-models/scorer"), True),
    ("storage in a registry", changed(MODEL, storage_uri="oci://registry.example.com:5000/scorer:1"), True),
    ("storage on Hugging Face", changed(MODEL, storage_uri="hf://acme/scorer:main"), True),
    ("storage in another cloud", changed(MODEL, storage_uri="gs://bucket/scorer/"), False),
    ("storage in a bucket of two letters", changed(MODEL, storage_uri="s3://ab/scorer/"), False),
    ("storage of a whole bucket", changed(MODEL, storage_uri="s3://models-bucket/"), False),
    ("storage with a trailing newline", changed(MODEL, storage_uri="s3://models-bucket/x\n"), False),
    ("a canary of 100%", changed(MODEL, canary={"storage_uri": "s3://models-bucket/x/", "traffic_percent": 100}), False),
    ("a canary with its version", changed(MODEL, canary={"storage_uri": "s3://models-bucket/x/", "traffic_percent": 5, "version": "2.0"}), True),
    ("a cold-start policy", changed(MODEL, cold_start={"expected_seconds": 600, "idle_retention_seconds": 3600,
                                                        "scale_down_delay_seconds": 0, "initial_replicas": 0}), True),
    # Knative's window maximum bounds both durations (knative/serving @ knative-v1.23.0
    # pkg/apis/autoscaling/annotation_validation.go:135-162, register.go:144).
    ("a retention over an hour", changed(MODEL, cold_start={"idle_retention_seconds": 3601}), False),
    ("a negative scale-down delay", changed(MODEL, cold_start={"scale_down_delay_seconds": -1}), False),
    ("a negative initial scale", changed(MODEL, cold_start={"initial_replicas": -1}), False),
    ("a cold start longer than the longest request", changed(MODEL, cold_start={"expected_seconds": 3601}), False),
    ("a misspelt cold-start field", changed(MODEL, cold_start={"retention_seconds": 60}), False),
    ("a per-stack timeout and cold start", changed(MODEL, environments={"dev": {
        "timeout_seconds": 900, "cold_start": {"initial_replicas": 1}}}), True),
    ("scaling up to 3", changed(MODEL, scaling={"min_replicas": 1, "max_replicas": 3}), True),
    ("min_replicas 1 with the default max", changed(MODEL, scaling={"min_replicas": 1}), True),
    ("min_replicas 2 with the default max", changed(MODEL, scaling={"min_replicas": 2}), False),
    ("scaling on cpu", changed(MODEL, scaling={"metric": "cpu", "min_replicas": 1, "max_replicas": 2, "target": 80}), True),
    ("scaling on cpu from zero", changed(MODEL, scaling={"metric": "cpu", "max_replicas": 2}), False),
    ("scaling on memory from zero", changed(MODEL, scaling={"metric": "memory", "min_replicas": 0}), False),
    ("a cpu target over 100%", changed(MODEL, scaling={"metric": "cpu", "min_replicas": 1, "target": 150}), False),
    ("a concurrency target over 100", changed(MODEL, scaling={"target": 150}), True),
    ("too many replicas", changed(MODEL, scaling={"max_replicas": 1001}), False),
    ("an unknown metric", changed(MODEL, scaling={"metric": "gpu"}), False),
    ("a gpu model's behavior", changed(MODEL, scaling={"behavior": {"stable_window_seconds": 300, "panic_threshold_percent": 400}}), True),
    ("a window under knative's minimum", changed(MODEL, scaling={"behavior": {"stable_window_seconds": 5}}), False),
    ("the hpa's window", changed(MODEL, scaling={"metric": "cpu", "min_replicas": 1, "behavior": {"stable_window_seconds": 120}}), True),
    ("panic mode on the hpa", changed(MODEL, scaling={"metric": "cpu", "min_replicas": 1, "behavior": {"panic_window_percent": 5}}), False),
    ("an environment variable", changed(MODEL, env={"LOG_LEVEL": "debug"}), True),
    ("a platform environment variable", changed(MODEL, env={"PORT": "9000"}), False),
    ("a Knative K_ environment variable", changed(MODEL, env={"K_SINK": "x"}), False),
    ("an environment variable with K_ inside", changed(MODEL, env={"TOP_K_X": "5"}), True),
    ("an environment variable name with a dash", changed(MODEL, env={"LOG-LEVEL": "debug"}), False),
    ("an environment variable that is a number", changed(MODEL, env={"WORKERS": 4}), False),
    # Runtime arguments: the flags the runtime or the platform sets (and argparse abbreviations of
    # them, either spelling of - and _) are refused per runtime.
    ("runtime arguments", changed(MODEL, args=["--enable_docs_url=true", "-v"]), True),
    ("a flag the runtime sets", changed(MODEL, args=["--model_name=other"]), False),
    ("a flag the runtime sets, abbreviated", changed(MODEL, args=["--model_n=other"]), False),
    ("a flag the platform relies on", changed(MODEL, args=["--workers", "2"]), False),
    ("a platform flag spelt with -", changed(MODEL, args=["--http-port=9000"]), False),
    ("a Triton flag on Triton", changed(MODEL, format="onnx", args=["--http-port=9000"]), False),
    ("another Triton flag on Triton", changed(MODEL, format="onnx", args=["--log-verbose=1"]), True),
    ("a KServe server flag on Triton", changed(MODEL, format="onnx", args=["--workers=2"]), True),
    ("a flag the named runtime sets", changed(MODEL, format="pytorch", runtime="kserve-tritonserver",
                                              args=["--model-store=/tmp"]), False),
    ("arguments to MLServer", changed(MODEL, runtime="kserve-mlserver", protocol="v2", args=["--x"]), False),
    ("no arguments to MLServer", changed(MODEL, runtime="kserve-mlserver", protocol="v2", args=[]), True),
    ("a template in an argument", changed(MODEL, args=["--x={{.Name}}"]), False),
    ("a line break in an argument", changed(MODEL, args=["--x=1\n--model_name=y"]), False),
    ("an empty argument", changed(MODEL, args=[""]), False),
    ("an argument of 256 characters", changed(MODEL, args=["-" + "x" * 255]), True),
    ("an argument of 257 characters", changed(MODEL, args=["-" + "x" * 256]), False),
    ("32 arguments", changed(MODEL, args=["-v"] * 32), True),
    ("33 arguments", changed(MODEL, args=["-v"] * 33), False),
    ("a Hugging Face task", changed(MODEL, format="huggingface", storage_uri="hf://acme/embedder", args=["--backend=huggingface", "--task=text_embedding"]), True),
    ("a Hugging Face task without its backend", changed(MODEL, format="huggingface", storage_uri="hf://acme/embedder", args=["--task=text_embedding"]), False),
    ("an unknown Hugging Face task", changed(MODEL, format="huggingface", storage_uri="hf://acme/embedder", args=["--backend=huggingface", "--task=embedding"]), False),
    ("HF_TASK for Hugging Face", changed(MODEL, format="huggingface", storage_uri="hf://acme/embedder", env={"HF_TASK": "text_embedding"}), False),
    ("HF_TASK for another server", changed(MODEL, env={"HF_TASK": "text_embedding"}), True),
    ("the model id for Hugging Face", changed(MODEL, format="huggingface", storage_uri="hf://acme/embedder", args=["--model_id=acme/embedder"]), False),
    ("a template in an environment value", changed(MODEL, env={"NAME": "{{.Name}}"}), False),
    ("a closing brace pair in an environment value", changed(MODEL, env={"JSON": "{\"a\": {\"b\": 1}}"}), False),
    ("an environment value of two lines", changed(MODEL, env={"CONFIG": "a: 1\nb: {c: 2}"}), True),
    ("a template on an environment value's second line", changed(MODEL, env={"CONFIG": "a\n{{x}}"}), False),
    ("a version label", changed(MODEL, version="1.10"), True),
    ("a version that is no label value", changed(MODEL, version="-1"), False),
    ("a timeout of an hour", changed(MODEL, timeout_seconds=3600), True),
    ("a timeout of zero", changed(MODEL, timeout_seconds=0), False),
    ("an error rate of 1", changed(MODEL, slo={"error_rate": 1}), False),
    ("critical in words", changed(MODEL, critical="yes"), False),
    ("a node pool", changed(MODEL, node_pool="cpu-large"), True),
]

TEAM_CASES = [
    ("the base team", TEAM, True),
    ("a namespace, reviewers and a description", changed(
        TEAM, namespace="fraud-models", description="x", reviewers=["@acme/fraud", "ml@acme.example"]), True),
    ("a team name in capitals", changed(TEAM, team="Fraud"), False),
    ("an unknown field", changed(TEAM, budget=1), False),
    ("no owners", changed(TEAM, owners=[]), False),
    ("an owner twice", changed(TEAM, owners=["ml-fraud", "ml-fraud"]), False),
    ("a built-in group", changed(TEAM, owners=["system:authenticated"]), False),
    ("a group with a space", changed(TEAM, owners=["ml fraud"]), False),
    ("a group of 253 characters", changed(TEAM, owners=["g" * 253]), True),
    ("a group of 254 characters", changed(TEAM, owners=["g" * 254]), False),
    ("a reviewer without @", changed(TEAM, reviewers=["acme"]), False),
    ("a reviewer with a backtick", changed(TEAM, reviewers=["@acme/x`y"]), False),
    ("a reviewer with a NUL", changed(TEAM, reviewers=["a\x00b@acme.example"]), False),
    ("a reviewer with a double hyphen", changed(TEAM, reviewers=["@ac--me"]), False),
    ("a reviewer twice", changed(TEAM, reviewers=["@acme", "@acme"]), False),
    ("an empty cost center", changed(TEAM, cost_center=""), True),
    ("a cost center with a space", changed(TEAM, cost_center="CC 1"), False),
    ("a prefix without its final /", changed(TEAM, storage={"s3_prefixes": ["s3://models-bucket/fraud"]}), False),
    ("a whole bucket", changed(TEAM, storage={"s3_prefixes": ["s3://models-bucket/"]}), False),
    ("a prefix with a wildcard", changed(TEAM, storage={"s3_prefixes": ["s3://models-bucket/fr*/"]}), False),
    ("a prefix twice", changed(TEAM, storage={"s3_prefixes": ["s3://b-1/a/", "s3://b-1/a/"]}), False),
    ("no prefixes", changed(TEAM, storage={"s3_prefixes": []}), False),
    ("a quota in numbers", changed(TEAM, quota={"cpu": 16, "memory": 68719476736}), True),
    ("a quota of no cpu", changed(TEAM, quota__cpu="0"), False),
    ("a quota without memory", changed(TEAM, quota__memory=...), False),
    ("a negative GPU quota", changed(TEAM, quota__gpu=-1), False),
    ("a quota of GPU shares", changed(TEAM, quota__gpu_shares=8), True),
    ("a negative quota of GPU shares", changed(TEAM, quota__gpu_shares=-1), False),
    ("a quota of an unknown MIG profile", changed(TEAM, quota__mig={"9g.99gb": 1}), False),
    ("a quota of no MIG slices", changed(TEAM, quota__mig={"1g.10gb": 0}), False),
]


def _validator_accepts(model, document: dict) -> bool:
    try:
        model.model_validate(document)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("file_name", sorted(SCHEMAS))
def test_the_schemas_are_valid_json_schema(file_name):
    Draft202012Validator.check_schema(SCHEMAS[file_name])


@pytest.mark.parametrize(
    ("file_name", "document", "valid"),
    [pytest.param("model.schema.json", document, valid, id=f"model: {case}") for case, document, valid in MODEL_CASES]
    + [pytest.param("team.schema.json", document, valid, id=f"team: {case}") for case, document, valid in TEAM_CASES],
)
def test_schema_and_validator_agree(file_name, document, valid):
    schema_accepts = EditorValidator(SCHEMAS[file_name]).is_valid(document)
    assert (_validator_accepts(SCHEMA_FILES[file_name], document), schema_accepts) == (valid, valid)


def test_the_pattern_check_follows_ecma_and_not_python():
    # Without the ECMA-262 reading of $ the newline cases above would pass the schema.
    schema = {"type": "string", "pattern": "^a$"}
    assert not EditorValidator(schema).is_valid("a\n")
    assert Draft202012Validator(schema).is_valid("a\n")


def test_the_fixture_catalog_passes_the_schemas():
    import yaml

    from tests.conftest import MODELS_DIR

    files = sorted(MODELS_DIR.glob("*/*.yaml"))
    assert len(files) > 10
    for path in files:
        schema = SCHEMAS["team.schema.json" if path.name == "team.yaml" else "model.schema.json"]
        errors = [error.message for error in EditorValidator(schema).iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path

"""Per-file rules of model and team files, each with the exact line a user sees."""

from __future__ import annotations

import pytest

from components.catalog import InputError, load_catalog

FILE = "models/fraud/scorer.yaml"
TEAM_FILE = "models/fraud/team.yaml"


def problems_of(workspace) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_catalog(workspace.models, "models")
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"nmae": "x"},
            "nmae: unknown field (did you mean name?); allowed here: args, canary, cold_start, critical, "
            "description, env, environments, format, gpu, name, node_pool, probes, protocol, resources, "
            "retired, route, runtime, scaling, secrets, slo, storage_uri, threads, timeout_seconds, usage, version",
        ),
        (
            {"resources": {"cpu": "1", "memory": "1Gi", "gpus": 1}},
            "resources.gpus: unknown field; allowed here: cpu, cpu_limit, memory",
        ),
        (
            {"resources": {"cpu": "2", "memory": "1Gi", "cpu_limit": "1500m"}},
            "resources: cpu_limit 1500m is below the CPU request 2, which Kubernetes refuses; "
            "raise cpu_limit to at least the request, or leave it out (the stack's "
            "serving.cpu_limit_ratio times the request)",
        ),
        ({"format": None}, "format: required field is missing: The model's format (KServe modelFormat)."),
        (
            {"format": "sklaern"},
            "format: the text 'sklaern' is not allowed (did you mean sklearn?); use one of: "
            "huggingface, lightgbm, mlflow, onnx, paddle, pmml, pytorch, sklearn, tensorflow, "
            "tensorrt, triton, xgboost",
        ),
        (
            {"version": 1.1},
            "version: expected text, got the number 1.1; put the value in quotes",
        ),
        ({"critical": "yes please"}, "critical: expected true or false, got the text 'yes please'"),
        (
            {"scaling": {"max_replicas": "3"}},
            "scaling.max_replicas: expected a whole number, got the text '3'",
        ),
        ({"scaling": {"min_replicas": -1}}, "scaling.min_replicas: must be at least 0, got the number -1"),
        (
            {"scaling": {"min_replicas": 3, "max_replicas": 2}},
            "scaling: min_replicas (3) is more than max_replicas (2); raise max_replicas or lower "
            "min_replicas",
        ),
        (
            {"scaling": {"min_replicas": 0, "max_replicas": 2, "metric": "cpu"}},
            "scaling: metric cpu scales with the Kubernetes HPA, which cannot scale to zero; set "
            "min_replicas to 1 or more, or use metric concurrency or rps",
        ),
        (
            {"scaling": {"min_replicas": 1, "max_replicas": 2, "metric": "cpu", "target": 150}},
            "scaling: target for metric cpu is a percentage of the CPU request; use 1 to 100",
        ),
        (
            {"resources": {"cpu": "two", "memory": "1Gi"}},
            "resources.cpu: 'two' is not a CPU amount; write cores (2, 0.5) or millicores (500m)",
        ),
        ({"resources": {"cpu": 0, "memory": "1Gi"}}, "resources.cpu: CPU must be more than 0"),
        (
            {"resources": {"cpu": 1, "memory": 2}},
            "resources.memory: '2' is less than 1Mi (a number without a unit means bytes); write "
            "it with a unit, such as 512Mi or 4Gi",
        ),
        (
            {"resources": {"cpu": 1, "memory": "2GB"}},
            "resources.memory: '2GB' is not a memory amount; write it with a unit, such as 512Mi "
            "or 4Gi",
        ),
        (
            {"name": "Scorer"},
            "name: 'Scorer' is not a DNS-1123 label: use at most 63 lowercase letters, digits and "
            "'-', starting and ending with a letter or digit",
        ),
        (
            {"storage_uri": "gs://bucket/scorer/"},
            "storage_uri: 'gs://bucket/scorer/' is not a supported storage URI; models read from "
            "s3://, pvc://, oci://, hf:// (on EKS the platform grants S3 access only, through the "
            "team's IAM role)",
        ),
        (
            {"storage_uri": "s3://bucket"},
            "storage_uri: 's3://bucket' is not a valid s3 URI; write s3://<bucket>/<path>",
        ),
        (
            {"runtime": "kserve-xgbserver"},
            "(file): runtime kserve-xgbserver does not serve format sklearn (it serves xgboost); "
            "pick another runtime or leave runtime out",
        ),
        (
            {"protocol": "grpc-v2"},
            "(file): runtime kserve-sklearnserver does not speak protocol grpc-v2 (it speaks v1, "
            "v2); change protocol or runtime",
        ),
        (
            {"format": "pytorch", "protocol": "grpc-v2", "route": {"path": "/x"}},
            "(file): protocol grpc-v2 is routed by host name, not by path; remove route",
        ),
        (
            {"gpu": {"count": 1, "mig": "1g.10gb"}},
            "gpu: set exactly one of count (whole GPUs, e.g. {count: 1}), mig (one MIG slice, "
            "e.g. {mig: 1g.10gb}) or shares (one share of a time-sliced GPU, {shares: 1})",
        ),
        ({"gpu": {}}, "gpu: set exactly one of count (whole GPUs, e.g. {count: 1}), mig (one "
                      "MIG slice, e.g. {mig: 1g.10gb}) or shares (one share of a time-sliced GPU, {shares: 1})"),
        ({"gpu": {"shares": 2}}, "gpu.shares: must be at most 1, got the number 2"),
        ({"gpu": {"count": 1, "shares": 1}}, "gpu: set exactly one of count (whole GPUs, e.g. {count: 1}), mig (one "
                                             "MIG slice, e.g. {mig: 1g.10gb}) or shares (one share of a time-sliced GPU, {shares: 1})"),
        ({"gpu": {"count": 0}}, "gpu.count: must be at least 1, got the number 0"),
        (
            {"gpu": {"mig": "1g.12gb"}},
            "gpu.mig: '1g.12gb' is not a MIG profile; known profiles: 1g.10gb, 1g.10gb+me, "
            "1g.18gb, 1g.18gb+me, 1g.20gb, 1g.35gb, 1g.5gb, 1g.5gb+me, 2g.10gb, 2g.20gb, 2g.35gb, "
            "3g.20gb, 3g.40gb, 3g.71gb, 4g.20gb, 4g.40gb, 4g.71gb, 7g.141gb, 7g.40gb, 7g.80gb",
        ),
        (
            {"canary": {"storage_uri": "s3://models-bucket/fraud/scorer/v2/", "traffic_percent": 100}},
            "canary.traffic_percent: must be at most 99, got the number 100",
        ),
        (
            {"route": {"path": "/fraud/scorer/"}},
            "route.path: '/fraud/scorer/' is not a route path; write /segment/segment with "
            "lower-case letters, digits and - . _ ~, no trailing '/'",
        ),
        ({"timeout_seconds": 0}, "timeout_seconds: must be at least 1, got the number 0"),
        (
            {"env": {"BATCH": 8}},
            "env.BATCH: expected text, got the number 8; put the value in quotes",
        ),
        (
            {"env": {"AWS_SECRET_ACCESS_KEY": "abc"}},
            "env.AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY is set by the platform (Knative, "
            "KServe or the IAM role of the team); remove it",
        ),
        (
            {"env": {"MODEL": "{{.Name}}"}},
            "env.MODEL: '{{.Name}}' holds {{ or }}, which KServe evaluates as a Go template over "
            "the InferenceService's metadata; remove them",
        ),
        (
            {"env": {"1BAD": "x"}},
            "env.1BAD: '1BAD' is not an environment variable name; use letters, digits and _",
        ),
        (
            {"args": ["--nthread=4", "--model_dir=/tmp"]},
            "args[1]: '--model_dir=/tmp' sets --model_dir, which a model may not set (its "
            "ClusterServingRuntime kserve-sklearnserver sets it); remove it",
        ),
        (
            {"args": ["--work=4"]},
            "args[0]: '--work=4' abbreviates --workers, which a model may not set (each worker "
            "process keeps its own metrics, so a scrape would see one of them; scale with "
            "scaling.max_replicas and resources.cpu instead); remove it",
        ),
        (
            {"args": ["--log_config_file=/x\n"]},
            "args[0]: '--log_config_file=/x\\n' holds a control character (a tab or a line "
            "break); write one argument per list item, on one line",
        ),
        (
            {"args": ["--x={{.Name}}"]},
            "args[0]: '--x={{.Name}}' holds {{ or }}, which KServe evaluates as a Go template over "
            "the InferenceService's metadata; remove them",
        ),
        ({"args": ["-v"] * 33}, "args: has 33 items, more than the 32 allowed; keep the ones in use"),
        ({"args": ["-" * 257]}, "args[0]: has more than 256 characters; shorten it"),
        (
            {"runtime": "kserve-mlserver", "args": ["--debug"]},
            "args: runtime kserve-mlserver takes no arguments: its container runs the image's own "
            "command, which args would replace; configure it with env instead (for MLServer, "
            "MLSERVER_* variables)",
        ),
        (
            {"format": "huggingface", "env": {"HF_TASK": "text_embedding"}},
            "env: KServe's Hugging Face server reads no HF_TASK variable; remove it and write "
            'args: ["--backend=huggingface", "--task=<task>"]',
        ),
        (
            {"format": "huggingface", "args": ["--task=text_embedding"]},
            "args: --task is an option of the Hugging Face backend only, and the server picks vLLM "
            "for every model vLLM supports unless told otherwise; add --backend=huggingface",
        ),
        (
            {"format": "huggingface", "args": ["--backend=huggingface", "--task=embeddings"]},
            "args[1]: '--task=embeddings' names no task of KServe's Hugging Face server; write "
            "--task=<task> with one of fill_mask, sequence_classification, text2text_generation, "
            "text_embedding, text_generation, time_series_forecast, token_classification",
        ),
        (
            {"environments": {"prod": {"scaling": {"min_replica": 1}}}},
            "environments.prod.scaling.min_replica: unknown field (did you mean min_replicas?); "
            "allowed here: behavior, max_replicas, metric, min_replicas, target",
        ),
        (
            {"name": "2fa-scorer"},
            "name: '2fa-scorer' must start with a letter: Knative names the model's Service "
            "2fa-scorer-predictor, and Service names start with a letter",
        ),
        (
            {"scaling": {"max_replicas": 10**9}},
            "scaling.max_replicas: must be at most 1000, got the number 1000000000",
        ),
        (
            {"name": "a-model-name-that-is-far-too-long-for-knative-revisions"},
            "name: 'a-model-name-that-is-far-too-long-for-knative-revisions' has 55 characters; "
            "at most 47 fit, because Knative names revisions <name>-predictor-00001 within 63 "
            "characters",
        ),
    ],
)
def test_model_field_rules(basic_workspace, changes, expected):
    basic_workspace.model(file="scorer", **changes)
    assert problems_of(basic_workspace) == [f"{FILE}: {expected}"]


def test_unknown_field_lists_every_allowed_field(basic_workspace):
    basic_workspace.model(replicas=2)
    assert problems_of(basic_workspace) == [
        f"{FILE}: replicas: unknown field; allowed here: args, canary, cold_start, critical, description, env, "
        "environments, format, gpu, name, node_pool, probes, protocol, resources, retired, route, runtime, "
        "scaling, secrets, slo, storage_uri, threads, timeout_seconds, usage, version"
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"owners": []},
            "owners: must list at least 1 item(s)",
        ),
        (
            {"owners": ["system:authenticated"]},
            "owners[0]: 'system:authenticated' is a Kubernetes built-in group "
            "(system:authenticated would give every user access); name the team's own group",
        ),
        (
            {"owners": ["ml-fraud", "ml-fraud"]},
            "owners: lists ml-fraud more than once; keep one of each",
        ),
        (
            {"storage": {"s3_prefixes": ["s3://models-bucket/fraud"]}},
            "storage.s3_prefixes[0]: 's3://models-bucket/fraud' must end with '/', otherwise it "
            "also matches s3://models-bucket/fraud-other/; write s3://models-bucket/fraud/",
        ),
        (
            {"storage": {"s3_prefixes": ["s3://models-bucket/"]}},
            "storage.s3_prefixes[0]: 's3://models-bucket/' is a whole bucket; name the team's "
            "folder in it, such as s3://models-bucket/models/",
        ),
        (
            {"storage": {"s3_prefixes": ["s3://models-bucket/*/"]}},
            "storage.s3_prefixes[0]: 's3://models-bucket/*/' is not an S3 prefix; write "
            "s3://<bucket>/<prefix>/ (no wildcards)",
        ),
        (
            {"quota": {"cpu": "8"}},
            "quota.memory: required field is missing: Memory the team's pods may request in total.",
        ),
        (
            {"quota": {"cpu": "8", "memory": "8Gi", "mig": {"1g.10gb": 0}}},
            "quota.mig.1g.10gb: must be at least 1, got the number 0",
        ),
        (
            {"cost_center": "CC 1"},
            "cost_center: 'CC 1' cannot be a Kubernetes label value: use at most 63 letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit",
        ),
    ],
)
def test_team_field_rules(basic_workspace, changes, expected):
    basic_workspace.team(**changes)
    assert f"{TEAM_FILE}: {expected}" in problems_of(basic_workspace)


def test_yaml_numbers_are_fine_quantities(basic_workspace):
    basic_workspace.model(resources={"cpu": 0.5, "memory": "512Mi"})
    catalog = load_catalog(basic_workspace.models, "models")
    assert catalog.teams[0].models[0].spec.resources.cpu == "0.5"


def test_defaults_of_a_minimal_model(basic_workspace):
    spec = load_catalog(basic_workspace.models, "models").teams[0].models[0].spec
    assert (spec.scaling.min_replicas, spec.scaling.max_replicas, spec.scaling.metric) == (0, 1, "concurrency")
    assert spec.serving_runtime.name == "kserve-sklearnserver"
    assert spec.protocol_version == "v1"
    assert spec.critical is False


def test_default_namespace_of_a_team(basic_workspace):
    team = load_catalog(basic_workspace.models, "models").teams[0]
    assert team.namespace == "team-fraud"

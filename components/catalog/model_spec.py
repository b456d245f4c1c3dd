"""``models/<team>/<model>.yaml``: one model served by KServe, as its team describes it."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator, model_validator

from components.catalog.cold_start import MAX_REQUEST_TIMEOUT_SECONDS, ColdStart
from components.catalog.fields import MAX_ITEMS, DnsLabel, LabelValue, StrictModel, check_dns_label, s3_key_problem
from components.catalog.probes_spec import Probes, probe_paths
from components.catalog.problems import shown_text
from components.catalog.quantities import CpuQuantity, MemoryQuantity, cpu_cores
from components.catalog.runtimes import (
    DEFAULT_RUNTIME_FOR_FORMAT,
    MODEL_FORMATS,
    PROTOCOLS,
    SERVING_RUNTIMES,
    ServingRuntime,
)
from components.catalog.scaling_behavior import KPA_ONLY_FIELDS, ScalingBehavior, behavior_problem
from components.catalog.team_spec import MigProfileName

# Knative names the first revision `<model>-predictor-00001`, and a revision name must fit in a
# 63-character label value.
MAX_MODEL_NAME_LENGTH = 63 - len("-predictor-00001")
# A DNS label that starts with a letter (Service names do).
MODEL_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)

ScaleMetric = Literal["concurrency", "rps", "cpu", "memory"]
# Sanity bounds: larger numbers are typos, not plans.
MAX_REPLICAS = 1000
MAX_TARGET = 1_000_000
# Metrics that Knative hands to the Kubernetes HPA, which cannot scale to zero: with min-scale 0
# the HPA's minReplicas stays unset, i.e. 1 (knative/serving @ knative-v1.23.0
# pkg/reconciler/autoscaling/hpa/resources/hpa.go:57-60).
HPA_METRICS = ("cpu", "memory")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by Knative, KServe or the IRSA webhook; a model that overrides them breaks in odd ways, and
# the AWS keys would put a credential into git or point the SDK at other credentials (the pod
# identity webhook leaves a container's own AWS_ROLE_ARN or AWS_CONTAINER_CREDENTIALS_FULL_URI in
# place: amazon-eks-pod-identity-webhook pkg/handler/handler.go@v0.6.9).
RESERVED_ENV_NAMES = frozenset({
    "PORT", "STORAGE_URI",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
})
# Knative reserves K_SERVICE, K_CONFIGURATION and K_REVISION (pkg/apis/serving/k8s_validation.go
# @knative-v1.23.0) and sets more K_ names (K_SINK, K_CE_OVERRIDES): the whole prefix is theirs.
RESERVED_ENV_PREFIX = "K_"

# Runtime arguments (``args``): KServe appends them to the ClusterServingRuntime's own
# (pkg/controller/v1beta1/inferenceservice/utils/utils.go:253-264 MergeRuntimeContainers @ v0.20.0),
# then executes the merged container as a Go template over the InferenceService's metadata
# (ReplacePlaceholders, utils.go:323-337, called from components/predictor.go:438), so "{{" or
# "}}" in an argument would be evaluated (or fail the reconcile). Control characters no reviewer
# can see are refused too.
MAX_ARGS = 32
MAX_ARG_LENGTH = 256
ARG_PATTERN = r"^(?!.*\{\{)(?!.*\}\})[^\x00-\x1f\x7f]+$"
# Environment values may span lines.
NO_TEMPLATE_PATTERN = r"^(?![\s\S]*\{\{)(?![\s\S]*\}\})"
_ARG = re.compile(ARG_PATTERN)
# huggingfaceserver @ v0.20.0 looks --task up by name in MLTask (__main__.py:258-267) and serves
# only SUPPORTED_TASKS (task.py:85-93). It reads no HF_TASK variable.
HUGGINGFACE_TASKS = (
    "fill_mask", "sequence_classification", "text2text_generation", "text_embedding",
    "text_generation", "time_series_forecast", "token_classification",
)
# huggingfaceserver adds --task only when the vLLM backend is off (__main__.py:166-177); with the
# default backend auto, vLLM (0.24.0 in both the CPU and GPU images: huggingface_server.Dockerfile:171,
# huggingface_server_cpu.Dockerfile:96) takes every architecture it supports, and parses the
# arguments itself.
HUGGINGFACE_BACKEND_ARG = "--backend=huggingface"
HUGGINGFACE_TASK_ENV = "HF_TASK"

# Environment variables that look like credentials: by a word of their name (HF_TOKEN,
# DB_PASSWORD, OPENAI_API_KEY; not TOKENIZERS_PARALLELISM or MAX_TOKENS) or by the shape of
# their value (tokens of Hugging Face, AWS, GitHub, OpenAI, Slack; JWTs; PEM private keys). A
# value in a model file is in git for good: it belongs in a Secret, referenced under secrets.
CREDENTIAL_NAME_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY")
CREDENTIAL_NAME_PAIRS = ("API_KEY", "ACCESS_KEY", "PRIVATE_KEY", "AUTH_KEY")
_CREDENTIAL_NAME = re.compile(
    "(?:^|_)(?:" + "|".join(CREDENTIAL_NAME_WORDS + CREDENTIAL_NAME_PAIRS) + ")(?:_|$)"
)
_CREDENTIAL_VALUE = re.compile(
    r"hf_[A-Za-z0-9]{30,}|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
# Kubernetes Secret data keys (k8s.io/apimachinery validation IsConfigMapKey).
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
MAX_SECRET_KEY_LENGTH = 253


def _case_insensitive(pattern: str) -> str:
    """``pattern`` with each letter as [Xx] (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in pattern)


CREDENTIAL_NAME_SCHEMA_PATTERN = _case_insensitive(_CREDENTIAL_NAME.pattern)


def credential_problem(name: str, value: str) -> str | None:
    """Why the variable ``name`` with ``value`` looks like a credential, or ``None``."""
    if _CREDENTIAL_NAME.search(name.upper()):
        why = f"{name} names a credential"
    elif _CREDENTIAL_VALUE.search(value):
        why = f"the value of {name} looks like a credential (a token or a private key)"
    else:
        return None
    return (
        f"{why}, and a value written here is in git for good; keep it in a Kubernetes Secret of "
        f"the team's namespace and reference it instead: secrets: {{{name}: {{secret: <secret name>, "
        "key: <key in the secret>}} (see models/README.md, Secrets)"
    )


_STORAGE_URI = re.compile(r"^(?P<scheme>[a-z0-9+.-]+)://(?P<rest>.+)$")
_STORAGE_PATTERNS = {
    "s3": re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$"),
    "pvc": re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/\S*)?$"),
    "oci": re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?/\S+$"),
    "hf": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(:[A-Za-z0-9._-]+)?$"),
}
_STORAGE_EXAMPLES = {
    "s3": "s3://<bucket>/<path>",
    "pvc": "pvc://<claim-in-the-team-namespace>/<path>",
    "oci": "oci://<registry>/<repository>:<tag>",
    "hf": "hf://<organisation>/<model>[:<revision>]",
}
# The same rules as one pattern, for the JSON Schema.
STORAGE_URI_PATTERN = "^(?:" + "|".join(
    f"{scheme}://(?:{pattern.pattern.removeprefix('^').removesuffix('$')})"
    for scheme, pattern in _STORAGE_PATTERNS.items()
) + ")$"
# Route paths are normalised: lower case (the gateway's prefix match is case-sensitive, so /Search
# and /search would be two routes that read as one), no '.'-led segment ('.', '..', .well-known
# and .git mean something else to browsers and proxies), no empty segment, no trailing '/', no
# %-encoding (%2e%2e is '..' once a proxy decodes it).
_ROUTE_PATH = re.compile(r"^(/[a-z0-9_~-][a-z0-9._~-]*)+$")


def check_storage_uri(value: str) -> str:
    match = _STORAGE_URI.fullmatch(value)
    scheme = match["scheme"] if match else None
    if scheme not in _STORAGE_PATTERNS:
        supported = ", ".join(f"{name}://" for name in _STORAGE_PATTERNS)
        raise ValueError(
            f"{shown_text(value, 80)} is not a supported storage URI; models read from {supported} "
            "(on EKS the platform grants S3 access only, through the team's IAM role)"
        )
    if not _STORAGE_PATTERNS[scheme].fullmatch(match["rest"]):
        raise ValueError(f"{shown_text(value, 80)} is not a valid {scheme} URI; write {_STORAGE_EXAMPLES[scheme]}")
    if scheme == "s3":
        problem = s3_key_problem(match["rest"].partition("/")[2])
        if problem:
            raise ValueError(f"{shown_text(value, 80)} {problem}")
    return value


# Read by the math libraries the model servers use: OpenMP (torch's intra-op pool, XGBoost, LightGBM,
# scikit-learn's native code) and Intel MKL. TORCH_NUM_THREADS is read by nothing
# (pytorch/pytorch#19001), so the platform does not set it.
THREAD_ENV_NAMES = ("MKL_NUM_THREADS", "OMP_NUM_THREADS")
MAX_THREADS = 256


def check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{shown_text(value, 80)} is not an environment variable name; use letters, digits and _")
    if value in RESERVED_ENV_NAMES or value.startswith(RESERVED_ENV_PREFIX):
        raise ValueError(
            f"{value} is set by the platform (Knative, KServe or the IAM role of the team); "
            "remove it"
        )
    return value


def _template_problem(value: str) -> str | None:
    if "{{" in value or "}}" in value:
        return (
            f"{value!r} holds {{{{ or }}}}, which KServe evaluates as a Go template over the "
            "InferenceService's metadata; remove them"
        )
    return None


def check_env_value(value: str) -> str:
    # ReplacePlaceholders templates the whole container, env included (see ARG_PATTERN).
    problem = _template_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_runtime_arg(value: str) -> str:
    if not value:
        raise ValueError("an argument is empty; remove it")
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(
            f"{value!r} holds a control character (a tab or a line break); write one argument "
            "per list item, on one line"
        )
    problem = _template_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def arg_flag(arg: str) -> str | None:
    """The option an argument names, spelt with ``_`` (``--http-port=1`` -> ``http_port``)."""
    if not arg.startswith("-"):
        return None
    return arg.split("=", 1)[0].lstrip("-").replace("-", "_") or None


def _reserved_flag(arg: str, runtime: ServingRuntime) -> tuple[str, str] | None:
    """(flag, why) when ``arg`` sets a reserved flag, or abbreviates one as argparse allows."""
    name = arg_flag(arg)
    if name is None:
        return None
    for flag, why in sorted(runtime.reserved_flags.items()):
        if flag.lstrip("-").replace("-", "_").startswith(name):
            return flag, why
    return None


def arg_problem(arg: str, runtime: ServingRuntime) -> str | None:
    """Why ``runtime``'s model server cannot be given the argument ``arg``, or ``None``."""
    reserved = _reserved_flag(arg, runtime)
    if reserved is not None:
        flag, why = reserved
        verb = "sets" if arg_flag(arg) == flag.lstrip("-").replace("-", "_") else "abbreviates"
        return f"{arg!r} {verb} {flag}, which a model may not set ({why}); remove it"
    if runtime.name == "kserve-huggingfaceserver" and arg_flag(arg) == "task":
        if arg.partition("=")[2] not in HUGGINGFACE_TASKS:
            return (
                f"{arg!r} names no task of KServe's Hugging Face server; write --task=<task> with "
                f"one of {', '.join(HUGGINGFACE_TASKS)}"
            )
    return None


def args_problem(args: list[str], runtime: ServingRuntime) -> str | None:
    """Why ``args`` as a whole cannot be passed to ``runtime``'s model server, or ``None``."""
    if args and not runtime.takes_args:
        return (
            f"runtime {runtime.name} takes no arguments: its container runs the image's own "
            "command, which args would replace; configure it with env instead (for MLServer, "
            "MLSERVER_* variables)"
        )
    if (
        runtime.name == "kserve-huggingfaceserver"
        and any(arg_flag(arg) == "task" for arg in args)
        and HUGGINGFACE_BACKEND_ARG not in args
    ):
        return (
            "--task is an option of the Hugging Face backend only, and the server picks vLLM for "
            f"every model vLLM supports unless told otherwise; add {HUGGINGFACE_BACKEND_ARG}"
        )
    return None


def _runtime_of(data: dict) -> ServingRuntime | None:
    """The runtime of a model whose format and runtime fields are valid so far."""
    if data.get("format") is None or "runtime" not in data:
        return None
    return SERVING_RUNTIMES[data["runtime"] or DEFAULT_RUNTIME_FOR_FORMAT[data["format"]]]


def _check_arg_for_runtime(value: str, info: ValidationInfo) -> str:
    runtime = _runtime_of(info.data)
    problem = arg_problem(value, runtime) if runtime is not None else None
    if problem:
        raise ValueError(problem)
    return value


def check_model_name(value: str) -> str:
    # After the DNS label check only the first character can be wrong here.
    if not _MODEL_NAME.fullmatch(value):
        raise ValueError(
            f"{shown_text(value, 80)} must start with a letter: Knative names the model's Service "
            f"{value}-predictor, and Service names start with a letter"
        )
    if len(value) > MAX_MODEL_NAME_LENGTH:
        raise ValueError(
            f"{shown_text(value, 80)} has {len(value)} characters; at most {MAX_MODEL_NAME_LENGTH} fit, because "
            "Knative names revisions <name>-predictor-00001 within 63 characters"
        )
    return value


def check_route_path(value: str) -> str:
    if _ROUTE_PATH.fullmatch(value):
        return value
    segments = value.split("/")[1:] if value.startswith("/") else []
    if segments and any(segment.startswith(".") for segment in segments):
        raise ValueError(
            f"{shown_text(value, 80)} has a segment starting with '.' ('.', '..', .well-known); "
            "route paths are plain /segment/segment"
        )
    if value.lower() != value and _ROUTE_PATH.fullmatch(value.lower()):
        raise ValueError(f"{shown_text(value, 80)} has capitals; route paths are lower case: write {value.lower()}")
    raise ValueError(
        f"{shown_text(value, 80)} is not a route path; write /segment/segment with lower-case "
        "letters, digits and - . _ ~, no trailing '/'"
    )


StorageUri = Annotated[
    str, AfterValidator(check_storage_uri), WithJsonSchema({"type": "string", "pattern": STORAGE_URI_PATTERN}),
]
EnvName = Annotated[str, AfterValidator(check_env_name)]
EnvValue = Annotated[str, AfterValidator(check_env_value)]
ENV_NAME_SCHEMA = {"pattern": _ENV_NAME.pattern, "not": {"anyOf": [
    {"enum": sorted(RESERVED_ENV_NAMES)}, {"pattern": f"^{RESERVED_ENV_PREFIX}"},
]}}
EnvVariables = Annotated[
    dict[EnvName, EnvValue],
    WithJsonSchema({
        "type": "object",
        # Credentials go under secrets (credential_problem; values are not checked here).
        "propertyNames": {"allOf": [ENV_NAME_SCHEMA, {"not": {"pattern": CREDENTIAL_NAME_SCHEMA_PATTERN}}]},
        "additionalProperties": {"type": "string", "pattern": NO_TEMPLATE_PATTERN},
        "maxProperties": MAX_ITEMS,
    }),
]
ModelName = Annotated[
    str,
    AfterValidator(check_dns_label),
    AfterValidator(check_model_name),
    WithJsonSchema({"type": "string", "pattern": MODEL_NAME_PATTERN, "maxLength": MAX_MODEL_NAME_LENGTH}),
]
RuntimeArg = Annotated[
    str,
    Field(max_length=MAX_ARG_LENGTH),
    AfterValidator(check_runtime_arg),
    WithJsonSchema({"type": "string", "pattern": ARG_PATTERN, "maxLength": MAX_ARG_LENGTH}),
]


def check_route_prefix(value: str) -> str:
    """A prefix the platform grants a team (``/payments/``): a route path and a final '/'."""
    if not value.endswith("/") or value == "/":
        raise ValueError(f"{shown_text(value, 80)} must end with '/' after a path, such as /payments/, "
                         "or it would also grant /payments-other")
    check_route_path(value[:-1])
    return value


RoutePrefix = Annotated[str, AfterValidator(check_route_prefix)]
RoutePath = Annotated[
    str, AfterValidator(check_route_path), WithJsonSchema({"type": "string", "pattern": _ROUTE_PATH.pattern}),
]


def cpu_limit_problem(cpu: str, cpu_limit: str | None) -> str | None:
    """Why ``cpu_limit`` cannot go with the request ``cpu``, or ``None``."""
    if cpu_limit is not None and cpu_cores(cpu_limit) < cpu_cores(cpu):
        return (
            f"cpu_limit {cpu_limit} is below the CPU request {cpu}, which Kubernetes refuses; "
            "raise cpu_limit to at least the request, or leave it out (the stack's "
            "serving.cpu_limit_ratio times the request)"
        )
    return None


class SecretKeyRef(StrictModel):
    """One key of a Kubernetes Secret in the team's namespace."""

    secret: DnsLabel = Field(description="Name of the Secret in the team's namespace.")
    key: Annotated[str, Field(min_length=1, max_length=MAX_SECRET_KEY_LENGTH, pattern=SECRET_KEY_PATTERN)] = Field(
        description="Key in the Secret's data."
    )


SecretVariables = Annotated[
    dict[EnvName, SecretKeyRef],
    WithJsonSchema({
        "type": "object",
        "propertyNames": ENV_NAME_SCHEMA,
        "additionalProperties": SecretKeyRef.model_json_schema(),
        "maxProperties": MAX_ITEMS,
    }),
]


class ModelResources(StrictModel):
    cpu: CpuQuantity = Field(description="CPU requested by one replica of the model server.")
    memory: MemoryQuantity = Field(description="Memory requested (and its limit) per replica.")
    cpu_limit: CpuQuantity | None = Field(
        default=None,
        description="Most CPU one replica may use; at least cpu. Default: cpu times the stack's "
        "serving.cpu_limit_ratio (1.25).",
    )

    @model_validator(mode="after")
    def _limit_covers_request(self) -> "ModelResources":
        problem = cpu_limit_problem(self.cpu, self.cpu_limit)
        if problem:
            raise ValueError(problem)
        return self


class ResourcesOverride(StrictModel):
    cpu: CpuQuantity | None = None
    memory: MemoryQuantity | None = None
    cpu_limit: CpuQuantity | None = None


class GpuRequest(StrictModel):
    """Either whole GPUs (``count``) or one MIG slice (``mig``)."""

    # Exactly one of the two is set (a null counts as not set), as the validator below says.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": [name], "properties": {
            other: {"type": kind if other == name else "null"} for other in ("count", "mig", "shares")
        }}
        for name, kind in (("count", "integer"), ("mig", "string"), ("shares", "integer"))
    ]})

    count: int | None = Field(default=None, ge=1, description="Whole GPUs per replica.")
    mig: MigProfileName | None = Field(
        default=None, description="One MIG slice of this profile per replica, e.g. 1g.10gb."
    )
    # One share only: modelplane's device plugin configuration refuses a pod asking for more
    # (failRequestsGreaterThanOne), since two shares of one GPU give no more time on it.
    shares: int | None = Field(
        default=None, ge=1, le=1,
        description="1: one share of a time-sliced GPU (nvidia.com/gpu.shared) per replica.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "GpuRequest":
        if [self.count, self.mig, self.shares].count(None) != 2:
            raise ValueError(
                "set exactly one of count (whole GPUs, e.g. {count: 1}), mig "
                "(one MIG slice, e.g. {mig: 1g.10gb}) or shares (one share of a time-sliced GPU, "
                "{shares: 1})"
            )
        return self


def scaling_problem(min_replicas: int, max_replicas: int, metric: str) -> str | None:
    """Why these scaling settings cannot work together, or ``None``."""
    if min_replicas > max_replicas:
        return (
            f"min_replicas ({min_replicas}) is more than max_replicas ({max_replicas}); "
            "raise max_replicas or lower min_replicas"
        )
    if metric in HPA_METRICS and min_replicas == 0:
        return (
            f"metric {metric} scales with the Kubernetes HPA, which cannot scale to zero; "
            "set min_replicas to 1 or more, or use metric concurrency or rps"
        )
    return None


def _when(field: str, values: list[str], then: dict) -> dict:
    """A JSON Schema rule: when ``field`` is set to one of ``values``, ``then`` holds."""
    return {"if": {"required": [field], "properties": {field: {"enum": values}}}, "then": then}


class Scaling(StrictModel):
    # The cross-field rules of _consistent that JSON Schema can say (min_replicas against an
    # explicit max_replicas it cannot).
    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"not": {"required": ["max_replicas"]}}, "then": {"properties": {"min_replicas": {"maximum": 1}}}},
        _when("metric", list(HPA_METRICS), {"required": ["min_replicas"], "properties": {"min_replicas": {"minimum": 1}}}),
        _when("metric", ["cpu"], {"properties": {"target": {"maximum": 100}}}),
        _when("metric", list(HPA_METRICS), {"properties": {"behavior": {"anyOf": [
            {"type": "null"}, {"properties": {name: {"type": "null"} for name in KPA_ONLY_FIELDS}},
        ]}}}),
    ]})

    min_replicas: int = Field(
        default=0, ge=0, le=MAX_REPLICAS, description="Replicas always running; 0 scales to zero when idle."
    )
    max_replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS, description="Most replicas the model scales to.")
    metric: ScaleMetric = Field(
        default="concurrency", description="What the autoscaler watches."
    )
    target: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TARGET,
        description="Target per replica: requests in flight (concurrency), requests per second "
        "(rps), percent of requested CPU (cpu) or MiB (memory).",
    )
    behavior: ScalingBehavior | None = Field(
        default=None,
        description="Autoscaler windows and panic mode; defaults per model kind (see models/README.md, Scaling behaviour).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Scaling":
        problem = scaling_problem(self.min_replicas, self.max_replicas, self.metric)
        if problem:
            raise ValueError(problem)
        problem = behavior_problem(self.metric, self.metric in HPA_METRICS, self.behavior)
        if problem:
            raise ValueError(f"behavior: {problem}")
        if self.metric == "cpu" and self.target is not None and self.target > 100:
            raise ValueError("target for metric cpu is a percentage of the CPU request; use 1 to 100")
        return self


class ScalingOverride(StrictModel):
    min_replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    max_replicas: int | None = Field(default=None, ge=1, le=MAX_REPLICAS)
    metric: ScaleMetric | None = None
    target: int | None = Field(default=None, ge=1, le=MAX_TARGET)
    behavior: ScalingBehavior | None = None


class Canary(StrictModel):
    """A new version receiving part of the traffic; the rest goes to the last rolled-out revision."""

    storage_uri: StorageUri = Field(description="Where the canary version's artifacts live.")
    traffic_percent: int = Field(ge=1, le=99, description="Share of requests sent to the canary.")
    version: LabelValue | None = Field(
        default=None,
        description="The canary's own version label (its pods'); required when the model sets version.",
    )


class Route(StrictModel):
    path: RoutePath = Field(description="Path prefix on the shared gateway; default /<team>/<model>.")


class Slo(StrictModel):
    """Service level objectives of a model; fields left out take the stack's defaults."""

    p95_latency_ms: int | None = Field(
        default=None, ge=1, le=600_000, description="95% of requests answer within this many milliseconds."
    )
    error_rate: float | None = Field(
        default=None, gt=0, lt=1, description="Ceiling on the share of failed (5xx) requests over 5 minutes."
    )
    availability: float | None = Field(
        default=None, gt=0, lt=1,
        description="Share of requests that must succeed over 30 days (0.999 = 43 minutes of errors).",
    )


class Usage(StrictModel):
    active_hours_per_day: float | None = Field(
        default=None, ge=0, le=24,
        description="Hours a day the model is expected to serve traffic (for the cost estimate "
        "of a scale-to-zero model); the stack's default when left out.",
    )
    model_size_gib: float | None = Field(
        default=None, gt=0, le=10000,
        description="Size of the model's artifacts, downloaded at every replica start (for the "
        "cost of NAT data processing); the stack's cost.default_model_size_gib when left out.",
    )


class EnvironmentOverride(StrictModel):
    """Settings that differ in one stack."""

    enabled: bool | None = Field(default=None, description="false leaves the model out of the stack.")
    scaling: ScalingOverride | None = None
    resources: ResourcesOverride | None = None
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=MAX_REQUEST_TIMEOUT_SECONDS, description="Request timeout in this stack."
    )
    cold_start: ColdStart | None = None


def _flag_prefix_pattern(name: str) -> str:
    """A pattern of every non-empty prefix of the option ``name`` (``_`` standing for ``-`` too)."""
    head = "[-_]" if name[0] == "_" else re.escape(name[0])
    return head + (f"(?:{_flag_prefix_pattern(name[1:])})?" if len(name) > 1 else "")


def _args_rule(runtime: ServingRuntime) -> dict:
    """arg_problem and args_problem in JSON Schema, for models on ``runtime``."""
    if not runtime.takes_args:
        return {"maxItems": 0}
    names = sorted(flag.lstrip("-").replace("-", "_") for flag in runtime.reserved_flags)
    reserved = "^-+(?:" + "|".join(_flag_prefix_pattern(name) for name in names) + ")(?:=|$)"
    rule: dict = {"items": {"not": {"pattern": reserved}}}
    if runtime.name == "kserve-huggingfaceserver":
        rule["items"] = {"allOf": [rule["items"], {
            "if": {"pattern": "^-+task(?:=|$)"}, "then": {"pattern": f"^-+task=(?:{'|'.join(HUGGINGFACE_TASKS)})$"},
        }]}
        rule["if"] = {"contains": {"pattern": "^-+task(?:=|$)"}}
        rule["then"] = {"contains": {"const": HUGGINGFACE_BACKEND_ARG}}
    return rule


def _runtime_rules() -> list[dict]:
    """_runtime_serves_model and the runtime's checks of env and args in JSON Schema: formats and
    protocols per runtime, the default runtime of each format when none is named, and no route
    for gRPC."""
    rules = []
    for name, runtime in sorted(SERVING_RUNTIMES.items()):
        rules.append(_when("runtime", [name], {"properties": {
            "format": {"enum": list(runtime.formats)}, "protocol": {"enum": [*runtime.protocols, None]},
            "args": _args_rule(runtime),
        }}))
    for model_format, name in sorted(DEFAULT_RUNTIME_FOR_FORMAT.items()):
        runtime = SERVING_RUNTIMES[name]
        rule = _when("format", [model_format], {"properties": {
            "protocol": {"enum": [*runtime.protocols, None]}, "args": _args_rule(runtime),
        }})
        rule["if"]["properties"]["runtime"] = {"type": "null"}
        rules.append(rule)
    rules.append(_when("format", ["huggingface"], {"properties": {
        "env": {"propertyNames": {"not": {"const": HUGGINGFACE_TASK_ENV}}},
    }}))
    grpc = sorted(protocol for protocol in PROTOCOLS if protocol.startswith("grpc-"))
    rules.append(_when("protocol", grpc, {"properties": {"route": {"type": "null"}}}))
    for name, runtime in sorted(SERVING_RUNTIMES.items()):
        if runtime.protocols[0].startswith("grpc-"):
            rule = _when("runtime", [name], {"properties": {"route": {"type": "null"}}})
            rule["if"]["properties"]["protocol"] = {"type": "null"}
            rules.append(rule)
    return rules


def probes_problem(probes: Probes, runtime: ServingRuntime, protocol: str, model_name: str) -> str | None:
    """Why ``probes`` cannot run on ``runtime`` for a model speaking ``protocol``, or None."""
    if protocol.startswith("grpc-"):
        return (
            f"probes are HTTP checks and a {protocol} model's container port speaks gRPC "
            "only; remove probes"
        )
    missing = sorted(kind for kind, path in probe_paths(probes, runtime, model_name).items() if path is None)
    if missing:
        return (
            f"runtime {runtime.name} has no health path the platform knows; write "
            + ", ".join(f"{kind}.path" for kind in missing)
            + " (the server's own health endpoint)"
        )
    return None


class ModelSpec(StrictModel):
    """One model, served as one KServe InferenceService in its team's namespace."""

    model_config = ConfigDict(json_schema_extra={"allOf": _runtime_rules()})

    name: ModelName = Field(description="The model's name; equals the file name without .yaml.")
    description: str | None = Field(default=None, description="What the model does.")
    format: Literal[MODEL_FORMATS] = Field(description="The model's format (KServe modelFormat).")
    runtime: Literal[tuple(sorted(SERVING_RUNTIMES))] | None = Field(  # type: ignore[valid-type]
        default=None, description="KServe serving runtime; chosen from the format when left out."
    )
    storage_uri: StorageUri = Field(description="Where the model's artifacts live.")
    version: LabelValue | None = Field(default=None, description="The model's own version label.")
    protocol: Literal[PROTOCOLS] | None = Field(
        default=None, description="Inference protocol; the runtime's first protocol when left out."
    )
    resources: ModelResources
    gpu: GpuRequest | None = None
    scaling: Scaling = Field(default_factory=Scaling)
    critical: bool = Field(
        default=False,
        description="A critical model keeps the stack's serving.availability.critical_min_replicas "
        "(2 in prod) replicas at least, with a disruption budget and spread over nodes and zones.",
    )
    canary: Canary | None = None
    route: Route | None = None
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=MAX_REQUEST_TIMEOUT_SECONDS,
        description="Request timeout in seconds, a cold start included; default 300, or the "
        "expected cold start where the model can scale to zero, if longer.",
    )
    cold_start: ColdStart | None = Field(
        default=None, description="Behaviour around zero replicas; the stack's defaults otherwise."
    )
    threads: Literal[False] | Annotated[int, Field(ge=1, le=MAX_THREADS)] | None = Field(
        default=None,
        description="Threads of the model server's math libraries (OMP_NUM_THREADS, "
        "MKL_NUM_THREADS, and --nthread for kserve-xgbserver and kserve-lgbserver): the whole "
        "cores of the CPU request (at least 1) when left out, this number when set, none of it "
        "when false.",
    )
    env: EnvVariables = Field(
        default_factory=dict, max_length=MAX_ITEMS, description="Environment variables of the model server."
    )
    secrets: SecretVariables = Field(
        default_factory=dict, max_length=MAX_ITEMS,
        description="Environment variables of the model server read from Kubernetes Secrets of the "
        "team's namespace: NAME: {secret: <name>, key: <key>}.",
    )
    args: list[Annotated[RuntimeArg, AfterValidator(_check_arg_for_runtime)]] = Field(
        default_factory=list,
        max_length=MAX_ARGS,
        description="Arguments of the model server, after the runtime's own (e.g. --task=text_embedding); "
        "flags the runtime or the platform sets are refused.",
    )
    node_pool: DnsLabel | None = Field(
        default=None,
        description="Node pool to run on; for GPU models the first pool that fits when left out.",
    )
    probes: Probes | None = Field(
        default=None,
        description="HTTP startup, readiness and liveness checks of the model server; Kubernetes' "
        "and KServe's defaults otherwise.",
    )
    environments: dict[str, EnvironmentOverride] = Field(
        default_factory=dict, description="Per-stack overrides, keyed by stack name."
    )
    slo: Slo | None = Field(default=None, description="Objectives the model's alerts watch.")
    usage: Usage | None = Field(default=None, description="Expected use, for the cost estimate.")
    retired: bool = Field(
        default=False,
        description="true removes the model from every stack while the file stays, which "
        "acknowledges the deletion in prod; delete the file in a later change.",
    )

    @field_validator("env")
    @classmethod
    def _env_holds_no_credential(cls, env: dict[str, str]) -> dict[str, str]:
        for name in sorted(env):
            problem = credential_problem(name, env[name])
            if problem:
                raise ValueError(problem)
        return env

    @field_validator("secrets")
    @classmethod
    def _secrets_apart_from_env(cls, secrets: dict[str, SecretKeyRef], info: ValidationInfo) -> dict[str, SecretKeyRef]:
        both = sorted(set(secrets) & set(info.data.get("env") or {}))
        if both:
            raise ValueError(
                f"{', '.join(both)} is also set in env; a variable has one value: keep it under "
                "secrets and remove it from env"
            )
        return secrets

    @field_validator("env")
    @classmethod
    def _env_fits_runtime(cls, env: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if HUGGINGFACE_TASK_ENV in env and info.data.get("format") == "huggingface":
            raise ValueError(
                f"KServe's Hugging Face server reads no {HUGGINGFACE_TASK_ENV} variable; remove it "
                f"and write args: [\"{HUGGINGFACE_BACKEND_ARG}\", \"--task=<task>\"]"
            )
        return env

    @field_validator("threads", mode="before")
    @classmethod
    def _threads_is_a_count(cls, threads: object) -> object:
        # YAML's `true` would otherwise pass as the count 1, and 0 as false.
        if threads is True:
            raise ValueError("threads is on by default; write a number of threads, or false to turn it off")
        if type(threads) is int and not 1 <= threads <= MAX_THREADS:
            raise ValueError(f"threads is a count from 1 to {MAX_THREADS}, or false to set no threads")
        return threads

    @field_validator("env", "secrets")
    @classmethod
    def _threads_set_once(cls, variables: dict, info: ValidationInfo) -> dict:
        # threads comes before env and secrets, so it is validated (or failed) by now.
        both = sorted(set(THREAD_ENV_NAMES) & set(variables))
        if both and info.data.get("threads") is not False:
            raise ValueError(
                f"{', '.join(both)} is set by the platform from threads; remove it and write "
                "threads: <count>, or set threads: false to manage it yourself"
            )
        return variables

    @field_validator("gpu")
    @classmethod
    def _gpu_fits_runtime(cls, gpu: GpuRequest | None, info: ValidationInfo) -> GpuRequest | None:
        runtime = _runtime_of(info.data)
        if gpu is not None and gpu.shares is not None and runtime is not None and runtime.gpu_build_by_tag:
            raise ValueError(
                f"KServe runs runtime {runtime.name}'s GPU image only for whole GPUs or MIG slices, "
                "so on a time-sliced share it would run its CPU image; ask for gpu: {count: 1} or a "
                "MIG slice, or serve the model with kserve-tritonserver (formats onnx, tensorrt, "
                "pytorch, tensorflow)"
            )
        return gpu

    @field_validator("args")
    @classmethod
    def _args_fit_runtime(cls, args: list[str], info: ValidationInfo) -> list[str]:
        runtime = _runtime_of(info.data)
        problem = args_problem(args, runtime) if runtime is not None else None
        if problem:
            raise ValueError(problem)
        return args

    @field_validator("probes")
    @classmethod
    def _probes_fit_runtime(cls, probes: Probes | None, info: ValidationInfo) -> Probes | None:
        runtime = _runtime_of(info.data)
        if probes is None or runtime is None:
            return probes
        protocol = info.data.get("protocol") or runtime.protocols[0]
        problem = probes_problem(probes, runtime, protocol, info.data.get("name", ""))
        if problem:
            raise ValueError(problem)
        return probes

    @model_validator(mode="after")
    def _runtime_serves_model(self) -> "ModelSpec":
        runtime = self.serving_runtime
        if self.format not in runtime.formats:
            raise ValueError(
                f"runtime {runtime.name} does not serve format {self.format} "
                f"(it serves {', '.join(runtime.formats)}); pick another runtime or "
                "leave runtime out"
            )
        if self.protocol is not None and self.protocol not in runtime.protocols:
            raise ValueError(
                f"runtime {runtime.name} does not speak protocol {self.protocol} "
                f"(it speaks {', '.join(runtime.protocols)}); change protocol or runtime"
            )
        if self.is_grpc and self.route is not None:
            raise ValueError(
                f"protocol {self.protocol} is routed by host name, not by path; remove route"
            )
        return self

    @property
    def serving_runtime(self) -> ServingRuntime:
        return SERVING_RUNTIMES[self.runtime or DEFAULT_RUNTIME_FOR_FORMAT[self.format]]

    @property
    def protocol_version(self) -> str:
        return self.protocol or self.serving_runtime.protocols[0]

    @property
    def is_grpc(self) -> bool:
        return self.protocol_version.startswith("grpc-")

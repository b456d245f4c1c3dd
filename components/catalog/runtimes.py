"""KServe's default ClusterServingRuntimes: which model formats and protocols each one serves.

A model names its ``format``; its ``runtime`` is chosen here when the file leaves it out, so the
rendered InferenceService says explicitly what will serve it and the platform installs exactly the
runtimes the catalog needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Flags of every KServe Python model server (kserve/kserve @ v0.20.0
# python/kserve/kserve/model_server.py:52-69, the parent parser of each server's own) that the
# platform relies on, with why; a model's args may not set them.
KSERVE_SERVER_FLAGS: dict[str, str] = {
    "--http_port": "Knative sends requests to port 8080",
    "--grpc_port": "the platform routes no gRPC to KServe's Python servers",
    # No PROMETHEUS_MULTIPROC_DIR anywhere in python/kserve @ v0.20.0: every uvicorn worker keeps
    # its own registry, and a scrape sees one worker's metrics.
    "--workers": "each worker process keeps its own metrics, so a scrape would see one of them; "
    "scale with scaling.max_replicas and resources.cpu instead",
}


@dataclass(frozen=True)
class ServingRuntime:
    name: str
    formats: tuple[str, ...]
    # In order of preference: the first one is the default when a model names no protocol.
    protocols: tuple[str, ...]
    # The runtime's key in KServe's kserve-runtime-configs chart values.
    chart_key: str
    # Port of the model server's own Prometheus metrics (None: it exposes none by default).
    metrics_port: int | None = 8080
    # Port of its gRPC server, for models that speak grpc-v1 or grpc-v2 (None: no gRPC).
    grpc_port: int | None = None
    # The flags its ClusterServingRuntime's container passes (kserve-runtime-configs chart @
    # v0.20.0, pinned by tests/test_kserve_runtimes_contract.py). KServe appends a model's args
    # after these, so a model repeating one would leave the winner to the server's parser.
    runtime_flags: tuple[str, ...] = ()
    # Further flags the platform relies on, with why.
    platform_flags: dict[str, str] = field(default_factory=dict, hash=False)
    # False: the container has neither command nor args, so a model's args would replace the
    # image's own command.
    takes_args: bool = True
    # A KServe Python model server (kserve.Model), which records the request_predict_seconds
    # histogram (python/kserve/kserve/metrics.py:25-27, observed in model.py:242 @ v0.20.0).
    # Triton, TorchServe, MLServer and TF Serving export metrics of their own.
    predict_latency: bool = False
    # KServe picks this runtime's GPU build by adding "-gpu" to its image tag, and only when the
    # container's limits name nvidia.com/gpu or an nvidia.com/mig-* resource
    # (pkg/controller/v1beta1/inferenceservice/utils/utils.go:338-379 UpdateImageTag, for TF
    # Serving, TorchServe and the Hugging Face server; pkg/utils/utils.go:58-70 IsGPUEnabled, at
    # v0.20.0). A time-sliced share (nvidia.com/gpu.shared) would run the CPU build.
    gpu_build_by_tag: bool = False

    @property
    def reserved_flags(self) -> dict[str, str]:
        """Every flag a model's args may not set, with why."""
        reserved = {flag: f"its ClusterServingRuntime {self.name} sets it" for flag in self.runtime_flags}
        reserved.update(self.platform_flags)
        return reserved


def _kserve_server(name: str, formats: tuple[str, ...], chart_key: str, *runtime_flags: str,
                   platform_flags: dict[str, str] | None = None, gpu_build_by_tag: bool = False) -> ServingRuntime:
    """One of KServe's own Python model servers (image kserve/<chart_key>), on v1 and v2."""
    return ServingRuntime(
        name, formats, ("v1", "v2"), chart_key, runtime_flags=runtime_flags,
        platform_flags={**KSERVE_SERVER_FLAGS, **(platform_flags or {})}, predict_latency=True,
        gpu_build_by_tag=gpu_build_by_tag,
    )


_MODEL_FILES = ("--model_name", "--model_dir", "--http_port")


SERVING_RUNTIMES: dict[str, ServingRuntime] = {
    runtime.name: runtime
    for runtime in (
        _kserve_server("kserve-sklearnserver", ("sklearn",), "sklearnserver", *_MODEL_FILES),
        _kserve_server("kserve-xgbserver", ("xgboost",), "xgbserver", *_MODEL_FILES, "--nthread"),
        _kserve_server("kserve-lgbserver", ("lightgbm",), "lgbserver", *_MODEL_FILES, "--nthread"),
        # MLServer 1.5.0 (the chart's image) serves Prometheus metrics on its own port, 8082
        # (SeldonIO/MLServer @ 1.5.0 mlserver/settings.py:203 metrics_port, overridable only by
        # MLSERVER_METRICS_PORT, which the runtime does not set); 8080 serves inference only.
        # Its container has no command and no args: the image's CMD runs `mlserver start`
        # (Dockerfile:126-128 @ 1.5.0), and it is configured through MLSERVER_* variables.
        ServingRuntime(
            "kserve-mlserver", ("sklearn", "xgboost", "lightgbm", "mlflow"), ("v2",), "mlserver", 8082,
            takes_args=False,
        ),
        ServingRuntime(
            "kserve-tensorflow-serving", ("tensorflow",), ("v1", "grpc-v1"), "tensorflow", None, 9000,
            runtime_flags=("--model_name", "--port", "--rest_api_port", "--model_base_path", "--rest_api_timeout_in_ms"),
            gpu_build_by_tag=True,
        ),
        # gRPC (v2) is served by KServe's wrapper in the torchserve-kfs image on 8081; 7070 is
        # TorchServe's own gRPC API, which the wrapper calls. Metrics: TorchServe's on 8082.
        ServingRuntime(
            "kserve-torchserve", ("pytorch",), ("v1", "v2", "grpc-v2"), "torchserve", 8082, 8081,
            runtime_flags=("--start", "--model-store", "--ts-config"), gpu_build_by_tag=True,
        ),
        ServingRuntime(
            "kserve-tritonserver",
            ("tensorrt", "tensorflow", "onnx", "pytorch", "triton"),
            ("v2", "grpc-v2"),
            "tritonserver",
            8002,
            9000,
            runtime_flags=("--model-store", "--grpc-port", "--http-port", "--allow-grpc", "--allow-http"),
            platform_flags={
                "--metrics-port": "the platform scrapes Triton's metrics on 8002",
                "--allow-metrics": "the platform scrapes Triton's metrics on 8002",
            },
        ),
        _kserve_server("kserve-pmmlserver", ("pmml",), "pmmlserver", *_MODEL_FILES),
        _kserve_server("kserve-paddleserver", ("paddle",), "paddleserver", *_MODEL_FILES),
        # The runtime passes only --model_name; the model's files are at the default --model_dir,
        # /mnt/models (huggingfaceserver/__main__.py:80-85 @ v0.20.0), where KServe's storage
        # initializer puts them.
        _kserve_server(
            "kserve-huggingfaceserver", ("huggingface",), "huggingfaceserver", "--model_name",
            platform_flags={
                "--model_dir": "the storage initializer downloads storage_uri to /mnt/models, the default",
                "--model_id": "the server would download the model from Hugging Face itself, around "
                "storage_uri and the team's storage; write storage_uri: hf://<organisation>/<model>",
            },
            gpu_build_by_tag=True,
        ),
    )
}

# The runtime KServe itself prefers for a format (its runtimes' priority 1 entries).
DEFAULT_RUNTIME_FOR_FORMAT: dict[str, str] = {
    "sklearn": "kserve-sklearnserver",
    "xgboost": "kserve-xgbserver",
    "lightgbm": "kserve-lgbserver",
    "mlflow": "kserve-mlserver",
    "tensorflow": "kserve-tensorflow-serving",
    "pytorch": "kserve-torchserve",
    "tensorrt": "kserve-tritonserver",
    "onnx": "kserve-tritonserver",
    "triton": "kserve-tritonserver",
    "pmml": "kserve-pmmlserver",
    "paddle": "kserve-paddleserver",
    "huggingface": "kserve-huggingfaceserver",
}

MODEL_FORMATS: tuple[str, ...] = tuple(sorted(DEFAULT_RUNTIME_FOR_FORMAT))
PROTOCOLS: tuple[str, ...] = ("v1", "v2", "grpc-v1", "grpc-v2")

"""KServe's default ClusterServingRuntimes: which model formats and protocols each one serves.

A model names its ``format``; its ``runtime`` is chosen here when the file leaves it out, so the
rendered InferenceService says explicitly what will serve it and the platform installs exactly the
runtimes the catalog needs.
"""

from __future__ import annotations

from dataclasses import dataclass


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


SERVING_RUNTIMES: dict[str, ServingRuntime] = {
    runtime.name: runtime
    for runtime in (
        ServingRuntime("kserve-sklearnserver", ("sklearn",), ("v1", "v2"), "sklearnserver"),
        ServingRuntime("kserve-xgbserver", ("xgboost",), ("v1", "v2"), "xgbserver"),
        ServingRuntime("kserve-lgbserver", ("lightgbm",), ("v1", "v2"), "lgbserver"),
        ServingRuntime(
            "kserve-mlserver", ("sklearn", "xgboost", "lightgbm", "mlflow"), ("v2",), "mlserver", 8082
        ),
        ServingRuntime(
            "kserve-tensorflow-serving", ("tensorflow",), ("v1", "grpc-v1"), "tensorflow", None, 9000
        ),
        # gRPC (v2) is served by KServe's wrapper in the torchserve-kfs image on 8081; 7070 is
        # TorchServe's own gRPC API, which the wrapper calls. Metrics: TorchServe's on 8082.
        ServingRuntime("kserve-torchserve", ("pytorch",), ("v1", "v2", "grpc-v2"), "torchserve", 8082, 8081),
        ServingRuntime(
            "kserve-tritonserver",
            ("tensorrt", "tensorflow", "onnx", "pytorch", "triton"),
            ("v2", "grpc-v2"),
            "tritonserver",
            8002,
            9000,
        ),
        ServingRuntime("kserve-pmmlserver", ("pmml",), ("v1", "v2"), "pmmlserver"),
        ServingRuntime("kserve-paddleserver", ("paddle",), ("v1", "v2"), "paddleserver"),
        ServingRuntime("kserve-huggingfaceserver", ("huggingface",), ("v1", "v2"), "huggingfaceserver"),
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

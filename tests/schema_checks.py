"""Checks of rendered objects against published schemas and typed models.

* Core kinds: ``kubernetes-validate``'s strict OpenAPI schemas (unknown fields fail).
* InferenceService: the models of KServe's own SDK (``kserve.models``, which reference the
  Kubernetes client's models). The generated classes ignore unknown keys when deserialising, so
  the walk below checks every key against each class's ``attribute_map`` and every leaf's type.
* Istio and Prometheus-operator kinds: cloudcoil's pydantic models. They drop unknown fields
  silently, so the object is round-tripped and compared with the original: a typo shows as a
  difference.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

import jsonschema
import kubernetes.client.models as kubernetes_models
import kubernetes_validate
import kserve.models as kserve_models

KUBERNETES_VERSION_FOR_SCHEMAS = "1.34"

# KServe's generator writes list[X] and dict(str, X); the Kubernetes client's List[X], Dict[str, X].
_LIST = re.compile(r"^[lL]ist\[(.+)\]$")
_DICT = re.compile(r"^(?:dict\(str, (.+)\)|Dict\[str, (.+)\])$")
_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: True,
    # Quantities: "1", "500m", "2Gi" (the API server also takes numbers; the renderer writes text).
    "ResourceQuantity": lambda v: isinstance(v, str),
}


def check_core(obj: dict) -> list[str]:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION_FOR_SCHEMAS, strict=True)
    except kubernetes_validate.utils.ValidationError as error:
        return [str(error).splitlines()[0]]
    return []


def is_builtin_api(api_version: str) -> bool:
    """Kubernetes' own APIs: the core group (``v1``), ``apps/v1`` and the like, and ``*.k8s.io``.
    A custom group (``monitoring.coreos.com``) is not, even when kubernetes-validate's file naming
    (first label of the group) would find a built-in schema for it."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


@functools.lru_cache(maxsize=None)
def _builtin_validator(api_version: str, kind: str, kubernetes_version: str):
    """kubernetes-validate's strict schema of one kind, compiled once (its ``validate`` reads the
    schema and the large _definitions.json on every call); mirrors kubernetes_validate/utils.py
    1.37.0 ``validate``: the newest schema version not newer than the asked one. ``None``: no schema."""
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    version = [v for v in utils.all_versions() if utils.major_minor(v) <= kubernetes_version][-1]
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", kubernetes_version)
    except FileNotFoundError:
        return None
    definitions = Resource.from_contents(utils.schema_contents(f"{folder}/_definitions.json", kubernetes_version))
    registry = definitions @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def check_builtin(obj: dict, kubernetes_version: str) -> list[str] | None:
    """Errors of a built-in kind's object against the strict schema of ``kubernetes_version``;
    ``None`` when kubernetes-validate has no schema for it."""
    validator = _builtin_validator(obj["apiVersion"], obj["kind"], kubernetes_version)
    if validator is None:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    return [] if error is None else [f"{'.'.join(map(str, error.absolute_path))}: {error.message}"]


def _openapi_class(type_name: str):
    return getattr(kserve_models, type_name, None) or getattr(kubernetes_models, type_name)


def check_openapi_model(data: Any, type_name: str, path: str = "") -> list[str]:
    """Errors of ``data`` against the OpenAPI-generated class ``type_name`` (recursively)."""
    if type_name in _PRIMITIVES:
        if not _PRIMITIVES[type_name](data):
            return [f"{path}: expected {type_name}, got {type(data).__name__}"]
        return []
    if match := _LIST.match(type_name):
        if not isinstance(data, list):
            return [f"{path}: expected a list"]
        return [e for i, item in enumerate(data) for e in check_openapi_model(item, match[1], f"{path}[{i}]")]
    if match := _DICT.match(type_name):
        if not isinstance(data, dict):
            return [f"{path}: expected a mapping"]
        value_type = match[1] or match[2]
        return [e for key, value in data.items() for e in check_openapi_model(value, value_type, f"{path}.{key}")]
    cls = _openapi_class(type_name)
    if not isinstance(data, dict):
        return [f"{path}: expected a {type_name} mapping"]
    by_json_name = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    errors = []
    for key, value in data.items():
        if key not in by_json_name:
            errors.append(f"{path}.{key}: unknown field of {type_name}")
            continue
        errors.extend(check_openapi_model(value, cls.openapi_types[by_json_name[key]], f"{path}.{key}"))
    return errors


def check_round_trip(obj: dict, model_class) -> list[str]:
    """Round-trip ``obj`` through a pydantic model and report what did not survive."""
    try:
        parsed = model_class.model_validate(obj)
    except Exception as error:  # a pydantic ValidationError, reported as data
        return [str(error).splitlines()[0]]
    dumped = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return [f"{path}: {what}" for path, what in _differences(obj, dumped, "")]


def _differences(original: Any, dumped: Any, path: str):
    if isinstance(original, dict) and isinstance(dumped, dict):
        for key in sorted(set(original) | set(dumped)):
            if key not in dumped:
                yield f"{path}.{key}", "dropped by the typed model (unknown field)"
            elif key not in original:
                yield f"{path}.{key}", "added by the typed model"
            else:
                yield from _differences(original[key], dumped[key], f"{path}.{key}")
    elif isinstance(original, list) and isinstance(dumped, list) and len(original) == len(dumped):
        for index, (a, b) in enumerate(zip(original, dumped)):
            yield from _differences(a, b, f"{path}[{index}]")
    elif original != dumped:
        yield path, f"{original!r} became {dumped!r}"


def _cloudcoil_checkers() -> dict[tuple[str, str], Callable[[dict], list[str]]]:
    from cloudcoil.models.cert_manager import v1 as cert_manager
    from cloudcoil.models.istio.networking import v1 as istio_networking
    from cloudcoil.models.istio.security import v1 as istio_security
    from cloudcoil.models.prometheus_operator import v1 as prometheus

    classes = {
        ("networking.istio.io/v1", "VirtualService"): istio_networking.VirtualService,
        ("networking.istio.io/v1", "Gateway"): istio_networking.Gateway,
        ("networking.istio.io/v1", "Sidecar"): istio_networking.Sidecar,
        ("security.istio.io/v1", "PeerAuthentication"): istio_security.PeerAuthentication,
        ("security.istio.io/v1", "AuthorizationPolicy"): istio_security.AuthorizationPolicy,
        ("monitoring.coreos.com/v1", "PodMonitor"): prometheus.PodMonitor,
        ("monitoring.coreos.com/v1", "ServiceMonitor"): prometheus.ServiceMonitor,
        ("monitoring.coreos.com/v1", "PrometheusRule"): prometheus.PrometheusRule,
        ("cert-manager.io/v1", "Certificate"): cert_manager.Certificate,
        ("cert-manager.io/v1", "ClusterIssuer"): cert_manager.ClusterIssuer,
    }
    return {key: (lambda obj, cls=cls: check_round_trip(obj, cls)) for key, cls in classes.items()}


CORE_API_VERSIONS = (
    "v1", "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1", "apps/v1", "storage.k8s.io/v1",
    "admissionregistration.k8s.io/v1", "policy/v1",
)


def schema_errors(obj: dict) -> list[str] | None:
    """Errors of one object, or ``None`` when no published schema covers its kind."""
    key = (obj["apiVersion"], obj["kind"])
    if obj["apiVersion"] in CORE_API_VERSIONS:
        return check_core(obj)
    if key == ("serving.kserve.io/v1beta1", "InferenceService"):
        return check_openapi_model(obj, "V1beta1InferenceService", obj["kind"])
    checker = _cloudcoil_checkers().get(key)
    return checker(obj) if checker else None

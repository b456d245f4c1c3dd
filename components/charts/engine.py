"""One chart rendered the way ``helm template --include-crds`` does, with helm-python-sdk.

helm-python-sdk embeds Helm's own Go SDK (v4), so templates, subchart conditions, value coalescing
and ``values.schema.json`` behave as in Helm, offline. Two of its behaviours shape this module:

* a render prunes the disabled subcharts from the loaded chart in place (Helm's dependency
  processing mutates the chart), so every render loads the chart afresh;
* it renders a chart whose declared dependencies are missing from ``charts/`` (``helm template``
  refuses). Such a dependency, when enabled, is switched off through its ``condition`` so the rest
  of the chart still renders, and the result names it: its objects are not in the output.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from components.charts.sources import read_chart_metadata
from components.render.objects import KubeObject

# Helm's releaseutil.SplitManifests: a document starts at a line beginning with "---".
_DOCUMENT_START = re.compile(r"(?m)^---\s*")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as Helm's Go parser reads it: a bare ``=`` (an enum value in some CRDs) is a string,
    not YAML 1.1's "value" key type."""


_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)
# helm template's order of kinds (Helm's InstallOrder, abridged); other kinds follow, by name.
_INSTALL_ORDER = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
    "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet",
    "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)


class ChartRenderError(Exception):
    """The chart could not be loaded or rendered; the message is Helm's."""


# Helm v4.2.3 pkg/chart/common/util/values.go:64 (ToRenderValues) prefixes every schema failure
# with this line; jsonschema.go:76-117 (ValidateAgainstSchema) then writes "<chart name>:" and one
# "- at '<JSON pointer>': <message>" line per violation, for the chart and each subchart whose
# values are set (the pointer relative to that subchart's values).
_SCHEMA_FAILURE = "values don't meet the specifications of the schema(s)"
_SCHEMA_CHART = re.compile(r"^(\S+):$")
_SCHEMA_VIOLATION = re.compile(r"^\s*- at '([^']*)': (.*)$")


@dataclass(frozen=True)
class SchemaViolation:
    """One values key that fails a chart's ``values.schema.json``."""

    key: str  # dotted from the release's values; "" for the values as a whole
    message: str


class ChartSchemaError(ChartRenderError):
    """The values fail the chart's (or a subchart's) ``values.schema.json``."""

    def __init__(self, violations: tuple[SchemaViolation, ...], message: str):
        super().__init__(message)
        self.violations = violations


def schema_violations(message: str, chart_name: str) -> tuple[SchemaViolation, ...]:
    """The violations of Helm's schema failure message, keys dotted from the release's values."""
    violations, chart = [], chart_name
    for line in message.splitlines():
        header, violation = _SCHEMA_CHART.match(line), _SCHEMA_VIOLATION.match(line)
        if header:
            chart = header[1]
        elif violation and violation[2] != "validation failed":  # the summary above the details
            parts = [part.replace("~1", "/").replace("~0", "~") for part in violation[1].split("/")[1:]]
            if chart != chart_name:
                parts.insert(0, chart)
            violations.append(SchemaViolation(".".join(parts), violation[2]))
    return tuple(violations)


def helm_module():
    """helm-python-sdk, imported only when charts are rendered (its native library is large)."""
    try:
        import helm_python
    except ImportError as error:  # pragma: no cover - a broken install
        raise ChartRenderError(f"helm-python-sdk is not installed ({error}); pip install helm-python-sdk") from None
    return helm_python


@dataclass(frozen=True)
class ChartOutput:
    """What one render produced: raw manifests by template, the CRDs of the rendered charts, and
    the enabled dependencies that were missing."""

    manifests: Mapping[str, str]
    crds: tuple[str, ...]
    missing_dependencies: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        """A stable text of everything rendered, to compare two renders cheaply."""
        return json.dumps([sorted(self.manifests.items()), list(self.crds)])


def _lookup(values: Mapping[str, Any], dotted: str) -> Any:
    current: Any = values
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    current = values
    for part in parents:
        current = current.setdefault(part, {})
    current[last] = value


def render_chart(
    chart_dir: Path,
    values: Mapping[str, Any],
    *,
    release: str,
    namespace: str,
    kube_version: str,
    api_versions: tuple[str, ...] = (),
) -> ChartOutput:
    """Render ``chart_dir`` as release ``release`` in ``namespace`` for Kubernetes ``kube_version``
    (e.g. ``1.35``), the way ``helm template --include-crds --kube-version`` would."""
    helm = helm_module()
    try:
        with helm.Chart.load(chart_dir) as chart:
            values = copy.deepcopy(dict(values))
            missing = _missing_dependencies(chart, values)
            for name, condition in missing:
                _set(values, condition, False)
            options = {"name": release, "namespace": namespace, "kube_version": f"v{kube_version}.0"}
            if api_versions:
                options["api_versions"] = list(api_versions)
            # The Python wrapper does not expose kube_version and api_versions yet; the native
            # call takes them (and rejects unknown options, so a rename would fail loudly).
            manifests = json.loads(helm._native.call_string(
                "helm_render", chart._raw(), json.dumps(values), json.dumps(options),
            ))
            crds = tuple(crd["data"] for crd in sorted(chart.crds, key=lambda crd: crd["filename"]))
    except helm.HelmError as error:
        message = " ".join(str(error).split())
        if str(error).startswith(_SCHEMA_FAILURE):
            name = str(read_chart_metadata(chart_dir).get("name", ""))
            raise ChartSchemaError(schema_violations(str(error), name), message) from None
        raise ChartRenderError(message) from None
    return ChartOutput(manifests, crds, tuple(name for name, _ in missing))


def _missing_dependencies(chart, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Declared, enabled dependencies absent from ``charts/``, with their condition path."""
    loaded = {dependency["name"] for dependency in chart.dependencies}
    declared = [d for d in chart.metadata.get("dependencies") or [] if d.get("name") not in loaded]
    if not declared:
        return []
    effective = chart.merge_values(dict(values))
    missing = []
    for dependency in declared:
        condition = (dependency.get("condition") or "").split(",")[0].strip()
        enabled = _lookup(effective, condition) if condition else True
        if enabled is False:
            continue
        if not condition:
            raise ChartRenderError(
                f"dependency {dependency['name']} {dependency.get('version', '')} is missing from "
                f"{chart_dir_hint(dependency)} and has no condition to switch it off"
            )
        missing.append((f"{dependency['name']} {dependency.get('version', '')}".strip(), condition))
    return missing


def chart_dir_hint(dependency: Mapping[str, Any]) -> str:
    return f"charts/ (repository {dependency.get('repository') or 'none'})"


def manifest_objects(output: ChartOutput, parsed: dict[str, KubeObject] | None = None,
                     only_kind: str | None = None) -> list[KubeObject]:
    """The objects of a render, CRDs first, then in helm template's kind order, then by name.

    ``parsed`` caches documents by their text across renders; ``only_kind`` skips documents that
    cannot be of that kind without parsing them.
    """
    cache = {} if parsed is None else parsed
    documents: list[KubeObject] = []
    for text in output.crds:
        documents.extend(_documents(text, cache, only_kind))
    templates = [
        document
        for path, text in sorted(output.manifests.items())
        if not path.endswith("NOTES.txt")
        for document in _documents(text, cache, only_kind)
    ]
    documents.extend(sorted(templates, key=_order))
    return documents


def _documents(text: str, cache: dict[str, KubeObject], only_kind: str | None) -> list[KubeObject]:
    objects = []
    for chunk in _DOCUMENT_START.split(text):
        if not chunk.strip() or (only_kind is not None and only_kind not in chunk):
            continue
        if chunk not in cache:
            cache[chunk] = _parse_document(chunk)
        document = cache[chunk]
        if document and (only_kind is None or document.get("kind") == only_kind):
            objects.append(document)
    return objects


def _parse_document(chunk: str) -> KubeObject:
    """One YAML document, read by Helm's own YAML parser (its types, several times faster than
    PyYAML's constructors); PyYAML for what is not a mapping."""
    helm = helm_module()
    try:
        return helm.values_from_yaml(chunk)
    except helm.HelmError:
        document = yaml.load(chunk, Loader=_Loader)
        return document if isinstance(document, dict) else {}


def _order(obj: KubeObject) -> tuple:
    kind = str(obj.get("kind", ""))
    rank = _INSTALL_ORDER.index(kind) if kind in _INSTALL_ORDER else len(_INSTALL_ORDER)
    meta = obj.get("metadata") or {}
    return (rank, kind, str(meta.get("namespace", "")), str(meta.get("name", "")))

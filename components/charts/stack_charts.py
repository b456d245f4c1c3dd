"""Every add-on release of a stack rendered from its chart, with the exact values modelplane passes."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from components.catalog.problems import InputError, Problem, raise_if_any
from components.charts.engine import ChartOutput, ChartRenderError, ChartSchemaError, manifest_objects, render_chart
from components.charts.sources import ChartNotFound, ChartSource, chart_name, locate_chart
from components.render.addons import HelmRelease
from components.render.objects import KubeObject
from components.render.stack_render import ReleaseObjects, RenderedStack

# How a problem with the charts is filed: the directory, and the release as the field.
CHARTS_ENV = "MODELPLANE_CHARTS"


@dataclass(frozen=True)
class ReleaseRender:
    release: HelmRelease
    source: ChartSource
    output: ChartOutput


def release_problem(charts_dir: Path, release: HelmRelease, message: str) -> Problem:
    return Problem(charts_dir.as_posix(), f"release {release.name}", message)


def locate_sources(rendered: RenderedStack, charts_dir: Path) -> dict[str, ChartSource]:
    """The chart of every release; every release whose chart is missing is reported together."""
    if not charts_dir.is_dir():
        raise InputError([Problem(charts_dir.as_posix(), "(file)",
                                  "not a directory of charts; run `modelplane charts pull --dir DIR` first")])
    sources, problems = {}, []
    for release in rendered.releases:
        try:
            sources[release.name] = locate_chart(charts_dir, release.name, release.chart)
        except ChartNotFound as error:
            problems.append(release_problem(charts_dir, release, str(error)))
    if problems:
        raise InputError(problems)
    return sources


def schema_problems(charts_dir: Path, release: HelmRelease, source: ChartSource, error: ChartSchemaError) -> list[Problem]:
    """One problem per values key that fails the chart's values.schema.json."""
    chart = f"chart {chart_name(release.chart)} {source.version}"
    fix = (f"fix it in the stack's modelplane:addons.{release.name}.values (or components/render/addons.py "
           "if modelplane sets it)")
    return [
        release_problem(charts_dir, release, (
            f"values key {violation.key} fails {chart}'s values.schema.json: {violation.message}; {fix}"
            if violation.key else f"values fail {chart}'s values.schema.json: {violation.message}; {fix}"
        ))
        for violation in error.violations
    ] or [release_problem(charts_dir, release, f"values fail {chart}'s values.schema.json: {error}")]


def render_release(release: HelmRelease, source: ChartSource, kube_version: str,
                   api_versions: tuple[str, ...] = (), values: dict | None = None) -> ChartOutput:
    return render_chart(
        source.path, release.values if values is None else values,
        release=release.name, namespace=release.namespace,
        kube_version=kube_version, api_versions=api_versions,
    )


def custom_api_versions(objects: list[KubeObject]) -> tuple[str, ...]:
    """``group/version`` and ``group/version/Kind`` of every CRD among ``objects``, as the cluster
    would advertise them once those CRDs are installed."""
    versions = set()
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            if group and version.get("served", True):
                versions.add(f"{group}/{version['name']}")
                if kind:
                    versions.add(f"{group}/{version['name']}/{kind}")
    return tuple(sorted(versions))


def render_stack_charts(rendered: RenderedStack, charts_dir: Path) -> tuple[list[ReleaseRender], dict, tuple[str, ...]]:
    """Every release rendered from its chart in ``charts_dir``.

    ``.Capabilities.APIVersions`` holds the built-in APIs and those of every CRD the stack's charts
    install, as on a cluster where the releases are installed: a first render finds the CRDs, and
    the releases whose output depends on them are rendered again.
    """
    sources = locate_sources(rendered, charts_dir)
    kube_version = rendered.cluster.kubernetes_version
    first: dict[str, ChartOutput] = {}
    problems = []
    for release in rendered.releases:
        try:
            first[release.name] = render_release(release, sources[release.name], kube_version)
        except ChartSchemaError as error:
            problems.extend(schema_problems(charts_dir, release, sources[release.name], error))
        except ChartRenderError as error:
            problems.append(release_problem(charts_dir, release, f"chart {sources[release.name].path} "
                                            f"does not render: {error}"))
    if problems:
        raise InputError(problems)
    parsed: dict = {}
    crds = [obj for output in first.values()
            for obj in manifest_objects(output, parsed, only_kind="CustomResourceDefinition")]
    api_versions = custom_api_versions(crds)
    renders = []
    for release in rendered.releases:
        output = render_release(release, sources[release.name], kube_version, api_versions)
        renders.append(ReleaseRender(release, sources[release.name], output))
    return renders, parsed, api_versions


def release_notes(render: ReleaseRender) -> tuple[str, ...]:
    notes = []
    if render.source.note:
        notes.append(render.source.note)
    if render.output.missing_dependencies:
        notes.append(
            f"subcharts {', '.join(render.output.missing_dependencies)} are declared but missing from "
            f"{render.source.path}/charts/: rendered without them (their condition switched off), so "
            "their objects, and the chart's own objects that need them, are not shown"
        )
    return tuple(notes)


# What may name a file of `render --out DIR`: no "/", no "..", nothing hidden.
_FILE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]*$")


def _identity(obj: KubeObject) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): what the cluster knows an object by."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    meta = obj.get("metadata") or {}
    return group, str(obj.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", ""))


def identity_problems(rendered: RenderedStack, releases: list[ReleaseObjects], charts_dir: Path) -> list[Problem]:
    """Chart objects that cannot be applied as rendered: without a kind or a name, with a kind,
    namespace or name that is no file name, or the same object as one modelplane renders or another
    release renders (two owners: Helm refuses to install an object another release owns, and the
    objects would overwrite each other's file in `render --out`)."""
    owners = {_identity(obj): "modelplane (the catalog and platform objects)" for obj in rendered.objects}
    problems = []
    for release in releases:
        for obj in release.objects:
            group, kind, namespace, name = identity = _identity(obj)
            shown_id = f"{kind} {namespace + '/' if namespace else ''}{name}"
            field = f"release {release.release}"
            if not kind or not name:
                problems.append(Problem(charts_dir.as_posix(), field, f"the chart renders an object without a kind or "
                                        f"a metadata.name ({shown_id!r}); fix the chart or its values"))
            elif not all(_FILE_SEGMENT.match(part) and ".." not in part for part in (kind, name, *([namespace] if namespace else []))):
                problems.append(Problem(charts_dir.as_posix(), field, f"the chart renders {shown_id!r}, whose kind, "
                                        "namespace or name is not a Kubernetes name; fix the chart or its values"))
            elif identity in owners:
                other = "twice" if owners[identity] == field else f"and so does {owners[identity]}"
                problems.append(Problem(charts_dir.as_posix(), field, (
                    f"renders {shown_id} ({group or 'core'} API) {other}: an object has one owner (Helm "
                    "refuses to install an object another release owns, and one file of `render --out` would "
                    "overwrite the other); switch one off in the values")))
            else:
                owners.setdefault(identity, field)
    return problems


def with_chart_objects(rendered: RenderedStack, charts_dir: Path) -> RenderedStack:
    """``rendered`` with every release's chart objects (``RenderedStack.chart_objects``); raises
    :class:`InputError` when a chart object cannot be applied as rendered (:func:`identity_problems`)."""
    objects = []
    renders, parsed, _ = render_stack_charts(rendered, charts_dir)
    for render in renders:
        source = render.source
        objects.append(ReleaseObjects(
            release=render.release.name,
            chart=f"{chart_name(source.pin)} {source.pin.version}",
            source=source.path.as_posix(),
            objects=tuple(manifest_objects(render.output, parsed)),
            notes=release_notes(render),
        ))
    raise_if_any(identity_problems(rendered, objects, charts_dir))
    return dataclasses.replace(rendered, chart_objects=tuple(objects))

"""Checks that need the charts: every values key modelplane sets is read by its chart. (The values
are validated against the chart's ``values.schema.json`` by every render: Helm refuses values that
fail it, and :func:`components.charts.stack_charts.schema_problems` names each key.)

A key the chart never reads is silently ignored by Helm, which is exactly the failure typed
settings are meant to prevent: the add-on then runs with the chart's default. The check renders the
release with the key removed and with it changed; when neither changes any object, the key is
unread. An empty mapping sets nothing under Helm's coalescing, so it is not a key that is set.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from components.catalog.problems import Problem
from components.charts.engine import ChartRenderError
from components.charts.sources import chart_name
from components.charts.stack_charts import ReleaseRender, release_problem, render_release

# Appended to a string value to change it (any change will do: the point is whether output moves).
_CHANGED_SUFFIX = "-modelplane-check"


@dataclass(frozen=True)
class ValuesReport:
    problems: tuple[Problem, ...]
    # Keys that could not be checked, with the reason (their subchart is missing).
    unchecked: tuple[str, ...]
    checked_keys: int


def value_leaves(values: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every key path modelplane sets, down to scalars and lists (Helm replaces lists whole)."""
    for key in sorted(values, key=str):
        value = values[key]
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            yield from value_leaves(value, path)
        else:
            yield path, value


def _without(values: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    result = copy.deepcopy(dict(values))
    current = result
    for part in path[:-1]:
        current = current[part]
    del current[path[-1]]
    return result


def _replaced(values: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(dict(values))
    current = result
    for part in path[:-1]:
        current = current[part]
    current[path[-1]] = value
    return result


def changed_value(value: Any) -> Any:
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + _CHANGED_SUFFIX
    if isinstance(value, list):
        return value[:-1] if value else [_CHANGED_SUFFIX]
    return _CHANGED_SUFFIX


def _renders_differently(render: ReleaseRender, kube_version: str, api_versions: tuple[str, ...],
                         values: dict[str, Any]) -> bool:
    try:
        output = render_release(render.release, render.source, kube_version, api_versions, values)
    except ChartRenderError:
        return True  # the chart reads the key: without it (or with another value) it fails
    return output.fingerprint != render.output.fingerprint


def unread_keys(render: ReleaseRender, kube_version: str, api_versions: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(unread key paths, key paths not checked because their subchart is missing)."""
    missing = {dependency.split()[0] for dependency in render.output.missing_dependencies}
    leaves, unchecked = [], []
    for path, value in value_leaves(render.release.values):
        (unchecked if path[0] in missing else leaves).append((path, value))

    def unread(leaf: tuple[tuple[str, ...], Any]) -> bool:
        path, value = leaf
        values = render.release.values
        return not (
            _renders_differently(render, kube_version, api_versions, _without(values, path))
            or _renders_differently(render, kube_version, api_versions, _replaced(values, path, changed_value(value)))
        )

    # The native renders release the GIL.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        verdicts = list(pool.map(unread, leaves))
    return ([".".join(path) for (path, _), bad in zip(leaves, verdicts) if bad],
            [".".join(path) for path, _ in unchecked])


def check_values(renders: list[ReleaseRender], charts_dir: Path, kube_version: str,
                 api_versions: tuple[str, ...]) -> ValuesReport:
    problems, unchecked, checked = [], [], 0
    for render in renders:
        release = render.release
        chart = f"chart {chart_name(release.chart)} {render.source.version}"
        unread, skipped = unread_keys(render, kube_version, api_versions)
        checked += sum(1 for _ in value_leaves(release.values)) - len(skipped)
        for key in unread:
            problems.append(release_problem(
                charts_dir, release,
                f"values key {key} is not read by {chart}: rendering with it removed or changed gives "
                f"the same objects; remove it (components/render/addons.py, or the stack's "
                f"modelplane:addons.{release.name}.values)",
            ))
        unchecked += [f"release {release.name}: {key} (its subchart is missing)" for key in skipped]
    return ValuesReport(tuple(problems), tuple(unchecked), checked)

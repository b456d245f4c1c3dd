"""``modelplane charts pull``: the pinned charts into a chart directory, verified against the pins.

``--from DIR`` copies chart sources from a local mirror (the ``<release>@<tag>/`` layout of
``../shared/charts``), each found and checked by :func:`locate_chart` (chart name, and the tag's
version against the pin); the copy keeps that layout. Without it, an HTTP chart repository's
``index.yaml`` is read and the pinned ``.tgz`` unpacked into ``<chart>-<version>/`` (the pull
cache); OCI charts are not pulled (helm-python-sdk 0.2.2 has no registry client). Pulling again
changes nothing that is already there and equal.
"""

from __future__ import annotations

import filecmp
import io
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from components.catalog.problems import InputError, Problem
from components.charts.sources import ChartNotFound, cache_folder, chart_name, locate_chart, verify_cached_chart
from components.render.addons import HelmRelease

TIMEOUT_SECONDS = 20


def _same_tree(a: Path, b: Path) -> bool:
    comparison = filecmp.dircmp(a, b)
    if comparison.left_only or comparison.right_only or comparison.diff_files or comparison.funny_files:
        return False
    return all(_same_tree(a / sub, b / sub) for sub in comparison.common_dirs)


def copy_from_mirror(release: HelmRelease, mirror: Path, charts_dir: Path) -> str:
    source = locate_chart(mirror, release.name, release.chart)
    folder = source.path.parent
    target = charts_dir / folder.name / source.path.name
    if target.is_dir() and _same_tree(source.path, target):
        return f"{release.name}: {target} is up to date"
    staging = charts_dir / f".{folder.name}.pulling"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source.path, staging / source.path.name, symlinks=False)
    shutil.rmtree(charts_dir / folder.name, ignore_errors=True)
    staging.rename(charts_dir / folder.name)
    note = f" ({source.note})" if source.note else ""
    return f"{release.name}: copied {source.path} to {target}{note}"


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - pinned repository
        return response.read()


def pull_from_repository(release: HelmRelease, charts_dir: Path) -> str:
    pin = release.chart
    folder = cache_folder(charts_dir, pin)
    if folder.is_dir():
        verify_cached_chart(folder, pin)
        return f"{release.name}: {folder} is up to date"
    if pin.repository is None:
        raise ChartNotFound(f"{pin.chart} {pin.version} is an OCI chart, which helm-python-sdk 0.2.2 cannot pull; "
                            "copy it with `modelplane charts pull --from DIR` from a local mirror")
    index_url = pin.repository.rstrip("/") + "/index.yaml"
    try:
        index = yaml.safe_load(_fetch(index_url)) or {}
        entries = [e for e in (index.get("entries") or {}).get(chart_name(pin), []) if str(e.get("version")) == pin.version]
        if not entries or not entries[0].get("urls"):
            raise ChartNotFound(f"{index_url} lists no {chart_name(pin)} {pin.version}")
        archive = _fetch(urllib.parse.urljoin(index_url, entries[0]["urls"][0]))
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ChartNotFound(f"cannot reach {index_url} ({reason}); offline, copy the charts with "
                            "`modelplane charts pull --from DIR` from a local mirror such as ../shared/charts") from None
    staging = charts_dir / f".{folder.name}.pulling"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(staging, filter="data")
    verify_cached_chart(staging, pin)
    staging.rename(folder)
    return f"{release.name}: pulled {chart_name(pin)} {pin.version} into {folder}"


def pull_charts(releases: list[HelmRelease], charts_dir: Path, mirror: Path | None) -> list[str]:
    """Every release's pinned chart into ``charts_dir``; every failure is reported together."""
    if mirror is not None and not mirror.is_dir():
        raise InputError([Problem(mirror.as_posix(), "(file)", "not a directory of chart sources")])
    charts_dir.mkdir(parents=True, exist_ok=True)
    lines, problems = [], []
    for release in releases:
        try:
            lines.append(copy_from_mirror(release, mirror, charts_dir) if mirror is not None
                         else pull_from_repository(release, charts_dir))
        except ChartNotFound as error:
            problems.append(Problem((mirror or charts_dir).as_posix(), f"release {release.name}", str(error)))
    if problems:
        raise InputError(problems)
    return lines

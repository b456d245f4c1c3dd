"""Where a release's chart is in a chart directory, verified against its pin.

Two layouts are accepted:

* the cache ``modelplane charts pull`` writes: ``<dir>/<chart>-<version>/<chart>/Chart.yaml``. A
  packaged chart's ``Chart.yaml`` carries its released name and version, and both must equal the
  pin's;
* chart sources copied from their repositories at a git tag: ``<dir>/<release>@<tag>/<chart dir>/``
  (the layout of ``../shared/charts``). A source ``Chart.yaml`` often carries a placeholder version
  that the release process stamps, so the tag stands for the version. A pin that is a newer patch
  release than the only copy (same major and minor) is rendered from that copy, and every output
  says so; anything else is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from components import pins

_TAG_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)([-+][\w.]+)?$")


class ChartNotFound(Exception):
    """No chart in the directory matches a pin; the message says what was looked for and the fix."""


@dataclass(frozen=True)
class ChartSource:
    """The chart directory a release is rendered from, and how it relates to the pin."""

    path: Path
    pin: pins.ChartPin
    # The version the files are of: the Chart.yaml version (cache) or the git tag's (sources).
    version: str
    # Set when what is rendered is not exactly the pin, or the files' Chart.yaml says otherwise.
    note: str | None = None

    @property
    def exact(self) -> bool:
        """Whether the files are the pinned release (a note may still explain a Chart.yaml)."""
        return _same_version(self.version, self.pin.version)


def chart_name(pin: pins.ChartPin) -> str:
    """The chart's own name: the last segment of an ``oci://`` reference, else ``chart``."""
    return pin.chart.rsplit("/", 1)[-1]


def cache_folder(charts_dir: Path, pin: pins.ChartPin) -> Path:
    """Where ``charts pull`` keeps a pinned chart: ``<dir>/<chart>-<version>``."""
    return charts_dir / f"{chart_name(pin)}-{pin.version}"


def read_chart_metadata(chart_dir: Path) -> dict:
    """``Chart.yaml`` of a chart directory, as a mapping (empty when unreadable)."""
    try:
        document = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return document if isinstance(document, dict) else {}


def _version_parts(version: str) -> tuple[int, int, int, str] | None:
    match = _TAG_VERSION.search(version)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3]), match[4] or ""


def _same_version(a: str, b: str) -> bool:
    return a.removeprefix("v") == b.removeprefix("v")


def _only_chart_dir(folder: Path) -> Path | None:
    charts = sorted(path.parent for path in folder.glob("*/Chart.yaml"))
    return charts[0] if len(charts) == 1 else None


def verify_cached_chart(folder: Path, pin: pins.ChartPin) -> Path:
    """The chart directory inside a cache folder, checked against the pin; raises ChartNotFound."""
    chart_dir = folder / chart_name(pin)
    metadata = read_chart_metadata(chart_dir)
    if not metadata:
        raise ChartNotFound(f"{folder} holds no chart {chart_name(pin)} (no {chart_name(pin)}/Chart.yaml); "
                            "run `modelplane charts pull` again")
    name, version = str(metadata.get("name", "")), str(metadata.get("version", ""))
    if name != chart_name(pin) or version != pin.version:
        raise ChartNotFound(
            f"{chart_dir}/Chart.yaml is chart {name} {version}, not the pinned {chart_name(pin)} "
            f"{pin.version}; remove {folder} and run `modelplane charts pull` again"
        )
    return chart_dir


def locate_chart(charts_dir: Path, release: str, pin: pins.ChartPin) -> ChartSource:
    """The chart to render ``release`` (pinned to ``pin``) from, in either layout."""
    folder = cache_folder(charts_dir, pin)
    if folder.is_dir():
        return ChartSource(verify_cached_chart(folder, pin), pin, pin.version)
    wanted = _version_parts(pin.version)
    candidates: list[tuple[tuple, Path, str]] = []
    for copy in sorted(charts_dir.glob(f"{release}@*")):
        chart_dir = _only_chart_dir(copy)
        tag = copy.name.split("@", 1)[1]
        parts = _version_parts(tag)
        if chart_dir is None or parts is None:
            continue
        if str(read_chart_metadata(chart_dir).get("name", "")) != chart_name(pin):
            continue
        candidates.append((parts, chart_dir, tag))
    exact = [c for c in candidates if wanted is not None and c[0] == wanted]
    if exact:
        _, chart_dir, tag = exact[0]
        return ChartSource(chart_dir, pin, pin.version, _source_note(chart_dir, pin, tag, pin.version))
    older_patches = sorted(
        (c for c in candidates if wanted is not None and c[0][:2] == wanted[:2] and c[0] < wanted),
        key=lambda c: c[0],
    )
    if older_patches:
        parts, chart_dir, tag = older_patches[-1]
        version = f"{parts[0]}.{parts[1]}.{parts[2]}{parts[3]}"
        if pin.version.startswith("v"):
            version = f"v{version}"
        note = (
            f"pinned {pin.version}, rendered from the source at tag {tag} ({chart_dir.parent.name}), "
            f"an older patch release: no {pin.version} copy in {charts_dir}"
        )
        return ChartSource(chart_dir, pin, version, note)
    found = ", ".join(c[2] for c in candidates) or "none"
    raise ChartNotFound(
        f"no chart {chart_name(pin)} {pin.version} in {charts_dir} (looked for {folder.name}/ and "
        f"{release}@<tag>/; tags found for {release}: {found}); run `modelplane charts pull --dir {charts_dir}`"
    )


def _source_note(chart_dir: Path, pin: pins.ChartPin, tag: str, version: str) -> str | None:
    stamped = str(read_chart_metadata(chart_dir).get("version", ""))
    if _same_version(stamped, version):
        return None
    return (f"rendered from the source at tag {tag}, whose Chart.yaml says version {stamped} "
            "(stamped only when the chart is released)")

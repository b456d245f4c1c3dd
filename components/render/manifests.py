"""Rendered objects as text: one YAML stream, or one file per object. Byte-stable."""

from __future__ import annotations

from typing import Iterable, Mapping

import yaml

from components.render.objects import KubeObject


# LibYAML's emitter writes the same bytes as the pure-Python one (the golden files pin it), five
# times faster; PyYAML's wheels carry it.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Block style everywhere, never aliases (two equal dicts must not become &id001 / *id001)."""

    def ignore_aliases(self, data) -> bool:  # type: ignore[override]
        return True


def dump_object(obj: Mapping) -> str:
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=4096, allow_unicode=True
    )


def dump_objects(objects: Iterable[KubeObject]) -> str:
    """A multi-document YAML stream, each document starting with ``---``."""
    return "".join(f"---\n{dump_object(obj)}" for obj in objects)


def object_file_name(obj: Mapping) -> str:
    """Relative path of an object's file: ``<namespace>/<kind>-<name>.yaml`` (``_cluster`` when
    cluster-scoped)."""
    meta = obj["metadata"]
    folder = meta.get("namespace", "_cluster")
    return f"{folder}/{obj['kind'].lower()}-{meta['name']}.yaml"

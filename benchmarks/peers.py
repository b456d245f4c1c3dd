"""Peers of modelplane for the benchmark, each writing the catalog's InferenceServices and
VirtualServices as one YAML stream; run as ``python benchmarks/peers.py PEER ROOT``, it prints one
JSON line (seconds, CPU seconds, peak memory, documents written).

The objects are modelplane's own: the template is modelplane's render of the first model, with the
team, model, cost centre and version made into placeholders. So each peer writes objects of the
same kinds, fields and size (modelplane's resolution, GPU placement, canaries, is not redone: a
template has none of it, which is the point of the comparison).

- ``helm``: a one-template chart (generated in a temporary directory) rendered by helm-python-sdk,
  the catalog files read with CSafeLoader into its values;
- ``jinja2``: CSafeLoader and a Jinja2 template;
- ``libyaml``: the floor, every file parsed with CSafeLoader and modelplane's rendered objects
  dumped with CSafeDumper (rendered before the clock starts);
- ``modelplane-two-kinds``: modelplane's catalog loading, validation and resolution, and its model
  objects, restricted to the two kinds, written with its own writer.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KINDS = ("InferenceService", "VirtualService")
PLACEHOLDERS = {"team000": "team", "model-000": "name", "CC-0000": "cost_center", "1.0.0": "version"}


def rendered_two_kinds(root: Path, stack: str = "dev") -> list[dict]:
    from components.catalog import load_catalog, load_stack, resolve_deployment, stack_names
    from components.render.model_objects import render_model_objects

    catalog = load_catalog(root / "models", "models")
    deployment = resolve_deployment(catalog, load_stack(root / "stacks", stack), stack_names(root / "stacks"))
    return [obj for model in deployment.models for obj in render_model_objects(model) if obj["kind"] in KINDS]


def first_model_text(root: Path) -> str:
    from components.render.manifests import dump_objects

    objects = [o for o in rendered_two_kinds(root) if o["metadata"]["namespace"] == "team-team000"
               and o["metadata"]["name"].startswith("model-000")]
    return dump_objects(objects)


def template(text: str, placeholder) -> str:
    for literal, field in PLACEHOLDERS.items():
        text = text.replace(literal, placeholder(field))
    return text


def catalog_values(root: Path) -> list[dict]:
    """Every model's template values, from the catalog files read with CSafeLoader."""
    models = []
    for folder in sorted((root / "models").iterdir()):
        team = yaml.load((folder / "team.yaml").read_text(), Loader=yaml.CSafeLoader)
        for path in sorted(folder.glob("*.yaml")):
            if path.name == "team.yaml":
                continue
            spec = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
            if (spec.get("environments") or {}).get("dev", {}).get("enabled", True) is False:
                continue  # as modelplane does for the dev stack
            models.append({"team": team["team"], "name": spec["name"], "cost_center": team["cost_center"],
                           "version": spec.get("version", "")})
    return models


def run_helm(root: Path, text: str) -> str:
    from components.charts.engine import render_chart

    with tempfile.TemporaryDirectory(prefix="modelplane-peer-chart-") as tmp:
        chart = Path(tmp) / "catalog"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: catalog\nversion: 0.1.0\n")
        body = template(text, lambda field: "{{ $m.%s }}" % field)
        (chart / "templates" / "models.yaml").write_text("{{- range $m := .Values.models }}\n" + body + "{{ end }}\n")
        output = render_chart(chart, {"models": catalog_values(root)}, release="catalog", namespace="default",
                              kube_version="1.35")
        return "".join(output.manifests.values())


def run_jinja2(root: Path, text: str) -> str:
    import jinja2

    body = template(text, lambda field: "{{ m.%s }}" % field)
    compiled = jinja2.Environment(autoescape=False, keep_trailing_newline=True).from_string(
        "{% for m in models %}" + body + "{% endfor %}")
    return compiled.render(models=catalog_values(root))


def main() -> None:
    peer, root = sys.argv[1], Path(sys.argv[2])
    text = first_model_text(root) if peer in ("helm", "jinja2") else ""
    prepared = rendered_two_kinds(root) if peer == "libyaml" else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if peer == "helm":
        output = run_helm(root, text)
    elif peer == "jinja2":
        output = run_jinja2(root, text)
    elif peer == "libyaml":
        for path in sorted((root / "models").glob("*/*.yaml")):
            yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        output = yaml.dump_all(prepared, Dumper=yaml.CSafeDumper, sort_keys=True, default_flow_style=False,
                               width=4096, allow_unicode=True, explicit_start=True)
    elif peer == "modelplane-two-kinds":
        from components.render.manifests import dump_objects

        output = dump_objects(rendered_two_kinds(root))
    else:
        raise SystemExit(f"unknown peer {peer}")
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    print(json.dumps({"code": 0, "seconds": elapsed, "cpu_seconds": cpu, "peak_mib": after.ru_maxrss / 1024,
                      "documents": output.count("kind: InferenceService\n") + output.count("kind: VirtualService\n")}))


if __name__ == "__main__":
    main()

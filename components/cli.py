"""The ``modelplane`` command: validate, render and plan the platform offline.

Uses the pure layers only, so what it prints is exactly what ``pulumi up`` would apply.
Exit codes: 0 success, 1 a problem with the input (printed one per line), 2 reserved for
"differences found" by commands that compare.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from components.catalog import (
    Catalog,
    InputError,
    Problem,
    Stack,
    StackDeployment,
    load_catalog,
    load_stack,
    load_stacks,
    resolve_deployment,
    stack_names,
)
from components.catalog.json_schema import catalog_json_schemas
from components.catalog.problems import WHOLE_FILE
from components.render.manifests import dump_objects, object_file_name
from components.render.objects import KubeObject
from components.render.stack_render import RenderedStack, render_stack
from components.review.plan import format_plan

EXIT_OK = 0
EXIT_INPUT_ERROR = 1
# Marks a directory written by `render --out DIR`, so a later render may replace it wholesale.
RENDER_MARKER = ".modelplane-render"


@dataclass(frozen=True)
class Paths:
    models: Path
    stacks: Path

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Paths":
        return cls(models=Path(args.models), stacks=Path(args.stacks))


def _shown(path: Path) -> str:
    return path.as_posix().rstrip("/") or "."


def load_deployment(paths: Paths, stack_name: str) -> StackDeployment:
    """Catalog and stack, validated and resolved; every problem of both is raised together."""
    problems: list[Problem] = []
    catalog = stack = None
    try:
        catalog = load_catalog(paths.models, _shown(paths.models))
    except InputError as error:
        problems.extend(error.problems)
    try:
        stack = load_stack(paths.stacks, stack_name, _shown(paths.stacks))
    except InputError as error:
        problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    assert catalog is not None and stack is not None
    return resolve_deployment(catalog, stack, stack_names(paths.stacks))


def load_rendered_stack(paths: Paths, stack_name: str) -> RenderedStack:
    return render_stack(load_deployment(paths, stack_name))


def validate_all(paths: Paths, only_stack: str | None) -> tuple[Catalog, list[Stack]]:
    """Validate the catalog against one stack, or against every stack in the stacks folder."""
    problems: list[Problem] = []
    catalog: Catalog | None = None
    stacks: list[Stack] = []
    try:
        catalog = load_catalog(paths.models, _shown(paths.models))
    except InputError as error:
        problems.extend(error.problems)
    names = [only_stack] if only_stack else stack_names(paths.stacks)
    if not names:
        problems.append(Problem(_shown(paths.stacks), WHOLE_FILE, "no Pulumi.<stack>.yaml files"))
    try:
        stacks = load_stacks(paths.stacks, names, _shown(paths.stacks))
    except InputError as error:
        problems.extend(error.problems)
    if catalog is not None:
        for stack in stacks:
            try:
                render_stack(resolve_deployment(catalog, stack, stack_names(paths.stacks)))
            except InputError as error:
                problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    assert catalog is not None
    return catalog, stacks


def command_validate(args: argparse.Namespace) -> int:
    catalog, stacks = validate_all(Paths.from_args(args), args.stack)
    print(
        f"ok: {len(catalog.teams)} teams, {catalog.model_count} models, valid for "
        f"{len(stacks)} stack{'s' if len(stacks) != 1 else ''} ({', '.join(s.name for s in stacks)})"
    )
    return EXIT_OK


def command_render(args: argparse.Namespace) -> int:
    objects = list(load_rendered_stack(Paths.from_args(args), args.stack).objects)
    if args.out == "-":
        sys.stdout.write(dump_objects(objects))
        return EXIT_OK
    write_object_tree(objects, Path(args.out))
    print(f"wrote {len(objects)} objects to {args.out}", file=sys.stderr)
    return EXIT_OK


def command_plan(args: argparse.Namespace) -> int:
    sys.stdout.write(format_plan(load_rendered_stack(Paths.from_args(args), args.stack)))
    return EXIT_OK


def command_schema(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    if not out_dir.is_dir():
        raise InputError([Problem(_shown(out_dir), WHOLE_FILE, "not a directory")])
    for file_name, text in catalog_json_schemas().items():
        (out_dir / file_name).write_text(text, encoding="utf-8")
        print(f"wrote {_shown(out_dir / file_name)}", file=sys.stderr)
    return EXIT_OK


def write_object_tree(objects: list[KubeObject], out_dir: Path) -> None:
    """Write one file per object into ``out_dir``, all or nothing.

    The files go to a fresh sibling directory first, which then replaces ``out_dir``; a directory
    that modelplane did not write is never replaced.
    """
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError([Problem(_shown(out_dir), WHOLE_FILE, "exists and is not a directory")])
        if any(out_dir.iterdir()) and not (out_dir / RENDER_MARKER).exists():
            raise InputError([Problem(
                _shown(out_dir), WHOLE_FILE,
                "exists and was not written by modelplane render; name a new or empty directory",
            )])
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        try:
            for obj in objects:
                target = staging / object_file_name(obj)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(dump_objects([obj]), encoding="utf-8")
            (staging / RENDER_MARKER).write_text("written by modelplane render\n", encoding="utf-8")
            if out_dir.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
                out_dir.rename(retired / "tree")
                staging.rename(out_dir)
                shutil.rmtree(retired)
            else:
                staging.rename(out_dir)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    except OSError as error:
        raise InputError([Problem(_shown(out_dir), WHOLE_FILE, f"cannot write: {error.strerror}")]) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelplane",
        description="Validate, render and plan a shared KServe inference platform, offline.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str, stack: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--models", default="models", help="catalog directory (default: models)")
        sub.add_argument("--stacks", default="stacks", help="stack settings directory (default: stacks)")
        if stack == "required":
            sub.add_argument("--stack", required=True, help="stack name, e.g. dev")
        else:
            sub.add_argument("--stack", help="check against this stack only (default: every stack)")
        sub.set_defaults(handler=handler)
        return sub

    add("validate", command_validate, "check the catalog and stack settings", "optional")
    render = add("render", command_render, "print or write every Kubernetes object of a stack", "required")
    render.add_argument("--out", default="-", help="directory for one file per object, or - for stdout")
    add("plan", command_plan, "summarise a stack's desired state", "required")
    schema = commands.add_parser(
        "schema", help="write the JSON Schemas of model and team files",
        description="write model.schema.json and team.schema.json for editors",
    )
    schema.add_argument("--out", default="models", help="directory (default: models)")
    schema.set_defaults(handler=command_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except InputError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was written", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())

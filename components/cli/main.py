"""The ``modelplane`` command: validate, render, plan, diff and cost the platform offline.

Uses the pure layers only, so what it prints is exactly what ``pulumi up`` would apply.

Exit codes, distinct so that CI cannot mistake one for another:

- 0: success; for diff and review, no change;
- 1: a problem with the input (printed one per line), or a change that needs acknowledging (a prod
  deletion without ``--allow-delete``);
- 2: a usage error (an unknown option, a missing argument), argparse's own code;
- 3: differences found (diff, review): the changes are printed and nothing is wrong;
- 141: the reader of the output went away (``modelplane plan | head -1``), as for any command
  SIGPIPE ends (128 + 13); nothing is printed about it.

A file that cannot be written (a read-only folder, a full disk) is a problem like any other: one
line, exit 1, and the file is either as it was or complete (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

# Each command imports what it uses when it runs: `--help` needs none of it, and `validate` none
# of review, cost or the schemas (start-up is a large part of a small command's time).
if TYPE_CHECKING:
    from components.cli.inputs import Paths
    from components.render.stack_render import RenderedStack

EXIT_OK = 0
EXIT_INPUT_ERROR = 1
EXIT_USAGE = 2  # argparse exits with 2 on a usage error; nothing else may use it
EXIT_CHANGES = 3
EXIT_BROKEN_PIPE = 141
OUTPUT_FORMATS = ("text", "markdown", "json")
PLAN_FORMATS = ("text", "markdown", "svg")
DEFAULT_MODELS = "models"
DEFAULT_STACKS = "stacks"
LAYOUT_HINT = (
    "run modelplane from the repository root, which holds models/<team>/*.yaml and "
    "stacks/Pulumi.<stack>.yaml, or pass --models and --stacks"
)


def paths_of(args: argparse.Namespace) -> Paths:
    from components.cli.inputs import Paths

    return Paths(models=Path(args.models), stacks=Path(args.stacks))


def command_validate(args: argparse.Namespace) -> int:
    from components.cli.inputs import validate_all

    catalog, stacks, warnings = validate_all(paths_of(args), args.stack)
    # Warnings go to stderr beside the problems' place; they do not change the exit code.
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"ok: {len(catalog.teams)} teams, {catalog.model_count} models, valid for "
        f"{len(stacks)} stack{'s' if len(stacks) != 1 else ''} ({', '.join(s.name for s in stacks)})"
    )
    return EXIT_OK


def charts_dir_of(args: argparse.Namespace) -> Path | None:
    """``--charts DIR``, else ``$MODELPLANE_CHARTS``, else ``None`` (the charts are not rendered)."""
    value = getattr(args, "charts", None) or os.environ.get("MODELPLANE_CHARTS") or None
    return Path(value) if value else None


def chart_renderer(args: argparse.Namespace) -> Callable[[RenderedStack], RenderedStack] | None:
    """What adds every release's chart objects to a rendered stack, or ``None`` without charts.

    components.charts is imported only then: it loads Helm's native library."""
    charts_dir = charts_dir_of(args)
    if charts_dir is None:
        return None
    from components.charts.stack_charts import with_chart_objects

    return lambda rendered: with_chart_objects(rendered, charts_dir)


def load_stack_with_charts(args: argparse.Namespace) -> RenderedStack:
    from components.cli.inputs import load_rendered_stack

    rendered = load_rendered_stack(paths_of(args), args.stack)
    renderer = chart_renderer(args)
    return renderer(rendered) if renderer else rendered


def command_render(args: argparse.Namespace) -> int:
    from components.cli.object_tree import write_object_tree
    from components.render.manifests import iter_documents

    rendered = load_stack_with_charts(args)
    objects = list(rendered.objects)
    if args.out == "-":
        # One document at a time: the whole stream is tens of megabytes at catalog scale. Every
        # problem is found while rendering, before the first byte is written.
        for document in iter_documents(objects):
            sys.stdout.write(document)
        # Each release's objects follow modelplane's, grouped under a comment naming the release.
        for release in rendered.chart_objects:
            sys.stdout.write(f"# release {release.release}: chart {release.chart} from {release.source}\n")
            sys.stdout.write("".join(f"# note: {note}\n" for note in release.notes))
            for document in iter_documents(release.objects):
                sys.stdout.write(document)
        return EXIT_OK
    written = write_object_tree(objects, Path(args.out), rendered.chart_objects)
    print(f"wrote {written} objects to {args.out}", file=sys.stderr)
    return EXIT_OK


def command_charts_check(args: argparse.Namespace) -> int:
    """Every values key modelplane sets is read by its chart, and passes its values.schema.json;
    every model's pod as KServe builds it fits its LimitRange, its quota and a node."""
    from components.catalog.problems import WHOLE_FILE, InputError, Problem, raise_if_any
    from components.catalog.stacks import stack_names
    from components.cli.inputs import load_rendered_stack

    charts_dir = charts_dir_of(args)
    if charts_dir is None:
        raise InputError([Problem("--charts", WHOLE_FILE, "charts check needs --charts DIR (or $MODELPLANE_CHARTS)")])
    from components.charts.engine import manifest_objects
    from components.charts.pod_fit import stack_pod_problems
    from components.charts.stack_charts import render_stack_charts
    from components.charts.values_check import check_values

    paths = paths_of(args)
    names = [args.stack] if args.stack else stack_names(paths.stacks)
    problems: list[Problem] = []
    for name in names:
        rendered = load_rendered_stack(paths, name)
        renders, parsed, api_versions = render_stack_charts(rendered, charts_dir)
        report = check_values(renders, charts_dir, rendered.cluster.kubernetes_version, api_versions)
        for key in report.unchecked:
            print(f"warning: stack {name}: not checked: {key}", file=sys.stderr)
        problems.extend(Problem(p.file, p.field, f"stack {name}: {p.message}") for p in report.problems)
        chart_objects = {render.release.name: manifest_objects(render.output, parsed) for render in renders}
        pods = stack_pod_problems(rendered, chart_objects, charts_dir.as_posix())
        problems.extend(pods)
        if not report.problems:
            print(f"ok: stack {name}: {report.checked_keys} values keys of {len(renders)} releases are read by their charts")
        if not pods:
            print(f"ok: stack {name}: every model's pod, as KServe builds it, fits its LimitRange, its quota and a node")
    raise_if_any(problems)
    return EXIT_OK


def command_charts_pull(args: argparse.Namespace) -> int:
    """Every stack's pinned add-on charts into --dir (from a local mirror with --from)."""
    from components.catalog.stacks import stack_names
    from components.charts.pull import pull_charts
    from components.cli.inputs import load_rendered_stack

    paths = paths_of(args)
    releases: dict[str, object] = {}
    for name in stack_names(paths.stacks):
        for release in load_rendered_stack(paths, name).releases:
            releases.setdefault(f"{release.name} {release.chart.version}", release)
    charts_dir = Path(args.dir or os.environ.get("MODELPLANE_CHARTS") or ".charts")
    for line in pull_charts(list(releases.values()), charts_dir, Path(args.source) if args.source else None):
        print(line)
    return EXIT_OK


def command_plan(args: argparse.Namespace) -> int:
    from components.catalog.problems import raise_if_any
    from components.review.capacity import capacity_report, format_capacity
    from components.review.cost import estimate_cost, format_cost
    from components.review.plan import format_plan, format_plan_markdown
    from components.review.pool_svg import stack_pools_svg

    rendered = load_stack_with_charts(args)
    for warning in rendered.deployment.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    cost = estimate_cost(rendered.deployment)
    raise_if_any(cost.problems)
    if args.format == "svg":
        sys.stdout.write(stack_pools_svg(rendered.deployment, cost.packings))
        return EXIT_OK
    capacity = capacity_report(rendered.deployment)
    if args.format == "markdown":
        sys.stdout.write(format_plan_markdown(
            rendered, list(cost.packings), format_cost(cost, markdown=True), format_capacity(capacity, markdown=True)))
        return EXIT_OK
    sys.stdout.write(format_plan(rendered))
    sys.stdout.write("\n" + format_cost(cost))
    sys.stdout.write("\n" + format_capacity(capacity))
    return EXIT_OK


def command_cost(args: argparse.Namespace) -> int:
    import json

    from components.catalog.problems import raise_if_any
    from components.cli.inputs import load_checked_deployment
    from components.review.cost import cost_as_dict, estimate_cost, format_cost

    report = estimate_cost(load_checked_deployment(paths_of(args), args.stack))
    raise_if_any(report.problems)
    if args.format == "json":
        sys.stdout.write(json.dumps(cost_as_dict(report), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(format_cost(report, markdown=args.format == "markdown"))
    return EXIT_OK


def command_placement(args: argparse.Namespace) -> int:
    import json

    from components.cli.inputs import load_catalog_and_stack
    from components.review.placement_plan import plan_placement
    from components.review.placement_report import format_placement, format_placement_markdown, placement_as_dict

    plan = plan_placement(*load_catalog_and_stack(paths_of(args), args.stack))
    if args.format == "json":
        sys.stdout.write(json.dumps(placement_as_dict(plan), indent=2, sort_keys=True) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(format_placement_markdown(plan))
    else:
        sys.stdout.write(format_placement(plan))
    return EXIT_OK


def command_diff(args: argparse.Namespace) -> int:
    import json

    from components.review.compare import compare_stack
    from components.review.diff import diff_as_dict, format_diff_markdown, format_diff_text

    review = compare_stack(paths_of(args), args.stack, args.base, args.allow_delete, charts=chart_renderer(args))
    diff = review.diff
    assert diff is not None
    if args.format == "json":
        sys.stdout.write(json.dumps(diff_as_dict(diff), indent=2, sort_keys=True) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(format_diff_markdown(diff))
    else:
        sys.stdout.write(format_diff_text(diff))
    return _compare_exit_code([diff])


def command_review(args: argparse.Namespace) -> int:
    import json

    from components.review.capacity import capacity_as_dict
    from components.review.compare import format_review_markdown, format_review_text, review_stacks
    from components.review.cost import cost_as_dict
    from components.review.diff import diff_as_dict

    reviews = review_stacks(paths_of(args), args.base, args.allow_delete, charts=chart_renderer(args))
    if args.format == "json":
        document = [
            {"stack": r.stack, "problems": [str(p) for p in r.problems],
             "diff": diff_as_dict(r.diff) if r.diff else None,
             "cost": cost_as_dict(r.cost) if r.cost else None,
             "capacity": capacity_as_dict(list(r.capacity))}
            for r in reviews
        ]
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(format_review_markdown(reviews, args.base))
    else:
        sys.stdout.write(format_review_text(reviews, args.base))
    if any(review.problems for review in reviews):
        return EXIT_INPUT_ERROR
    return _compare_exit_code([review.diff for review in reviews if review.diff])


def _compare_exit_code(diffs) -> int:
    """1 when a change needs fixing or acknowledging, 3 when there are changes, 0 otherwise."""
    if any(diff.errors for diff in diffs):
        for diff in diffs:
            for error in diff.errors:
                print(f"stack {diff.stack}: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    return EXIT_CHANGES if any(diff.has_changes for diff in diffs) else EXIT_OK


def command_codeowners(args: argparse.Namespace) -> int:
    from components.catalog import load_catalog
    from components.cli.codeowners import checked_reviewers, platform_reviewers, render_codeowners
    from components.cli.inputs import shown

    models = paths_of(args).models
    catalog = load_catalog(models, shown(models))
    # The repository is the folder that holds models/; its pyproject.toml names the platform team.
    root = models.resolve().parent
    reviewers = checked_reviewers(args.platform_reviewer) if args.platform_reviewer else platform_reviewers(root / "pyproject.toml")
    text = render_codeowners(catalog, reviewers, models.resolve().name)
    if args.out == "-":
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(args.out)
    if args.check:
        return check_codeowners(out, text)
    write_files({out: text}, mkdir=True)
    print(f"wrote {args.out}", file=sys.stderr)
    return EXIT_OK


def check_codeowners(path: Path, expected: str) -> int:
    """Exit 1 when ``path`` grants ownership the catalog no longer gives; only warn when it lacks
    a new team's rule (the platform owns that folder until it is added)."""
    from components.catalog.problems import WHOLE_FILE, InputError, Problem
    from components.cli.codeowners import codeowners_drift
    from components.cli.inputs import shown

    try:
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise InputError([Problem(shown(path), WHOLE_FILE, f"cannot read: {error}")]) from None
    stale, missing = codeowners_drift(committed, expected)
    fix = f"run `modelplane codeowners --out {shown(path)}` (or `make codeowners`) and commit it"
    for rule in missing:
        print(f"warning: {shown(path)}: no rule `{rule}` yet; until it is added the platform "
              f"reviewers own that folder; {fix}", file=sys.stderr)
    if stale:
        raise InputError([
            Problem(shown(path), WHOLE_FILE, f"rule `{rule}` grants ownership the catalog no longer gives; {fix}")
            for rule in stale
        ])
    print(f"ok: {shown(path)} grants only what the catalog's reviewers say", file=sys.stderr)
    return EXIT_OK


def command_schema(args: argparse.Namespace) -> int:
    from components.catalog.json_schema import catalog_json_schemas
    from components.catalog.problems import WHOLE_FILE, InputError, Problem
    from components.cli.inputs import shown

    out_dir = Path(args.out)
    if not out_dir.is_dir():
        raise InputError([Problem(shown(out_dir), WHOLE_FILE, "not a directory")])
    files = {out_dir / file_name: text for file_name, text in catalog_json_schemas().items()}
    write_files(files)
    for path in files:
        print(f"wrote {shown(path)}", file=sys.stderr)
    return EXIT_OK


def write_files(files: dict[Path, str], mkdir: bool = False) -> None:
    """Write every file beside its target first, then rename each into place: on a read-only
    folder or a full disk, no target is left half written and no temporary file stays."""
    from components.catalog.problems import WHOLE_FILE, InputError, Problem
    from components.cli.inputs import shown

    staged: list[tuple[Path, Path]] = []
    current = next(iter(files))
    try:
        for path, text in files.items():
            current = path
            if mkdir:
                path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.parent / f".{path.name}.modelplane-{os.getpid()}"
            staged.append((temporary, path))
            temporary.write_text(text, encoding="utf-8")
        for temporary, path in staged:
            current = path
            os.replace(temporary, path)
    except OSError as error:
        raise InputError([Problem(shown(current), WHOLE_FILE, f"cannot write: {error.strerror}")]) from None
    finally:
        for temporary, _ in staged:
            if temporary.exists():
                temporary.unlink()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelplane",
        description="Validate, render and plan a shared KServe inference platform, offline.",
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_inputs(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--models", default=DEFAULT_MODELS, help="catalog directory (default: %(default)s)")
        sub.add_argument("--stacks", default=DEFAULT_STACKS, help="stack settings directory (default: %(default)s)")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str, stack: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_inputs(sub)
        if stack == "required":
            sub.add_argument("--stack", required=True, help="stack name, e.g. dev")
        elif stack == "optional":
            sub.add_argument("--stack", help="check against this stack only (default: every stack)")
        sub.set_defaults(handler=handler, reads=("models", "stacks"))
        return sub

    def add_format(sub: argparse.ArgumentParser, default: str, formats: Sequence[str] = OUTPUT_FORMATS) -> None:
        sub.add_argument("--format", choices=formats, default=default, metavar="FORMAT",
                         help=f"output format: {', '.join(formats)} (default: {default})")

    def add_charts(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--charts", metavar="DIR",
                         help="render every add-on release from its pinned chart in DIR (`charts pull` or "
                         "a folder of chart sources); default: $MODELPLANE_CHARTS, else not rendered")

    add("validate", command_validate, "check the catalog and stack settings", "optional")
    render = add("render", command_render, "print or write every Kubernetes object of a stack", "required")
    render.add_argument("--out", default="-", help="directory for one file per object, or - for stdout")
    add_charts(render)
    plan = add("plan", command_plan, "a stack's whole desired state, its cost and GPU capacity; as "
               "markdown with Mermaid diagrams of the routes and the pools, or the pools as an SVG picture", "required")
    add_format(plan, "text", PLAN_FORMATS)
    add_charts(plan)
    cost = add("cost", command_cost, "monthly cost per model, per team and in total", "required")
    add_format(cost, "text")
    placement = add("placement", command_placement,
                    "the MIG layout and node counts that serve a stack's slices with the fewest GPUs", "required")
    add_format(placement, "text")
    diff = add("diff", command_diff, "what the work tree changes in a stack compared with a git ref", "required")
    diff.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    add_format(diff, "text")
    add_charts(diff)
    diff.add_argument("--allow-delete", action="store_true", help="acknowledge deletions in prod stacks")
    review = add("review", command_review, "diff, cost and capacity of every stack, for a pull request", "none")
    review.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    add_format(review, "markdown")
    review.add_argument("--allow-delete", action="store_true", help="acknowledge deletions in prod stacks")
    add_charts(review)
    owners = add("codeowners", command_codeowners, "write CODEOWNERS from the teams' reviewers", "none")
    owners.set_defaults(reads=("models",))
    owners.add_argument("--out", default=".github/CODEOWNERS",
                        help="file to write, or - for stdout (default: .github/CODEOWNERS)")
    owners.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the file grants ownership the catalog no longer gives")
    owners.add_argument("--platform-reviewer", action="append",
                        help="owner of everything outside the team folders (default: pyproject.toml "
                        "[tool.modelplane] platform_reviewers)")
    charts = commands.add_parser("charts", help="the pinned add-on charts", description="the pinned add-on charts")
    charts_commands = charts.add_subparsers(dest="charts_command", required=True, metavar="COMMAND")
    check = charts_commands.add_parser(
        "check", help="every values key modelplane sets is read by its chart and fits values.schema.json",
        description="render every release with each values key removed and changed: a key that changes "
        "nothing is an error; values are validated against the chart's values.schema.json")
    add_inputs(check)
    check.add_argument("--stack", help="this stack only (default: every stack)")
    add_charts(check)
    check.set_defaults(handler=command_charts_check, reads=("models", "stacks"))
    pull = charts_commands.add_parser(
        "pull", help="the pinned charts of every stack into a chart directory",
        description="download every stack's pinned charts (HTTP repositories), or copy them from a "
        "local mirror with --from; verified against the pins; pulling again changes nothing")
    add_inputs(pull)
    pull.add_argument("--dir", help="chart directory (default: $MODELPLANE_CHARTS, else .charts)")
    pull.add_argument("--from", dest="source", metavar="DIR",
                      help="copy from chart sources here (<release>@<tag>/), e.g. ../shared/charts")
    pull.set_defaults(handler=command_charts_pull, reads=("models", "stacks"))
    schema = commands.add_parser(
        "schema", help="write the JSON Schemas of model and team files",
        description="write model.schema.json and team.schema.json for editors",
    )
    schema.add_argument("--out", default="models", help="directory (default: models)")
    schema.set_defaults(handler=command_schema, reads=())
    return parser


class _VersionAction(argparse.Action):
    """``--version``: argparse's own action, with the version looked up only when asked for
    (importlib.metadata is a noticeable part of start-up)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0,
                         help=help or "show program's version number and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        argparse._VersionAction(option_strings=[], version=f"%(prog)s {installed_version()}")(parser, namespace, values)


def installed_version() -> str:
    """The version of the installed ``modelplane`` distribution (``make plan`` installs it)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("modelplane")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed: run `make plan`, or pip install -e .)"


def missing_layout(args: argparse.Namespace) -> str | None:
    """One line for a default folder the command reads that the current directory lacks (run from a
    subdirectory), instead of a problem for every file not found there."""
    for option, default in (("models", DEFAULT_MODELS), ("stacks", DEFAULT_STACKS)):
        if option in args.reads and getattr(args, option) == default and not Path(default).is_dir():
            return f"no {default}/ directory here: {LAYOUT_HINT}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        # A one-shot process (the console script): what it builds lives until it exits, so the
        # cyclic collector's passes over millions of rendered dicts find nothing to free (about a
        # tenth of render's time at catalog scale). Callers passing argv (tests) keep it.
        gc.freeze()
        gc.disable()
    args = build_parser().parse_args(argv)
    from components.catalog.problems import InputError

    layout_error = missing_layout(args)
    if layout_error:
        print(layout_error, file=sys.stderr)
        return EXIT_INPUT_ERROR
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return code
    except InputError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"{count} problem{'s' if count != 1 else ''} found; nothing was written", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:
        # Only output can fail here: every file the commands read or write reports its own
        # problem. Standard output on a full disk, say.
        _silence_stdout()
        print(f"cannot write the output: {error.strerror or error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's final flush of what is still
    buffered cannot fail again (the Python documentation's recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())

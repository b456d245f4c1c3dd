"""Comparing the work tree with a git ref: one stack's diff, and the review of every stack."""

from __future__ import annotations

import tempfile
from typing import Callable
from dataclasses import dataclass
from pathlib import Path

from components.catalog import InputError, Problem, load_catalog, load_stack, resolve_deployment, stack_names
from components.catalog.stacks import stack_file, stray_stack_files
from components.cli.inputs import Paths, load_rendered_stack, shown
from components.render.stack_render import RenderedStack, render_stack
from components.catalog.budgets import PoolCapacity
from components.review.capacity import capacity_report, format_capacity
from components.review.cost import CostReport, estimate_cost, format_cost
from components.review import markdown
from components.review.diagrams import change_diagrams
from components.review.packing import Packing
from components.catalog.deployed import StackDeployment
from components.review.diff import StackDiff, diff_stack, format_diff_markdown, format_diff_text, summary_line
from components.review.field_changes import escape_controls
from components.review.git_base import checkout_paths_at


def render_at_ref(paths: Paths, stack: str, ref: str) -> RenderedStack | None:
    """The stack rendered from ``models/`` and ``stacks/`` as they were at ``ref``; ``None`` when
    the stack (or the catalog) did not exist there yet."""
    with tempfile.TemporaryDirectory(prefix="modelplane-base-") as tmp:
        models, stacks = checkout_paths_at(ref, [paths.models, paths.stacks], Path(tmp))
        if not stack_file(stacks, stack).is_file() or not any(models.iterdir()):
            return None
        try:
            catalog = load_catalog(models, f"{ref}:{shown(paths.models)}")
            loaded = load_stack(stacks, stack, f"{ref}:{shown(paths.stacks)}")
            return render_stack(resolve_deployment(catalog, loaded, stack_names(stacks)))
        except InputError as error:
            raise InputError([
                Problem(p.file, p.field, f"{p.message} (the base {ref} does not validate)") for p in error.problems
            ]) from None


@dataclass(frozen=True)
class StackReview:
    stack: str
    diff: StackDiff | None = None
    cost: CostReport | None = None
    capacity: tuple[PoolCapacity, ...] = ()
    problems: tuple[Problem, ...] = ()
    # Both sides, for the pictures of the change (the base is ``None`` for a new stack).
    head: StackDeployment | None = None
    base: StackDeployment | None = None
    base_packings: tuple[Packing, ...] = ()


def compare_stack(paths: Paths, stack: str, ref: str, allow_delete: bool = False,
                  charts: Callable[[RenderedStack], RenderedStack] | None = None) -> StackReview:
    """The diff of one stack between ``ref`` and the work tree, with costs and GPU capacity.

    ``charts`` adds each release's chart objects (the CLI's ``--charts``) to both sides, so a
    pin bump or a changed value shows as the chart objects it changes."""
    head = load_rendered_stack(paths, stack)
    base = render_at_ref(paths, stack, ref)
    if charts is not None:
        head = charts(head)
        base = charts(base) if base is not None else None
    head_cost = estimate_cost(head.deployment)
    base_cost = estimate_cost(base.deployment) if base is not None else None
    capacity = capacity_report(head.deployment)
    diff = diff_stack(
        base, head, allow_delete=allow_delete,
        cost_before=base_cost.total_monthly if base_cost else None,
        cost_after=head_cost.total_monthly,
    )
    return StackReview(
        stack, diff, head_cost, tuple(capacity), head=head.deployment,
        base=base.deployment if base is not None else None,
        base_packings=base_cost.packings if base_cost is not None else (),
    )


def review_stacks(paths: Paths, ref: str, allow_delete: bool = False) -> list[StackReview]:
    reviews = []
    for name in stack_names(paths.stacks):
        try:
            reviews.append(compare_stack(paths, name, ref, allow_delete))
        except InputError as error:
            reviews.append(StackReview(name, problems=error.problems))
    stray = stray_stack_files(paths.stacks, shown(paths.stacks))
    if stray:
        reviews.append(StackReview(shown(paths.stacks), problems=tuple(stray)))
    return reviews


def _review_summary(review: StackReview) -> str:
    if review.problems:
        return f"stack {review.stack}: {len(review.problems)} problem(s) in the catalog or stack"
    assert review.diff is not None and review.cost is not None
    cost = review.cost
    return (
        f"{summary_line(review.diff)}; serving ${cost.serving_monthly:,.2f}/month vs "
        f"${cost.classic_monthly:,.2f} one model per pod, always on, a load balancer each "
        f"({cost.savings_ratio:.0%} saved)"
    )


def _status_icon(review: StackReview) -> str:
    if review.problems or (review.diff and review.diff.errors):
        return ":x:"
    return ":warning:" if review.diff and review.diff.warnings else ":white_check_mark:"


def format_review_markdown(reviews: list[StackReview], ref: str) -> str:
    """One pull-request comment: the summary of every stack first, the details folded below."""
    lines = [f"### modelplane review against {markdown.code(ref)}", ""]
    lines += [f"- {_status_icon(review)} {markdown.text(_review_summary(review))}" for review in reviews]
    for review in reviews:
        lines += ["", f"#### stack {markdown.text(review.stack)}", ""]
        if review.problems:
            lines += markdown.code_block([str(problem) for problem in review.problems])
            continue
        assert review.diff is not None and review.cost is not None
        lines.append(format_diff_markdown(review.diff).rstrip())
        if review.head is not None:
            lines += change_diagrams(review.diff, review.head, review.cost.packings, review.base, review.base_packings)
        lines += ["", *markdown.folded("Cost", [format_cost(review.cost, markdown=True).rstrip()])]
        lines += ["", *markdown.folded("GPU capacity", [format_capacity(list(review.capacity), markdown=True).rstrip()])]
    return "\n".join(lines) + "\n"


def format_review_text(reviews: list[StackReview], ref: str) -> str:
    """The same review for a terminal or a CI log: the summary of every stack, then each stack's
    diff, cost and GPU capacity."""
    lines = [f"modelplane review against {escape_controls(ref)}"]
    lines += [f"  {escape_controls(_review_summary(review))}" for review in reviews]
    for review in reviews:
        lines += ["", f"== stack {escape_controls(review.stack)} =="]
        if review.problems:
            lines += [f"  {escape_controls(str(problem))}" for problem in review.problems]
            continue
        assert review.diff is not None and review.cost is not None
        lines += [format_diff_text(review.diff).rstrip(), ""]
        lines += [escape_controls(line) for line in format_cost(review.cost).rstrip().splitlines()]
        lines += ["", *(escape_controls(line) for line in format_capacity(list(review.capacity)).rstrip().splitlines())]
    return "\n".join(lines) + "\n"

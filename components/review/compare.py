"""Comparing the work tree with a git ref: one stack's diff, and the review of every stack."""

from __future__ import annotations

import tempfile
from typing import Callable
from dataclasses import dataclass
from pathlib import Path

from components.catalog import InputError, Problem, load_stack, resolve_deployment, stack_names
from components.catalog.loader import SpecCache
from components.catalog.stacks import stack_file, stray_stack_files
from components.cli.inputs import CatalogOnce, Paths, load_rendered_stack, shown
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
from components.review.base_pins import PINS_FILE, pins_at_ref, rendering_with
from components.review.git_base import checkout_paths_at


class RefSide:
    """``models/`` and ``stacks/`` as they were at ``ref``: checked out (``git archive``) and the
    catalog read at most once, however many stacks are compared; ``close`` removes the copy.

    When the repository holds ``components/pins.py`` at ``ref`` (modelplane's own, where pin bumps
    are made), the base is rendered with those pins: a pin bump shows as the release's version and,
    with charts, as every chart object it changes."""

    def __init__(self, paths: Paths, ref: str, spec_cache: SpecCache | None = None):
        self._paths, self._ref, self._spec_cache = paths, ref, spec_cache
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._checkout: tuple[Path, Path] | None = None
        self._checkout_problems: list[Problem] | None = None
        self._catalog: CatalogOnce | None = None
        self._pins: dict | None = None

    def _checked_out(self) -> tuple[Path, Path]:
        if self._checkout is None and self._checkout_problems is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="modelplane-base-")
            try:
                models, stacks = checkout_paths_at(self._ref, [self._paths.models, self._paths.stacks], Path(self._tmp.name))
            except InputError as error:
                self._checkout_problems = list(error.problems)
            else:
                self._checkout = models, stacks
                self._pins = pins_at_ref(self._paths.models, self._ref)
                self._catalog = CatalogOnce(models, f"{self._ref}:{shown(self._paths.models)}", self._spec_cache)
        if self._checkout_problems is not None:
            raise InputError(list(self._checkout_problems))
        assert self._checkout is not None
        return self._checkout

    def render(self, stack: str) -> RenderedStack | None:
        """The stack rendered at the ref; ``None`` when the stack (or the catalog) did not exist there yet."""
        models, stacks = self._checked_out()
        if not stack_file(stacks, stack).is_file() or not any(models.iterdir()):
            return None
        assert self._catalog is not None
        ref = self._ref
        try:
            catalog = self._catalog.load()
            loaded = load_stack(stacks, stack, f"{ref}:{shown(self._paths.stacks)}")
            with rendering_with(self._pins):
                return render_stack(resolve_deployment(catalog, loaded, stack_names(stacks)))
        except InputError as error:
            raise InputError([
                Problem(p.file, p.field, f"{p.message} (the base {ref} does not validate)") for p in error.problems
            ]) from None

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


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
                  charts: Callable[[RenderedStack], RenderedStack] | None = None,
                  head_catalog: CatalogOnce | None = None, base: RefSide | None = None) -> StackReview:
    """The diff of one stack between ``ref`` and the work tree, with costs and GPU capacity.

    ``charts`` adds each release's chart objects (the CLI's ``--charts``) to both sides, so a
    pin bump or a changed value shows as the chart objects it changes. ``head_catalog`` and
    ``base`` share the reading of each side between stacks (``review_stacks``); by default both
    are read here, sharing the files the two sides have in common."""
    if head_catalog is None or base is None:
        spec_cache: SpecCache = {}
        head_catalog = CatalogOnce(paths.models, shown(paths.models), spec_cache)
        own_base = RefSide(paths, ref, spec_cache)
        try:
            return compare_stack(paths, stack, ref, allow_delete, charts, head_catalog, own_base)
        finally:
            own_base.close()
    head_rendered = load_rendered_stack(paths, stack, head_catalog)
    base_rendered = base.render(stack)
    if charts is not None:
        head_rendered = charts(head_rendered)
        base_rendered = _base_with_charts(base_rendered, charts, ref) if base_rendered is not None else None
    head_cost = estimate_cost(head_rendered.deployment)
    base_cost = estimate_cost(base_rendered.deployment) if base_rendered is not None else None
    capacity = capacity_report(head_rendered.deployment)
    diff = diff_stack(
        base_rendered, head_rendered, allow_delete=allow_delete,
        cost_before=base_cost.total_monthly if base_cost else None,
        cost_after=head_cost.total_monthly,
    )
    return StackReview(
        stack, diff, head_cost, tuple(capacity), head=head_rendered.deployment,
        base=base_rendered.deployment if base_rendered is not None else None,
        base_packings=base_cost.packings if base_cost is not None else (),
    )


def _base_with_charts(base: RenderedStack, charts: Callable[[RenderedStack], RenderedStack], ref: str) -> RenderedStack:
    try:
        return charts(base)
    except InputError as error:
        # The base may pin other versions than the work tree: its charts must be in DIR too.
        raise InputError([
            Problem(p.file, p.field, f"{p.message} (for the base {ref}, whose pins are those of "
                    f"{ref}:{PINS_FILE} when it has one)")
            for p in error.problems
        ]) from None


def review_stacks(paths: Paths, ref: str, allow_delete: bool = False,
                  charts: Callable[[RenderedStack], RenderedStack] | None = None) -> list[StackReview]:
    """Every stack's review; each side's catalog is read once for all of them, and the files the
    change leaves alone are validated once for both sides."""
    spec_cache: SpecCache = {}
    head_catalog = CatalogOnce(paths.models, shown(paths.models), spec_cache)
    base = RefSide(paths, ref, spec_cache)
    reviews = []
    try:
        for name in stack_names(paths.stacks):
            try:
                reviews.append(compare_stack(paths, name, ref, allow_delete, charts, head_catalog, base))
            except InputError as error:
                reviews.append(StackReview(name, problems=error.problems))
    finally:
        base.close()
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

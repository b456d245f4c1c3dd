"""``modelplane diff``: what a change does to a stack's desired state, field by field.

Both sides are rendered with the same (current) code from their own ``models/`` and ``stacks/``,
so the diff shows what the catalog and stack changes do. What a change to modelplane's own code
does shows in the golden files under ``tests/golden/`` in the same pull request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from components.catalog.deployed import StackDeployment
from components.catalog.deployment import first_canary_message
from components.catalog.problems import Problem
from components.render.objects import object_id, owner_of
from components.render.stack_render import RenderedStack
from components.render.iam import cert_manager_dns_policy, cert_manager_role_name
from components.render.platform_objects import gateway_dns_names
from components.render.team_iam import team_role_name, team_secrets_policy, team_secrets_role_name, team_storage_policy
from components.render.team_secrets import needs_secrets_role
from components.review import field_format, markdown
from components.review.field_changes import ADDED, CHANGED, REMOVED, FieldChange, escape_controls, field_changes
from components.review.tree import grouped_lines

REPLACED = "replaced"
# Changes to these fields make Pulumi delete the resource and create a new one.
REPLACING_FIELDS = {
    "NodePool": ("instance_types", "capacity_type", "ami_type", "node_group_name"),
    "EksCluster": ("name", "network"),
    "RoleBinding": ("roleRef",),
}
_SYMBOL = {ADDED: "+", REMOVED: "-", CHANGED: "~", REPLACED: "-/+"}


@dataclass(frozen=True)
class StateEntry:
    key: str
    kind: str
    team: str | None
    model: str | None
    body: Any


@dataclass(frozen=True)
class EntryChange:
    key: str
    kind: str
    team: str | None
    model: str | None
    action: str
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class StackDiff:
    stack: str
    environment: str
    changes: tuple[EntryChange, ...]
    renames: tuple[tuple[str, str], ...] = ()
    # Warnings this change brings; ``still_present`` are the ones the base already had, shown once
    # and apart, so a standing warning does not read as news on every pull request.
    warnings: tuple[str, ...] = ()
    still_present: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    cost_before: Decimal | None = None
    cost_after: Decimal | None = None
    new_stack: bool = False

    def count(self, *actions: str) -> int:
        return sum(1 for change in self.changes if change.action in actions)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def cost_delta(self) -> Decimal | None:
        if self.cost_after is None:
            return None
        return self.cost_after - (self.cost_before or Decimal(0))


def desired_state(rendered: RenderedStack) -> dict[str, StateEntry]:
    """Everything ``pulumi up`` would manage for the stack, keyed by a readable identity."""
    entries: dict[str, StateEntry] = {}

    def add(key: str, kind: str, team: str | None, model: str | None, body: Any) -> None:
        entries[key] = StateEntry(key, kind, team, model, body)

    for obj in rendered.objects:
        team, model = owner_of(obj)
        add(object_id(obj), obj["kind"], team, model, obj)
    for release_objects in rendered.chart_objects:
        for obj in release_objects.objects:
            # Keyed by release too: two charts may render objects of the same name.
            add(f"HelmRelease/{release_objects.release}/{object_id(obj)}", str(obj.get("kind", "")), None, None, obj)
    for release in rendered.releases:
        add(f"HelmRelease/{release.name}", "HelmRelease", None, None, {
            "chart": release.chart.chart, "version": release.chart.version,
            "repository": release.chart.repository, "namespace": release.namespace, "values": release.values,
        })
    cluster = dataclasses.asdict(rendered.cluster)
    node_groups = cluster.pop("node_groups")
    add(f"EksCluster/{rendered.cluster.name}", "EksCluster", None, None, cluster)
    for group in node_groups:
        add(f"NodePool/{group['pool']}", "NodePool", None, None, group)
    stack = rendered.deployment.stack
    for team in rendered.deployment.teams:
        add(f"IamRole/{team_role_name(stack, team)}", "IamRole", team.name, None, team_storage_policy(stack, team))
        if needs_secrets_role(team, rendered.deployment):
            add(f"IamRole/{team_secrets_role_name(stack, team)}", "IamRole", team.name, None,
                team_secrets_policy(stack, team))
    if stack.settings.cluster_issuer:
        add(f"IamRole/{cert_manager_role_name(stack)}", "IamRole", None, None,
            cert_manager_dns_policy(stack, gateway_dns_names(rendered.deployment)))
    return entries


def _replaces(kind: str, fields: Iterable[FieldChange]) -> bool:
    prefixes = REPLACING_FIELDS.get(kind, ())
    return any(change.path == p or change.path.startswith((p + ".", p + "[")) for change in fields for p in prefixes)


def _storage_by_model(entries: dict[str, StateEntry]) -> dict[tuple[str | None, str | None], str]:
    """The storage URI of every model's InferenceService, by (team, model)."""
    return {
        (entry.team, entry.model): entry.body["spec"]["predictor"]["model"]["storageUri"]
        for entry in entries.values()
        if entry.kind == "InferenceService"
    }


def diff_stack(
    base: RenderedStack | None,
    head: RenderedStack,
    allow_delete: bool = False,
    cost_before: Decimal | None = None,
    cost_after: Decimal | None = None,
) -> StackDiff:
    """Compare the base and head renders of one stack (``base`` None: the stack is new)."""
    before = desired_state(base) if base is not None else {}
    after = desired_state(head)
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            entry = after[key]
            changes.append(EntryChange(key, entry.kind, entry.team, entry.model, ADDED))
        elif key not in after:
            entry = before[key]
            changes.append(EntryChange(key, entry.kind, entry.team, entry.model, REMOVED))
        else:
            entry = after[key]
            fields = tuple(field_changes(before[key].body, entry.body))
            if fields:
                action = REPLACED if _replaces(entry.kind, fields) else CHANGED
                changes.append(EntryChange(key, entry.kind, entry.team, entry.model, action, fields))

    renames = _renames(before, after, changes)
    stack = head.deployment.stack
    warnings, still_present = _validation_warnings(base, head)
    errors: list[str] = []
    destructive = [c for c in changes if c.action in (REMOVED, REPLACED)]
    if destructive:
        retired = {
            (team.name, model.name)
            for team, model in _catalog_models(head.deployment)
            if model.spec.retired
        }
        unacknowledged = [c for c in destructive if (c.team, c.model) not in retired or c.model is None]
        summary = f"{len(destructive)} resource(s) deleted or replaced in stack {stack.name}"
        if stack.is_prod and unacknowledged and not allow_delete:
            names = ", ".join(c.key for c in unacknowledged[:5]) + (" ..." if len(unacknowledged) > 5 else "")
            errors.append(
                f"{summary} ({names}) in a prod stack need acknowledging: keep a removed model's file "
                "with retired: true for one release, or pass --allow-delete (the allow-prod-delete label)"
            )
        else:
            how = " (acknowledged)" if stack.is_prod else ""
            warnings.append(f"{summary}{how}")
    if base is not None:
        warnings.extend(_critical_warnings(base.deployment, head.deployment))
    errors.extend(_first_canary_errors(before, head.deployment))
    return StackDiff(
        stack=stack.name,
        environment=stack.settings.environment,
        changes=tuple(changes),
        renames=tuple(renames),
        warnings=tuple(warnings),
        still_present=tuple(still_present),
        errors=tuple(errors),
        cost_before=cost_before,
        cost_after=cost_after,
        new_stack=base is None,
    )


def _validation_warnings(base: RenderedStack | None, head: RenderedStack) -> tuple[list[str], list[str]]:
    """The head's validation warnings (those ``validate`` prints), split into the ones this change
    brings and the ones the base already had. A warning whose text changed (a pool now short by more
    GPUs) is new: the change made it worse."""
    had = {(w.field, w.message) for w in base.deployment.warnings} if base is not None else set()
    new, still = [], []
    for warning in head.deployment.warnings:
        (still if (warning.field, warning.message) in had else new).append(str(warning))
    return new, still


def _first_canary_errors(before: dict[str, StateEntry], head: StackDeployment) -> list[str]:
    """A canary on a model the base does not run in the stack would get all of its traffic."""
    errors = []
    for model in head.models:
        if model.spec.canary is None:
            continue
        if f"InferenceService/{model.namespace}/{model.name}" not in before:
            errors.append(str(Problem(model.model.source, "canary", first_canary_message(model, head.stack))))
    return errors


def _catalog_models(deployment: StackDeployment):
    for team in deployment.teams:
        for model in team.models:
            yield team, model


def _renames(before: dict[str, StateEntry], after: dict[str, StateEntry], changes: list[EntryChange]) -> list[tuple[str, str]]:
    """A model removed and another added with the same artifacts, in the same team: a rename.
    Matched through an index of the added models by (team, storage), so a thousand renames cost a
    thousand lookups, not a million comparisons."""
    removed = sorted({(c.team, c.model) for c in changes if c.action == REMOVED and c.model})
    added = sorted({(c.team, c.model) for c in changes if c.action == ADDED and c.model})
    storage_before, storage_after = _storage_by_model(before), _storage_by_model(after)
    added_by_storage: dict[tuple[str | None, str], list[str]] = {}
    for team, new in added:
        storage = storage_after.get((team, new))
        if storage is not None:
            added_by_storage.setdefault((team, storage), []).append(new)
    renames = []
    for team, old in removed:
        storage = storage_before.get((team, old))
        candidates = added_by_storage.get((team, storage), []) if storage is not None else []
        if candidates:
            # The first by name; an added model is the new name of one removed model at most.
            renames.append((f"{team}/{old}", f"{team}/{candidates.pop(0)}"))
    return renames


def _critical_warnings(base: StackDeployment, head: StackDeployment) -> list[str]:
    if not head.stack.is_prod:
        return []
    now = {(m.team.name, m.name): m for m in head.models}
    warnings = []
    for model in base.models:
        if not (model.spec.critical and model.min_replicas >= 1):
            continue
        current = now.get((model.team.name, model.name))
        if current is None or current.min_replicas == 0:
            warnings.append(
                f"critical model {model.team.name}/{model.name} loses its always-on replicas in "
                f"stack {head.stack.name} ({model.min_replicas} -> {current.min_replicas if current else 'removed'})"
            )
    return warnings


def diff_as_dict(diff: StackDiff) -> dict[str, Any]:
    return {
        "stack": diff.stack,
        "environment": diff.environment,
        "new_stack": diff.new_stack,
        "added": diff.count(ADDED),
        "changed": diff.count(CHANGED),
        "replaced": diff.count(REPLACED),
        "removed": diff.count(REMOVED),
        "cost_delta_monthly": float(round(diff.cost_delta, 2)) if diff.cost_delta is not None else None,
        "renames": [{"from": a, "to": b} for a, b in diff.renames],
        "warnings": list(diff.warnings),
        "warnings_still_present": list(diff.still_present),
        "errors": list(diff.errors),
        "changes": [
            {
                "key": c.key, "kind": c.kind, "team": c.team, "model": c.model, "action": c.action,
                "fields": [
                    {"path": f.path, "action": f.action, "before": f.before, "after": f.after} for f in c.fields
                ],
            }
            for c in diff.changes
        ],
    }


def summary_line(diff: StackDiff) -> str:
    counts = f"+{diff.count(ADDED)} ~{diff.count(CHANGED, REPLACED)} -{diff.count(REMOVED)}"
    cost = ""
    if diff.cost_delta is not None:
        sign = "+" if diff.cost_delta >= 0 else "-"
        cost = f", cost {sign}${abs(diff.cost_delta):,.2f}/month"
    flags = ""
    if diff.errors:
        flags = f", {len(diff.errors)} error(s)"
    elif diff.warnings:
        flags = f", {len(diff.warnings)} warning(s)"
    if diff.still_present and not diff.errors:
        flags += f", {len(diff.still_present)} warning(s) still present"
    new = " (new stack)" if diff.new_stack else ""
    return f"stack {diff.stack} ({diff.environment}){new}: {counts}{cost}{flags}"


def _groups(diff: StackDiff) -> dict[tuple[str, str], list[EntryChange]]:
    groups: dict[tuple[str, str], list[EntryChange]] = {}
    for change in sorted(diff.changes, key=lambda c: (c.team is not None, c.team or "", c.model or "", c.key)):
        groups.setdefault((change.team or "platform", change.model or ""), []).append(change)
    return groups


def format_diff_text(diff: StackDiff) -> str:
    lines = [escape_controls(summary_line(diff))]
    for error in diff.errors:
        lines.append(f"  ERROR: {escape_controls(error)}")
    for warning in diff.warnings:
        lines.append(f"  WARNING: {escape_controls(warning)}")
    for warning in diff.still_present:
        lines.append(f"  STILL PRESENT: {escape_controls(warning)}")
    for old, new in diff.renames:
        lines.append(f"  RENAMED: {old} -> {new} (its resources are deleted and created again)")
    groups = {
        group: [
            [f"{_SYMBOL[c.action]} {escape_controls(c.key)}"] + [line for f in c.fields for line in field_format.text_lines(f)]
            for c in changes
        ]
        for group, changes in _groups(diff).items()
    }
    lines += grouped_lines(groups)
    return "\n".join(lines) + "\n"


def format_diff_markdown(diff: StackDiff, details: bool = True) -> str:
    lines = [f"**{markdown.text(summary_line(diff))}**", ""]
    lines += [f"- :x: {markdown.text(error)}" for error in diff.errors]
    lines += [f"- :warning: {markdown.text(warning)}" for warning in diff.warnings]
    if diff.still_present:
        lines += markdown.folded(
            f"{len(diff.still_present)} warning(s) still present (the base has them too)",
            [f"- {markdown.text(warning)}" for warning in diff.still_present],
        )
    lines += [
        f"- :recycle: renamed {markdown.text(old)} → {markdown.text(new)} (its resources are deleted and created again)"
        for old, new in diff.renames
    ]
    if details and diff.changes:
        lines += ["", "<details><summary>Changes</summary>", ""]
        for (team, model), changes in _groups(diff).items():
            lines.append(f"**{markdown.text(team + (' / ' + model if model else ''))}**")
            lines.append("")
            for change in changes:
                lines.append(f"- `{_SYMBOL[change.action]}` {markdown.code(change.key)}")
                for fc in change.fields:
                    lines += markdown.indented(field_format.markdown_lines(fc), "  ")
            lines.append("")
        lines.append("</details>")
    return "\n".join(lines) + "\n"

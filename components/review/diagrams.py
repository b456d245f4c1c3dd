"""Mermaid diagrams for the review comment and ``plan --format markdown`` (GitHub renders a
```` ```mermaid ```` block as a picture): the gateway's routes to teams and models, and each
pool's nodes with the replicas packed onto them.

Every label goes through :func:`label`: each character outside a small safe set becomes a Mermaid
entity code (``#60;``), which Mermaid turns into a character reference (``&#60;``) in its SVG, never
markup (encodeEntities and decodeEntities, packages/mermaid/src/utils.ts:896-928, applied in
Diagram.ts:20 and mermaidAPI.ts:202 @ mermaid@11.14.0).
So no value can close a label or a block, start a directive (``%%{``), inject HTML or, having no
backtick left, close the Markdown fence around the block. Node ids are generated from positions
(``t0m3``), never from names, so they are unique, deterministic and no keyword.

Sizes are bounded: a routes diagram draws every model up to ``MAX_ROUTED_MODELS``; beyond, each
team draws its first ``MODELS_PER_TEAM_WHEN_FOLDED`` models (changed ones first) and one box
counting the rest, and teams beyond ``MAX_TEAMS`` fold into one box. A pool diagram draws the
nodes of ``components.review.pool_pictures`` (capped there).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping, Sequence

from components.catalog.deployed import DeployedModel, StackDeployment
from components.review import markdown
from components.review.diff import StackDiff
from components.review.field_changes import escape_controls
from components.review.packing import Packing
from components.review.pool_pictures import (
    MAX_UNPLACED_SHOWN, NodePicture, PoolPicture, changed_pools, gpu_label, stack_pictures, usage_label,
)

MAX_ROUTED_MODELS = 60
MODELS_PER_TEAM_WHEN_FOLDED = 3
MAX_TEAMS = 12
NODES_PER_ROW = 4
# No ':' (nor ';', '#'): before parsing, Mermaid cuts the last ';' of any text matching
# /style.*:\S*#.*;/ (encodeEntities, packages/mermaid/src/utils.ts:896-903 @ mermaid@11.14.0), which
# would break the entity code of a label such as "style-transfer: #215;2".
_SAFE = re.compile(r"[A-Za-z0-9 ._/,()+=-]")
BREAK = "<br/>"
# Mermaid wraps a label at 200 px by default, which breaks "team/model x2" lines in two.
WIDE_LABELS = '%%{init: {"flowchart": {"wrappingWidth": 320}}}%%'

# Fill, stroke and text colour together, so the diagram reads the same in GitHub's light and
# dark themes.
_CLASSES = {
    "gateway": "fill:#1f3b5c,stroke:#1f3b5c,color:#ffffff",
    "team": "fill:#e8eef6,stroke:#1f3b5c,color:#111111",
    "alwaysOn": "fill:#dff2e1,stroke:#2e7d32,color:#111111",
    "scaleToZero": "fill:#f4f4f4,stroke:#757575,color:#111111,stroke-dasharray:5 3",
    "canary": "fill:#fff4d6,stroke:#b26a00,color:#111111,stroke-dasharray:2 2",
    "changed": "stroke:#d4380d,stroke-width:3px",
    "folded": "fill:#ffffff,stroke:#9e9e9e,color:#333333,stroke-dasharray:1 3",
    "node": "fill:#eef4ff,stroke:#3b5b92,color:#111111",
    "platform": "fill:#ececec,stroke:#757575,color:#333333",
    "empty": "fill:#ffffff,stroke:#3b5b92,color:#555555,stroke-dasharray:4 3",
    "unplaced": "fill:#fde2e1,stroke:#c62828,color:#111111",
}


_COLUMN_STYLE = "fill:#f7f9fc,stroke:#9aa5b1,color:#111111"


def label(value: str) -> str:
    """``value`` as Mermaid label text: safe characters as they are, every other one as an
    entity code."""
    return "".join(char if _SAFE.fullmatch(char) else f"#{ord(char)};" for char in escape_controls(value))


def _box(node_id: str, lines: Sequence[str], shape: tuple[str, str] = ("[", "]")) -> str:
    text = BREAK.join(label(line) for line in lines)
    return f'{node_id}{shape[0]}"{text}"{shape[1]}'


def _class_lines(used: set[str]) -> list[str]:
    return [f"classDef {name} {style}" for name, style in _CLASSES.items() if name in used]


def fenced(diagram: list[str]) -> list[str]:
    """A diagram as a Markdown ``mermaid`` block."""
    return markdown.code_block(diagram, info="mermaid")


def _replicas_text(model: DeployedModel) -> str:
    if model.scales_to_zero:
        return f"scale to zero, up to {model.max_replicas}"
    if model.min_replicas == model.max_replicas:
        return f"always-on, {model.min_replicas} replica{'s' if model.min_replicas > 1 else ''}"
    return f"always-on, {model.min_replicas}-{model.max_replicas} replicas"


def _route_text(model: DeployedModel) -> str:
    return model.route_path if model.route_path is not None else f"gRPC host {model.host}"


def routes_diagram(deployment: StackDeployment, teams: set[str] | None = None,
                   changed: Mapping[str, str] = MappingProxyType({})) -> list[str]:
    """The gateway, its teams (all, or only ``teams``) and their models by route; a model whose
    ``team/model`` is in ``changed`` is outlined and its name followed by the value (``added``,
    ``changed``)."""
    settings = deployment.stack.settings
    scheme = "https" if settings.gateway.tls else "http"
    lines = ["flowchart LR", "  " + _box("gw", [f"gateway {scheme}://{settings.domain}"], ("([", "])"))]
    used = {"gateway", "team"}
    shown_teams = [team for team in deployment.teams if teams is None or team.name in teams]
    models = {team.name: list(deployment.models_of(team)) for team in shown_teams}
    folding = sum(len(group) for group in models.values()) > MAX_ROUTED_MODELS
    drawn_teams = shown_teams[:MAX_TEAMS] if folding else shown_teams
    for t, team in enumerate(drawn_teams):
        team_id = f"t{t}"
        lines.append("  " + _box(team_id, [f"team {team.name}", f"namespace {team.namespace}"]))
        lines.append(f"  gw --> {team_id}")
        own = models[team.name]
        if folding:
            own = sorted(own, key=lambda m: f"{m.team.name}/{m.name}" not in changed)
            own, rest = own[:MODELS_PER_TEAM_WHEN_FOLDED], own[MODELS_PER_TEAM_WHEN_FOLDED:]
        else:
            rest = []
        for m, model in enumerate(own):
            model_id = f"{team_id}m{m}"
            kind = "scaleToZero" if model.scales_to_zero else "alwaysOn"
            change = changed.get(f"{team.name}/{model.name}")
            classes = [kind] + (["changed"] if change else [])
            title = f"{model.name} ({change})" if change else model.name
            lines.append("  " + _box(model_id, [title, _replicas_text(model)]))
            lines.append(f'  {team_id} -->|"{label(_route_text(model))}"| {model_id}')
            # One class a statement: "class a b,c" would name one class "b,c".
            lines += [f"  class {model_id} {css}" for css in classes]
            used.update(classes)
            canary = model.spec.canary
            if canary is not None:
                version = f" {canary.version}" if canary.version else ""
                lines.append("  " + _box(f"{model_id}c", [f"canary{version}", f"{canary.traffic_percent}% of requests"]))
                share = label(f"{canary.traffic_percent}%")
                lines.append(f'  {model_id} -.->|"{share}"| {model_id}c')
                lines.append(f"  class {model_id}c canary")
                used.add("canary")
        if rest:
            always_on = sum(1 for model in rest if not model.scales_to_zero)
            lines.append("  " + _box(f"{team_id}more", [
                f"+{len(rest)} more models", f"{always_on} always-on, {len(rest) - always_on} scale to zero"]))
            lines.append(f"  {team_id} --> {team_id}more")
            lines.append(f"  class {team_id}more folded")
            used.add("folded")
        lines.append(f"  class {team_id} team")
    folded_teams = shown_teams[len(drawn_teams):]
    if folded_teams:
        count = sum(len(models[team.name]) for team in folded_teams)
        lines.append("  " + _box("moreteams", [f"+{len(folded_teams)} more teams", f"{count} models"]))
        lines += ["  gw --> moreteams", "  class moreteams folded"]
        used.add("folded")
    lines.append("  class gw gateway")
    return lines + ["  " + line for line in _class_lines(used)]


def _node_lines(node: NodePicture, picture: PoolPicture) -> list[str]:
    if node.platform:
        # The packing counts a system-pool floor node as full: the add-ons run there.
        return [f"node {node.number}", "platform add-ons"]
    usage = [usage_label(r, node.used.get(r, 0), picture.offer[r]) for r in picture.resources]
    lines = [f"node {node.number}", *usage]
    shown, folded = node.shown_groups()
    for group in shown:
        gpu = gpu_label(group.demand)
        lines.append(f"{group.owner} \u00d7{group.count}" + (f" ({gpu})" if gpu else ""))
    if folded:
        lines.append(f"+{folded} more replicas")
    if not node.groups:
        lines.append("empty (pool floor)")
    return lines


def _grid_links(ids: list[str]) -> list[tuple[str, str]]:
    """Invisible links that lay boxes out ``NODES_PER_ROW`` to a row: each box over the one below
    it, and a box with none below over the last box, or the layout would sink it to the last row."""
    links = []
    last_row_start = (len(ids) - 1) // NODES_PER_ROW * NODES_PER_ROW
    for i in range(last_row_start):
        links.append((ids[i], ids[min(i + NODES_PER_ROW, len(ids) - 1)]))
    return links


def pool_diagram(columns: Sequence[tuple[str, PoolPicture | None]]) -> list[str]:
    """One pool, drawn once per column (``always-on`` and ``peak``, or ``before`` and ``after``):
    each node a box with what its replicas request of it and the models on it, four to a row.
    A column whose picture is ``None`` says the pool is not there."""
    lines = [WIDE_LABELS, "flowchart TB"]
    used: set[str] = set()
    for c, (title, picture) in enumerate(columns):
        column = f"c{c}"
        if picture is None:
            lines.append(f'  subgraph {column}["{label(title)}"]')
            lines += [f'    {column}none["{label("no such pool")}"]', f"    class {column}none folded", "  end",
                      f"  style {column} {_COLUMN_STYLE}"]
            used.add("folded")
            continue
        heading = (f"{title}: {picture.node_count} x {picture.instance_type} "
                   f"(pool {picture.pool}, {picture.min_size}-{picture.max_size} nodes)")
        lines += [f'  subgraph {column}["{label(heading)}"]', "    direction TB"]
        ids = []
        for node in picture.nodes:
            node_id = f"{column}n{node.number}"
            ids.append(node_id)
            lines.append("    " + _box(node_id, _node_lines(node, picture)))
            kind = "platform" if node.platform else "node" if node.groups else "empty"
            lines.append(f"    class {node_id} {kind}")
            used.add(kind)
        if picture.hidden_nodes:
            ids.append(f"{column}more")
            lines.append("    " + _box(f"{column}more", [f"+{picture.hidden_nodes} more nodes",
                                                         f"{picture.hidden_replicas} replicas"]))
            lines.append(f"    class {column}more folded")
            used.add("folded")
        if picture.unplaced:
            ids.append(f"{column}unplaced")
            fits_nowhere = [f"{owner} \u00d7{count}" for owner, count in picture.unplaced[:MAX_UNPLACED_SHOWN]]
            more = len(picture.unplaced) - len(fits_nowhere)
            lines.append("    " + _box(f"{column}unplaced", ["does not fit", *fits_nowhere]
                                       + ([f"+{more} more models"] if more else [])))
            lines.append(f"    class {column}unplaced unplaced")
            used.add("unplaced")
        lines += [f"    {above} ~~~ {below}" for above, below in _grid_links(ids)]
        lines += ["  end", f"  style {column} {_COLUMN_STYLE}"]
    # Columns one under the other, in order.
    lines += [f"  c{c - 1} ~~~ c{c}" for c in range(1, len(columns))]
    return lines + ["  " + line for line in _class_lines(used)]


def change_diagrams(diff: StackDiff, head: StackDeployment, head_packings: Sequence[Packing],
                    base: StackDeployment | None, base_packings: Sequence[Packing]) -> list[str]:
    """The review's pictures of one stack's change, as folded Markdown: the routes of the teams
    the change touches (changed models outlined), and each pool whose packing changes, before and
    after, at each state where it changes. Nothing for a change that touches neither."""
    lines: list[str] = []
    # Teams the change touches that still exist (a removed team's objects are in the diff).
    teams = {team.name for team in head.teams} & {change.team for change in diff.changes if change.team is not None}
    if teams:
        before = {f"{m.team.name}/{m.name}" for m in base.models} if base is not None else set()
        changed = {owner: "changed" if owner in before else "added"
                   for owner in (f"{c.team}/{c.model}" for c in diff.changes if c.model is not None)}
        lines += ["", *markdown.folded(f"Routes of the teams changed ({len(teams)})",
                                       fenced(routes_diagram(head, teams, changed)))]
    old = {packing.state: packing for packing in base_packings}
    columns: dict[str, list[tuple[str, PoolPicture | None]]] = {}
    for packing in head_packings:
        before = old.get(packing.state) if base is not None else None
        after_pictures = {p.pool: p for p in stack_pictures(packing, head)}
        before_pictures = {p.pool: p for p in stack_pictures(before, base)} if before and base else {}
        for pool in changed_pools(before, packing):
            columns.setdefault(pool, []).extend([
                (f"before, {packing.state}", before_pictures.get(pool)),
                (f"after, {packing.state}", after_pictures[pool]),
            ])
    for pool, pool_columns in sorted(columns.items()):
        lines += ["", *markdown.folded(f"Pool {pool}: nodes before and after", fenced(pool_diagram(pool_columns)))]
    return lines

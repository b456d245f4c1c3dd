"""``plan --format svg``: the pool picture of ``components.review.diagrams`` as one standalone SVG.

Pure string building through ``xml.etree`` (which escapes every text and attribute), so a model
name cannot add markup. Per pool and state (always-on, peak) a row of nodes; in each node one bar
per resource (CPU, memory, GPUs or each MIG profile), split into one segment per model, as wide as
the share of the node its replicas request; then the models with their replica counts, coloured
by team. Sizes come from the same pictures as the Mermaid diagrams (capped there). Deterministic:
fixed order, fixed number formats.
"""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Sequence

from components.catalog.deployed import StackDeployment
from components.review.field_changes import escape_controls
from components.review.packing import Packing
from components.review.pool_pictures import (
    MAX_GROUPS_PER_NODE, MAX_UNPLACED_SHOWN, NodePicture, PoolPicture, gpu_label, pictures_by_pool, usage_label,
)

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
NODES_PER_ROW = 3  # 878 px wide: GitHub shows it unscaled in a README
MARGIN = 20
NODE_WIDTH = 270
NODE_GAP = 14
BAR_WIDTH = 246  # NODE_WIDTH less the node's padding on both sides
PADDING = 12
LINE = 16
BAR_HEIGHT = 7
SEGMENT_GAP = 0.5  # a white line between two models' segments of a bar
# At 12 px, about this many characters fit in a node; longer names are cut (the full one is the
# text's tooltip).
MAX_CHARS = 37
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
# Tableau 10: distinct for the common colour-vision deficiencies, all readable beside dark text.
TEAM_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
TEXT = "#1b1b1b"
MUTED = "#555555"


def _clean(value: str) -> str:
    """One line of text XML 1.0 can hold: control characters as escapes, no surrogates."""
    return "".join(c for c in escape_controls(value) if unicodedata.category(c) != "Cs" and c not in "\ufffe\uffff")


def _cut(value: str) -> str:
    return value if len(value) <= MAX_CHARS else value[: MAX_CHARS - 1] + "\u2026"


def _number(value: float | Decimal) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def _text(parent: ET.Element, x: float, y: float, value: str, size: int = 12, weight: str = "normal",
          colour: str = TEXT, cut: bool = True) -> ET.Element:
    """A line of text; in a node (``cut``) a long one is shortened, the whole as its tooltip."""
    value = _clean(value)
    element = ET.SubElement(parent, "text", {"x": _number(x), "y": _number(y), "font-size": str(size),
                                             "font-weight": weight, "fill": colour})
    shown = _cut(value) if cut else value
    element.text = shown
    if shown != value:
        ET.SubElement(element, "title").text = value
    return element


def _rect(parent: ET.Element, x: float, y: float, width: float, height: float, fill: str,
          stroke: str = "none", **extra: str) -> ET.Element:
    attributes = {"x": _number(x), "y": _number(y), "width": _number(width), "height": _number(height),
                  "fill": fill, "stroke": stroke}
    attributes.update({key.replace("_", "-"): value for key, value in extra.items()})
    return ET.SubElement(parent, "rect", attributes)


def _node_lines(node: NodePicture | None, picture: PoolPicture) -> int:
    """Text lines a node box holds (its title, a label per resource, its models)."""
    if node is None or node.platform or not node.groups:
        return 2
    groups = min(len(node.groups), MAX_GROUPS_PER_NODE) + (1 if len(node.groups) > MAX_GROUPS_PER_NODE else 0)
    return 1 + len(picture.resources) + groups


def _node_height(lines: int, resources: int) -> int:
    return PADDING * 2 + lines * LINE + resources * (BAR_HEIGHT + 3)


def _draw_node(parent: ET.Element, x: float, y: float, height: float, node: NodePicture, picture: PoolPicture,
               state: str, colours: dict[str, str]) -> None:
    box = ET.SubElement(parent, "g", {"class": "node", "data-pool": picture.pool, "data-state": state,
                                      "data-node": str(node.number)})
    if node.platform:
        _rect(box, x, y, NODE_WIDTH, height, "#ececec", "#757575", rx="6")
        _text(box, x + PADDING, y + PADDING + 12, f"node {node.number}", weight="bold", colour=MUTED)
        _text(box, x + PADDING, y + PADDING + 12 + LINE, "platform add-ons", colour=MUTED)
        return
    dashed = {} if node.groups else {"stroke_dasharray": "5 3"}
    _rect(box, x, y, NODE_WIDTH, height, "#ffffff", "#3b5b92", rx="6", **dashed)
    cursor = y + PADDING + 12
    _text(box, x + PADDING, cursor, f"node {node.number}", weight="bold")
    if not node.groups:
        _text(box, x + PADDING, cursor + LINE, "empty (pool floor)", colour=MUTED)
        return
    for resource in picture.resources:
        offered = picture.offer[resource]
        cursor += LINE
        _text(box, x + PADDING, cursor, usage_label(resource, node.used.get(resource, Decimal(0)), offered), size=11)
        bar = ET.SubElement(box, "g", {"class": "bar", "data-resource": resource})
        _rect(bar, x + PADDING, cursor + 4, BAR_WIDTH, BAR_HEIGHT, "#e6e6e6")
        left = Decimal(x + PADDING)
        for group in node.groups:
            amount = group.demand.get(resource, Decimal(0)) * group.count
            if not amount or not offered:
                continue
            width = Decimal(BAR_WIDTH) * amount / offered
            _rect(bar, left, cursor + 4, width, BAR_HEIGHT, colours[group.team], "#ffffff", stroke_width=_number(SEGMENT_GAP),
                  **{"class": "segment", "data-owner": _clean(group.owner)})
            left += width
        cursor += BAR_HEIGHT + 3
    shown, folded = node.shown_groups()
    for group in shown:
        cursor += LINE
        _rect(box, x + PADDING, cursor - 9, 10, 10, colours[group.team], rx="2")
        gpu = gpu_label(group.demand)
        _text(box, x + PADDING + 15, cursor, f"{group.owner} \u00d7{group.count}" + (f" ({gpu})" if gpu else ""))
    if folded:
        cursor += LINE
        _text(box, x + PADDING, cursor, f"+{folded} more replicas", colour=MUTED)


def _draw_note(parent: ET.Element, x: float, y: float, height: float, lines: list[str], fill: str, stroke: str) -> None:
    _rect(parent, x, y, NODE_WIDTH, height, fill, stroke, rx="6", stroke_dasharray="2 3")
    for index, line in enumerate(lines):
        _text(parent, x + PADDING, y + PADDING + 12 + index * LINE, line, weight="bold" if index == 0 else "normal")


def pools_svg(title: str, pools: Sequence[tuple[str, Sequence[tuple[str, PoolPicture]]]], teams: Sequence[str]) -> str:
    """The SVG document: ``pools`` is (pool name, [(state, picture), ...]) in drawing order;
    ``teams`` fixes each team's colour (by position)."""
    colours = {team: TEAM_COLOURS[index % len(TEAM_COLOURS)] for index, team in enumerate(teams)}
    root = ET.Element("svg", {"xmlns": SVG_NAMESPACE, "font-family": FONT})
    background = _rect(root, 0, 0, 0, 0, "#ffffff")
    body = ET.SubElement(root, "g")
    y = MARGIN + 16
    _text(body, MARGIN, y, title, size=16, weight="bold", cut=False)
    y += 24
    x = MARGIN
    for team in teams:
        _rect(body, x, y - 10, 12, 12, colours[team], rx="2")
        _text(body, x + 17, y, team, cut=False)
        x += 17 + 7 * len(_clean(team)) + 20
    width = max(x, MARGIN * 2 + NODES_PER_ROW * NODE_WIDTH + (NODES_PER_ROW - 1) * NODE_GAP)
    y += 20
    for pool_name, states in pools:
        y += 22
        _text(body, MARGIN, y, f"pool {pool_name}", size=15, weight="bold", cut=False)
        for state, picture in states:
            y += 24
            _text(body, MARGIN, y, f"{state}: {picture.node_count} x {picture.instance_type} "
                  f"({picture.min_size}-{picture.max_size} nodes)", size=13, colour=MUTED, cut=False)
            y += 10
            boxes: list[NodePicture | list[str]] = list(picture.nodes)
            if picture.hidden_nodes:
                boxes.append([f"+{picture.hidden_nodes} more nodes", f"{picture.hidden_replicas} replicas"])
            if picture.unplaced:
                more = len(picture.unplaced) - MAX_UNPLACED_SHOWN
                boxes.append(["does not fit", *(f"{owner} \u00d7{count}" for owner, count in picture.unplaced[:MAX_UNPLACED_SHOWN])]
                             + ([f"+{more} more models"] if more > 0 else []))
            lines = max([_node_lines(b, picture) if isinstance(b, NodePicture) else len(b) for b in boxes] or [1])
            height = _node_height(lines, len(picture.resources))
            for index, item in enumerate(boxes):
                column, row = index % NODES_PER_ROW, index // NODES_PER_ROW
                box_x = MARGIN + column * (NODE_WIDTH + NODE_GAP)
                box_y = y + row * (height + NODE_GAP)
                if isinstance(item, NodePicture):
                    _draw_node(body, box_x, box_y, height, item, picture, state, colours)
                elif item[0] == "does not fit":
                    _draw_note(body, box_x, box_y, height, item, "#fde2e1", "#c62828")
                else:
                    _draw_note(body, box_x, box_y, height, item, "#ffffff", "#9e9e9e")
            rows = max(1, -(-len(boxes) // NODES_PER_ROW))
            y += rows * (height + NODE_GAP)
    height = y + MARGIN
    size = {"width": str(width), "height": _number(height)}
    root.attrib.update({**size, "viewBox": f"0 0 {width} {_number(height)}"})
    background.attrib.update(size)
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="unicode") + "\n"


def stack_pools_svg(deployment: StackDeployment, packings: Sequence[Packing]) -> str:
    """The SVG of every pool of the deployment's stack at each of ``packings`` (always-on, peak)."""
    title = f"stack {deployment.stack.name}: nodes per pool at " + " and ".join(p.state for p in packings) + " replicas"
    return pools_svg(title, pictures_by_pool(deployment, packings), [team.name for team in deployment.teams])

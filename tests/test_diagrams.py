"""The pictures: Mermaid diagrams of the routes and pools (review, ``plan --format markdown``) and
the pool SVG (``plan --format svg``): every model drawn, hostile text escaped, ids unique, output
deterministic, sizes capped, bars as wide as the packing says."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from benchmarks.synthetic_catalog import write_synthetic_catalog
from components.catalog import load_catalog, load_stack, resolve_deployment
from components.cli.main import main
from components.review.diagrams import MAX_ROUTED_MODELS, MAX_TEAMS, MODELS_PER_TEAM_WHEN_FOLDED, fenced, label
from components.review.diagrams import pool_diagram, routes_diagram
from components.review.field_changes import escape_controls
from components.review.packing import pack_stack
from components.review.pool_pictures import (
    MAX_NODES_SHOWN, NodePicture, PoolPicture, ReplicaGroup, pictures_by_pool, stack_pictures,
)
from components.review.pool_svg import BAR_WIDTH, SVG_NAMESPACE, pools_svg, stack_pools_svg
from tests.conftest import FIXTURE_STACKS, MODELS_DIR, STACK_CONFIG, STACKS_DIR, Workspace, git

SYSTEM = STACK_CONFIG["modelplane:node_pools"]["system"]
BOX = re.compile(r'^\s+(\w+)(?:\[|\(\[)"([^"]*)"(?:\]|\]\))$')
EDGE = re.compile(r'^\s+(\w+) (?:-->|-\.->)(?:\|"([^"]*)"\|)? (\w+)$')
SAFE_LABEL = re.compile(r"(?:[A-Za-z0-9 ._/,()+=-]|#\d+;|<br/>)*")
HOSTILE = [
    'a"]; click gw call alert(1) %%',
    "%%{init: {'securityLevel': 'loose'}}%%",
    "<img src=x onerror=alert(1)><b>bold</b>&amp;",
    "```\n# heading\n<!-- hidden",
    "end\nsubgraph x\r\u2028tail",
    "#quot;#35; entity codes",
    "\u00e9\u00e8 \u4e2d\u6587 \U0001F680",
    "style-transfer: #215;2 classDef x fill:#f00;",
]


def fixture_deployment(stack: str = "prod"):
    return resolve_deployment(load_catalog(MODELS_DIR), load_stack(STACKS_DIR, stack), list(FIXTURE_STACKS))


def deployment_of(workspace: Workspace, stack: str = "dev"):
    return resolve_deployment(load_catalog(workspace.models), load_stack(workspace.stacks, stack), [stack])


def decoded(text: str) -> str:
    """A Mermaid label as the reader sees it (entity codes back to characters)."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text.replace("<br/>", "\n"))


def boxes(diagram: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in diagram:
        match = BOX.match(line)
        if match:
            assert match.group(1) not in found, f"id {match.group(1)} defined twice"
            found[match.group(1)] = decoded(match.group(2))
    return found


def classes(diagram: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in diagram:
        parts = line.split()
        if parts[:1] == ["class"]:
            found.setdefault(parts[1], set()).add(parts[2])
    return found


def test_routes_diagram_draws_every_model_by_route_always_on_or_scale_to_zero_and_canaries():
    deployment = fixture_deployment()
    assert len(deployment.models) <= MAX_ROUTED_MODELS
    diagram = routes_diagram(deployment)
    drawn = boxes(diagram)
    kinds = classes(diagram)
    edges = {(m.group(1), m.group(3)): decoded(m.group(2) or "") for m in map(EDGE.match, diagram) if m}
    by_name = {text.split("\n")[0]: node_id for node_id, text in drawn.items()}
    for model in deployment.models:
        node_id = by_name[model.name]
        team_id = by_name[f"team {model.team.name}\nnamespace {model.namespace}".split("\n")[0]]
        assert drawn[team_id] == f"team {model.team.name}\nnamespace {model.namespace}"
        route = model.route_path if model.route_path is not None else f"gRPC host {model.host}"
        assert edges[(team_id, node_id)] == route
        assert ("gw", team_id) in edges
        assert kinds[node_id] == {"scaleToZero" if model.min_replicas == 0 else "alwaysOn"}
        if model.spec.canary is not None:
            assert drawn[f"{node_id}c"].endswith(f"\n{model.spec.canary.traffic_percent}% of requests")
            assert edges[(node_id, f"{node_id}c")] == f"{model.spec.canary.traffic_percent}%"
    assert sum(1 for text in drawn.values() if text.startswith("canary")) == sum(
        1 for model in deployment.models if model.spec.canary is not None) > 0
    assert routes_diagram(fixture_deployment()) == diagram


@pytest.mark.parametrize("value", HOSTILE)
def test_a_label_holds_only_safe_characters_and_entity_codes_and_reads_back_as_written(value):
    text = label(value)
    assert SAFE_LABEL.fullmatch(text), text
    assert not set('"`[]{}<>%;|\n\r') & set(re.sub(r"#\d+;", "", text))
    assert decoded(text) == escape_controls(value)


def hostile_picture(owner: str) -> PoolPicture:
    demand = {"cpu": Decimal("1.5"), "memory": Decimal(2 * 2**30), "nvidia.com/mig-1g.10gb": Decimal(1)}
    node = NodePicture(1, (ReplicaGroup(owner, 2, demand),), {r: a * 2 for r, a in demand.items()}, platform=False)
    return PoolPicture(
        pool="mig", instance_type="p5.48xlarge", min_size=0, max_size=2,
        offer={"cpu": Decimal(190), "memory": Decimal(2000 * 2**30), "nvidia.com/mig-1g.10gb": Decimal(56)},
        node_count=1, nodes=(node,), hidden_replicas=0, unplaced=((owner, 3),),
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_cannot_break_out_of_a_pool_diagram_or_its_markdown_fence(value):
    owner = f"team/{value}"
    block = fenced(pool_diagram([("before", None), ("after", hostile_picture(owner))]))
    assert block[0] == "```mermaid" and block[-1] == "```"
    inner = block[1:-1]
    assert not any("`" in line or line.lstrip().startswith("%%{") and "wrappingWidth" not in line for line in inner)
    for line in inner:
        # Every quote belongs to the diagram's syntax: an even number on each line.
        assert line.count('"') % 2 == 0, line
        for text in re.findall(r'"([^"]*)"', line):
            if "wrappingWidth" not in line:
                assert SAFE_LABEL.fullmatch(text), text
    drawn = boxes(inner)
    assert f"{escape_controls(owner)} \u00d72 (1g.10gb)" in drawn["c1n1"].split("\n")
    assert f"{escape_controls(owner)} \u00d73" in drawn["c1unplaced"].split("\n")
    assert "CPU 3.0 of 190.0" in drawn["c1n1"] and "1g.10gb 2 of 56" in drawn["c1n1"]


def test_a_large_catalog_folds_into_a_bounded_routes_diagram(tmp_path):
    teams, per_team = MAX_TEAMS + 3, 6
    assert teams * per_team > MAX_ROUTED_MODELS
    write_synthetic_catalog(tmp_path, teams=teams, models_per_team=per_team)
    deployment = resolve_deployment(load_catalog(tmp_path / "models"), load_stack(tmp_path / "stacks", "prod"),
                                    list(FIXTURE_STACKS))
    diagram = routes_diagram(deployment)
    drawn = boxes(diagram)
    team_boxes = [text for text in drawn.values() if text.startswith("team ")]
    assert len(team_boxes) == MAX_TEAMS
    models_per_team = {}
    for model in deployment.models:
        models_per_team.setdefault(model.team.name, []).append(model)
    folded_teams = sorted(models_per_team)[MAX_TEAMS:]
    hidden = sum(len(models_per_team[team]) for team in folded_teams)
    assert drawn["moreteams"] == f"+{len(folded_teams)} more teams\n{hidden} models"
    for t in range(MAX_TEAMS):
        team_models = [node for node in drawn if re.fullmatch(rf"t{t}m\d+", node)]
        assert len(team_models) == MODELS_PER_TEAM_WHEN_FOLDED
        assert drawn[f"t{t}more"].startswith(f"+{per_team - MODELS_PER_TEAM_WHEN_FOLDED} more models\n")
    # A changed model is drawn even where its team folds.
    last = sorted(models_per_team)[0]
    changed = f"{last}/{models_per_team[last][-1].name}"
    assert f"{models_per_team[last][-1].name} (changed)" in {
        text.split("\n")[0] for text in boxes(routes_diagram(deployment, changed={changed: "changed"})).values()}
    assert len("\n".join(diagram)) < 10_000


def test_a_pool_draws_its_first_nodes_and_counts_the_rest(workspace):
    workspace.team(quota={"cpu": "64", "memory": "256Gi"})
    # 3 CPU (with sidecars 3.125) fills an m6i.xlarge (3.5 allocatable): one replica a node.
    workspace.model(resources={"cpu": "3", "memory": "2Gi"}, scaling={"min_replicas": 20, "max_replicas": 20})
    workspace.stack(node_pools={"system": SYSTEM, "cpu": {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 30}})
    deployment = deployment_of(workspace)
    packing = pack_stack(deployment, "always-on")
    picture = next(p for p in stack_pictures(packing, deployment) if p.pool == "cpu")
    assert (picture.node_count, len(picture.nodes), picture.hidden_nodes) == (20, MAX_NODES_SHOWN, 20 - MAX_NODES_SHOWN)
    assert picture.hidden_replicas == 20 - MAX_NODES_SHOWN
    drawn = boxes(pool_diagram([("always-on", picture)]))
    assert drawn["c0more"] == f"+{20 - MAX_NODES_SHOWN} more nodes\n{20 - MAX_NODES_SHOWN} replicas"
    assert len([node for node in drawn if re.fullmatch(r"c0n\d+", node)]) == MAX_NODES_SHOWN
    svg = ET.fromstring(pools_svg("t", [("cpu", [("always-on", picture)])], ["fraud"]))
    assert len(svg.findall(f".//{{{SVG_NAMESPACE}}}g[@class='node']")) == MAX_NODES_SHOWN
    assert f"+{20 - MAX_NODES_SHOWN} more nodes" in [t.text for t in svg.iter(f"{{{SVG_NAMESPACE}}}text")]


def svg_bars(root: ET.Element) -> dict[tuple[str, str, str, str], list[float]]:
    """(pool, state, node, resource) -> the widths of its segments."""
    bars = {}
    for node in root.iter(f"{{{SVG_NAMESPACE}}}g"):
        if node.get("class") != "node":
            continue
        for bar in node.findall(f"{{{SVG_NAMESPACE}}}g[@class='bar']"):
            key = (node.get("data-pool"), node.get("data-state"), node.get("data-node"), bar.get("data-resource"))
            bars[key] = [float(r.get("width")) for r in bar.findall(f"{{{SVG_NAMESPACE}}}rect[@class='segment']")]
    return bars


def test_svg_bars_are_as_wide_as_the_hand_computed_packing(workspace):
    """As in test_packing: m6i.xlarge leaves 3.5 CPU; big (2.125 with sidecars) and one small
    (1.125) share node 1, two smalls node 2."""
    workspace.team()
    workspace.model(name="big", resources={"cpu": "2", "memory": "4Gi"}, scaling={"min_replicas": 1, "max_replicas": 1})
    workspace.model(name="small", scaling={"min_replicas": 3, "max_replicas": 3})
    workspace.stack(node_pools={"system": SYSTEM, "cpu": {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 4}})
    deployment = deployment_of(workspace)
    root = ET.fromstring(stack_pools_svg(deployment, [pack_stack(deployment, "always-on")]))
    bars = svg_bars(root)
    assert bars[("cpu", "always-on", "1", "cpu")] == pytest.approx([BAR_WIDTH * 2.125 / 3.5, BAR_WIDTH * 1.125 / 3.5], abs=0.01)
    # One segment per model on a node: its replicas together.
    assert bars[("cpu", "always-on", "2", "cpu")] == pytest.approx([BAR_WIDTH * 2.25 / 3.5], abs=0.01)
    texts = [t.text for t in root.iter(f"{{{SVG_NAMESPACE}}}text")]
    assert "CPU 3.3 of 3.5" in texts and "fraud/small \u00d72" in texts


def test_svg_of_the_fixture_matches_its_packing_and_is_deterministic():
    deployment = fixture_deployment()
    packings = [pack_stack(deployment, "always-on"), pack_stack(deployment, "peak")]
    text = stack_pools_svg(deployment, packings)
    assert text == stack_pools_svg(fixture_deployment(), [pack_stack(deployment, s) for s in ("always-on", "peak")])
    root = ET.fromstring(text)
    assert root.tag == f"{{{SVG_NAMESPACE}}}svg"
    bars = svg_bars(root)
    nodes = [g for g in root.iter(f"{{{SVG_NAMESPACE}}}g") if g.get("class") == "node"]
    for pool, states in pictures_by_pool(deployment, packings):
        for state, picture in states:
            drawn = [g for g in nodes if (g.get("data-pool"), g.get("data-state")) == (pool, state)]
            assert len(drawn) == min(picture.node_count, MAX_NODES_SHOWN)
            for node in picture.nodes:
                for resource in picture.resources if node.groups and not node.platform else ():
                    share = float(node.used.get(resource, 0) / picture.offer[resource])
                    assert sum(bars[(pool, state, str(node.number), resource)]) == pytest.approx(BAR_WIDTH * share, abs=0.05)


@pytest.mark.parametrize("value", HOSTILE)
def test_svg_escapes_hostile_text(value):
    owner = f"team/{value}"
    text = pools_svg(f"stack {value}", [("mig", [("peak", hostile_picture(owner))])], ["team", value])
    root = ET.fromstring(text)  # well-formed whatever the text
    tags = {element.tag.split("}")[1] for element in root.iter()}
    assert tags <= {"svg", "g", "rect", "text", "title"}
    shown = [t.text for t in root.iter(f"{{{SVG_NAMESPACE}}}text")] + [t.text for t in root.iter(f"{{{SVG_NAMESPACE}}}title")]
    assert f"stack {escape_controls(value)}" in shown
    assert any(escape_controls(owner) in (t or "") for t in shown)
    assert "<img" not in text and "<b>" not in text


def test_plan_writes_markdown_with_a_diagram_per_pool_and_a_standalone_svg(capsys):
    args = ["plan", "--stack", "prod", "--models", str(MODELS_DIR), "--stacks", str(STACKS_DIR)]
    assert main([*args, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    pools = load_stack(STACKS_DIR, "prod").settings.node_pools
    assert out.count("```mermaid\n") == 1 + len(pools)
    assert "#### Cost" in out and "<details><summary>Desired state</summary>" in out
    assert main([*args, "--format", "svg"]) == 0
    svg = capsys.readouterr().out
    assert ET.fromstring(svg).tag == f"{{{SVG_NAMESPACE}}}svg"
    assert svg == stack_pools_svg(fixture_deployment(), [pack_stack(fixture_deployment(), s) for s in ("always-on", "peak")])


def review_markdown(repo: Workspace, capsys) -> str:
    code = main(["review", "--base", "base", "--models", str(repo.models), "--stacks", str(repo.stacks)])
    assert code in (0, 3), capsys.readouterr().err
    return capsys.readouterr().out


def test_the_review_draws_only_the_pools_and_teams_a_change_touches(repo, capsys):
    assert "```mermaid" not in review_markdown(repo, capsys)
    repo.model(scaling={"min_replicas": 1})
    out = review_markdown(repo, capsys)
    # The CPU model falls back to the system pool; the GPU pools do not change.
    assert re.findall(r"<summary>(Pool [^<]*)</summary>", out) == ["Pool system: nodes before and after"]
    assert "<summary>Routes of the teams changed (1)</summary>" in out
    assert "scorer (changed)" in out
    assert out.count("```mermaid\n") == 2
    block = decoded(out[out.index("Pool system"):])
    assert '"before, always-on: 1 x m6i.large' in block and '"after, always-on: 2 x m6i.large' in block
    assert "fraud/scorer \u00d71" in block
    assert ", peak: " not in block  # max replicas unchanged: so is the peak packing


def test_the_review_marks_an_added_model_and_a_new_pool(repo, capsys):
    repo.stack(node_pools={**STACK_CONFIG["modelplane:node_pools"],
                           "cpu": {"instance_types": ["m6i.xlarge"], "min_size": 0, "max_size": 4}})
    repo.model(name="ranker")
    git(repo, "add", "-A")
    out = review_markdown(repo, capsys)
    # The new pool takes the CPU model off the system pool: scorer's InferenceService changes too.
    assert "ranker (added)" in out and "scorer (changed)" in out
    block = out[out.index("Pool cpu"):]
    assert 'c0["before, always-on"]' in block and 'c0none["no such pool"]' in block


# Mermaid's encodeEntities (packages/mermaid/src/utils.ts:896-903 @ mermaid@11.14.0) cuts the last
# ';' of any text matching these before it parses, which would break a label's entity codes.
MERMAID_STYLE_REWRITES = (re.compile(r"style.*:\S*#.*;"), re.compile(r"classDef.*:\S*#.*;"))


def all_diagrams(owner: str) -> list[list[str]]:
    deployment = fixture_deployment()
    pools = [pool_diagram(states) for _, states in pictures_by_pool(
        deployment, [pack_stack(deployment, "always-on"), pack_stack(deployment, "peak")])]
    return [routes_diagram(deployment), *pools, pool_diagram([("before", None), ("after", hostile_picture(owner))])]


@pytest.mark.parametrize("value", HOSTILE)
def test_diagrams_keep_clear_of_mermaids_contracts(value):
    for diagram in all_diagrams(f"team/{value}"):
        for line in diagram:
            statement = line.split()[0]
            # Only our own style statements may match the rewrite, and they hold no ';'.
            if statement in ("style", "classDef"):
                assert ";" not in line
            else:
                assert not any(rule.search(line) for rule in MERMAID_STYLE_REWRITES), line
            # Entity codes in decimal: encodeEntities turns #<digits>; into a character reference.
            assert all(code.isdigit() for code in re.findall(r"#(\w+);", line) if statement not in ("style", "classDef"))
            if statement == "class":
                # flowDb.setClass (packages/mermaid/src/diagrams/flowchart/flowDb.ts:462-476 @
                # mermaid@11.14.0) splits the ids on ',' and adds the rest as one class name.
                assert len(line.split()) == 3 and "," not in line.split()[2], line


def test_a_removed_team_draws_no_routes(repo, capsys):
    repo.team("risk", storage={"s3_prefixes": ["s3://models-bucket/risk/"]})
    repo.model(team="risk", name="limits", storage_uri="s3://models-bucket/risk/limits/v1/")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "risk team")
    git(repo, "tag", "-f", "base")
    for path in sorted((repo.models / "risk").iterdir()):
        path.unlink()
    (repo.models / "risk").rmdir()
    out = review_markdown(repo, capsys)
    assert "Routes of the teams changed" not in out

"""Text trees grouped by team and model, as plan and diff print them."""

from __future__ import annotations

from typing import Callable


def grouped_lines(
    groups: dict[tuple[str, str], list[list[str]]],
    team_header: Callable[[str], str] = lambda team: f"{team}:",
) -> list[str]:
    """``groups`` maps (team, model or "") to entries, each an item line and its detail lines.

    Teams are headers, models sub-headers; a team's own entries come before its models'.
    """
    lines: list[str] = []
    current_team = None
    for (team, model), entries in groups.items():
        if team != current_team:
            lines.append(f"  {team_header(team)}")
            current_team = team
        indent = "      " if model else "    "
        if model:
            lines.append(f"    model {model}:")
        for item, *details in entries:
            lines.append(indent + item)
            lines += [f"{indent}    {detail}" for detail in details]
    return lines

"""How stored things read on a terminal, shared by status, result and inspect: ages, tables,
a job's place in a workflow, what a limit holds back."""

from __future__ import annotations

from typing import Any


def render_flow(flow: dict) -> str:
    """A job's place in a workflow, in one line: group or chord member, chain step, what follows."""
    parts = []
    if "group" in flow:
        g = flow["group"]
        parts.append(f"{'chord' if g['chord'] else 'group'} {g['id']} member {g['index']}, "
                     f"{g['members_done']}/{g['members_total']} done" +
                     (f", join {g['chord_state']}" if g.get("chord_state") else ""))
    if "chain" in flow:
        parts.append(f"chain step {flow['chain']['step']} of {flow['chain']['of']}")
    if flow.get("next"):
        parts.append(f"then {' | '.join(map(str, flow['next']))}")
    for key in ("link", "link_error"):
        if flow.get(key):
            parts.append(f"{key} {', '.join(map(str, flow[key]))}")
    return "; ".join(parts)


def held_what(held: dict) -> str:
    """What a held-back entry names: a queue or a task."""
    return f"queue {held['queue']}" if held["queue"] and not held["task"] else f"task {held['task']}"


def age(seconds: float | None) -> str:
    """Seconds as a short age: 4.2s, 3.0m, 1.5h, 2.0d (``-`` when unknown)."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.1f}s"


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """Rows under headers, the first column left-aligned, the others right-aligned."""
    if not rows:
        return [f"{headers[0].lower()}s: none"]
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            .rstrip() for row in cells]

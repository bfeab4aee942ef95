"""The rows of the Application screen's tree: the app's live resources, or its
plan's waves, as ResourceTree rows (plain functions over the AppView)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from gitwave.engine.model import Health, HealthCode, HookPhase, ResourceKey
from gitwave.tui.controller import AppView, ResourceNode
from gitwave.tui.widgets.resource_tree import TreeRow
from gitwave.tui.widgets.status import (
    Cell,
    Glyphs,
    Tone,
    action_cell,
    health_cell,
    sync_cell,
)

__all__ = [
    "APP_ROW",
    "object_count",
    "parse_health",
    "resource_row",
    "short_wave",
    "tree_rows",
    "wave_rows",
]

APP_ROW = "app"
_PHASE_SHORT = {
    HookPhase.PRE_SYNC: "pre",
    HookPhase.POST_SYNC: "post",
    HookPhase.SYNC_FAIL: "fail",
    HookPhase.SKIP: "skip",
}


def object_count(count: int) -> str:
    """``1 object``, ``3 objects``."""
    return f"{count} object" if count == 1 else f"{count} objects"


def short_wave(node: ResourceNode) -> str:
    """The WAVE column: ``1`` for Sync wave 1, ``pre 0`` for a PreSync hook."""
    if node.phase is None:
        return ""
    if node.phase is HookPhase.SYNC:
        return str(node.wave_number)
    return f"{_PHASE_SHORT[node.phase]} {node.wave_number}"


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that reads digits as numbers: cfg-2 < cfg-15 < cfg-135 (as ls -v, k9s)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def natural_order(nodes: Iterable[ResourceNode]) -> list[ResourceNode]:
    """The nodes in their plan order of wave and kind, each group sorted by
    namespace and name the way people count (the plan itself compares text)."""
    listed = list(nodes)
    group: dict[tuple[str, str, str], int] = {}
    for node in listed:
        group.setdefault((node.wave, node.key.group, node.key.kind), len(group))

    def key(node: ResourceNode) -> tuple[object, ...]:
        return (
            group[(node.wave, node.key.group, node.key.kind)],
            node.key.namespace,
            natural_key(node.key.name),
        )

    return sorted(listed, key=key)


def parse_health(text: str) -> Health:
    """A Health back from its ``str`` (``Progressing: waiting for …``), as events carry it."""
    code, _, message = text.partition(": ")
    try:
        return Health(HealthCode(code), message)
    except ValueError:
        return Health(HealthCode.UNKNOWN, text)


def resource_row(
    node: ResourceNode,
    g: Glyphs,
    health: Mapping[ResourceKey, Health],
    *,
    with_children: bool = True,
) -> TreeRow:
    current = health.get(node.key, node.health)
    detail = node.key.display
    if current is not None:
        detail += f" · {current}"
    detail += f" · {node.wave}" if node.wave else " · owned, not in Git"
    if node.note:
        detail += f" · {node.note}"
    children: tuple[TreeRow, ...] = ()
    if with_children:
        children = tuple(resource_row(c, g, health) for c in natural_order(node.children))
    return TreeRow(
        id=str(node.key),
        label=f"{node.key.kind} {node.key.name}" + (f"  {node.note}" if node.note else ""),
        sync=action_cell(node.action, g),
        health=health_cell(current, g),
        wave=short_wave(node),
        ref=node.key,
        children=children,
        detail=detail,
    )


def tree_rows(view: AppView, g: Glyphs, health: Mapping[ResourceKey, Health]) -> list[TreeRow]:
    """app → (composite →) resources → what they own."""
    summary = view.summary
    children = tuple(resource_row(n, g, health) for n in natural_order(view.nodes))
    return [
        TreeRow(
            id=APP_ROW,
            label=f"app {summary.name}",
            sync=sync_cell(summary.sync, g),
            health=health_cell(summary.health, g),
            children=children,
            detail=f"app {summary.name} · {object_count(len(view.nodes))} · {summary.health}",
        )
    ]


def wave_rows(
    view: AppView,
    g: Glyphs,
    health: Mapping[ResourceKey, Health],
    *,
    running: str | None,
    done: frozenset[str],
) -> list[TreeRow]:
    """The plan's waves in run order, each with its objects; the running one marked."""
    plan = view.plan
    if plan is None:
        return []
    nodes = {n.key: n for n in view.nodes}
    for root in view.nodes:
        for inner in root.children:
            if inner.action is not None:  # composed resources sit under their composite
                nodes.setdefault(inner.key, inner)
    rows = []
    for wave in plan.waves:
        members = natural_order(nodes[t.key] for t in wave.tasks if t.key in nodes)
        worst = Health.worst(h for n in members if (h := health.get(n.key, n.health)) is not None)
        if wave.label == running:
            state = Cell(f"{g.running} running", Tone.INFO)
        elif wave.label in done:
            state = Cell(f"{g.ok} done", Tone.GOOD)
        else:
            state = Cell(object_count(len(members)), Tone.DIM)
        rows.append(
            TreeRow(
                id=f"wave:{wave.label}",
                label=wave.label,
                sync=state,
                health=health_cell(worst, g) if members else Cell(""),
                ref=wave.label,
                children=tuple(resource_row(n, g, health, with_children=False) for n in members),
                emphasis=wave.label == running,
                detail=f"{wave.label} · {object_count(len(members))}"
                + (" · running" if wave.label == running else ""),
            )
        )
    return rows

"""The rows of the Application screen's tree: the app's live resources, or its
plan's waves, as ResourceTree rows (plain functions over the AppView).

The rows under the app row and under each wave are LazyRows over the view's
nodes, which the controller keeps in the order shown (``tui.natural``): a
row is made when it is drawn, and an app of 100,000 objects opens by making
the twenty rows on screen.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping, Sequence

from gitwave.engine.model import Health, HealthCode, HookPhase, ResourceKey
from gitwave.tui.controller import AppView, ResourceNode
from gitwave.tui.formatting import age
from gitwave.tui.natural import natural_key, natural_order
from gitwave.tui.widgets.lazy_rows import LazyRows
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
    "natural_key",
    "natural_order",
    "node_age",
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


def parse_health(text: str) -> Health:
    """A Health back from its ``str`` (``Progressing: waiting for …``), as events carry it."""
    code, _, message = text.partition(": ")
    try:
        return Health(HealthCode(code), message)
    except ValueError:
        return Health(HealthCode.UNKNOWN, text)


@functools.lru_cache(maxsize=4096)
def _created_at(timestamp: str) -> float | None:
    # Objects synced together share their creation second: parse each once.
    try:
        stamp = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.timestamp()


def node_age(node: ResourceNode, now: float | None) -> str:
    """The AGE column of ``node`` (``5m``, ``3h``, ``2d``); "" when not live or no clock."""
    if now is None or not node.created:
        return ""
    created = _created_at(node.created)
    return "-" if created is None else age(now - created)


# The cells of a row depend on a handful of values: made once each, not per row.
_health_cell = functools.lru_cache(maxsize=256)(health_cell)
_action_cell = functools.lru_cache(maxsize=64)(action_cell)


def _label(node: ResourceNode) -> str:
    return f"{node.key.kind} {node.key.name}" + (f"  {node.note}" if node.note else "")


def _search_text(node: ResourceNode) -> str:
    """What ``/`` searches in ``node``: its label, then those under it, a line each."""
    return _labels(node).lower()


def _labels(node: ResourceNode) -> str:
    # Made for every object at the first `/` key: no generator, one string.
    key = node.key
    text = f"{key.kind} {key.name}  {node.note}" if node.note else f"{key.kind} {key.name}"
    if node.children:
        return text + "\n" + "\n".join([_labels(child) for child in node.children])
    return text


def _is_key_id(row_id: str) -> bool:
    # The rows of resources have ResourceKey ids (group/Kind/namespace/name);
    # "app" and "wave:…" are other levels' rows.
    return row_id.count("/") == 3


def node_rows(
    nodes: Sequence[ResourceNode],
    g: Glyphs,
    health: Mapping[ResourceKey, Health],
    *,
    with_children: bool = True,
    now: float | None = None,
) -> LazyRows[ResourceNode]:
    """The rows of ``nodes`` (in the order given), each made when first drawn."""
    return LazyRows(
        nodes,
        lambda node: resource_row(node, g, health, with_children=with_children, now=now),
        ident=lambda node: str(node.key),
        branches=(lambda node: bool(node.children)) if with_children else (lambda node: False),
        text=_search_text if with_children else (lambda node: _label(node).lower()),
        may_hold=_is_key_id,
    )


def resource_row(
    node: ResourceNode,
    g: Glyphs,
    health: Mapping[ResourceKey, Health],
    *,
    with_children: bool = True,
    now: float | None = None,
) -> TreeRow:
    current = health.get(node.key, node.health)
    detail = node.key.display
    if current is not None:
        detail += f" · {current}"
    detail += f" · {node.wave}" if node.wave else " · owned, not in Git"
    if node.note:
        detail += f" · {node.note}"
    children: Sequence[TreeRow] = ()
    if with_children and node.children:
        children = node_rows(node.children, g, health, now=now)
    return TreeRow(
        id=str(node.key),
        label=_label(node),
        sync=_action_cell(node.action, g),
        health=_health_cell(current.code if current is not None else None, g),
        wave=short_wave(node),
        ref=node.key,
        children=children,
        detail=detail,
        namespace=node.key.namespace,
        age=node_age(node, now),
    )


def tree_rows(
    view: AppView,
    g: Glyphs,
    health: Mapping[ResourceKey, Health],
    *,
    now: float | None = None,
) -> list[TreeRow]:
    """app → (composite →) resources → what they own; ages as of ``now``.
    ``view.nodes`` are in the order shown (the controller sorted them)."""
    summary = view.summary
    return [
        TreeRow(
            id=APP_ROW,
            label=f"app {summary.name}",
            sync=sync_cell(summary.sync, g),
            health=health_cell(summary.health, g),
            children=node_rows(view.nodes, g, health, now=now),
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
    now: float | None = None,
) -> list[TreeRow]:
    """The plan's waves in run order, each with its objects; the running one marked."""
    plan = view.plan
    if plan is None:
        return []
    # Each planned node, in the order shown, under its wave's label; composed
    # resources sit under their composite in the tree, so they are looked for there.
    members: dict[str, list[ResourceNode]] = {}
    for root in view.nodes:
        if root.action is not None:
            members.setdefault(root.wave, []).append(root)
        for inner in root.children:
            if inner.action is not None:
                members.setdefault(inner.wave, []).append(inner)
    rows = []
    for wave in plan.waves:
        listed = members.get(wave.label, [])
        if health:
            healths = (health.get(n.key, n.health) for n in listed)
        else:  # no event changed any health yet: no lookups (100,000 objects)
            healths = (n.health for n in listed)
        worst = Health.worst(h for h in healths if h is not None)
        if wave.label == running:
            state = Cell(f"{g.running} running", Tone.INFO)
        elif wave.label in done:
            state = Cell(f"{g.ok} done", Tone.GOOD)
        else:
            state = Cell(object_count(len(listed)), Tone.DIM)
        rows.append(
            TreeRow(
                id=f"wave:{wave.label}",
                label=wave.label,
                sync=state,
                health=health_cell(worst, g) if listed else Cell(""),
                ref=wave.label,
                children=node_rows(listed, g, health, with_children=False, now=now),
                emphasis=wave.label == running,
                detail=f"{wave.label} · {object_count(len(listed))}"
                + (" · running" if wave.label == running else ""),
            )
        )
    return rows

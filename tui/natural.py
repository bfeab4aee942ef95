"""The order the live tree shows objects in: the plan's order of wave and kind,
each group by namespace and name the way people count (cfg-15 before cfg-135).

Sorting 100,000 names costs a few hundred milliseconds: the controller sorts
once, in the worker that plans the app (``live_tree``), so opening the app
only draws it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from gitwave.tui.views import ResourceNode

__all__ = ["natural_key", "natural_order", "shown_order"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list[str | int]:
    """Sort key that reads digits as numbers: cfg-2 < cfg-15 < cfg-135 (as ls -v, k9s).

    Splitting on runs of digits gives text at even places and digits at odd
    ones (``cfg-15`` → ``["cfg-", 15, ""]``), so two keys never compare a
    number with a text; one list per name, no tuple per part (100,000 names
    a refresh)."""
    parts: list[str | int] = list(_DIGITS.split(text))
    parts[1::2] = [int(part) for part in parts[1::2]]
    return parts


def natural_order(nodes: Iterable[ResourceNode]) -> list[ResourceNode]:
    """The nodes in their plan order of wave and kind, each group sorted by
    namespace and name the way people count (the plan itself compares text)."""
    listed = list(nodes)
    if len(listed) < 2:
        return listed  # most owned objects have one child: nothing to sort
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


def shown_order(nodes: Iterable[ResourceNode]) -> tuple[ResourceNode, ...]:
    """``nodes`` and, level by level, their children in ``natural_order``."""
    shown = []
    for node in natural_order(nodes):
        if node.children:
            children = shown_order(node.children)
            if any(a is not b for a, b in zip(children, node.children, strict=True)):
                node = replace(node, children=children)
        shown.append(node)
    return tuple(shown)

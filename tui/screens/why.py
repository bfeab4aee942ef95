"""What the Application screen's ``b`` says: why an object (or the whole app)
waits, as a chain through the graph (``engine.why``), from the view on
screen: the healths it was planned with and those events changed since."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from gitwave.engine.model import Health, ResourceKey
from gitwave.engine.why import blocking_chains, chain_through, since_created
from gitwave.tui.views import AppView

__all__ = ["why_lines"]


def why_lines(
    view: AppView,
    key: ResourceKey | None,
    health_now: Mapping[ResourceKey, Health],
    *,
    now: float,
) -> list[str]:
    """One line per chain: the chain ``key`` is on, or (``key`` None) each
    chain of the app, as ``gitwave why`` prints them."""
    state = view.state
    if state is None:
        return [f"{view.summary.name} was not planned: {view.summary.error}"]
    healths: dict[ResourceKey, Health] = {}
    for root in view.nodes:
        for node in root.walk():
            if node.health is not None:
                healths[node.key] = node.health
    healths.update(health_now)
    when = datetime.fromtimestamp(now, UTC)
    ages = {
        k: seconds
        for k, live in state.live.items()
        if (seconds := since_created(live, when)) is not None
    }
    graph = state.graph
    if key is None:
        chains = blocking_chains(graph, healths, for_s=ages)
        if not chains:
            return ["nothing waits: every object is Healthy"]
        return [chain.text() for chain in chains]
    if key not in graph.facts:
        owner = view.owner_of(key)
        if owner is None or owner.key not in graph.facts:
            return [f"{key.display} is not in Git: nothing in the graph waits for it"]
        key = owner.key  # an owned Pod: its Deployment's chain
    chain = chain_through(graph, healths, key, for_s=ages)
    if len(chain.keys) == 1 and chain.health.code.is_settled:
        return [f"{key.display} is {chain.health}: it waits for nothing"]
    return [chain.text()]

"""The connection Secrets of a graph: objects no one applies, that the graph shows.

A managed resource with ``writeConnectionSecretToRef`` (an RDS DBInstance, a
composite) writes a Secret once it exists; workloads read it. The Secret is not
in Git, so it is no node of the sync graph: the graph orders the writer before
the readers directly. To show *why* a Deployment waits for a database, ``gitwave
graph`` draws the Secret between them, from the same facts the edges came from
(the composition's CONNECTION_SECRET dependencies and the readers' pod specs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitwave.engine.graph import ResourceGraph
from gitwave.engine.model import Dependency, DependencyReason, ResourceKey

__all__ = ["ConnectionSecret", "connection_secrets"]


@dataclass(frozen=True, slots=True)
class ConnectionSecret:
    """A Secret written by ``writer`` and read by ``readers`` (in graph order)."""

    key: ResourceKey
    writer: ResourceKey
    readers: tuple[ResourceKey, ...]

    @property
    def edges(self) -> tuple[tuple[ResourceKey, ResourceKey], ...]:
        """writer → Secret, then Secret → each reader."""
        return ((self.writer, self.key), *((self.key, r) for r in self.readers))


def connection_secrets(
    graph: ResourceGraph, dependencies: Sequence[Dependency]
) -> tuple[ConnectionSecret, ...]:
    """The connection Secrets ``dependencies`` declare whose writer is in ``graph``
    and that Git does not hold itself, in the graph's order of their writers."""
    rank = {key: i for i, key in enumerate(graph.order)}
    found: list[ConnectionSecret] = []
    for dependency in dependencies:
        if dependency.reason is not DependencyReason.CONNECTION_SECRET:
            continue
        writer, secret = dependency.before, dependency.after
        if writer not in rank or secret in rank:
            continue
        readers = sorted(
            (key for key, facts in graph.facts.items() if secret in facts.references),
            key=rank.__getitem__,
        )
        found.append(ConnectionSecret(secret, writer, tuple(readers)))
    return tuple(sorted(found, key=lambda s: (rank[s.writer], s.key.display)))

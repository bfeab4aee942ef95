"""A read-only directed graph over hashable nodes: what ``ResourceGraph.dag`` holds.

The graph stage needs adjacency lists and a few reads of them, nothing of
networkx's algorithms (its cycle search is its own): building a networkx
DiGraph of 10,000 objects was a fifth of a fresh plan's graph stage, and
importing networkx 0.1-0.3 s of every command that plans (``gitwave status``).
networkx is still imported where a cycle is named, which only an error does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["Dag"]

N = TypeVar("N")


class Dag(Generic[N]):
    """Nodes and edges u→v, in the order they were given: iterating nodes, or
    the edges (grouped by their first node, in node order), is deterministic.
    An edge to a node not given adds it (as networkx does); a repeated edge
    counts once."""

    __slots__ = ("_edges", "_pred", "_succ")

    def __init__(self, nodes: Iterable[N], edges: Iterable[tuple[N, N]] = ()) -> None:
        succ: dict[N, list[N]] = {node: [] for node in nodes}
        pred: dict[N, list[N]] = {node: [] for node in succ}
        seen: set[tuple[N, N]] = set()
        for u, v in edges:
            if (u, v) in seen:
                continue
            for node in (u, v):
                if node not in succ:
                    succ[node] = []
                    pred[node] = []
            seen.add((u, v))
            succ[u].append(v)
            pred[v].append(u)
        self._succ = succ
        self._pred = pred
        self._edges = tuple((u, v) for u, after in succ.items() for v in after)

    @classmethod
    def of_positions(cls, nodes: Sequence[N], edges: Iterable[tuple[int, int]]) -> Dag[N]:
        """The Dag of ``nodes`` (distinct) and edges given as positions into
        them, none repeated, grouped by their first node in node order (as
        ``edges`` lists them): a kept graph read back (``graph_cache``) without
        hashing every node again. IndexError for a position out of range."""
        after: list[list[int]] = [[] for _ in nodes]
        before: list[list[int]] = [[] for _ in nodes]
        pairs = []
        for u, v in edges:
            after[u].append(v)
            before[v].append(u)
            pairs.append((nodes[u], nodes[v]))
        dag = cls.__new__(cls)
        dag._succ = {node: [nodes[v] for v in after[i]] for i, node in enumerate(nodes)}
        dag._pred = {node: [nodes[u] for u in before[i]] for i, node in enumerate(nodes)}
        dag._edges = tuple(pairs)
        return dag

    def __contains__(self, node: object) -> bool:
        return node in self._succ

    def __iter__(self) -> Iterator[N]:
        return iter(self._succ)

    def __len__(self) -> int:
        return len(self._succ)

    @property
    def nodes(self) -> tuple[N, ...]:
        """Every node, in the order given."""
        return tuple(self._succ)

    @property
    def edges(self) -> tuple[tuple[N, N], ...]:
        """Every edge (u, v), by u in node order, then in the order added."""
        return self._edges

    def number_of_nodes(self) -> int:
        return len(self._succ)

    def number_of_edges(self) -> int:
        return len(self._edges)

    def successors(self, node: N) -> Iterator[N]:
        """The nodes ``node`` points to. KeyError for an unknown node."""
        return iter(self._succ[node])

    def predecessors(self, node: N) -> Iterator[N]:
        """The nodes pointing to ``node``. KeyError for an unknown node."""
        return iter(self._pred[node])

    def descendants(self, node: N) -> set[N]:
        """Every node reachable from ``node``, itself left out (as
        ``networkx.descendants``). KeyError for an unknown node."""
        found: set[N] = set()
        todo = list(self._succ[node])
        while todo:
            current = todo.pop()
            if current not in found:
                found.add(current)
                todo.extend(self._succ[current])
        found.discard(node)
        return found

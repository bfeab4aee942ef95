"""The graph stage's read-only Dag: networkx's iteration order and answers for
what the engine asks of it (tests/engine/test_graph.py covers it through
build_graph)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitwave.engine.dag import Dag


@dataclass(frozen=True)
class Case:
    reason: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    want_edges: tuple[tuple[str, str], ...]
    want_descendants_of_a: set[str]


CASES = [
    Case("no edges", ("a", "b"), (), (), set()),
    Case(
        "edges grouped by their first node, in node order, each once",
        ("a", "b", "c"),
        (("b", "c"), ("a", "c"), ("a", "b"), ("a", "c")),
        (("a", "c"), ("a", "b"), ("b", "c")),
        {"b", "c"},
    ),
    Case(
        "an edge to a node not given adds it, last",
        ("a",),
        (("a", "z"),),
        (("a", "z"),),
        {"z"},
    ),
    Case(
        "a cycle through the start leaves the start out",
        ("a", "b"),
        (("a", "b"), ("b", "a")),
        (("a", "b"), ("b", "a")),
        {"b"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_dag(case: Case) -> None:
    dag = Dag(case.nodes, case.edges)
    assert dag.edges == case.want_edges
    assert dag.number_of_edges() == len(case.want_edges)
    assert dag.descendants("a") == case.want_descendants_of_a
    for u, v in case.want_edges:
        assert v in list(dag.successors(u))
        assert u in list(dag.predecessors(v))
    assert all(node in dag for node in case.nodes)
    assert "nowhere" not in dag


def test_an_unknown_node_has_no_neighbours_to_give() -> None:
    with pytest.raises(KeyError):
        Dag(("a",)).successors("b")

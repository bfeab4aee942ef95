"""The order apps sync in: dependencies first, then by sync wave and name.

``order_apps`` orders one level (the apps a directory defines);
``flatten_apps`` walks app-of-apps trees into the list a sync runs through.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.dag import Dag
from gitwave.engine.errors import ValidationError


def order_apps(apps: Sequence[AppSpec]) -> list[AppSpec]:
    """``apps`` ordered so every app follows the apps it depends on, then by wave and name.

    A dependsOn naming an app not in ``apps`` is ignored here (``flatten_apps``
    refuses it). Raises ValidationError naming the apps on or behind a dependsOn cycle.
    """
    unique = list({app.name: app for app in apps}.values())  # a repeated name: the last counts
    ordered, dag = _dependency_order(unique, rank=lambda app: (app.wave, app.name))
    if len(ordered) < dag.number_of_nodes():
        stuck = sorted(set(dag) - {app.name for app in ordered})
        raise ValidationError("apps", f"dependsOn cycle among: {' -> '.join(stuck)}")
    return ordered


def flatten_apps(apps: Iterable[AppSpec]) -> list[AppSpec]:
    """Every app to sync, parents before their children (app of apps, by the
    children's sync wave) and Flux ``dependsOn`` before dependents.

    Raises ValidationError for a dependsOn naming an unknown app, and one
    naming the apps on a dependsOn loop."""
    flat: list[AppSpec] = []

    def walk(app: AppSpec) -> None:
        flat.append(app)
        for child in sorted(app.children, key=lambda c: (c.wave, c.name)):
            walk(child)

    for app in apps:
        walk(app)
    position = {app.name: index for index, app in enumerate(flat)}
    for app in flat:
        for dep in app.depends_on:
            if dep not in position:
                raise ValidationError(
                    f"app {app.name}" + (f" ({app.origin})" if app.origin else ""),
                    f"dependsOn names unknown app {dep!r}",
                    hint="known apps: " + ", ".join(sorted(position)),
                )
    ordered, dag = _dependency_order(flat, rank=lambda app: (position[app.name],))
    if len(ordered) < dag.number_of_nodes():
        import networkx as nx  # naming a cycle only: 0.1-0.3 s to import

        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from(dag.nodes)
        graph.add_edges_from(dag.edges)
        cycle = " -> ".join(u for u, _ in nx.find_cycle(graph))
        raise ValidationError("apps", f"dependsOn cycle: {cycle}")
    return ordered


def _dependency_order(
    apps: Sequence[AppSpec], *, rank: Callable[[AppSpec], tuple[Any, ...]]
) -> tuple[list[AppSpec], Dag[str]]:
    """``apps`` (one per name: the last wins, with the dependencies of all) each after
    the apps among them it depends on, the lowest ``rank`` first of those ready; and
    the dependency graph (by name).

    Apps on or behind a dependsOn cycle are left out of the list: the callers
    name them, each in its own words.
    """
    by_name = {app.name: app for app in apps}
    # Nodes and edges go in the order of ``apps``: that decides which cycle nx.find_cycle names.
    dag = Dag(
        dict.fromkeys(app.name for app in apps),
        ((dep, app.name) for app in apps for dep in app.depends_on if dep in by_name),
    )
    # Kahn's algorithm taking the lowest rank of the ready apps first (as
    # networkx's lexicographical_topological_sort; ties by position). Apps on
    # or behind a cycle never become ready.
    position = {name: i for i, name in enumerate(dag)}
    waiting = {name: len(list(dag.predecessors(name))) for name in dag}
    ready = [(rank(by_name[n]), position[n], n) for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[AppSpec] = []
    while ready:
        _, _, name = heapq.heappop(ready)
        ordered.append(by_name[name])
        for after in dag.successors(name):
            waiting[after] -= 1
            if waiting[after] == 0:
                heapq.heappush(ready, (rank(by_name[after]), position[after], after))
    return ordered, dag


def check_unique(apps: Sequence[AppSpec]) -> None:
    seen: dict[str, AppSpec] = {}
    for app in apps:
        first = seen.get(app.name)
        if first is not None:
            raise ValidationError(
                app.where,
                f"app name {app.name!r} is also used by {first.where}",
                hint="app names must be unique",
            )
        seen[app.name] = app


def check_depends_on(apps: Sequence[AppSpec]) -> None:
    names = {app.name for app in apps}
    for app in apps:
        for dependency in app.depends_on:
            if dependency not in names:
                raise ValidationError(
                    app.where,
                    f"spec.dependsOn: no Kustomization named {dependency!r} is defined here",
                    hint="define it in the same directory, or remove the dependency",
                )
    order_apps(apps)

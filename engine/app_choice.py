"""Choosing the apps a command works on when some of them are broken.

``choose_app_set`` turns an ``AppSet`` (``engine.apps.broken``) into the list a
command runs through, in sync order: each app with its error when it cannot be
loaded, and the apps it waits for, so that a failure stops only the apps that
follow it (its dependsOn dependents, its later-wave siblings in an app of
apps), never the unrelated ones. ``operations.select_app_set`` is the door the
front ends use.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitwave.engine.app_children import ChildrenStore, removed_children, removed_set_children
from gitwave.engine.apps import AppKind, AppSet, AppSpec, BrokenApp, flatten_apps, load_app_set
from gitwave.engine.apps.broken import is_leaf_flux
from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.store import Store

if TYPE_CHECKING:
    from gitwave.engine.label_selector import LabelSelector


@dataclass(frozen=True, slots=True)
class ChosenApp:
    """One app a command works on: its spec, or the error that keeps it from loading
    (then ``spec`` is what could be read of it, if anything). ``follows`` names the
    apps it waits for (its dependsOn, and its app-of-apps siblings of lower sync
    waves): when one of them fails, it is skipped."""

    name: str
    spec: AppSpec | None
    error: GitwaveError | None = None
    follows: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return self.spec.where if self.spec is not None else self.name

    def loaded(self) -> AppSpec:
        """The app's spec; raises its error when it is broken."""
        if self.error is not None:
            raise self.error
        if self.spec is None:  # a BrokenApp always has an error: unreachable
            raise GitwaveError(f"{self.name}: cannot be loaded")
        return self.spec


def choose_app_set(
    app_set: AppSet, *, only: Collection[str] = (), location: str = "."
) -> list[ChosenApp]:
    """``choose_apps`` for an ``AppSet``: the chosen apps in sync order, each with
    its error when it is broken (the broken apps no AppSpec exists for last).
    Without names, broken parents are chosen too, so their error is seen.

    Raises ValidationError naming the known apps for an unknown name."""
    broken: dict[str, BrokenApp] = {}
    for one in app_set.broken:
        broken.setdefault(one.name, one)
    # A broken Flux app leaves the tree (it holds no children); dependsOn on it
    # made its dependents broken too, so no dangling dependency is left.
    tree = [a for a in app_set.apps if not (a.name in broken and is_leaf_flux(a))]
    follows = _follows(tree)
    entries = [
        ChosenApp(
            app.name,
            app,
            broken[app.name].error if app.name in broken else None,
            follows.get(app.name, ()),
        )
        for app in flatten_apps(tree)
    ]
    listed = {entry.name for entry in entries}
    entries += [
        ChosenApp(one.name, one.spec, one.error, one.spec.depends_on if one.spec else ())
        for one in broken.values()
        if one.name not in listed
    ]
    if only:
        wanted = _with_set_apps(only, [e.spec for e in entries if e.spec is not None])
        chosen = [e for e in entries if e.name in wanted and not _is_set(e)]
        missing = sorted(wanted - {e.name for e in chosen})
        if missing:
            raise ValidationError(
                location,
                f"no app named {', '.join(missing)}",
                hint="apps here: " + ", ".join(e.name for e in entries),
            )
        return chosen
    # The root of a ``flux bootstrap`` tree is synced too (before its children, which
    # follow it): kustomize-controller applies its own objects (a cluster-vars ConfigMap).
    leaves = [
        e
        for e in entries
        if e.error is not None or e.spec is None or not e.spec.children or e.spec.flux_tree
    ]
    # An ApplicationSet that generates nothing has no children, yet renders nothing itself.
    sets = {e.name for e in entries if e.error is None and e.spec and e.spec.kind is AppKind.APPSET}
    return [e for e in leaves or entries if e.name not in sets]


def select_labelled(chosen: Iterable[ChosenApp], selector: LabelSelector) -> list[ChosenApp]:
    """The apps of ``chosen`` whose labels (``metadata.labels`` of the Application
    or Kustomization) match ``selector``, in the same order: ``-l`` narrows what a
    command would work on, it never adds a parent or a set. An app whose
    definition could not be read at all (no spec) is kept: its labels are not
    known, and its error is shown rather than hidden. A removed child app has no
    definition left, so no labels: only a negative selector (``!key``,
    ``key!=v``, ``notin``) keeps it, as for any unlabelled object in Kubernetes."""
    return [
        entry for entry in chosen if entry.spec is None or selector.matches(entry.spec.label_map)
    ]


def no_match_error(
    location: str, selector: LabelSelector, apps: Iterable[AppSpec]
) -> ValidationError:
    """argocd's answer when ``-l`` leaves no app (``argocd app sync -l``), naming
    each app here and its labels."""
    shown = [f"{a.name} ({','.join(f'{k}={v}' for k, v in a.labels) or 'no labels'})" for a in apps]
    return ValidationError(
        location,
        f"No matching apps found for filter: selector {selector}",
        hint=("apps here: " + ", ".join(shown)) if shown else "",
    )


def _is_set(entry: ChosenApp) -> bool:
    return entry.error is None and entry.spec is not None and entry.spec.kind is AppKind.APPSET


def _with_set_apps(only: Collection[str], apps: Iterable[AppSpec]) -> set[str]:
    """``only``, where an ApplicationSet's name stands for the apps it generates
    (the set itself is never synced: it renders nothing)."""
    wanted = set(only)
    for app in apps:
        if app.name in wanted and app.kind is AppKind.APPSET:
            wanted.discard(app.name)
            wanted.update(child.name for child in app.walk() if not child.children)
    return wanted


def _follows(tree: Iterable[AppSpec]) -> dict[str, tuple[str, ...]]:
    """For each app, the apps it waits for: its dependsOn, and the children of its
    parent in lower sync waves (Argo CD syncs an app of apps wave by wave)."""
    follows: dict[str, tuple[str, ...]] = {}

    def walk(app: AppSpec) -> None:
        follows[app.name] = follows.get(app.name, ()) + app.depends_on
        for child in app.children:
            earlier = tuple(c.name for c in app.children if c.wave < child.wave)
            # A set is never synced itself (and one whose bad elements make it
            # fail still has good ones): its apps wait for nothing of it.
            holder = () if app.kind is AppKind.APPSET else (app.name,)
            follows[child.name] = (*holder, *earlier)
            walk(child)

    for app in tree:
        walk(app)
    return follows


__all__ = [
    "ChosenApp",
    "choose_app_set",
    "choose_apps",
    "removed_apps",
    "select_app_set",
    "select_apps",
    "select_labelled",
]


def choose_apps(
    apps: Iterable[AppSpec], *, only: Collection[str] = (), location: str = "."
) -> list[AppSpec]:
    """``apps`` flattened into sync order (parents before children, dependsOn
    first) and filtered by name. Without names an app of apps only holds
    other apps, so its children are chosen, not itself.

    Raises ValidationError naming the known apps for an unknown name, and
    what ``flatten_apps`` raises (an unknown or cyclic dependsOn)."""
    flat = flatten_apps(apps)
    if only:
        wanted = _with_set_apps(only, flat)
        chosen = [a for a in flat if a.name in wanted and a.kind is not AppKind.APPSET]
        missing = sorted(wanted - {a.name for a in chosen})
        if missing:
            raise ValidationError(
                location,
                f"no app named {', '.join(missing)}",
                hint="apps here: " + ", ".join(a.name for a in flat),
            )
        return chosen
    chosen = [a for a in flat if not a.children] or flat
    return [a for a in chosen if a.kind is not AppKind.APPSET]


def select_apps(
    location: str,
    *,
    revision: str | None = None,
    only: Collection[str] = (),
    allow_local_repos: Collection[str] = (),
    store: Store | None = None,
    clusters: ClusterSource | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> list[AppSpec]:
    """The apps ``location`` defines (at ``revision``), chosen as ``choose_apps`` does;
    ``allow_local_repos`` are host directories an app's source may name besides
    the given repository. With a ``store``, the child apps an app of apps here
    held and holds no more follow (``app_children.removed_children``): planning
    them shows the objects they left. Raises GitwaveError when they cannot be
    loaded; an app not chosen (``only``) that is broken does not stop the others."""
    chosen = select_app_set(
        location,
        revision=revision,
        only=only,
        allow_local_repos=allow_local_repos,
        store=store,
        clusters=clusters,
        default_namespace=default_namespace,
    )
    for entry in chosen:
        if entry.error is not None:
            raise entry.error
    return [entry.spec for entry in chosen if entry.spec is not None]


def select_app_set(
    location: str,
    *,
    revision: str | None = None,
    only: Collection[str] = (),
    allow_local_repos: Collection[str] = (),
    store: Store | None = None,
    clusters: ClusterSource | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> list[ChosenApp]:
    """The apps ``location`` defines, chosen as ``choose_app_set`` does: each broken
    one carries its error and the others load; with a ``store``, then the removed
    children as ``select_apps`` says, except those of a broken app of apps (its
    child list is partial: nothing is pruned on it). Raises GitwaveError only when
    the location itself cannot be read or an unknown app is named. Apps naming
    no destination namespace get ``default_namespace``."""
    app_set = load_app_set(
        location,
        revision=revision,
        allow_local_repos=tuple(allow_local_repos),
        clusters=clusters,
        default_namespace=default_namespace,
    )
    chosen = choose_app_set(app_set, only=only, location=location)
    if store is None:
        return chosen
    return chosen + [ChosenApp(app.name, app) for app in removed_apps(app_set, store, only=only)]


def removed_apps(app_set: AppSet, store: Store, *, only: Collection[str] = ()) -> list[AppSpec]:
    """The apps ``app_set``'s location held and holds no more, as apps without a
    render (their plan holds what they left): the children an app of apps here no
    longer renders (``removed_children``; not those of a broken one: its child
    list is partial) and the apps of an ApplicationSet that is gone
    (``removed_set_children``). ``only`` as ``choose_app_set`` takes it."""
    broken = {b.name for b in app_set.broken}
    flat = flatten_apps(app_set.apps)
    with closing(ChildrenStore.beside(store)) as records:
        removed = removed_children(flat, records, only=only)
        removed = [app for app in removed if app.removed_from not in broken]
        removed += removed_set_children(
            flat,
            records,
            location=app_set.location,
            broken=broken,
            only=only,
            # A definition that cannot be read: what the location defines is not known.
            partial=any(b.spec is None for b in app_set.broken),
        )
    return removed

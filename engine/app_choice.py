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
from dataclasses import dataclass

from gitwave.engine.apps import AppSet, AppSpec, BrokenApp, flatten_apps
from gitwave.engine.apps.broken import is_leaf_flux
from gitwave.engine.errors import GitwaveError, ValidationError


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
        wanted = set(only)
        chosen = [e for e in entries if e.name in wanted]
        missing = sorted(wanted - {e.name for e in chosen})
        if missing:
            raise ValidationError(
                location,
                f"no app named {', '.join(missing)}",
                hint="apps here: " + ", ".join(e.name for e in entries),
            )
        return chosen
    leaves = [e for e in entries if e.error is not None or e.spec is None or not e.spec.children]
    return leaves or entries


def _follows(tree: Iterable[AppSpec]) -> dict[str, tuple[str, ...]]:
    """For each app, the apps it waits for: its dependsOn, and the children of its
    parent in lower sync waves (Argo CD syncs an app of apps wave by wave)."""
    follows: dict[str, tuple[str, ...]] = {}

    def walk(app: AppSpec) -> None:
        follows[app.name] = follows.get(app.name, ()) + app.depends_on
        for child in app.children:
            earlier = tuple(c.name for c in app.children if c.wave < child.wave)
            follows[child.name] = (app.name, *earlier)
            walk(child)

    for app in tree:
        walk(app)
    return follows


__all__ = ["ChosenApp", "choose_app_set"]

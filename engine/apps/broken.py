"""Apps that fail alone: one bad app never stops the others.

A Flux Kustomization with ``interval: banana``, an Application whose path
holds a kustomize cycle, a file of app definitions that is not YAML: each is a
``BrokenApp`` beside the apps that loaded, and ``AppSet`` holds both. The
front ends sync, plan and show the good apps and report each broken one with
its error (Argo CD shows such an Application as ComparisonError; Flux marks
the Kustomization Ready=False and carries on with the others).

A broken app is never planned, so nothing it owns is pruned: its view is
partial. A parent (app of apps) whose child list cannot be read keeps the
children it could read in its tree, so they are not taken for removed ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps.model import AppKind, AppSpec, Location
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.source import Checkout


@dataclass(frozen=True)
class BrokenApp:
    """An app that could not be loaded, and why.

    ``spec`` is the app as far as it was read: None when its definition
    itself is malformed (then ``name`` is its ``metadata.name`` when readable,
    else the ``file:line`` holding it), the AppSpec when only its render (to
    find its children) or a dependency failed.
    """

    name: str
    error: GitwaveError
    spec: AppSpec | None = None

    @property
    def where(self) -> str:
        """The subject of its error line: the app, with its file when known."""
        return self.spec.where if self.spec is not None else self.name


@dataclass(frozen=True)
class AppSet:
    """What a location defines: the app trees that could be read, and the broken apps.

    ``apps`` holds every AppSpec that could be built, broken ones included
    (a parent keeps a broken child, so the child is not taken for removed);
    ``broken`` says which of them (by name) fail, and holds the ones no AppSpec
    could be built for.
    """

    checkout: Checkout
    apps: tuple[AppSpec, ...]
    broken: tuple[BrokenApp, ...] = ()
    # Where the definitions were read (None: not known, no removed set is looked for).
    location: Location | None = None

    def error_of(self, name: str) -> GitwaveError | None:
        """The error of the app named ``name``; None when it loaded."""
        for broken in self.broken:
            if broken.name == name:
                return broken.error
        return None

    def first_error(self) -> GitwaveError | None:
        """The first broken app's error (for callers that want all or nothing)."""
        return self.broken[0].error if self.broken else None


def definition_name(doc: Any, fallback: str) -> str:
    """The ``metadata.name`` of an app document when it is a usable string, else ``fallback``."""
    meta = doc.get("metadata") if isinstance(doc, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) and name else fallback


def source_ref_kind(doc: Any) -> str:
    """The ``spec.sourceRef.kind`` of a Kustomization document ("" when unreadable)."""
    spec = doc.get("spec") if isinstance(doc, Mapping) else None
    ref = spec.get("sourceRef") if isinstance(spec, Mapping) else None
    kind = ref.get("kind") if isinstance(ref, Mapping) else None
    return kind if isinstance(kind, str) else ""


def source_ref_name(doc: Any) -> str:
    """The ``spec.sourceRef.name`` of a Kustomization document ("" when unreadable)."""
    spec = doc.get("spec") if isinstance(doc, Mapping) else None
    ref = spec.get("sourceRef") if isinstance(spec, Mapping) else None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    return name if isinstance(name, str) else ""


def without_broken_dependencies(apps: Sequence[AppSpec], broken: list[BrokenApp]) -> list[AppSpec]:
    """``apps`` less those that depend (directly or not) on a broken app; each of
    them is added to ``broken``: Flux holds a Kustomization until its
    dependencies are ready, and a broken one never is."""
    failed = {b.name: b for b in broken}
    kept = list(apps)
    changed = True
    while changed:
        changed = False
        for app in list(kept):
            blocker = next((d for d in app.depends_on if d in failed), None)
            if blocker is None:
                continue
            error = ValidationError(
                app.where,
                f"spec.dependsOn: {blocker!r} cannot be loaded ({failed[blocker].error})",
                hint=f"fix {blocker} first; this app waits for it",
            )
            failed[app.name] = BrokenApp(name=app.name, error=error, spec=app)
            broken.append(failed[app.name])
            kept.remove(app)
            changed = True
    return kept


def is_leaf_flux(app: AppSpec) -> bool:
    """A Flux app holds no children: it can leave the tree without orphaning any."""
    return app.kind is AppKind.FLUX and not app.children


__all__ = [
    "AppSet",
    "BrokenApp",
    "definition_name",
    "is_leaf_flux",
    "source_ref_kind",
    "source_ref_name",
    "without_broken_dependencies",
]

"""Flux ``dependsOn`` in the controller: which of an app's dependencies are not Ready.

As kustomize-controller and helm-controller: a Kustomization's ``spec.dependsOn``
names Kustomizations, a HelmRelease's names HelmReleases (``name``, optional
``namespace``, default the object's own); a dependency counts as ready when its
``Ready`` condition is ``True`` for its current generation
(``status.observedGeneration`` equals ``metadata.generation``), so a dependency
whose spec just changed and is being reconciled again holds its dependents back.
The dependent waits (nothing of it runs, no worker is taken); the dependency
never waits for its dependents. Pure: the caller lists the apps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gitwave.engine.controller.objects import FLUX_KINDS, AppObject


def is_ready(obj: AppObject) -> bool:
    """``Ready=True`` observed at the object's current generation."""
    status = obj.body.get("status") or {}
    if not isinstance(status, Mapping) or status.get("observedGeneration") != obj.generation:
        return False
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def depends_on(obj: AppObject) -> list[tuple[str, str]]:
    """(namespace, name) of each object ``obj``'s ``spec.dependsOn`` names (Flux kinds)."""
    if obj.kind not in FLUX_KINDS:
        return []
    spec = obj.body.get("spec") or {}
    found = spec.get("dependsOn") if isinstance(spec, Mapping) else None
    return [
        (str(dep.get("namespace") or obj.namespace), str(dep.get("name", "")))
        for dep in found or []
        if isinstance(dep, Mapping)
    ]


def waiting_for(obj: AppObject, apps: Sequence[AppObject]) -> list[str]:
    """The dependencies of ``obj`` that are not Ready (``namespace/name``; absent
    ones too), in the order ``spec.dependsOn`` names them."""
    wanted = depends_on(obj)
    if not wanted:
        return []
    ready = {(a.namespace, a.name) for a in apps if a.kind == obj.kind and is_ready(a)}
    return [f"{ns}/{name}" for ns, name in wanted if (ns, name) not in ready]


__all__ = ["depends_on", "is_ready", "waiting_for"]

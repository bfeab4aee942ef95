"""Drift triage's listing: the drifted fields a person can decide on, and the one
a ``--resource``/``--field`` pair picks."""

from __future__ import annotations

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.drift import DriftedField, drifted_fields
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import ResourceKey

__all__ = ["choose_field", "drift_of"]


def drift_of(state: AppState) -> tuple[DriftedField, ...]:
    """The drifted fields of an app's plan that triage can decide on (fields of
    objects that exist live; a missing object is for a sync)."""
    return tuple(f for f in drifted_fields(state.plan) if f.path)


def choose_field(
    drifted: tuple[DriftedField, ...], *, resource: str = "", path: str = ""
) -> DriftedField:
    """The one drifted field ``resource`` (``Kind/name``, ``Kind/ns/name``,
    case-insensitive kind) and ``path`` pick; ValidationError listing the
    candidates when none or several match."""
    found = [f for f in drifted if _names(f.key, resource) and (not path or f.path == path)]
    if len(found) == 1:
        return found[0]
    listed = "; ".join(f"{f.key.display} {f.path}" for f in (found or drifted)) or "none"
    raise ValidationError(
        "drift",
        ("no drifted field matches" if not found else f"{len(found)} drifted fields match")
        + f" (drifted: {listed})",
        hint="pick one with --resource KIND/NAME and --field PATH",
    )


def _names(key: ResourceKey, text: str) -> bool:
    if not text:
        return True
    parts = text.split("/")
    kind = parts[0].split(".")[0].lower()
    if kind != key.kind.lower():
        return False
    if len(parts) == 2:
        return parts[1] == key.name
    if len(parts) == 3:
        return parts[1] == key.namespace and parts[2] == key.name
    return False

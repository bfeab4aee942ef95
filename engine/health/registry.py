"""The health registry: one check function per ``(group, kind)``, and
``health_of`` that picks it (the generic condition reading for other kinds)."""

from __future__ import annotations

from collections.abc import Callable

from gitwave.engine.health.generic import generic_health
from gitwave.engine.health.status import as_mapping
from gitwave.engine.model import Health, HealthCode, Manifest

HealthCheck = Callable[[Manifest], Health]

_CHECKS: dict[tuple[str, str], HealthCheck] = {}


def health_of(manifest: Manifest) -> Health:
    """The health of one live object.

    Never raises: a status that does not have the shape its kind promises gives
    ``Unknown`` with the reason, so one odd object cannot break a sync.
    """
    api_version = str(manifest.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    kind = str(manifest.get("kind") or "")
    meta = as_mapping(manifest.get("metadata"))
    if meta.get("deletionTimestamp"):
        return Health(HealthCode.PROGRESSING, "Pending deletion")
    check = _CHECKS.get((group, kind), generic_health)
    try:
        return check(manifest)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return Health(HealthCode.UNKNOWN, f"Cannot read the status of this {kind}: {exc}")


def register_health_check(group: str, kind: str) -> Callable[[HealthCheck], HealthCheck]:
    """Register ``check`` as the health function of ``group``/``kind``.

    Used as a decorator; a later registration for the same kind replaces the
    earlier one (so an extension can refine a built-in check)."""

    def register(check: HealthCheck) -> HealthCheck:
        _CHECKS[(group, kind)] = check
        return check

    return register


def registered_kinds() -> frozenset[tuple[str, str]]:
    """The ``(group, kind)`` pairs that have their own check."""
    return frozenset(_CHECKS)

"""Health of kinds without their own check (custom resources): the common
condition conventions."""

from __future__ import annotations

from gitwave.engine.health.status import (
    HEALTHY,
    condition_of,
    explain,
    has_status,
    reason_is_failure,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest


def generic_health(manifest: Manifest) -> Health:
    """Custom resources: the common condition conventions.

    kstatus (``Stalled``/``Reconciling``), Crossplane (``Synced``/``Ready``) and
    most operators (``Ready`` or ``Available``) are understood; an object with
    no conditions at all is taken as Healthy, as Argo CD does.
    """
    status = status_of(manifest)
    stalled = condition_of(status, "Stalled")
    if has_status(stalled, "True") and stalled is not None:
        return Health(HealthCode.DEGRADED, f"Stalled: {explain(stalled, 'no reason given')}")
    synced = condition_of(status, "Synced")
    if has_status(synced, "False") and synced is not None:
        return Health(HealthCode.DEGRADED, f"Not synced: {explain(synced, 'no reason given')}")
    ready = condition_of(status, "Ready") or condition_of(status, "Available")
    if ready is not None:
        kind = ready.get("type")
        if has_status(ready, "True"):
            return Health(HealthCode.HEALTHY, str(ready.get("message") or f"{kind}"))
        reason = str(ready.get("reason") or "")
        if has_status(ready, "False") and reason_is_failure(reason):
            return Health(HealthCode.DEGRADED, f"Not {kind}: {explain(ready, reason)}")
        return Health(
            HealthCode.PROGRESSING, f"Waiting to be {kind}: {explain(ready, 'no reason given')}"
        )
    reconciling = condition_of(status, "Reconciling")
    if has_status(reconciling, "True") and reconciling is not None:
        return Health(HealthCode.PROGRESSING, f"Reconciling: {explain(reconciling, '')}")
    return HEALTHY

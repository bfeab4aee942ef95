"""When one app of the controller is due: worth queueing, to sync, to compare.

The decisions ``AppReconciler`` (app_reconcile.py) takes before it does
anything, read from what this replica last did with the app (``Seen``), the
app object (its generation, an operation, a refresh or reconcile request) and
the failed-sync back-off (``Retries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.controller.objects import ARGO_KIND, AppObject
from gitwave.engine.controller.requests import (
    is_suspended,
    reconcile_requested,
    refresh_requested,
)
from gitwave.engine.controller.retry_reconcile import Retries


@dataclass
class Seen:
    """What this replica last did with one app (``AppReconciler`` keeps one per app)."""

    generation: int = -1
    checked: datetime | None = None
    synced: datetime | None = None
    # The generation whose ``operation`` this replica ran and cleared: setting
    # an operation bumps the generation, a status write does not, so a watch
    # event still carrying it (written before the clear) is not a new request.
    operated: int = -1
    # What the last parse said: None before one, False for a manual Argo app
    # (never synced unless asked), and whether it failed (asked again each pass).
    automated: bool | None = None
    invalid: bool = False
    # The resourceVersion the object had once this replica removed its refresh
    # annotation: a watch cache a step behind (the status write seen, the
    # removal not yet) still shows it, and that copy is not a new request.
    refreshed: str = ""


def worth_queueing(
    obj: AppObject, now: datetime, seen: Seen | None, *, retries: Retries, resync: timedelta
) -> bool:
    """False when ``reconcile`` would surely do nothing (no parse needed to
    tell): a pass comes at every watch event, most apps are not due."""
    if refresh_pending(obj, seen):
        # ``argocd app get --refresh``: compared now, backing off or not
        # (a refresh is not a sync; ``due`` says whether it syncs).
        return True
    backoff = retries.queueing(obj, now)
    if backoff is not None:
        return backoff
    if is_suspended(obj):
        return bool(reconcile_requested(obj))
    if seen is None or seen.invalid or seen.generation != obj.generation:
        return True
    if (obj.body.get("operation") and seen.operated != obj.generation) or (
        reconcile_requested(obj)
    ):
        return True
    stale = seen.checked is None or now - seen.checked >= resync
    return stale or (seen.synced is None and seen.automated is not False)


def due(
    obj: AppObject,
    app: AppSpec | None,
    now: datetime,
    seen: Seen,
    *,
    retries: Retries,
    resync: timedelta,
) -> tuple[bool, bool]:
    """(sync now, compare now) for ``obj``."""
    if retries.due(obj, now):
        return True, True
    changed = seen.generation != obj.generation
    asked = obj.body.get("operation") and seen.operated != obj.generation
    if asked or reconcile_requested(obj):
        return True, True
    automated = app is not None and (app.policy.automated or obj.kind != ARGO_KIND)
    if refresh_pending(obj, seen):
        # As Argo CD: a refresh compares with the newest commit; an automated
        # app then syncs as at its resync, unless a failed sync is waiting
        # out its back-off (``queueing`` lets it go when the commit moved).
        waiting = retries.queueing(obj, now) is False
        return automated and not waiting, True
    stale = seen.checked is None or now - seen.checked >= resync
    if automated and (changed or seen.synced is None or stale):
        return True, True
    return False, changed or stale


def refresh_pending(obj: AppObject, seen: Seen | None) -> bool:
    """A refresh asked for and not yet done by this replica."""
    if not refresh_requested(obj) or is_suspended(obj):
        return False
    done = seen.refreshed if seen is not None else ""
    version = str((obj.body.get("metadata") or {}).get("resourceVersion", "") or "")
    # resourceVersions ordered as numbers, as Argo CD's API server orders
    # them when it waits for a refresh; anything else is taken as new.
    return not (done.isdigit() and version.isdigit() and int(version) < int(done))

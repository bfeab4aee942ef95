"""Running a failed HelmRelease's remediation (``remediation.Remedy``) on its target.

- rollback: the objects of the release's last sync that succeeded, applied
  again from the state store's history (``operations.rollback``), the
  objects the failed upgrade added pruned. The history is the replica's own
  store: a replica without it (no store, or a fresh one that never released
  this HelmRelease) cannot roll back, and says so (``RollbackFailed``); the
  next attempt goes on as without remediation.
- uninstall: every object of the release pruned, as when the HelmRelease is
  deleted (``finalizers.removal_of``); the next attempt is an install.
"""

from __future__ import annotations

import logging

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.controller.finalizers import removal_of
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.remediation import Remedied, Remedy
from gitwave.engine.errors import GitwaveError
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store

log = logging.getLogger("gitwave.controller")


def remediate(
    remedy: Remedy,
    obj: AppObject,
    app: AppSpec,
    *,
    targets: ProviderRouter,
    store: Store | None,
) -> Remedied:
    """Run ``remedy`` for the release ``obj`` (its app ``app``); what it did."""
    subject = f"release {obj.namespace}/{obj.name}"
    try:
        if remedy is Remedy.ROLLBACK:
            return _rollback(obj, app, subject, targets=targets, store=store)
        if remedy is Remedy.UNINSTALL:
            synced = sync_app(
                removal_of(app, obj),
                targets=targets,
                store=store,
                request=SyncRequest(lock_timeout_s=0, retry=False, prune=True, confirm_prune=True),
            )
            if not synced.result.ok:
                message = f"Helm uninstall failed for {subject}: {synced.result.message}"
                return Remedied(remedy, False, message)
            return Remedied(remedy, True, f"Helm uninstall succeeded for {subject}")
    except GitwaveError as error:
        log.warning("%s: %s remediation failed: %s", obj.app_id, remedy.value, error)
        return Remedied(remedy, False, f"Helm {remedy.value} failed for {subject}: {error}")
    return Remedied(Remedy.NONE, True, "")


def _rollback(
    obj: AppObject,
    app: AppSpec,
    subject: str,
    *,
    targets: ProviderRouter,
    store: Store | None,
) -> Remedied:
    from gitwave.engine.operation_rollback import rollback

    last = None if store is None else store.last(app.recorded_as, succeeded_only=True)
    if store is None or last is None:
        return Remedied(
            Remedy.ROLLBACK,
            False,
            f"Helm rollback failed for {subject}: no release of it that succeeded is recorded "
            "in this controller's state store",
        )
    synced = rollback(
        app,
        last.id,
        targets=targets,
        store=store,
        request=SyncRequest(lock_timeout_s=0, retry=False, prune=True, confirm_prune=True),
    )
    if not synced.result.ok:
        return Remedied(
            Remedy.ROLLBACK, False, f"Helm rollback failed for {subject}: {synced.result.message}"
        )
    return Remedied(
        Remedy.ROLLBACK,
        True,
        f"Helm rollback succeeded for {subject}: the objects of its last release that "
        f"succeeded (history entry #{last.id}) applied again",
    )


__all__ = ["remediate"]

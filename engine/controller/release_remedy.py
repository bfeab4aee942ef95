"""Running a failed HelmRelease's remediation (``remediation.Remedy``) on its target.

- rollback: the objects of the release's last sync that succeeded, applied
  again from the state store's history (``operations.rollback``), the
  objects the failed upgrade added pruned. A replica whose store lacks it (no
  store, or a fresh one that never released this HelmRelease) reads the last
  deployed revision's manifest from Helm's storage Secrets
  (release_store.py) and applies those objects; with neither it cannot roll
  back, and says so (``RollbackFailed``); the next attempt goes on as
  without remediation.
- uninstall: every object of the release pruned, as when the HelmRelease is
  deleted (``finalizers.removal_of``), and its storage Secrets deleted; the
  next attempt is an install.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.controller.finalizers import removal_of
from gitwave.engine.controller.helm_storage import ReleaseSecrets, last_deployed
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.release_store import (
    forget_releases,
    read_releases,
    storage_namespace,
)
from gitwave.engine.controller.release_sync import release_of
from gitwave.engine.controller.remediation import Remedied, Remedy
from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import SourceRef
from gitwave.engine.operation_sync import Synced
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.render import RenderOptions
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.resources import to_resources
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.yamlio import load_documents

log = logging.getLogger("gitwave.controller")


# A remediation's sync: the replica already holds the app (no lock wait), a
# failure is the remediation's answer (no retry), and what it undoes is pruned.
_REMEDY = SyncRequest(lock_timeout_s=0, retry=False, prune=True, confirm_prune=True)


def remediate(
    remedy: Remedy,
    obj: AppObject,
    app: AppSpec,
    *,
    targets: ProviderRouter,
    store: Store | None,
    releases: ReleaseSecrets | None = None,
) -> Remedied:
    """Run ``remedy`` for the release ``obj`` (its app ``app``); what it did.
    ``releases``: Helm's storage Secrets, read when ``store`` lacks the release."""
    subject = f"release {obj.namespace}/{obj.name}"
    try:
        if remedy is Remedy.ROLLBACK:
            return _rollback(obj, app, subject, targets=targets, store=store, releases=releases)
        if remedy is Remedy.UNINSTALL:
            synced = sync_app(
                removal_of(app, obj),
                targets=targets,
                store=store,
                request=_REMEDY,
            )
            if not synced.result.ok:
                message = f"Helm uninstall failed for {subject}: {synced.result.message}"
                return Remedied(remedy, False, message)
            if releases is not None and app.kube_config is None:
                _forget(releases, obj)
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
    releases: ReleaseSecrets | None,
) -> Remedied:
    from gitwave.engine.operation_rollback import rollback

    last = None if store is None else store.last(app.recorded_as, succeeded_only=True)
    if (store is None or last is None) and releases is not None and app.kube_config is None:
        return _rollback_from_storage(
            obj, app, subject, targets=targets, store=store, releases=releases
        )
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
        request=_REMEDY,
    )
    return _rolled_back(
        subject,
        synced,
        f"the objects of its last release that succeeded (history entry #{last.id}) applied again",
    )


def _forget(releases: ReleaseSecrets, obj: AppObject) -> None:
    """Delete the release's storage Secrets after an uninstall; a failure is
    logged (the objects are gone: the uninstall itself worked)."""
    try:
        forget_releases(releases, obj, release_of(obj)[0])
    except Exception as error:  # the API's error; never the Secrets' content
        log.warning("%s: deleting its Helm release Secrets failed: %s", obj.app_id, error)


def _rollback_from_storage(
    obj: AppObject,
    app: AppSpec,
    subject: str,
    *,
    targets: ProviderRouter,
    store: Store | None,
    releases: ReleaseSecrets,
) -> Remedied:
    """Roll back to the last deployed revision in Helm's storage: its manifest's
    objects are the app's render, so the sync applies them and prunes what the
    failed upgrade added (only objects tracked by this app, as any prune)."""
    namespace = storage_namespace(obj)
    try:
        good = last_deployed(read_releases(releases, namespace, release_of(obj)[0]))
    except Exception as error:  # the API's error (forbidden, unreachable) or a bad name
        return Remedied(
            Remedy.ROLLBACK,
            False,
            f"Helm rollback failed for {subject}: no release of it is recorded in this "
            f"controller's state store, and Helm's storage (namespace {namespace}) could not "
            f"be read: {error}",
        )
    if good is None:
        return Remedied(
            Remedy.ROLLBACK,
            False,
            f"Helm rollback failed for {subject}: no release of it that succeeded is recorded "
            f"in this controller's state store or in Helm's storage (namespace {namespace})",
        )
    where = f"Secret {namespace}/{good.secret_name}"
    documents = load_documents(good.manifest, file=where)
    resources = to_resources(
        [Doc(d.value, SourceRef(where, d.line)) for d in documents if d.value], RenderOptions()
    )
    synced = sync_app(
        replace(app, inline=tuple(resources)),
        targets=targets,
        store=store,
        request=_REMEDY,
    )
    return _rolled_back(
        subject,
        synced,
        f"the objects of its revision {good.version} (Helm's storage, {where}) applied again",
    )


def _rolled_back(subject: str, synced: Synced, what: str) -> Remedied:
    """The rollback's condition: ``what`` it applied again, or why it failed."""
    if not synced.result.ok:
        return Remedied(
            Remedy.ROLLBACK, False, f"Helm rollback failed for {subject}: {synced.result.message}"
        )
    return Remedied(Remedy.ROLLBACK, True, f"Helm rollback succeeded for {subject}: {what}")


__all__ = ["remediate"]

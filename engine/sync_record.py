"""How an operation holds its app and writes its history: the lock around a
sync or rollback, the digest of an edited work tree, the Secret values masked
in every row, the rows of attempts that failed before anything was applied,
and reading the history back (marking syncs whose process died as
Interrupted). ``operations`` strings these together."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from gitwave.engine.app_children import owner_text
from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.mask import redact, secret_values
from gitwave.engine.model import ChangeSet, Health, HealthCode, Plan
from gitwave.engine.source import is_dirty_revision
from gitwave.engine.store import Store
from gitwave.engine.store_records import RUNNING, ResourceOutcome, SyncRecord
from gitwave.engine.sync_request import SyncRequest

# The executor (SyncPhase, SyncResult) is imported by the functions recording a
# sync: reading a digest or a lock (`gitwave status`) does not load it.
if TYPE_CHECKING:
    from gitwave.engine.sync import SyncResult

__all__ = [
    "content_digest",
    "failed_before_start",
    "history",
    "holding",
    "outcomes",
    "previous_success",
    "record_error",
    "secrets_of",
]


def holding(
    store: Store | None, app: str, request: SyncRequest, sink: EventSink
) -> AbstractContextManager[None]:
    """The app's operation lock for a sync or rollback; none for a dry run."""
    if store is None or request.dry_run:
        return nullcontext()
    from gitwave.engine.locks import hold_app  # a sync or rollback, not a read

    return hold_app(store, app, timeout_s=request.lock_timeout_s, sink=sink)


def content_digest(state: AppState) -> str:
    """What an edited work tree renders to, as a digest (``sha256:…``; "" for a
    commit as it is): the commit alone does not say what was applied. Secrets
    count by key and entry names only (``store.manifests_digest``)."""
    if not is_dirty_revision(state.revision):
        return ""
    # Here, not at the top: `gitwave status` of a commit needs no digest.
    from gitwave.engine.store_manifests import manifests_digest

    return manifests_digest(state.resources)


def secrets_of(state: AppState) -> list[str]:
    """The values of the app's Secrets, to mask in what the history records
    whatever a target said. A backstop over every object's message (providers
    mask values themselves): values shorter than 4 characters would blank
    digits all over the history."""
    found = [
        v for r in state.resources if r.is_secret for v in secret_values(r.manifest) if len(v) >= 4
    ]
    # What Secret values became in other objects (Flux postBuild substituteFrom).
    return found + [v for r in state.resources for v in r.masked_values if len(v) >= 4]


def outcomes(result: SyncResult, secrets: list[str]) -> list[ResourceOutcome]:
    return [
        ResourceOutcome(e.key, e.action, redact(e.message, secrets))
        for e in result.changeset.entries
    ]


def failed_before_start(plan: Plan, message: str, sink: EventSink) -> SyncResult:
    """The result of a sync stopped before its first wave (a hook an interrupted
    sync started failed): nothing applied."""
    from gitwave.engine.sync import SyncPhase, SyncResult

    now = time.time()
    sink(Event(kind=EventKind.ERROR, app=plan.app, revision=plan.revision, message=message))
    return SyncResult(
        app=plan.app,
        revision=plan.revision,
        phase=SyncPhase.FAILED,
        message=message,
        changeset=ChangeSet(()),
        health=Health(HealthCode.DEGRADED, message),
        started=now,
        finished=now,
    )


def record_error(
    store: Store, app: AppSpec, error: GitwaveError, *, started: float, prune: bool
) -> int:
    """History entry of an attempt that failed before anything was applied."""
    from gitwave.engine.sync import SyncPhase

    return store.record_sync(
        app=app.recorded_as,
        revision="",
        source=app.source.describe,
        started=started,
        finished=time.time(),
        result=SyncPhase.ERROR.value,
        message=str(error),
        outcomes=[],
        manifests=[],
        prune=prune,
        owner=owner_text(app.owner),
    )


def history(store: Store, app: str, *, limit: int = 50) -> list[SyncRecord]:
    """``app``'s syncs, newest first, the one running now included. A sync whose
    process died shows as Interrupted: when nobody holds the app, its lock is
    taken for a moment to mark such syncs (a read while it is held marks nothing)."""
    newest = store.history(app, limit=1, running=True)
    if newest and newest[0].result == RUNNING:
        from gitwave.engine.locks import AppBusyError, hold_app

        try:
            with hold_app(store, app, timeout_s=0.0):
                pass
        except AppBusyError:
            pass  # someone is syncing it: its Running row is true
    return store.history(app, limit=limit, running=True)


def previous_success(store: Store, app: str) -> int:
    """The history entry a rollback without an ID goes back to: the successful
    sync before the newest one. ValidationError when there is none."""
    from gitwave.engine.sync import SyncPhase

    candidates = [r for r in store.history(app, limit=100) if r.result == SyncPhase.SUCCEEDED.value]
    if len(candidates) < 2:
        raise ValidationError(
            f"app {app}",
            "no earlier successful sync to roll back to",
            hint=f"`gitwave history {app}` lists the entries; pass an ID",
        )
    return candidates[1].id

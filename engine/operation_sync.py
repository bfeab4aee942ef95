"""Syncing an app (``operations.sync``, ``operations.sync_app``): run a plan
holding the app's lock (hooks once per revision when a ledger is given,
drift-loop fields left alone), record it in the history as it starts and as
it ends, and retry it per the app's retry policy.

Imported by the operation that syncs, not by ``engine.operations``: `gitwave
status` and `plan` only plan (``operations`` re-exports these names lazily).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gitwave.engine import plan_filters, prune_guard
from gitwave.engine.app_children import ChildrenStore, note_sync, owner_text
from gitwave.engine.app_pipeline import AppState
from gitwave.engine.app_references import late_binder
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.interrupts import pause
from gitwave.engine.locks import SupersededError
from gitwave.engine.mask import redact
from gitwave.engine.model import Plan
from gitwave.engine.operations import cluster_name, destination_text, plan, targets_for
from gitwave.engine.projects import check_manual_window
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import INTERRUPTED, Store
from gitwave.engine.sync_record import (
    content_digest,
    failed_before_start,
    holding,
    outcomes,
    record_error,
    secrets_of,
)
from gitwave.engine.sync_request import SyncRequest, effective_prune, sync_options_for
from gitwave.engine.sync_windows import utc_now

# What runs a sync (the executor, hooks, retries) is imported by the function
# that runs it.
if TYPE_CHECKING:
    import tenacity  # annotations only; engine.retry runs the loops

    from gitwave.engine.drift import DriftLoop
    from gitwave.engine.hooks import HookLedger
    from gitwave.engine.sync import SyncResult

__all__ = ["Synced", "sync", "sync_app"]


@dataclass(frozen=True, slots=True)
class Synced:
    """What one sync did: the state it started from, the plan that ran (the
    state's plan less what was left out: hooks already done, paused fields)
    and its result."""

    state: AppState
    plan: Plan
    result: SyncResult


def sync(
    state: AppState,
    *,
    targets: ProviderRouter,
    store: Store | None,
    request: SyncRequest = SyncRequest(),
    ledger: HookLedger | None = None,
    paused: Iterable[DriftLoop] = (),
    sink: EventSink = discard,
    source: str = "",
    stop: threading.Event | None = None,
    rollback_of: int | None = None,
    decided_on: tuple[int, str] | None = None,
) -> Synced:
    """Run the plan of ``state`` holding the app's lock, and record it in
    ``store``'s history as it starts and as it ends (not for a dry run).

    With a ``ledger``, hooks run once per revision and survive a kill: hooks
    it holds as done are left out, hooks an interrupted sync started are
    waited for rather than started again (``hooks.adopt_in_flight``), and each
    hook is recorded before it is created and when it succeeds. A forced
    request runs every hook again. Fields of ``paused`` drift loops are left
    alone. ``source`` is the history row's "source" column (default: the
    app's source).

    ``decided_on`` is the app's newest history row (``Store.newest``) the
    caller decided to sync on: when another row was recorded or finished since
    (a ``gitwave rollback`` the loop raced), SupersededError is raised under
    the lock before anything is applied. None (the default) checks nothing.

    Raises AppBusyError when another operation holds the app past the
    request's lock timeout, PruneGuardError when the plan prunes past the
    app's prune limit or deletes a stateful object and the request does not
    carry ``confirm_prune`` (nothing applied or deleted). Never raises for a
    failed object: it is in the result."""
    from gitwave.engine.hooks import HookRecorder, adopt_in_flight, with_hook_runs
    from gitwave.engine.sync import SyncPhase, SyncResult, execute

    app = state.app
    targets = targets_for(app, targets)
    with holding(store, app.recorded_as, request, sink):
        if decided_on is not None and store is not None and not request.dry_run:
            now = store.newest(app.recorded_as)
            if now != decided_on:
                raise SupersededError(app.recorded_as, decided_on, now)
        if not request.dry_run:
            # Before the history row and the first write: a refused sync changed nothing.
            prune_guard.check(state, limit=request.prune_limit, confirmed=request.confirm_prune)
        for finding in state.findings:  # Warn and Audit: Deny never reaches a sync
            sink(Event(EventKind.POLICY, app.name, finding.text(), revision=state.plan.revision))
        ran = plan_filters.without_paused_fields(state.plan, paused)
        run_sink: EventSink = sink
        recording = store is not None and not request.dry_run
        sync_id = None
        if recording:
            assert store is not None
            if app.removed_from:
                source = source or f"removed from {app.removed_from}"
            sync_id = store.begin_sync(
                app=app.recorded_as,
                revision=ran.revision,
                source=source or app.source.describe,
                started=time.time(),
                manifests=state.resources,
                prune=effective_prune(app, request),
                rollback_of=rollback_of,
                content_digest=content_digest(state),
                owner=owner_text(state.plan.owner),
                destination=destination_text(targets, app),
            )
        failed = ""
        options = sync_options_for(app, request, stop=stop)
        if ledger is not None and not request.dry_run:
            if not request.force:
                failed = adopt_in_flight(
                    ran,
                    ledger,
                    targets=targets,
                    timeout_s=options.wave_timeout_s,
                    sink=sink,
                    stop=stop,
                ).failed
                ran, _ = plan_filters.without_done_hooks(
                    ran, ledger.hooks_done(app.name, ran.revision)
                )
            import uuid  # with platform, 15 ms of every start

            token = uuid.uuid4().hex
            ran = with_hook_runs(ran, token)
            run_sink = HookRecorder(ran, ledger, sink, token=token)
        try:
            if failed:
                result = failed_before_start(ran, failed, sink)
            else:
                result = execute(
                    ran,
                    targets=targets,
                    options=options,
                    sink=run_sink,
                    bind=late_binder(state.graph, targets),
                    graph=state.graph,
                )
        except BaseException as exc:
            if store is not None and sync_id is not None:
                # Ctrl-C, or a bug: the row must not claim the sync still runs.
                stopped = isinstance(exc, KeyboardInterrupt)
                # What a stopped sync applied before it stopped is kept (engine.sync).
                partial = getattr(exc, "partial", None)
                done = []
                if isinstance(partial, SyncResult):
                    done = outcomes(partial, secrets_of(state))
                store.finish_sync(
                    sync_id,
                    finished=time.time(),
                    result=INTERRUPTED if stopped else SyncPhase.ERROR.value,
                    message="interrupted (Ctrl-C)"
                    if stopped
                    else f"failed unexpectedly ({type(exc).__name__})",
                    outcomes=done,
                )
            raise
        if store is not None and sync_id is not None:
            secrets = secrets_of(state)
            store.finish_sync(
                sync_id,
                finished=result.finished,
                result=result.phase.value,
                message=redact(result.message, secrets),
                outcomes=outcomes(result, secrets),
            )
            if app.parent:
                with closing(ChildrenStore.beside(store)) as records:
                    note_sync(records, app, ran, ok=result.ok, destination=cluster_name(targets))
    return Synced(state, ran, result)


def sync_app(
    app: AppSpec,
    *,
    targets: ProviderRouter,
    store: Store | None,
    request: SyncRequest = SyncRequest(),
    ledger: HookLedger | None = None,
    sink: EventSink = discard,
    on_plan: Callable[[AppState], None] | None = None,
    sleep: Callable[[float], None] = pause,
    jitter: Callable[[], float] = random.random,
    clock: Callable[[], datetime] = utc_now,
) -> Synced:
    """Plan and sync one app, retrying per its retry spec; records every
    attempt in ``store``. ``on_plan`` sees each attempt's state before
    anything is applied and may raise to stop (a confirmed plan that changed).
    The app's lock is held from the first plan to the last attempt, so a
    second caller plans what the first one left; ``ledger`` as for ``sync``.

    A failed sync, or an attempt that failed on a retriable error (a missing
    namespace, an unreachable target), is tried again after the spec's backoff
    while retries are left. Bad input (a render error, a cycle) raises
    GitwaveError at once, before anything is applied; so does a retriable
    error on the last attempt. A failed object does not raise: it is in the
    result. Dry runs are never retried.

    This is a manual sync: the app's sync windows at ``clock()`` may refuse
    it (SyncWindowError, before anything is planned); a dry run applies
    nothing and is never refused."""
    from gitwave.engine.retry import MAX_TARGET_DELAY_S, retrying, target_delay

    if not request.dry_run:
        check_manual_window(app, clock())
    spec = app.policy.retry if request.retry and not request.dry_run else None
    prune = effective_prune(app, request)

    def attempt() -> Synced:
        started = time.time()
        try:
            state = plan(app, request, targets=targets)
        except GitwaveError as exc:
            if store is not None and not request.dry_run:
                record_error(store, app, exc, started=started, prune=prune)
            raise
        if on_plan is not None:
            on_plan(state)  # may raise to stop: that is no failed attempt to record
        return sync(state, targets=targets, store=store, request=request, ledger=ledger, sink=sink)

    def should_retry(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        assert outcome is not None
        if outcome.failed:
            error = outcome.exception()
            return isinstance(error, GitwaveError) and error.retriable
        synced: Synced = outcome.result()
        return not synced.result.ok

    def announce(state: tenacity.RetryCallState, delay: float) -> None:
        outcome = state.outcome
        assert outcome is not None and spec is not None
        if outcome.failed:
            revision, message = "", str(outcome.exception())
        else:
            synced: Synced = outcome.result()
            revision, message = synced.result.revision, synced.result.message
        limit = "unlimited" if spec.limit < 0 else str(spec.limit)
        sink(
            Event(
                kind=EventKind.ERROR,
                app=app.name,
                revision=revision,
                message=f"sync failed, retry {state.attempt_number}/{limit} in {delay:.1f}s: "
                f"{message}",
            )
        )

    def asked(state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        assert outcome is not None
        if outcome.failed:
            return target_delay(outcome.exception())
        synced: Synced = outcome.result()
        return min(synced.result.retry_after_s, MAX_TARGET_DELAY_S)

    runner = retrying(
        spec,
        should_retry=should_retry,
        before_sleep=announce,
        sleep=sleep,
        jitter=jitter,
        asked=asked,
    )
    with holding(store, app.recorded_as, request, sink):
        synced: Synced = runner(attempt)
    return synced

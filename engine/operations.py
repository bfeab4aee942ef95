"""The operations layer: what the command line, the TUI, ``watch``, ``run``
and (later) the controller ask of the engine, each in one place.

- ``select_apps``: the apps a location defines, in sync order, filtered by name;
  ``select_app_set`` the same with each broken app beside the others (it fails alone);
  ``select_labelled`` narrows them by a label selector (``-l``);
- ``effective_prune``: whether a sync of an app prunes (the request, else its policy);
- ``plan``: one app through render → compose → graph → observe → plan (``AppState``),
  narrowed to what the request asked (one object, forced);
- ``sync``: run a plan (hooks once per revision when a ledger is given, drift-loop
  fields left alone) and record it in the history;
- ``sync_app``: plan and sync with the app's retry policy (``gitwave sync``);
- ``rollback``: re-apply the manifests of a history entry; ``history``: the
  past syncs of an app, a running or interrupted one included;
- ``resource_healths``, ``app_health`` (``engine.app_status``): health of an app's
  objects and of the app; ``plan_summary``, ``result_summary``: one-line texts.

Every operation that changes an app holds its lock (``engine.locks``: one
operation per app across processes) and writes its history row when it starts
and when it ends, so a killed sync shows as Interrupted.

The callers present these values and decide nothing themselves. One module on
purpose (about 540 lines): it is the whole list of what a front end may ask of
the engine, read top to bottom; the stages it strings together live in
``app_choice``, ``app_pipeline``, ``sync``, ``sync_request``, ``sync_record``,
``plan_filters``, ``hooks``, ``locks`` and ``app_status``.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitwave.engine import plan_filters, prune_guard
from gitwave.engine.app_children import ChildrenStore, note_sync, owner_text
from gitwave.engine.app_choice import (
    ChosenApp,
    choose_app_set,
    choose_apps,
    select_app_set,
    select_apps,
    select_labelled,
)
from gitwave.engine.app_pipeline import (
    AppState,
    Desired,
    desired_of,
    late_binder,
    plan_resources,
)
from gitwave.engine.app_status import app_health, plan_summary, resource_healths, result_summary
from gitwave.engine.apps import AppSpec
from gitwave.engine.clusters import IN_CLUSTER_NAME
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.fleet import check_cluster_scope
from gitwave.engine.interrupts import pause
from gitwave.engine.kube_versions import kubernetes_version
from gitwave.engine.lazy_module import lazy_exports
from gitwave.engine.locks import SupersededError
from gitwave.engine.mask import redact
from gitwave.engine.model import (
    Owner,
    Plan,
    SyncStatus,
)
from gitwave.engine.policy.gate import gate as policy_gate
from gitwave.engine.policy.gate import target_version
from gitwave.engine.projects import check_manual_window, check_project, window_verdict
from gitwave.engine.render import Rendered
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import (
    INTERRUPTED,
    Store,
)
from gitwave.engine.sync_record import (
    content_digest,
    failed_before_start,
    history,
    holding,
    outcomes,
    previous_success,
    record_error,
    secrets_of,
)
from gitwave.engine.sync_request import (
    DEFAULT_WAVE_TIMEOUT_S,
    SyncRequest,
    effective_prune,
    sync_options_for,
)
from gitwave.engine.sync_windows import utc_now
from gitwave.engine.validate import preflight

# What runs a sync (the executor, hooks, retries) and waits for an app is
# imported by the operation that does it: `gitwave status` and `plan` only plan.
if TYPE_CHECKING:
    import tenacity  # annotations only; engine.retry runs the loops

    from gitwave.engine.app_wait import WaitFor, WaitOutcome
    from gitwave.engine.drift import DriftLoop
    from gitwave.engine.hooks import HookLedger
    from gitwave.engine.sync import SyncResult

_lazy = lazy_exports(
    __name__, {"WaitFor": "app_wait", "WaitOutcome": "app_wait"}, package="gitwave.engine"
)


def __getattr__(name: str) -> Any:
    return _lazy(name)


__all__ = [
    "DEFAULT_WAVE_TIMEOUT_S",
    "AppState",
    "ChosenApp",
    "SyncRequest",
    "SyncStatus",
    "Synced",
    "WaitFor",
    "WaitOutcome",
    "app_health",
    "check_manual_window",
    "choose_app_set",
    "choose_apps",
    "content_digest",
    "effective_prune",
    "history",
    "plan",
    "plan_summary",
    "previous_success",
    "resource_healths",
    "result_summary",
    "rollback",
    "select_app_set",
    "select_apps",
    "select_labelled",
    "sync",
    "sync_app",
    "sync_options_for",
    "wait",
    "window_verdict",
]


@dataclass(frozen=True, slots=True)
class Synced:
    """What one sync did: the state it started from, the plan that ran (the
    state's plan less what was left out: hooks already done, paused fields)
    and its result."""

    state: AppState
    plan: Plan
    result: SyncResult


# --- planning ----------------------------------------------------------------------------


def plan(
    app: AppSpec,
    request: SyncRequest,
    *,
    targets: ProviderRouter,
    rendered: Rendered | None = None,
    desired: Desired | None = None,
) -> AppState:
    """Render, compose, graph, observe and plan ``app``; the plan narrowed to
    ``request.resource`` and forced when asked. ``rendered`` is the app's
    render and ``desired`` what it composes to, when the caller has them
    already (the reconcile loop keeps both per commit). Raises GitwaveError
    for bad input (nothing is applied): PreflightError for objects the
    target would refuse (``engine.validate``), ProjectError for what the app's
    AppProject refuses (``engine.projects``)."""
    # kustomize-controller reads the decryption.secretRef Secret as itself, not as the
    # Kustomization's serviceAccountName: the keys are read through the targets as given.
    keys_from = targets
    targets = targets_for(app, targets)
    prune = effective_prune(app, request)
    if app.removed_from:
        # A child gone from its app of apps: nothing to render, only what it left.
        state = plan_resources(
            app, (), revision="", targets=targets, prune=prune, adopt=request.adopt, removed=True
        )
    else:
        if rendered is None:
            rendered = render_for(app, keys_from)
        if desired is None:
            desired = desired_of(rendered.resources)
        # Before anything is observed: a forbidden destination is not even read.
        check_project(app, desired.graph)
        state = plan_resources(
            app,
            rendered.resources,
            revision=rendered.revision,
            targets=targets,
            prune=prune,
            parallelism=request.parallelism,
            rendered=rendered,
            desired=desired,
            adopt=request.adopt,
            force=request.force,
        )
    with kubernetes_version(target_version(targets, request.policy.kubernetes_version)):
        preflight(state, targets=targets)
    findings = policy_gate(state, request.policy, targets=targets)
    if findings:
        state = dataclasses.replace(state, findings=findings)
    if targets.cluster is not None:  # a destination limited to some namespaces
        check_cluster_scope(state.graph.resources.values(), targets.cluster, app.where)
    return _narrowed(state, request)


def targets_for(app: AppSpec, targets: ProviderRouter) -> ProviderRouter:
    """The targets as ``app`` reaches them: a Flux app with a
    ``serviceAccountName`` writes as that ServiceAccount (``Impersonate-User``),
    so the cluster's RBAC bounds it as kustomize-controller's does. The one
    place an operation picks its router for an app."""
    user = app.impersonate
    return targets.as_user(user) if user else targets


def cluster_name(targets: ProviderRouter) -> str:
    """The name of the cluster ``targets`` reach (``in-cluster``: the current target)."""
    return targets.cluster.name if targets.cluster is not None else IN_CLUSTER_NAME


def destination_text(targets: ProviderRouter, app: AppSpec) -> str:
    """``cluster/namespace`` of where ``targets`` apply ``app`` (``in-cluster``:
    the current target), for history rows."""
    cluster = targets.cluster.name if targets.cluster is not None else IN_CLUSTER_NAME
    namespace = app.destination_namespace
    return f"{cluster}/{namespace}" if namespace else cluster


def _narrowed(state: AppState, request: SyncRequest) -> AppState:
    shaped = state.plan
    if request.resource is not None:
        shaped = plan_filters.only(shaped, request.resource)
    if request.resources:
        shaped = plan_filters.only_refs(shaped, request.resources)
    if request.force:
        shaped = plan_filters.forced(shaped)
    return state if shaped is state.plan else state.with_plan(shaped)


# --- syncing -----------------------------------------------------------------------------


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


def rollback(
    app: AppSpec,
    sync_id: int,
    *,
    targets: ProviderRouter,
    store: Store,
    request: SyncRequest = SyncRequest(),
    sink: EventSink = discard,
) -> Synced:
    """Re-apply the manifests recorded for history entry ``sync_id``.

    Needs no Git: the manifests come from the store. Secrets are not recorded,
    so they keep their live contents (they are left out of the plan). Holds
    the app's lock from the plan to the end (AppBusyError past its timeout)."""
    with holding(store, app.recorded_as, request, sink):
        return _rollback(
            app,
            sync_id,
            targets=targets_for(app, targets),
            store=store,
            request=request,
            sink=sink,
        )


def _rollback(
    app: AppSpec,
    sync_id: int,
    *,
    targets: ProviderRouter,
    store: Store,
    request: SyncRequest,
    sink: EventSink,
) -> Synced:
    entry = store.get(sync_id)
    if entry.app != app.recorded_as:
        raise ValidationError(
            f"history entry {sync_id}",
            f"belongs to app {entry.app!r}, not {app.name!r}",
            hint=f"`gitwave history {app.name}` lists this app's entries",
        )
    recorded = store.manifests(sync_id)
    # Objects a Secret's value reached (Flux postBuild) are recorded masked: kept too.
    cleaned = [r for r in recorded if not r.is_secret and not r.masked_values]
    secrets = [r.key for r in recorded if r.is_secret or r.masked_values]
    # The objects belong to the app as it was synced then: the history says
    # which source that was (an entry from before it did: the name alone).
    name, _, source = entry.owner.partition("@")
    state = plan_resources(
        app,
        cleaned,
        revision=entry.revision,
        targets=targets,
        prune=bool(request.prune),
        parallelism=request.parallelism,
        # Left out of the plan, they must not look like leftovers to prune.
        keep=secrets,
        adopt=request.adopt,
        owner=Owner(name or app.name, source),
    )
    check_project(app, state.graph)  # what the project allowed then, it may refuse now
    sink(
        Event(
            kind=EventKind.ROLLBACK,
            app=app.name,
            revision=entry.revision,
            message=f"rolling back to history entry {sync_id}",
        )
    )
    # The Secrets' stubs are recorded too, so a rollback to this entry keeps them as well.
    recorded_state = AppState(
        app=state.app,
        revision=state.revision,
        resources=tuple(recorded),
        composed=state.composed,
        graph=state.graph,
        live=state.live,
        plan=state.plan,
    )
    return sync(
        recorded_state,
        targets=targets,
        store=store,
        request=SyncRequest(
            prune=bool(request.prune),
            dry_run=request.dry_run,
            wave_timeout_s=request.wave_timeout_s,
            parallelism=request.parallelism,
            adopt=request.adopt,
            lock_timeout_s=request.lock_timeout_s,
        ),
        sink=sink,
        source=f"rollback of #{sync_id}",
        rollback_of=sync_id,
    )


def wait(
    app: AppSpec,
    want: WaitFor,
    *,
    targets: ProviderRouter,
    on_progress: Callable[[str], None] = lambda line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Wait for ``app`` to be Healthy (and Synced) as ``want`` says
    (``engine.app_wait``, ``argocd app wait``); never applies anything."""
    from gitwave.engine.app_wait import wait_app

    return wait_app(
        app, want, targets=targets, plan=plan, on_progress=on_progress, clock=clock, sleep=sleep
    )

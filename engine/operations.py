"""The operations layer: what the command line, the TUI, ``watch``, ``run``
and (later) the controller ask of the engine, each in one place.

- ``select_apps``: the apps a location defines, in sync order, filtered by name;
  ``select_app_set`` the same with each broken app beside the others (it fails alone);
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
purpose (about 500 lines): it is the whole list of what a front end may ask of
the engine, read top to bottom; the stages it strings together live in
``app_pipeline``, ``sync``, ``plan_filters``, ``hooks``, ``locks`` and ``app_status``.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass

import tenacity

from gitwave.engine import plan_filters
from gitwave.engine.app_children import ChildrenStore, note_sync, owner_text, removed_children
from gitwave.engine.app_choice import ChosenApp, choose_app_set
from gitwave.engine.app_pipeline import (
    AppState,
    Desired,
    late_binder,
    plan_app,
    plan_resources,
)
from gitwave.engine.app_status import app_health, plan_summary, resource_healths, result_summary
from gitwave.engine.apps import AppSpec, flatten_apps, load_app_set
from gitwave.engine.drift import DriftLoop
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.hooks import HookLedger, HookRecorder, adopt_in_flight, with_hook_runs
from gitwave.engine.locks import DEFAULT_LOCK_TIMEOUT_S, AppBusyError, hold_app
from gitwave.engine.mask import redact, secret_values
from gitwave.engine.model import (
    ChangeSet,
    Health,
    HealthCode,
    Owner,
    Plan,
    ResourceKey,
    SyncStatus,
)
from gitwave.engine.render import Rendered
from gitwave.engine.retry import MAX_TARGET_DELAY_S, retrying, target_delay
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import is_dirty_revision
from gitwave.engine.store import (
    INTERRUPTED,
    RUNNING,
    ResourceOutcome,
    Store,
    SyncRecord,
    manifests_digest,
)
from gitwave.engine.sync import FORCE_OPTION, SyncOptions, SyncPhase, SyncResult, execute
from gitwave.engine.validate import preflight

__all__ = [
    "AppState",
    "ChosenApp",
    "SyncRequest",
    "SyncStatus",
    "Synced",
    "app_health",
    "choose_app_set",
    "content_digest",
    "effective_prune",
    "history",
    "plan",
    "plan_summary",
    "resource_healths",
    "result_summary",
    "rollback",
    "select_app_set",
    "select_apps",
    "sync",
    "sync_app",
]

DEFAULT_WAVE_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncRequest:
    """What a user (or the loop) asked of an operation on an app.

    ``prune`` None follows the app's policy. ``wave_timeout_s`` None: the app's
    timeout, else 300 s. ``force`` re-applies every object, the ones already
    in sync too, taking over fields another applier owns (server-side apply
    with force re-asserts every field gitwave sets). ``resource`` limits the
    operation to that one object. ``retry`` False tries once whatever the
    app's retry policy says. ``adopt`` takes over objects another app
    (another name, or the same name from another source) owns, instead of
    refusing to plan. ``lock_timeout_s`` is how long to wait while another
    operation (another process, the loop, the TUI) holds the app; 0 asks once."""

    prune: bool | None = None
    adopt: bool = False
    dry_run: bool = False
    wave_timeout_s: float | None = None
    parallelism: int = 8
    retry: bool = True
    force: bool = False
    resource: ResourceKey | None = None
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Synced:
    """What one sync did: the state it started from, the plan that ran (the
    state's plan less what was left out: hooks already done, paused fields)
    and its result."""

    state: AppState
    plan: Plan
    result: SyncResult


# --- choosing apps -----------------------------------------------------------------------


def choose_apps(
    apps: Iterable[AppSpec], *, only: Collection[str] = (), location: str = "."
) -> list[AppSpec]:
    """``apps`` flattened into sync order (parents before children, dependsOn
    first) and filtered by name. Without names an app of apps only holds
    other apps, so its children are chosen, not itself.

    Raises ValidationError naming the known apps for an unknown name, and
    what ``flatten_apps`` raises (an unknown or cyclic dependsOn)."""
    flat = flatten_apps(apps)
    if only:
        wanted = set(only)
        chosen = [a for a in flat if a.name in wanted]
        missing = sorted(wanted - {a.name for a in chosen})
        if missing:
            raise ValidationError(
                location,
                f"no app named {', '.join(missing)}",
                hint="apps here: " + ", ".join(a.name for a in flat),
            )
        return chosen
    return [a for a in flat if not a.children] or flat


def select_apps(
    location: str,
    *,
    revision: str | None = None,
    only: Collection[str] = (),
    allow_local_repos: Collection[str] = (),
    store: Store | None = None,
) -> list[AppSpec]:
    """The apps ``location`` defines (at ``revision``), chosen as ``choose_apps`` does;
    ``allow_local_repos`` are host directories an app's source may name besides
    the given repository. With a ``store``, the child apps an app of apps here
    held and holds no more follow (``app_children.removed_children``): planning
    them shows the objects they left. Raises GitwaveError when they cannot be
    loaded; an app not chosen (``only``) that is broken does not stop the others."""
    chosen = select_app_set(
        location, revision=revision, only=only, allow_local_repos=allow_local_repos, store=store
    )
    for entry in chosen:
        if entry.error is not None:
            raise entry.error
    return [entry.spec for entry in chosen if entry.spec is not None]


def select_app_set(
    location: str,
    *,
    revision: str | None = None,
    only: Collection[str] = (),
    allow_local_repos: Collection[str] = (),
    store: Store | None = None,
) -> list[ChosenApp]:
    """The apps ``location`` defines, chosen as ``choose_app_set`` does: each broken
    one carries its error and the others load; with a ``store``, then the removed
    children as ``select_apps`` says, except those of a broken app of apps (its
    child list is partial: nothing is pruned on it). Raises GitwaveError only when
    the location itself cannot be read or an unknown app is named."""
    app_set = load_app_set(location, revision=revision, allow_local_repos=tuple(allow_local_repos))
    chosen = choose_app_set(app_set, only=only, location=location)
    if store is None:
        return chosen
    broken = {b.name for b in app_set.broken}
    with closing(ChildrenStore.beside(store)) as records:
        removed = removed_children(flatten_apps(app_set.apps), records, only=only)
    return chosen + [ChosenApp(app.name, app) for app in removed if app.removed_from not in broken]


def effective_prune(app: AppSpec, request: SyncRequest) -> bool:
    """Whether an operation on ``app`` prunes: the request's word, else the app's policy."""
    return app.policy.prune if request.prune is None else request.prune


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
    target would refuse (``engine.validate``)."""
    prune = effective_prune(app, request)
    if app.removed_from:
        # A child gone from its app of apps: nothing to render, only what it left.
        state = plan_resources(
            app, (), revision="", targets=targets, prune=prune, adopt=request.adopt, removed=True
        )
    elif rendered is None:
        state = plan_app(
            app,
            targets=targets,
            prune=prune,
            parallelism=request.parallelism,
            adopt=request.adopt,
        )
    else:
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
        )
    preflight(state, targets=targets)
    return _narrowed(state, request)


def _narrowed(state: AppState, request: SyncRequest) -> AppState:
    shaped = state.plan
    if request.resource is not None:
        shaped = plan_filters.only(shaped, request.resource)
    if request.force:
        shaped = plan_filters.forced(shaped)
    return state if shaped is state.plan else state.with_plan(shaped)


# --- syncing -----------------------------------------------------------------------------


def sync_options_for(
    app: AppSpec, request: SyncRequest, *, stop: threading.Event | None = None
) -> SyncOptions:
    """The executor's options for ``app``: its sync policy plus the request's."""
    return SyncOptions(
        dry_run=request.dry_run,
        propagation=app.policy.prune_propagation,
        create_namespace=app.policy.create_namespace,
        # `sync --force` is Argo CD's `app sync --force`: with server-side apply,
        # it takes over conflicting fields for this one operation.
        force_conflicts=request.force or FORCE_OPTION in app.policy.sync_options,
        wave_timeout_s=request.wave_timeout_s or app.timeout_s or DEFAULT_WAVE_TIMEOUT_S,
        parallelism=request.parallelism,
        stop=stop,
    )


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

    Raises AppBusyError when another operation holds the app past the
    request's lock timeout. Never raises for a failed object: it is in the result."""
    app = state.app
    with _holding(store, app.name, request, sink):
        ran = plan_filters.without_paused_fields(state.plan, paused)
        run_sink: EventSink = sink
        recording = store is not None and not request.dry_run
        sync_id = None
        if recording:
            assert store is not None
            if app.removed_from:
                source = source or f"removed from {app.removed_from}"
            sync_id = store.begin_sync(
                app=app.name,
                revision=ran.revision,
                source=source or app.source.describe,
                started=time.time(),
                manifests=state.resources,
                prune=effective_prune(app, request),
                rollback_of=rollback_of,
                content_digest=content_digest(state),
                owner=owner_text(state.plan.owner),
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
            token = uuid.uuid4().hex
            ran = with_hook_runs(ran, token)
            run_sink = HookRecorder(ran, ledger, sink, token=token)
        try:
            if failed:
                result = _failed_before_start(ran, failed, sink)
            else:
                result = execute(
                    ran,
                    targets=targets,
                    options=options,
                    sink=run_sink,
                    bind=late_binder(state.graph, targets),
                )
        except BaseException as exc:
            if store is not None and sync_id is not None:
                # Ctrl-C, or a bug: the row must not claim the sync still runs.
                stopped = isinstance(exc, KeyboardInterrupt)
                store.finish_sync(
                    sync_id,
                    finished=time.time(),
                    result=INTERRUPTED if stopped else SyncPhase.ERROR.value,
                    message="interrupted (Ctrl-C)"
                    if stopped
                    else f"failed unexpectedly ({type(exc).__name__})",
                    outcomes=[],
                )
            raise
        if store is not None and sync_id is not None:
            secrets = _secrets_of(state)
            store.finish_sync(
                sync_id,
                finished=result.finished,
                result=result.phase.value,
                message=redact(result.message, secrets),
                outcomes=_outcomes(result, secrets),
            )
            if app.parent:
                with closing(ChildrenStore.beside(store)) as records:
                    note_sync(records, app, ran, ok=result.ok)
    return Synced(state, ran, result)


def _holding(
    store: Store | None, app: str, request: SyncRequest, sink: EventSink
) -> AbstractContextManager[None]:
    """The app's operation lock for a sync or rollback; none for a dry run."""
    if store is None or request.dry_run:
        return nullcontext()
    return hold_app(store, app, timeout_s=request.lock_timeout_s, sink=sink)


def content_digest(state: AppState) -> str:
    """What an edited work tree renders to, as a digest (``sha256:…``; "" for a
    commit as it is): the commit alone does not say what was applied. Secrets
    count by key and entry names only (``store.manifests_digest``)."""
    return manifests_digest(state.resources) if is_dirty_revision(state.revision) else ""


def _secrets_of(state: AppState) -> list[str]:
    """The values of the app's Secrets, to mask in what the history records
    whatever a target said. A backstop over every object's message (providers
    mask values themselves): values shorter than 4 characters would blank
    digits all over the history."""
    return [
        v for r in state.resources if r.is_secret for v in secret_values(r.manifest) if len(v) >= 4
    ]


def _outcomes(result: SyncResult, secrets: list[str]) -> list[ResourceOutcome]:
    return [
        ResourceOutcome(e.key, e.action, redact(e.message, secrets))
        for e in result.changeset.entries
    ]


def _failed_before_start(plan: Plan, message: str, sink: EventSink) -> SyncResult:
    """The result of a sync stopped before its first wave (a hook an interrupted
    sync started failed): nothing applied."""
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


def _record_error(
    store: Store, app: AppSpec, error: GitwaveError, *, started: float, prune: bool
) -> int:
    """History entry of an attempt that failed before anything was applied."""
    return store.record_sync(
        app=app.name,
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


def sync_app(
    app: AppSpec,
    *,
    targets: ProviderRouter,
    store: Store | None,
    request: SyncRequest = SyncRequest(),
    ledger: HookLedger | None = None,
    sink: EventSink = discard,
    on_plan: Callable[[AppState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
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
    result. Dry runs are never retried."""
    spec = app.policy.retry if request.retry and not request.dry_run else None
    prune = effective_prune(app, request)

    def attempt() -> Synced:
        started = time.time()
        try:
            state = plan(app, request, targets=targets)
        except GitwaveError as exc:
            if store is not None and not request.dry_run:
                _record_error(store, app, exc, started=started, prune=prune)
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
    with _holding(store, app.name, request, sink):
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
    with _holding(store, app.name, request, sink):
        return _rollback(app, sync_id, targets=targets, store=store, request=request, sink=sink)


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
    if entry.app != app.name:
        raise ValidationError(
            f"history entry {sync_id}",
            f"belongs to app {entry.app!r}, not {app.name!r}",
            hint=f"`gitwave history {app.name}` lists this app's entries",
        )
    recorded = store.manifests(sync_id)
    cleaned = [r for r in recorded if not r.is_secret]
    secrets = [r.key for r in recorded if r.is_secret]
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


def history(store: Store, app: str, *, limit: int = 50) -> list[SyncRecord]:
    """``app``'s syncs, newest first, the one running now included. A sync whose
    process died shows as Interrupted: when nobody holds the app, its lock is
    taken for a moment to mark such syncs (a read while it is held marks nothing)."""
    newest = store.history(app, limit=1, running=True)
    if newest and newest[0].result == RUNNING:
        try:
            with hold_app(store, app, timeout_s=0.0):
                pass
        except AppBusyError:
            pass  # someone is syncing it: its Running row is true
    return store.history(app, limit=limit, running=True)


def previous_success(store: Store, app: str) -> int:
    """The history entry a rollback without an ID goes back to: the successful
    sync before the newest one. ValidationError when there is none."""
    candidates = [r for r in store.history(app, limit=100) if r.result == SyncPhase.SUCCEEDED.value]
    if len(candidates) < 2:
        raise ValidationError(
            f"app {app}",
            "no earlier successful sync to roll back to",
            hint=f"`gitwave history {app}` lists the entries; pass an ID",
        )
    return candidates[1].id

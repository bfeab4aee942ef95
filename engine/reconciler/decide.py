"""The loop's decisions for one app: sync a new commit, heal or report drift,
retry a failed sync, wait for dependencies."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from gitwave.engine import operations, plan_filters, prune_guard
from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppSpec, RetrySpec
from gitwave.engine.drift import DriftedField, DriftLoop, drifted_fields
from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventKind
from gitwave.engine.model import Health, HealthCode, Plan, ResourceKey, SyncStatus
from gitwave.engine.operations import plan_summary, result_summary
from gitwave.engine.projects import window_verdict
from gitwave.engine.reconciler.state import AppRun, LoopCore, fingerprint, short
from gitwave.engine.retry import CommitRetry, target_delay
from gitwave.engine.store_records import SyncRecord
from gitwave.engine.sync import SyncResult


class Decisions(LoopCore):
    """What the loop does with an app it planned (see ``Reconciler``)."""

    def _is_new(self, run: AppRun, plan: Plan, last: SyncRecord | None) -> bool:
        """True when the app's commit (or, for a plain directory, its render) was not synced."""
        assert run.rendered is not None and run.revision is not None
        if last is None:
            return True
        if not run.revision:
            return run.synced_render != fingerprint(run.rendered)
        if run.revision in (last.revision, run.adopted):
            return False
        if not plan.has_changes and run.synced_render == fingerprint(run.rendered):
            # The commit changed nothing this app renders: nothing to sync, no hooks to run.
            run.adopted = run.revision
            self._report(
                run,
                f"adopt:{run.revision}",
                f"new commit {short(run.revision)} → no changes for this app",
            )
            return False
        return True

    def _new_revision(
        self, run: AppRun, state: AppState, health: Health, last: SyncRecord | None
    ) -> None:
        app = run.pinned
        plan = state.plan
        assert run.revision is not None
        moved = run.moved_from is not None or (last is not None and last.revision != run.revision)
        cause = f"new commit {short(run.revision)}" if moved else short(run.revision)
        if not self._auto_sync(app):
            why = "auto-sync paused" if app.policy.automated else "auto-sync off"
            # Sync status compares with the live state, whatever the commit.
            if not plan.has_changes:
                self._set_status(run, SyncStatus.SYNCED, health=health.code)
                return
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message=why,
            )
            self._report(
                run,
                f"manual:{run.revision}:{plan_summary(plan)}",
                f"{cause} → {plan_summary(plan)} → OutOfSync ({why})",
                kind=EventKind.PLAN,
            )
            return
        waiting = self._waiting_for(app)
        if waiting:
            message = f"waiting for {waiting} to be synced and healthy (dependsOn)"
            self._set_status(run, SyncStatus.OUT_OF_SYNC, health=health.code, message=message)
            self._report(run, f"deps:{run.revision}:{waiting}", f"{cause} → {message}")
            return
        if self._held_by_window(run, health, cause):
            return
        now = self._clock()
        if run.retry is not None and run.retry.blocks(run.revision, now):
            message = _retry_message("sync failed", run.retry.next_at)
            self._set_status(run, SyncStatus.OUT_OF_SYNC, health=health.code, message=message)
            return
        if self._prune_guarded(run, state, health, cause):
            return
        self._sync(run, state, cause=cause, heal=False)

    def _prune_guarded(self, run: AppRun, state: AppState, health: Health, cause: str) -> bool:
        """True when the prune guard stops the plan: the loop never confirms a
        guarded prune itself; the app stays OutOfSync with the reason until a
        confirmed manual sync (``sync --confirm-prune``, the TUI) runs it."""
        blast = prune_guard.blast_radius(state, limit=self._request.prune_limit)
        if not blast.stops:
            return False
        message = f"prune guard: {blast.reason}; sync manually with --confirm-prune"
        self._set_status(run, SyncStatus.OUT_OF_SYNC, health=health.code, message=message)
        self._report(
            run,
            f"guard:{run.revision}:{blast.reason}",
            f"{cause} → {plan_summary(state.plan)} → OutOfSync ({message})",
            kind=EventKind.PLAN,
        )
        return True

    def _held_by_window(self, run: AppRun, health: Health, cause: str) -> bool:
        """True (status and one line say which window, until when) when the
        app's sync windows hold automated syncs at the loop's clock now."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        found = window_verdict(run.pinned, now)
        if found.auto_allowed:
            return False
        message = f"auto-sync held: {found.blocked_by}"
        self._set_status(run, SyncStatus.OUT_OF_SYNC, health=health.code, message=message)
        self._report(run, f"window:{run.revision}:{found.blocked_by}", f"{cause} → {message}")
        return True

    def _waiting_for(self, app: AppSpec) -> str:
        """The first dependency (Flux dependsOn) not synced and healthy yet, or ""."""
        for name in app.depends_on:
            dep = self._runs.get(name)
            if dep is None or dep.status is None:
                continue
            if dep.status.sync is not SyncStatus.SYNCED or not dep.status.health.is_settled:
                return name
        return ""

    def _drift(self, run: AppRun, state: AppState, health: Health) -> None:
        app = run.pinned
        plan = state.plan
        drift = drifted_fields(plan)
        signature = frozenset((d.key, d.path, repr(d.live)) for d in drift)
        if signature != run.drift_seen:
            run.drift_seen = signature
            by_key: dict[ResourceKey, list[DriftedField]] = {}
            for item in drift:
                by_key.setdefault(item.key, []).append(item)
            for key, items in by_key.items():
                fields = "; ".join(i.describe.removeprefix(f"{key.display} ") for i in items)
                self._emit(run, EventKind.DRIFT_DETECTED, fields, resource=key)
        what = drift_line(drift)
        if not (self._auto_sync(app) and app.policy.self_heal):
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message="drift detected; selfHeal off",
            )
            self._report(
                run,
                f"drift:{sorted(map(str, signature))}",
                f"drift: {what} → OutOfSync (selfHeal off)",
            )
            return
        if run.retry is not None and run.retry.blocks(run.revision or "", self._clock()):
            # A heal failed: the next try waits for the self-heal backoff.
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message=_retry_message("self-heal failed", run.retry.next_at),
                retry_at=run.retry.next_at,
            )
            return
        if self._held_by_window(run, health, f"drift: {what}"):
            return
        healable, loops = self._guard.split(app.name, drift)
        for loop in loops:
            if (loop.key, loop.path) not in run.loops_seen:
                run.loops_seen |= {(loop.key, loop.path)}
                self._emit(
                    run,
                    EventKind.DRIFT_LOOP,
                    f"{loop.message}\n{loop.ignore_rule}",
                    resource=loop.key,
                )
        if not plan_filters.without_paused_fields(plan, loops).has_changes:
            names = ", ".join(f"{lp.key.display} {lp.path}" for lp in loops)
            self._report(
                run,
                f"loop:{sorted(map(str, signature))}",
                f"drift: {what} → not healed (drift loop: healing of this field is paused)",
            )
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message=f"drift loop on {names}: not healed",
                loops=loops,
            )
            return
        if self._prune_guarded(run, state, health, f"drift: {what}"):
            return
        if loops:
            what = drift_line(healable)  # the line says what is healed, not what is paused
        ran, result = self._sync(run, state, cause=f"drift: {what}", heal=True, loops=loops)
        if result.ok:
            # Only a heal that took counts towards a drift loop: a failed one is
            # retried with backoff, it is no fight with another writer.
            for item in healable:
                self._guard.record_heal(app.name, item)
        self._emit(
            run,
            EventKind.HEAL,
            # What ran: the hooks that already ran for this revision were left out.
            f"{'healed' if result.ok else 'heal failed'}: {plan_summary(ran)}"
            + ("" if result.ok else f": {result.message}"),
        )

    def _sync(
        self,
        run: AppRun,
        state: AppState,
        *,
        cause: str,
        heal: bool,
        loops: tuple[DriftLoop, ...] = (),
    ) -> tuple[Plan, SyncResult]:
        """Run the plan of ``state`` (less the fields of ``loops``) and record
        it; the plan that ran (without the hooks already done for this
        revision) and its result."""
        app = run.pinned
        assert run.rendered is not None and run.revision is not None
        synced = operations.sync(
            state,
            targets=self.targets_for(app),
            store=self.store,
            request=self._request,
            ledger=self.ledger,
            paused=loops,
            sink=self._sink,
            source=app.source.describe + (" (self-heal)" if heal else ""),
            stop=self._stop,
            decided_on=run.decided_on,
        )
        plan, result = synced.plan, synced.result
        now = self._clock()
        outcome = result_summary(result)
        if heal and result.ok:
            outcome = outcome.replace("Synced", "Healed", 1)
        line = f"{cause} → {plan_summary(plan)} → {outcome}"
        if result.ok:
            run.retry = None
            if not heal:
                run.synced_render = fingerprint(run.rendered)
            self._set_status(run, SyncStatus.SYNCED, health=result.health.code, loops=loops)
        else:
            retry = run.retry if run.retry and run.retry.revision == run.revision else None
            retry = retry or CommitRetry(run.revision)
            spec = app.policy.retry
            delay = retry.failed(
                spec,
                now=now,
                jitter=self._rng.random,
                retriable=True,
                then=self._heal_backoff(app),
                at_least=result.retry_after_s,
            )
            run.retry = retry
            if delay is None:
                line += "; no retry left for this commit (a new commit is synced at once)"
            elif spec is not None and spec.allows(retry.failures - 1):
                limit = "unlimited" if spec.limit < 0 else str(spec.limit)
                line += f"; retry {retry.failures}/{limit} in {delay:.1f}s"
            else:
                line += f"; self-heal retry {retry.failures} in {delay:.1f}s"
            if not heal:
                self._emit(run, EventKind.ERROR, line.split(" → ")[-1])
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=result.health.code,
                message=result.message,
                retry_at=retry.next_at,
            )
        self._emit(run, EventKind.CYCLE, line)
        run.reported = ""
        if self.options.auto_rollback and not heal:
            run.health_watch = (run.revision, now + self.options.rollback_window_s)
            if result.health.code is HealthCode.DEGRADED:
                self._auto_rollback(run, result.health)
        return plan, result

    def _heal_backoff(self, app: AppSpec) -> RetrySpec | None:
        """How a failed sync of a self-healing app is retried once its retry
        spec ran out (or without one): Argo CD retries self-heal with backoff."""
        return self.options.heal_backoff if app.policy.self_heal and self._auto_sync(app) else None

    def _failed_before_sync(self, run: AppRun, exc: GitwaveError) -> None:
        """A plan that could not be made (a missing namespace, an unreachable
        target, an unsafe prune): reported once per attempt (not on every poll);
        retried per the retry spec when trying again can help."""
        app = run.pinned
        assert run.revision is not None
        last = self.store.last(app.name, succeeded_only=True)
        new = last is None or run.revision not in (last.revision, run.adopted)
        retry_at: float | None = None
        attempts = 0
        line = f"{short(run.revision)} → error: {exc}"
        if new and self._auto_sync(app):
            retry = run.retry if run.retry and run.retry.revision == run.revision else None
            retry = retry or CommitRetry(run.revision)
            if not retry.blocks(run.revision, self._clock()):
                delay = retry.failed(
                    app.policy.retry,
                    now=self._clock(),
                    jitter=self._rng.random,
                    retriable=exc.retriable,
                    then=self._heal_backoff(app),
                    at_least=target_delay(exc),
                )
                run.retry = retry
                line += "" if delay is None else f"; retry {retry.failures} in {delay:.1f}s"
            retry_at = retry.next_at
            attempts = retry.failures
        # Each retry is a line of its own, as a failed sync's are.
        self._report(run, f"plan:{run.revision}:{exc}:{attempts}", line)
        self._set_status(run, SyncStatus.UNKNOWN, message=str(exc), retry_at=retry_at)


def _retry_message(what: str, at: float | None) -> str:
    if at is None:
        return f"{what}; no retry left for this commit"
    return f"{what}; retry at {time.strftime('%H:%M:%S', time.localtime(at))}"


def drift_line(drift: Sequence[DriftedField]) -> str:
    """The first drifted field, and how many more: for one-line output."""
    if not drift:
        return "no fields"
    first = drift[0].describe
    return first if len(drift) == 1 else f"{first} (+{len(drift) - 1} more)"

"""Pins and rollbacks in the loop: an app a rollback pinned, and automatic
rollback when a sync leaves the app Degraded."""

from __future__ import annotations

from dataclasses import replace

from gitwave.engine import operations
from gitwave.engine.events import EventKind
from gitwave.engine.loop_store import Pin, pin_rollback
from gitwave.engine.model import Health, HealthCode, Plan, SyncStatus
from gitwave.engine.operations import result_summary
from gitwave.engine.prune_guard import PruneGuardError
from gitwave.engine.reconciler.state import AppRun, LoopCore, short
from gitwave.engine.sync import SyncPhase


class PinsAndRollbacks(LoopCore):
    """Pins a rollback put on an app, and ``--auto-rollback``."""

    def _pin(self, run: AppRun) -> Pin | None:
        """The app's standing pin; a rollback recorded by someone else (``gitwave
        rollback``) pins an automated app first."""
        name = run.spec.name
        newest = self.store.last(name)
        if (
            newest is not None
            and newest.rollback_of is not None
            and newest.id != run.seen_rollback
            and run.spec.policy.automated
        ):
            run.seen_rollback = newest.id
            made = pin_rollback(self.store, self.ledger, name, newest.id)
            if made is not None:
                self._emit(
                    run,
                    EventKind.PIN,
                    f"pinned to {short(made.revision)} after rollback #{newest.id}; commit "
                    f"{short(made.skipped)} is skipped until a newer commit or "
                    f"`gitwave unpin {name}`",
                )
        return self.ledger.pin_of(name)

    def _pinned(self, run: AppRun, pin: Pin, plan: Plan, health: Health) -> None:
        assert run.revision is not None
        name = run.spec.name
        if not pin.holds(run.revision):
            self.ledger.unpin(name, reason=f"new commit {short(run.revision)}")
            self._emit(
                run,
                EventKind.PIN,
                f"unpinned: new commit {short(run.revision)} (was pinned to "
                f"{short(pin.revision)}, skipping {short(pin.skipped)})",
            )
            run.assess = True
            return
        message = (
            f"pinned to {short(pin.revision)} ({pin.reason}); skipping {short(pin.skipped)} "
            f"until a newer commit or `gitwave unpin {name}`"
        )
        self._report(run, f"pin:{pin.id}:{run.revision}", f"{short(run.revision)} → {message}")
        sync = SyncStatus.OUT_OF_SYNC if plan.has_changes else SyncStatus.SYNCED
        self._set_status(run, sync, health=health.code, message=message, pinned=pin)

    def _watch_health(self, run: AppRun, health: Health) -> None:
        if not self.options.auto_rollback or run.health_watch is None:
            return
        revision, until = run.health_watch
        if self._clock() > until or revision != run.revision:
            run.health_watch = None
        elif health.code is HealthCode.DEGRADED:
            self._auto_rollback(run, health)

    def _auto_rollback(self, run: AppRun, health: Health) -> None:
        """Roll back to the newest healthy revision and pin it (``--auto-rollback``)."""
        assert run.revision is not None
        run.health_watch = None
        name = run.spec.name
        bad = run.revision
        target = next(
            (
                r
                for r in self.store.history(name, limit=200)
                if r.result == SyncPhase.SUCCEEDED.value
                and not r.dry_run
                and r.revision
                and r.revision != bad
            ),
            None,
        )
        if target is None:
            self._emit(
                run,
                EventKind.ERROR,
                f"health {health} after syncing {short(bad)}; no earlier healthy revision "
                "to roll back to",
            )
            return
        request = replace(
            self._request,
            prune=operations.effective_prune(run.pinned, self.options.request),
        )
        try:
            result = operations.rollback(
                run.pinned,
                target.id,
                targets=self.targets_for(run.pinned),
                store=self.store,
                request=request,
                sink=self._sink,
            ).result
        except PruneGuardError as exc:
            # The loop never confirms a guarded prune, a rollback's neither.
            self._emit(run, EventKind.ERROR, f"auto-rollback stopped: {exc}")
            return
        rolled = self.store.last(name)
        rolled_id = rolled.id if rolled is not None else None
        run.seen_rollback = rolled_id
        self.ledger.pin(
            name,
            revision=target.revision,
            skipped=bad,
            sync_id=rolled_id,
            reason=f"auto-rollback: {health.code.value} after syncing {short(bad)}",
        )
        self._emit(
            run,
            EventKind.ROLLBACK,
            f"auto-rollback: {health} after syncing {short(bad)}; rolled back to "
            f"#{target.id} @ {short(target.revision)} → {result_summary(result)}",
        )
        self._emit(
            run,
            EventKind.PIN,
            f"pinned to {short(target.revision)}; commit {short(bad)} is skipped until a "
            f"newer commit or `gitwave unpin {name}`",
        )
        run.assess = True

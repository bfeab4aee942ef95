"""Notifications: the loop's events turned into webhook posts.

``Notifier`` is an observer, as ``LoopMetrics`` is: an EventSink fed by the
events the sync and the loop already emit (sync finished, drift detected), plus
``tick(now)`` — the loop's ``on_pass`` — which reads the apps' statuses for the
triggers that are states held over time (health degraded, deployed, OutOfSync
for longer than N). It never blocks the loop: each message goes to
``Sender`` (``engine.notify_send``), a background thread with a bounded queue
that retries with exponential backoff and drops (and counts) what does not fit;
what is posted is built by ``engine.notify_payload``.

Trigger names are Argo CD notifications' (on-sync-failed, on-health-degraded,
on-sync-succeeded, on-deployed) plus on-drift-detected and on-out-of-sync;
which messages go where is Flux's Alert filter (engine.notify_config).

Every text that goes out is redacted with the values of every Secret read with
the configuration, the providers' own tokens and headers, and the app's secret
values when the caller can give them (``secrets``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gitwave.engine.events import Event, EventKind
from gitwave.engine.mask import redact
from gitwave.engine.model import HealthCode, SyncStatus
from gitwave.engine.notify_config import NotificationConfig
from gitwave.engine.notify_payload import (
    ON_DEPLOYED,
    ON_DRIFT_DETECTED,
    ON_HEALTH_DEGRADED,
    ON_OUT_OF_SYNC,
    ON_SYNC_FAILED,
    ON_SYNC_SUCCEEDED,
    Delivery,
    Notification,
    argo_delivery,
    delivery,
)
from gitwave.engine.reconciler.state import AppStatus

__all__ = ["Notifier"]


@dataclass
class _AppMemory:
    health: HealthCode | None = None
    out_of_sync_since: float | None = None
    told_out_of_sync: frozenset[str] = frozenset()  # alerts told of this OutOfSync spell
    deployed: str = ""  # the last revision told as deployed
    pending_deploy: str = ""  # synced, waiting for Healthy
    drifted: frozenset[str] = frozenset()  # objects told of since the last sync


def _same_revision(a: str, b: str) -> bool:
    # One side may be a short sha (a status line), the other the full one.
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


class Notifier:
    """An EventSink and an ``on_pass`` that turn the loop's events and states
    into notifications for the Alerts of ``config``.

    ``statuses`` is ``Reconciler.statuses``: with it, on-deployed waits for the
    app to be Healthy at the new revision and the state triggers work; without
    it, on-deployed follows a succeeded sync of a new revision. ``secrets(app)``
    gives the app's secret values to mask."""

    def __init__(
        self,
        config: NotificationConfig,
        *,
        submit: Callable[[Delivery], object],
        statuses: Callable[[], Sequence[AppStatus]] | None = None,
        secrets: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        self.config = config
        self._submit = submit
        self._statuses = statuses
        self._secrets = secrets
        self._lock = threading.Lock()
        self._apps: dict[str, _AppMemory] = {}

    def watch(
        self,
        statuses: Callable[[], Sequence[AppStatus]],
        *,
        secrets: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        """Read the apps' states (and secret values) from these callables
        (``Reconciler.statuses`` and ``secret_values``) from now on."""
        self._statuses = statuses
        if secrets is not None:
            self._secrets = secrets

    # -- the EventSink side -----------------------------------------------------------

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.SYNC_FINISHED:
            phase, _, detail = event.message.partition(":")
            phase = phase.strip()
            with self._lock:
                memory = self._memory(event.app)
                memory.drifted = frozenset()
            if phase in ("Failed", "Error"):
                self._tell(ON_SYNC_FAILED, event.app, event.revision, event.message, event.time)
            elif phase == "Succeeded":
                self._tell(ON_SYNC_SUCCEEDED, event.app, event.revision, detail.strip(), event.time)
                with self._lock:
                    new = bool(event.revision) and event.revision != memory.deployed
                    if new:
                        memory.pending_deploy = event.revision
                if new and self._statuses is None:
                    self._deployed(event.app, event.revision, event.time)
        elif kind is EventKind.DRIFT_DETECTED:
            what = event.resource.display if event.resource is not None else ""
            with self._lock:
                memory = self._memory(event.app)
                if what in memory.drifted:
                    return
                memory.drifted = memory.drifted | {what}
            text = f"{what}: {event.message}" if what else event.message
            self._tell(ON_DRIFT_DETECTED, event.app, event.revision, text, event.time)

    # -- the on_pass side -------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Look at the apps' states at ``now`` (the loop's clock)."""
        if self._statuses is None:
            return
        for status in self._statuses():
            self._look(status, now)

    def on_pass(self, now: Callable[[], float] = time.time) -> Callable[[float, int], None]:
        """An ``on_pass`` callback for the Reconciler that ticks at ``now()``."""

        def on_pass(seconds: float, apps: int) -> None:
            self.tick(now())

        return on_pass

    def _look(self, status: AppStatus, now: float) -> None:
        app = status.app
        tell: list[tuple[str, str, frozenset[str] | None]] = []
        with self._lock:
            memory = self._memory(app)
            if status.health is HealthCode.DEGRADED and memory.health is not HealthCode.DEGRADED:
                detail = (
                    f"health is Degraded: {status.message}"
                    if status.message
                    else "health is Degraded"
                )
                tell.append((ON_HEALTH_DEGRADED, detail, None))
            memory.health = status.health
            if (
                memory.pending_deploy
                and _same_revision(status.revision, memory.pending_deploy)
                and status.sync is SyncStatus.SYNCED
                and status.health is HealthCode.HEALTHY
            ):
                memory.deployed, memory.pending_deploy = memory.pending_deploy, ""
                tell.append((ON_DEPLOYED, "", None))
            if status.sync is SyncStatus.OUT_OF_SYNC:
                if memory.out_of_sync_since is None:
                    memory.out_of_sync_since = now
                held = now - memory.out_of_sync_since
                due = frozenset(
                    f"{a.namespace}/{a.name}"
                    for a in self.config.alerts
                    if a.out_of_sync_after_s is not None
                    and held >= a.out_of_sync_after_s
                    and f"{a.namespace}/{a.name}" not in memory.told_out_of_sync
                )
                if due:
                    memory.told_out_of_sync |= due
                    tell.append((ON_OUT_OF_SYNC, f"OutOfSync for {held:.0f}s", due))
            else:
                memory.out_of_sync_since = None
                memory.told_out_of_sync = frozenset()
        for trigger, message, only in tell:
            if trigger == ON_DEPLOYED:
                self._deployed(app, status.revision, now)
            else:
                self._tell(trigger, app, status.revision, message, now, only=only)

    def _deployed(self, app: str, revision: str, when: float) -> None:
        with self._lock:
            self._memory(app).deployed = revision
        self._tell(ON_DEPLOYED, app, revision, f"deployed {revision[:7]}, synced and healthy", when)

    # -- out --------------------------------------------------------------------------

    def _memory(self, app: str) -> _AppMemory:
        memory = self._apps.get(app)
        if memory is None:
            memory = self._apps[app] = _AppMemory()
        return memory

    def _tell(
        self,
        trigger: str,
        app: str,
        revision: str,
        message: str,
        when: float,
        *,
        only: frozenset[str] | None = None,
    ) -> None:
        hidden = list(self.config.secrets)
        if self._secrets is not None:
            hidden.extend(self._secrets(app))
        note = Notification(trigger, app, revision, redact(message, hidden), when)
        for alert in self.config.alerts:
            if only is not None and f"{alert.namespace}/{alert.name}" not in only:
                continue
            if trigger == ON_OUT_OF_SYNC and only is None:
                continue
            # Flux filters on the message; the trigger name is in it so an
            # inclusion or exclusion list can pick triggers too.
            if not alert.wants(app, note.severity, f"{trigger}: {note.message}"):
                continue
            provider = self.config.provider(alert)
            if provider is None or provider.suspended:
                continue
            self._submit(delivery(note, alert, provider))
        for route in self.config.argo:
            if route.trigger == trigger:
                self._submit(argo_delivery(note, route))

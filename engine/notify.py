"""Notifications: the loop's events turned into webhook posts.

``Notifier`` is an observer, as ``LoopMetrics`` is: an EventSink fed by the
events the sync and the loop already emit (sync finished, drift detected), plus
``tick(now)`` — the loop's ``on_pass`` — which reads the apps' statuses for the
triggers that are states held over time (health degraded, deployed, OutOfSync
for longer than N). It never blocks the loop: each message goes to
``Sender``, a background thread with a bounded queue that retries with
exponential backoff and drops (and counts) what does not fit.

Trigger names are Argo CD notifications' (on-sync-failed, on-health-degraded,
on-sync-succeeded, on-deployed) plus on-drift-detected and on-out-of-sync;
which messages go where is Flux's Alert filter (engine.notify_config).

Every text that goes out is redacted with the values of every Secret read with
the configuration, the providers' own tokens and headers, and the app's secret
values when the caller can give them (``secrets``).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import tenacity

from gitwave.engine.events import Event, EventKind
from gitwave.engine.mask import redact
from gitwave.engine.model import HealthCode, SyncStatus
from gitwave.engine.notify_config import Alert, ArgoRoute, NotificationConfig, Provider
from gitwave.engine.reconciler.state import AppStatus

ON_SYNC_FAILED = "on-sync-failed"
ON_SYNC_SUCCEEDED = "on-sync-succeeded"
ON_HEALTH_DEGRADED = "on-health-degraded"
ON_DEPLOYED = "on-deployed"
ON_DRIFT_DETECTED = "on-drift-detected"
ON_OUT_OF_SYNC = "on-out-of-sync"
# Flux's event reasons, one per trigger (what a Flux receiver switches on).
_REASON = {
    ON_SYNC_FAILED: "SyncFailed",
    ON_SYNC_SUCCEEDED: "SyncSucceeded",
    ON_HEALTH_DEGRADED: "HealthDegraded",
    ON_DEPLOYED: "Deployed",
    ON_DRIFT_DETECTED: "DriftDetected",
    ON_OUT_OF_SYNC: "OutOfSync",
}
_ERROR_TRIGGERS = frozenset({ON_SYNC_FAILED, ON_HEALTH_DEGRADED})
DEFAULT_QUEUE = 256
DEFAULT_ATTEMPTS = 5
USER_AGENT = "gitwave-notifications"


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell, already redacted."""

    trigger: str
    app: str
    revision: str
    message: str
    time: float

    @property
    def severity(self) -> str:
        return "error" if self.trigger in _ERROR_TRIGGERS else "info"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST: the provider (for its address and name) and the exact body."""

    provider: Provider
    body: bytes
    headers: tuple[tuple[str, str], ...]
    trigger: str
    app: str
    method: str = "POST"


def _rfc3339(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(note: Notification, alert: Alert, provider: Provider) -> dict[str, object]:
    """The JSON body for ``provider``: Flux's event shape for ``generic`` and
    ``generic-hmac`` (with gitwave's trigger, app and revision at the top),
    a Slack incoming-webhook message for ``slack``."""
    metadata = {key: value for key, value in alert.metadata}
    if note.revision:
        metadata["revision"] = note.revision
    if alert.summary:
        metadata["summary"] = alert.summary
    if provider.type == "slack":
        title = f"{note.app}: {note.trigger}"
        fields = [{"title": k, "value": v, "short": False} for k, v in sorted(metadata.items())]
        body: dict[str, object] = {
            "username": provider.username or "gitwave",
            "text": f"{title} — {note.message}" if note.message else title,
            "attachments": [
                {
                    "color": "danger" if note.severity == "error" else "good",
                    "title": title,
                    "text": note.message,
                    "fields": fields,
                    "mrkdwn_in": ["text"],
                }
            ],
        }
        if provider.channel:
            body["channel"] = provider.channel
        return body
    return {
        "involvedObject": {"kind": "Application", "name": note.app, "namespace": alert.namespace},
        "severity": note.severity,
        "timestamp": _rfc3339(note.time),
        "message": note.message,
        "reason": _REASON[note.trigger],
        "reportingController": "gitwave",
        "metadata": metadata,
        "trigger": note.trigger,
        "app": note.app,
        "revision": note.revision,
    }


def delivery(note: Notification, alert: Alert, provider: Provider) -> Delivery:
    body = json.dumps(payload(note, alert, provider), ensure_ascii=False, sort_keys=True).encode()
    headers = [("Content-Type", "application/json"), ("User-Agent", USER_AGENT)]
    headers.extend(provider.headers)
    if provider.type == "generic-hmac":
        # Flux's generic-hmac: HMAC-SHA256 of the body with the token as key.
        digest = hmac.new(provider.token.encode(), body, hashlib.sha256).hexdigest()
        headers.append(("X-Signature", f"sha256={digest}"))
    return Delivery(provider, body, tuple(headers), note.trigger, note.app)


# Go template actions of Argo CD notifications this reads: ``{{.app.PATH}}``.
_ACTION = re.compile(r"{{\s*\.app\.([A-Za-z0-9_.]+)\s*}}")


def argo_delivery(note: Notification, route: ArgoRoute) -> Delivery:
    """A template of Argo CD's notifications ConfigMap filled for ``note``.
    Only ``{{.app.<path>}}`` actions over the fields below are read (no
    functions or pipelines); each value is escaped as JSON string content, so
    a quoted action in a JSON body stays valid JSON whatever the message."""
    phase = {"on-sync-failed": "Failed", "on-sync-succeeded": "Succeeded"}.get(note.trigger, "")
    fields = {
        "metadata.name": note.app,
        "status.sync.revision": note.revision,
        "status.operationState.message": note.message,
        "status.operationState.phase": phase,
        "status.operationState.syncResult.revision": note.revision,
    }

    def one(match: re.Match[str]) -> str:
        return json.dumps(fields.get(match.group(1), ""))[1:-1]

    body = _ACTION.sub(one, route.body).encode()
    provider = Provider(name=route.service, namespace="argocd", type="generic", address=route.url)
    headers = (("Content-Type", "application/json"), ("User-Agent", USER_AGENT), *route.headers)
    return Delivery(provider, body, headers, note.trigger, note.app, route.method)


class DeliveryError(Exception):
    """A POST that failed; ``retriable`` for 5xx, 429 and connection errors.
    The message names the provider, never its address (it may be a secret)."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


def post(item: Delivery, *, timeout_s: float = 10.0) -> None:
    provider = item.provider
    name = f"Provider/{provider.namespace}/{provider.name}"
    request = urllib.request.Request(
        provider.address, data=item.body, headers=dict(item.headers), method=item.method
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        code = exc.code
        raise DeliveryError(
            f"{name}: HTTP {code}", retriable=code >= 500 or code in (408, 429)
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = type(reason).__name__
        raise DeliveryError(f"{name}: cannot connect ({kind})", retriable=True) from None


@dataclass(frozen=True, slots=True)
class SenderStats:
    sent: int
    failed: int
    dropped: int
    retried: int


class Sender:
    """A background thread that posts deliveries in order, retrying each with
    exponential backoff (tenacity) up to ``attempts`` times. ``submit`` never
    blocks: a full queue drops the message and counts it (a slow webhook must
    not hold up reconciling). ``sleep`` is passed in so tests do not wait."""

    def __init__(
        self,
        *,
        post: Callable[[Delivery], None] = post,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        maxsize: int = DEFAULT_QUEUE,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str, str], None] = lambda level, message: None,
    ) -> None:
        self._post = post
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._log = log
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=maxsize)
        self._lock = threading.Lock()
        self._counts = {"sent": 0, "failed": 0, "dropped": 0, "retried": 0}
        self.delays: list[float] = []  # every backoff waited, for the curious (and tests)
        self._thread = threading.Thread(target=self._work, name="gitwave-notify", daemon=True)
        self._thread.start()

    def submit(self, item: Delivery) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._count("dropped")
            self._log("warning", f"notification {item.trigger} of {item.app} dropped: queue full")
            return False
        return True

    def stats(self) -> SenderStats:
        with self._lock:
            return SenderStats(**self._counts)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every submitted delivery was sent or given up; True if so."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (within ``timeout_s``), then stop the thread."""
        self.flush(timeout_s)
        with contextlib.suppress(queue.Full):  # the thread is stuck; it is a daemon
            self._queue.put_nowait(None)
        self._thread.join(timeout_s)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(item)
            finally:
                self._queue.task_done()

    def _deliver(self, item: Delivery) -> None:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            delay = state.next_action.sleep if state.next_action else 0.0
            with self._lock:
                self.delays.append(delay)
                self._counts["retried"] += 1
            error = state.outcome.exception() if state.outcome else None
            self._log("warning", f"notification {item.trigger} of {item.app}: {error}; retrying")

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._attempts),
            wait=tenacity.wait_exponential(multiplier=self._backoff_s, max=self._max_backoff_s),
            retry=tenacity.retry_if_exception(lambda e: getattr(e, "retriable", False)),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(self._post, item)
        except DeliveryError as exc:
            self._count("failed")
            self._log("error", f"notification {item.trigger} of {item.app} not sent: {exc}")
        except Exception as exc:  # a sender bug must not kill the thread
            self._count("failed")
            self._log(
                "error", f"notification {item.trigger} of {item.app} not sent: {type(exc).__name__}"
            )
        else:
            self._count("sent")


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

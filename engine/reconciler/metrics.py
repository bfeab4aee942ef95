"""Prometheus metrics of the reconcile loop (``gitwave run --metrics-addr``).

``LoopMetrics`` is fed by what the loop already produces and changes nothing
in it: it is an EventSink (syncs, drift, heals come from the events the loop
and the sync emit), it reads ``Reconciler.statuses()`` and ``queue_depth()``
when scraped, it is the loop's ``on_pass`` callback (the duration of each
pass), and it times the providers' calls through
``ProviderRouter.time_requests``. Its metrics live in a registry of their own,
never prometheus_client's global one, so two loops in one process (tests, the
TUI) do not collide and nothing else leaks into the scrape.

Names are in gitwave's namespace and follow Argo CD's and Flux's shapes: the
app's health and sync status are one series per app per state with value 0 or
1 (as ``argocd_app_info`` and Flux's ``gotk_reconcile_condition``), so
``sum by (health_status) (gitwave_app_health_status)`` counts apps per state.
Labels hold app, cluster and target names and closed sets (results, states,
operations): never a revision, a message or anything read from an object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import HealthCode, SyncStatus
from gitwave.engine.reconciler.state import AppStatus
from gitwave.engine.router import ProviderRouter

# Syncs take from tens of milliseconds (a ConfigMap on the sandbox) to many
# minutes (waves waiting for a database): Argo CD's reconcile buckets, widened.
SYNC_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# A pass over the apps due: one plan from the live-state cache up to several syncs.
PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# One provider call: a cached read (microseconds) up to a slow API server or AWS call.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_SYNC_RESULTS = ("Succeeded", "Failed", "Error", "Terminated")


class LoopMetrics:
    """The loop's metrics in ``registry`` (a new CollectorRegistry by default).

    Wire it up with ``watch(reconciler)`` (statuses and queue depth), pass it
    as (or inside) the loop's EventSink and ``on_pass``, and ``time(router)``
    each router whose requests to time."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}  # app → when its running sync started
        self._timed: set[int] = set()
        self.sync_duration = Histogram(
            "gitwave_sync_duration_seconds",
            "How long a sync took, from SyncStarted to SyncFinished, by app and result",
            ["app", "result"],
            buckets=SYNC_BUCKETS,
            registry=self.registry,
        )
        self.syncs = Counter(
            "gitwave_syncs",
            "Syncs finished, by app and result (Succeeded, Failed, Error, Terminated)",
            ["app", "result"],
            registry=self.registry,
        )
        self.drift = Counter(
            "gitwave_drift_detected",
            "Objects found drifted from Git (one per object each time its drift changes)",
            ["app"],
            registry=self.registry,
        )
        self.heals = Counter(
            "gitwave_heals",
            "Self-heal syncs run, by app and result (healed, failed)",
            ["app", "result"],
            registry=self.registry,
        )
        self.loop_duration = Histogram(
            "gitwave_reconcile_loop_duration_seconds",
            "How long one pass of the reconcile loop over the apps due took",
            buckets=PASS_BUCKETS,
            registry=self.registry,
        )
        self.requests = Histogram(
            "gitwave_target_request_duration_seconds",
            "Latency of calls to a target (observe, apply, delete, ...), by cluster, "
            "target and operation",
            ["cluster", "target", "operation"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "gitwave_webhook_requests",
            "Git webhook requests, by forge and result (triggered, ignored, refused)",
            ["forge", "result"],
            registry=self.registry,
        )

    # -- wiring -----------------------------------------------------------------------

    def watch(
        self,
        statuses: Callable[[], Sequence[AppStatus]],
        queue_depth: Callable[[], int],
    ) -> None:
        """Report the apps' states and the queue depth from these callables,
        read at each scrape (``Reconciler.statuses`` and ``queue_depth``)."""
        self.registry.register(_LoopState(statuses, queue_depth))

    def time(self, routers: Iterable[ProviderRouter]) -> None:
        """Time the requests of each router not timed yet (the loop's fleet
        builds a router per cluster the first time an app goes there)."""
        for router in routers:
            if id(router) in self._timed:
                continue
            self._timed.add(id(router))
            router.time_requests(self._request)

    def _request(self, *, cluster: str, target: str, operation: str, seconds: float) -> None:
        self.requests.labels(cluster, target, operation).observe(seconds)

    # -- feeds --------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """The EventSink side: syncs, drift and heals, as the events say."""
        kind = event.kind
        if kind is EventKind.SYNC_STARTED:
            with self._lock:
                self._started[event.app] = event.time
        elif kind is EventKind.SYNC_FINISHED:
            # The sync's message is "<phase>: <what happened>" (engine.sync.execute).
            phase = event.message.split(":", 1)[0].strip()
            result = phase if phase in _SYNC_RESULTS else "Unknown"
            with self._lock:
                started = self._started.pop(event.app, None)
            self.syncs.labels(event.app, result).inc()
            if started is not None:
                self.sync_duration.labels(event.app, result).observe(max(0.0, event.time - started))
        elif kind is EventKind.DRIFT_DETECTED:
            self.drift.labels(event.app).inc()
        elif kind is EventKind.HEAL:
            result = "healed" if event.message.startswith("healed") else "failed"
            self.heals.labels(event.app, result).inc()

    def on_pass(self, seconds: float, apps: int) -> None:
        """The loop's ``on_pass``: a pass that stepped ``apps`` apps took
        ``seconds``. Idle passes (every 200 ms, nothing due) are left out: they
        would bury the passes that did something."""
        if apps:
            self.loop_duration.observe(seconds)

    def webhook(self, forge: str, result: str) -> None:
        """One webhook request answered (``result``: triggered, ignored, refused)."""
        self.webhooks.labels(forge or "unknown", result).inc()


class _LoopState(Collector):
    """The per-app state gauges and the queue depth, read at scrape time."""

    def __init__(
        self, statuses: Callable[[], Sequence[AppStatus]], queue_depth: Callable[[], int]
    ) -> None:
        self._statuses = statuses
        self._queue_depth = queue_depth

    def collect(self) -> Iterable[Metric]:
        health = GaugeMetricFamily(
            "gitwave_app_health_status",
            "1 for the app's current health status, 0 for the others",
            labels=["app", "health_status"],
        )
        sync = GaugeMetricFamily(
            "gitwave_app_sync_status",
            "1 for the app's current sync status, 0 for the others",
            labels=["app", "sync_status"],
        )
        for status in self._statuses():
            for code in HealthCode:
                health.add_metric([status.app, code.value], 1.0 if status.health is code else 0.0)
            for state in SyncStatus:
                sync.add_metric([status.app, state.value], 1.0 if status.sync is state else 0.0)
        queue = GaugeMetricFamily(
            "gitwave_queue_depth",
            "Apps due to be polled or assessed and not stepped yet",
            value=float(self._queue_depth()),
        )
        return [health, sync, queue]

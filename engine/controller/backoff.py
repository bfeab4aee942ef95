"""When a failing app is tried again: Argo CD's ``syncPolicy.retry``, Flux's ``retryInterval``.

Before this, the controller tried an automated app that had never synced
again on every pass (and a pass comes at every watch event, the failure's own
status write included), so one broken app kept a worker busy in a tight loop;
an app that had synced once was tried again at each resync. Now a failed
automated sync schedules its next attempt, and until then the app is not
queued at all (it takes no worker and is not parsed):

- Argo CD ``Application``: ``spec.syncPolicy.retry`` — ``limit`` retries (< 0:
  unlimited; 0 or no ``retry``: none, Argo CD tries a revision once), after
  ``backoff.duration`` (5s) times ``backoff.factor`` (2) per retry, capped at
  ``backoff.maxDuration`` (3m);
- with ``selfHeal``, once those retries ran out (or without any), Argo CD's
  self-heal back-off (``SELF_HEAL_BACKOFF``: 2s, times 3, capped at 5m), as
  ``gitwave watch`` retries such an app;
- Flux ``Kustomization``: every ``spec.retryInterval`` (default
  ``spec.interval``), without limit; a ``HelmRelease`` every ``spec.interval``
  (helm-controller's requeue of a failed release), as many times as its
  ``remediation.retries`` say (``remediation``; counted in its status, not here).

The count starts again (the app is queued at once) on what Argo CD resets
for: a new commit of the source (looked for with ``git ls-remote`` once per
resync while the app waits), a change of the object's spec (its generation:
an ``operation`` — ``argocd app sync`` — bumps it too) or a Flux reconcile
request (``flux reconcile``).

Pure bookkeeping: the clock, the jitter and the source probe are passed in.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from gitwave.engine.apps import RetrySpec
from gitwave.engine.apps.fields import Reader
from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, FLUX_KINDS, AppObject
from gitwave.engine.controller.requests import reconcile_requested
from gitwave.engine.errors import ValidationError
from gitwave.engine.retry import retry_delay

# Argo CD's backoff when ``retry`` is set without one (argoproj/argo-cd
# ``DefaultSyncRetryDuration`` 5s, ``DefaultSyncRetryFactor`` 2,
# ``DefaultSyncRetryMaxDuration`` 3m), as the Application parser reads it.
ARGO_DEFAULT_DURATION = "5s"
ARGO_DEFAULT_MAX_DURATION = "3m"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def retry_policy(obj: AppObject) -> RetrySpec | None:
    """How ``obj`` is retried after a failed automated sync; None: not at all
    (an Argo app without ``retry`` or with ``limit: 0``, a manual Argo app). A
    malformed field reads as no retry: the object's parse names it, and nothing
    is synced then."""
    spec = _mapping(obj.body.get("spec"))
    reader = Reader(obj.app_id)
    try:
        if obj.kind == ARGO_KIND:
            policy = _mapping(spec.get("syncPolicy"))
            if policy.get("automated") is None or "retry" not in policy:
                return None
            retry = _mapping(policy.get("retry"))
            limit = retry.get("limit", 0)
            backoff = _mapping(retry.get("backoff"))
            factor = backoff.get("factor", 2)
            if (
                not isinstance(limit, int)
                or isinstance(limit, bool)
                or limit == 0
                or not isinstance(factor, int | float)
                or isinstance(factor, bool)
                or factor < 1
            ):
                return None
            return RetrySpec(
                limit=limit,
                duration_s=reader.duration(
                    backoff, "backoff.duration", ARGO_DEFAULT_DURATION, argo=True
                ),
                factor=float(factor),
                max_duration_s=reader.duration(
                    backoff, "backoff.maxDuration", ARGO_DEFAULT_MAX_DURATION, argo=True
                ),
            )
        if obj.kind in FLUX_KINDS:
            # A HelmRelease has no retryInterval: helm-controller tries a failed
            # release again at its next interval.
            interval = (
                reader.duration(spec, "spec.retryInterval", None) if obj.kind == FLUX_KIND else None
            )
            if interval is None:
                interval = reader.duration(spec, "spec.interval", None)
            if interval is None or interval <= 0:
                return None
            # A fixed interval, for ever: Flux requeues a failed reconcile that way.
            return RetrySpec(limit=-1, duration_s=interval, factor=1.0, max_duration_s=interval)
    except ValidationError:
        return None
    return None


def _no_jitter() -> float:
    return 0.0


class Verdict(Enum):
    """What the back-off says of an app at a pass."""

    FREE = "free"  # no failure recorded: the reconciler decides as usual
    WAIT = "wait"  # backing off: not queued
    RETRY = "retry"  # its next attempt is due: sync it now

    @property
    def queues(self) -> bool:
        return self is not Verdict.WAIT


@dataclass(frozen=True)
class Attempt:
    """One failed attempt as written to the app's status."""

    failures: int  # failed attempts in a row at this revision and generation
    retries: int  # the retries made so far (failures - 1)
    delay_s: float | None  # None: no retry left
    next_at: datetime | None


@dataclass
class _Failing:
    generation: int
    request: str  # the Flux reconcile request answered by the last attempt
    revision: str | None  # the source's commit when it failed (None: unknown)
    failures: int
    next_at: datetime | None  # None: no retry left until a reset
    probed: datetime


class Backoff:
    """The failing apps of one replica and when each is tried again (thread-safe:
    the reconcile thread asks, the worker threads record)."""

    def __init__(
        self,
        *,
        resync_s: float,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._resync = timedelta(seconds=resync_s)
        self._jitter = jitter
        self._lock = threading.Lock()
        self._failing: dict[str, _Failing] = {}

    def verdict(
        self, obj: AppObject, now: datetime, head: Callable[[], str | None] | None = None
    ) -> Verdict:
        """FREE, WAIT or RETRY for ``obj`` at ``now``. ``head`` gives the source's
        commit now; asked at most once per resync while the app waits."""
        with self._lock:
            failing = self._failing.get(obj.app_id)
            if failing is None:
                return Verdict.FREE
            asked = reconcile_requested(obj)
            if failing.generation != obj.generation or (asked and asked != failing.request):
                del self._failing[obj.app_id]  # a spec change or a sync request: start again
                return Verdict.FREE
            if failing.next_at is not None and now >= failing.next_at:
                return Verdict.RETRY
            probe = head is not None and now - failing.probed >= self._resync
            if probe:
                failing.probed = now
        if probe and head is not None:
            found = head()  # outside the lock: a git ls-remote
            with self._lock:
                current = self._failing.get(obj.app_id)
                if current is failing and found and found != failing.revision:
                    del self._failing[obj.app_id]  # a new commit: tried at once
                    return Verdict.FREE
        return Verdict.WAIT

    def failed(
        self,
        obj: AppObject,
        policy: RetrySpec | None,
        *,
        now: datetime,
        revision: str | None,
        then: RetrySpec | None = None,
        at_least: float = 0.0,
    ) -> Attempt:
        """Count one failed attempt of ``obj`` at ``revision``; when to try again.
        ``then`` takes over once ``policy`` ran out (or without one): Argo CD's
        self-heal back-off for an app with ``selfHeal``, as ``gitwave watch`` does."""
        with self._lock:
            failing = self._failing.get(obj.app_id)
            if (
                failing is None
                or failing.generation != obj.generation
                or (revision and failing.revision and revision != failing.revision)
            ):
                failing = _Failing(
                    generation=obj.generation,
                    request="",
                    revision=revision,
                    failures=0,
                    next_at=None,
                    probed=now,
                )
                self._failing[obj.app_id] = failing
            failing.failures += 1
            failing.request = reconcile_requested(obj)
            failing.revision = revision or failing.revision
            failing.probed = now
            # Argo CD's back-off is cut by up to 20 % at random (engine.retry), so
            # apps failing on one outage spread out; Flux's retryInterval is kept.
            jitter = self._jitter if obj.kind == ARGO_KIND else _no_jitter
            delay = retry_delay(policy, failing.failures, jitter=jitter, at_least=at_least)
            if delay is None and then is not None:
                delay = retry_delay(then, failing.failures, jitter=jitter, at_least=at_least)
            failing.next_at = None if delay is None else now + timedelta(seconds=delay)
            return Attempt(
                failures=failing.failures,
                retries=failing.failures - 1,
                delay_s=delay,
                next_at=failing.next_at,
            )

    def succeeded(self, app_id: str) -> None:
        """A sync of ``app_id`` worked: its failures are forgotten."""
        with self._lock:
            self._failing.pop(app_id, None)

    def failing(self) -> dict[str, int]:
        """The apps with failed attempts, and how many in a row."""
        with self._lock:
            return {app_id: f.failures for app_id, f in self._failing.items()}


__all__ = ["Attempt", "Backoff", "Verdict", "retry_policy"]

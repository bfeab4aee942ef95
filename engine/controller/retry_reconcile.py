"""Retries of the controller's failed automated syncs: the back-off as the
app reconciler (app_reconcile.py) asks it, and the status that shows it.

``Retries`` is what ``AppReconciler`` consults at its three decisions: an app
that is backing off is not queued; once its next attempt is due it is synced
even when not otherwise due (an app that synced once would else wait for the
resync); and after each failed sync the status it got is completed with the
retry, as Argo CD and Flux show it:

- Application: ``operationState.retryCount`` and the message
  ``<error>. Retrying attempt #N at <time>.``;
- Kustomization: ``Ready=False`` with the failure's reason, and the message
  ``<error>; next try in 20s at <time>``;
- HelmRelease: its remediation (remediation.py, release_remedy.py): the
  failure counted in its status, rolled back or uninstalled, tried again at
  its interval or ``Stalled`` once out of retries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from gitwave.engine.apps import RetrySpec
from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.model import AppSpec
from gitwave.engine.controller.backoff import Attempt, Backoff, Verdict, retry_policy
from gitwave.engine.controller.chart_probe import chart_version_now
from gitwave.engine.controller.helm_releases import HelmSourceApi, rolled_back_history
from gitwave.engine.controller.helm_storage import ReleaseSecrets
from gitwave.engine.controller.keeper import ControllerApi
from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KINDS, HELM_KIND, AppObject
from gitwave.engine.controller.release_remedy import remediate
from gitwave.engine.controller.release_store import record_rollback
from gitwave.engine.controller.remediation import (
    Remedy,
    cleared,
    failure_patch,
    failures,
    remediation_of,
    stalled,
)
from gitwave.engine.controller.requests import (
    force_requested,
    is_suspended,
    reconcile_requested,
)
from gitwave.engine.controller.status import timestamp
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.retry import SELF_HEAL_BACKOFF
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store

FAILED_PHASES = ("Failed", "Error")
# A HelmRelease's failures that count against its remediation retries: a
# release that failed, not a chart that could not be fetched (helm-controller
# counts those as neither).
_RELEASE_FAILURES = ("InstallFailed", "UpgradeFailed")
# How often a Stalled release's chart range is asked for a new version when
# the release names no spec.interval (Flux requires one).
_CHART_PROBE_S = 600.0
ChartNow = Callable[[AppObject, Sequence[Mapping[str, Any]]], str | None]


def source_head(app: AppSpec) -> str | None:
    """The commit ``app``'s source revision names now (``git ls-remote``, the
    replica's shared answer within ``source_refs.shared_refs``); None when it
    cannot be told (unreachable, a bucket, a revision not found)."""
    from gitwave.engine.source_git import match_ref
    from gitwave.engine.source_refs import refs_of

    source = app.source
    if not source.fetch_from:
        return None
    try:
        refs = refs_of(source.fetch_from)
    except GitwaveError:
        return None
    wanted = source.fetch_revision or "HEAD"
    if len(wanted) == 40 and all(c in "0123456789abcdef" for c in wanted):
        return wanted  # a commit: it never moves
    return match_ref(refs, wanted)[1]


class Retries:
    """The back-off of one replica's apps (thread-safe: the loop asks, workers record)."""

    def __init__(
        self,
        api: ControllerApi,
        *,
        backoff: Backoff,
        clock: Callable[[], datetime],
        targets: ProviderRouter,
        store: Store | None,
        head: Callable[[AppSpec], str | None] = source_head,
        chart_now: ChartNow = chart_version_now,
    ) -> None:
        self._api = api
        self._backoff = backoff
        self._clock = clock
        self._targets = targets
        self._store = store
        self._head = head
        self._chart_now = chart_now
        self._parsed: dict[str, AppSpec] = {}
        # A Stalled release's chart probe: app id -> (the failed chart version,
        # when asked, whether a newer one is picked now).
        self._charts: dict[str, tuple[str, datetime, bool]] = {}
        self._guard = threading.Lock()

    def parsed(self, obj: AppObject, app: AppSpec) -> None:
        """``obj`` parsed to ``app`` (its source is probed while it waits)."""
        with self._guard:
            self._parsed[obj.app_id] = app

    def _head_of(self, app_id: str) -> str | None:
        with self._guard:
            app = self._parsed.get(app_id)
        return None if app is None else self._head(app)

    def queueing(self, obj: AppObject, now: datetime) -> bool | None:
        """False: not to be queued (backing off, or stalled); True: its retry is
        due; None: the back-off has no say."""
        if is_suspended(obj):
            return None
        if stalled(obj):
            # Read from its status: holds across restarts and replicas. A
            # reconcile request is still answered (``held``); a new chart
            # version its range picks starts the count again (``held``).
            return bool(reconcile_requested(obj)) or self._chart_moved(obj, now)
        verdict = self._backoff.verdict(obj, now, partial(self._head_of, obj.app_id))
        if verdict is Verdict.WAIT:
            return False  # backing off: no worker, no parse
        return True if verdict is Verdict.RETRY else None

    def due(self, obj: AppObject, now: datetime) -> bool:
        """True when ``obj``'s next attempt is due (synced even if not otherwise due):
        its back-off ran out, or it is a Stalled release whose chart moved on."""
        if stalled(obj) and not is_suspended(obj) and self._chart_moved(obj, now):
            return True
        return self._backoff.verdict(obj, now) is Verdict.RETRY

    def held(self, obj: AppObject) -> bool:
        """True when ``obj`` is a stalled HelmRelease: not synced. Out of retries
        until its spec changes or ``flux reconcile hr --reset``; a plain request is
        answered, as helm-controller does, and changes nothing. A forced release
        (``flux reconcile hr --force``) is tried once: failing, it stalls again."""
        if not stalled(obj) or is_suspended(obj) or force_requested(obj):
            return False
        if self._chart_moved(obj, self._clock()):
            return False  # a new chart version: tried, counted from 0 (``_release_failed``)
        asked = reconcile_requested(obj)
        if asked:
            self._api.write_status(obj, {"lastHandledReconcileAt": asked})
        return True

    def synced(
        self, obj: AppObject, phase: str, written: Mapping[str, Any], *, interrupted: bool
    ) -> None:
        """After a sync of ``obj`` that ended in ``phase``, ``written`` the status it got."""
        if phase == "Succeeded":
            self._backoff.succeeded(obj.app_id)
            if obj.kind == HELM_KIND and not interrupted:
                self._released(obj)
        elif phase in FAILED_PHASES and not interrupted:
            self._retry_later(obj, written, phase)

    def _retry_later(self, obj: AppObject, written: Mapping[str, Any], phase: str) -> None:
        with self._guard:
            app = self._parsed.get(obj.app_id)
        automated = obj.kind in FLUX_KINDS or (
            obj.kind == ARGO_KIND and app is not None and app.policy.automated
        )
        if not automated or app is None:
            return  # a manual app's failed operation is not tried again by itself
        now = self._clock()
        if obj.kind == HELM_KIND:
            self._release_failed(obj, app, written, phase=phase, now=now)
            return
        heal = SELF_HEAL_BACKOFF if obj.kind == ARGO_KIND and app.policy.self_heal else None
        attempt = self._backoff.failed(
            obj, retry_policy(obj), now=now, revision=self._head(app), then=heal
        )
        patch = retry_status(obj, written, attempt, phase=phase, now=now)
        if patch:
            self._api.write_status(obj, patch)

    # -- HelmRelease remediation (remediation.py, release_remedy.py) ----------------

    def _rolled_back(
        self,
        obj: AppObject,
        app: AppSpec,
        written: Mapping[str, Any],
        patch: dict[str, Any],
        now: datetime,
    ) -> None:
        """A rollback that worked is a revision, as ``helm rollback`` makes one: a
        new ``status.history`` snapshot of the release rolled back to, and its
        storage Secret ("Rollback to N")."""
        found = written.get("history") or (obj.body.get("status") or {}).get("history") or []
        after = rolled_back_history(obj.body, [h for h in found if isinstance(h, Mapping)], now)
        if after is None:
            return
        patch["history"], to = after
        version = int(patch["history"][0]["version"])
        record_rollback(self._api, obj, app, version=version, to=to, stamp=timestamp(now))

    def _chart_moved(self, obj: AppObject, now: datetime) -> bool:
        """True when a Stalled release's chart range picks another version than
        the one that failed (``status.lastAttemptedRevision``); the repository
        asked at most once per the release's interval."""
        failed = str((obj.body.get("status") or {}).get("lastAttemptedRevision") or "")
        if not failed:
            return False  # stalled before a chart was fetched: nothing to compare
        with self._guard:
            known = self._charts.get(obj.app_id)
        try:
            every = Reader(obj.app_id).duration(obj.body.get("spec") or {}, "spec.interval", None)
        except ValidationError:
            every = None
        period = timedelta(seconds=every or _CHART_PROBE_S)
        if known is not None and known[0] == failed and now - known[1] < period:
            return known[2]
        sources = self._api.list_helm_sources() if isinstance(self._api, HelmSourceApi) else []
        version = self._chart_now(obj, sources)  # outside the lock: an index read
        moved = bool(version) and version != failed
        with self._guard:
            self._charts[obj.app_id] = (failed, now, moved)
        return moved

    def _released(self, obj: AppObject) -> None:
        status = obj.body.get("status") or {}
        patch = cleared(obj)
        if any(status.get(k) for k in patch) or "lastHandledResetAt" in patch:
            self._api.write_status(obj, patch)

    def _release_failed(
        self,
        obj: AppObject,
        app: AppSpec,
        written: Mapping[str, Any],
        *,
        phase: str,
        now: datetime,
    ) -> None:
        """Count the failed install or upgrade in the status, remediate it, and
        schedule the next attempt (none once the retries ran out: Stalled)."""
        try:
            remediation = remediation_of(obj)
        except ValidationError:
            return  # the parse refused it already, naming the field
        ready = [c for c in written.get("conditions") or () if isinstance(c, Mapping)]
        counted = bool(ready) and ready[0].get("reason") in _RELEASE_FAILURES
        # As helm-controller: failures count per chart version too, so a new
        # version (one the range picked while Stalled) gets every retry again.
        tried = str(written.get("lastAttemptedRevision") or "")
        count = failures(obj, remediation.action, chart=tried) + 1 if counted else 0
        remedied = None
        if counted and remediation.remedy_after(count) is not Remedy.NONE:
            remedied = remediate(
                remediation.remedy_after(count),
                obj,
                app,
                targets=self._targets,
                store=self._store,
                releases=self._api if isinstance(self._api, ReleaseSecrets) else None,
            )
        patch: dict[str, Any] = dict(written)
        if counted:
            patch = failure_patch(obj, written, remediation, count, remedied, now=now)
        if remedied is not None and remedied.remedy is Remedy.ROLLBACK and remedied.ok:
            self._rolled_back(obj, app, written, patch, now)
        policy = retry_policy(obj)
        if counted and remediation.exhausted(count):
            policy = None  # Stalled: no next attempt at this generation
        elif remediation.retry_interval_s:
            every = remediation.retry_interval_s
            policy = RetrySpec(limit=-1, duration_s=every, factor=1.0, max_duration_s=every)
        attempt = self._backoff.failed(obj, policy, now=now, revision=None)
        patch.update(retry_status(obj, patch, attempt, phase=phase, now=now))
        if patch != written:
            self._api.write_status(obj, patch)


def _delay_text(seconds: float) -> str:
    """Go's duration text, as Flux prints ``next try in 2m0s``."""
    whole = max(round(seconds), 0)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def retry_status(
    obj: AppObject, written: Mapping[str, Any], attempt: Attempt, *, phase: str, now: datetime
) -> dict[str, Any]:
    """The status patch that shows ``attempt`` on ``obj``, given the failure
    status the reconcile wrote (``written``)."""
    if obj.kind == ARGO_KIND:
        state = dict(written.get("operationState") or {})
        error = str(state.get("message") or "")
        if not state or state.get("phase") not in FAILED_PHASES:
            # Failed before syncing (a render error): the error is the condition's.
            conditions = [c for c in written.get("conditions") or () if isinstance(c, Mapping)]
            error = str(conditions[0].get("message", "")) if conditions else "sync failed"
            state = {
                "operation": {"sync": {}, "initiatedBy": {"automated": True}},
                "phase": phase,
                "startedAt": timestamp(now),
                "finishedAt": timestamp(now),
                "syncResult": None,
            }
        error = error.rstrip(".")
        if attempt.next_at is not None:
            state["retryCount"] = attempt.failures
            state["message"] = (
                f"{error}. Retrying attempt #{attempt.failures} at {timestamp(attempt.next_at)}."
            )
        else:
            state["retryCount"] = attempt.retries
            state["message"] = (
                f"{error}. Not retried at this revision "
                f"({attempt.retries} retries made; a new commit or a sync request tries again)."
            )
        return {"operationState": state}
    if obj.kind in FLUX_KINDS and attempt.next_at is not None and attempt.delay_s is not None:
        rows: list[dict[str, Any]] = [
            dict(c) for c in written.get("conditions") or () if isinstance(c, Mapping)
        ]
        for condition in rows:
            if condition.get("type") == "Ready" and condition.get("status") == "False":
                condition["message"] = (
                    f"{condition.get('message', '')}; next try in "
                    f"{_delay_text(attempt.delay_s)} at {timestamp(attempt.next_at)}"
                )
                return {"conditions": rows}
    return {}


__all__ = ["Retries", "retry_status", "source_head"]

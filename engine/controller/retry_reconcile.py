"""The app reconciler with retries: a failed automated sync waits out its back-off.

``RetryingReconciler`` is ``AppReconciler`` (app_reconcile.py) plus the
``Backoff`` (backoff.py): an app that is backing off is not queued; once its
next attempt is due it is synced even when not otherwise due (an app that
synced once would else wait for the resync); and after each failed sync the
status it got is completed with the retry, as Argo CD and Flux show it:

- Application: ``operationState.retryCount`` and the message
  ``<error>. Retrying attempt #N at <time>.``;
- Kustomization: ``Ready=False`` with the failure's reason, and the message
  ``<error>; next try in 20s at <time>``.

A subclass (not a change inside app_reconcile.py) so the per-app sync
decisions stay in one place; it hooks ``_parse``, ``_due`` and ``_operated``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, cast

from gitwave.engine.apps import RetrySpec
from gitwave.engine.apps.model import AppSpec, RepoResolver
from gitwave.engine.controller.app_reconcile import AppReconciler, Operated
from gitwave.engine.controller.backoff import Attempt, Backoff, Verdict, retry_policy
from gitwave.engine.controller.keeper import ControllerApi, ControllerOptions, ShardKeeper
from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KINDS, HELM_KIND, AppObject
from gitwave.engine.controller.release_remedy import remediate
from gitwave.engine.controller.remediation import (
    Remedy,
    cleared,
    failure_patch,
    failures,
    remediation_of,
    stalled,
)
from gitwave.engine.controller.requests import is_suspended, reconcile_requested
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


class _StatusTap:
    """The cluster API with each app's last status write kept (the retry
    completes that status); everything else goes straight through."""

    def __init__(self, api: ControllerApi) -> None:
        self._api = api
        self.written: dict[str, Mapping[str, Any]] = {}

    def write_status(self, obj: AppObject, status: Mapping[str, Any]) -> None:
        self._api.write_status(obj, status)
        self.written[obj.app_id] = status

    def __getattr__(self, name: str) -> Any:
        # Optional capabilities (ConfigMaps, Helm sources) stay as the API has them.
        return getattr(self._api, name)


def source_head(app: AppSpec) -> str | None:
    """The commit ``app``'s source revision names now (``git ls-remote``); None
    when it cannot be told (unreachable, a bucket, a revision not found)."""
    from gitwave.engine.source_git import ls_remote, match_ref

    source = app.source
    if not source.fetch_from:
        return None
    try:
        refs = ls_remote(source.fetch_from)
    except GitwaveError:
        return None
    wanted = source.fetch_revision or "HEAD"
    if len(wanted) == 40 and all(c in "0123456789abcdef" for c in wanted):
        return wanted  # a commit: it never moves
    return match_ref(refs, wanted)[1]


class RetryingReconciler(AppReconciler):
    """``AppReconciler`` whose failed automated syncs are retried on a back-off."""

    def __init__(
        self,
        api: ControllerApi,
        keeper: ShardKeeper,
        *,
        targets: ProviderRouter,
        store: Store | None,
        options: ControllerOptions,
        clock: Callable[[], datetime],
        audit: Callable[[Operated], None],
        resolve: RepoResolver,
        backoff: Backoff,
        head: Callable[[AppSpec], str | None] = source_head,
    ) -> None:
        self._tap = _StatusTap(api)
        super().__init__(
            cast(ControllerApi, self._tap),
            keeper,
            targets=targets,
            store=store,
            options=options,
            clock=clock,
            audit=audit,
            resolve=resolve,
        )
        self._real_api = api
        self._backoff = backoff
        self._head = head
        self._parsed: dict[str, AppSpec] = {}
        self._phase: dict[str, str] = {}
        self._guard = threading.Lock()

    # -- hooks into AppReconciler -------------------------------------------------

    def _parse(self, obj: AppObject) -> AppSpec:
        app = super()._parse(obj)
        with self._guard:
            self._parsed[obj.app_id] = app
        return app

    def _due(self, obj: AppObject, app: AppSpec | None, now: datetime) -> tuple[bool, bool]:
        if self._backoff.verdict(obj, now) is Verdict.RETRY:
            return True, True
        return super()._due(obj, app, now)

    def _operated(self, obj: AppObject, operated: Operated, initiated: str) -> None:
        if operated.finished:
            self._phase[obj.app_id] = operated.phase
        super()._operated(obj, operated, initiated)

    # -- the loop's side ----------------------------------------------------------

    def _head_of(self, app_id: str) -> str | None:
        with self._guard:
            app = self._parsed.get(app_id)
        return None if app is None else self._head(app)

    def worth_queueing(self, obj: AppObject, now: datetime) -> bool:
        if not is_suspended(obj):
            if stalled(obj):
                # Read from its status: holds across restarts and replicas. A
                # reconcile request is still answered (``reconcile``).
                return bool(reconcile_requested(obj))
            verdict = self._backoff.verdict(obj, now, partial(self._head_of, obj.app_id))
            if verdict is Verdict.WAIT:
                return False  # backing off: no worker, no parse
            if verdict is Verdict.RETRY:
                return True
        return super().worth_queueing(obj, now)

    def reconcile(self, obj: AppObject, shard: int, interrupt: threading.Event) -> bool:
        if stalled(obj) and not is_suspended(obj):
            # Out of retries until its spec changes or ``flux reconcile hr --reset``;
            # a plain request is answered, as helm-controller does, and changes nothing.
            asked = reconcile_requested(obj)
            if asked:
                self._real_api.write_status(obj, {"lastHandledReconcileAt": asked})
            return False
        self._phase.pop(obj.app_id, None)
        self._tap.written.pop(obj.app_id, None)
        synced = super().reconcile(obj, shard, interrupt)
        phase = self._phase.pop(obj.app_id, "")
        written = self._tap.written.pop(obj.app_id, None)
        if phase == "Succeeded":
            self._backoff.succeeded(obj.app_id)
            if obj.kind == HELM_KIND and not interrupt.is_set():
                self._released(obj)
        elif phase in FAILED_PHASES and not interrupt.is_set():
            self._retry_later(obj, written, phase)
        return synced

    def _retry_later(self, obj: AppObject, written: Mapping[str, Any] | None, phase: str) -> None:
        with self._guard:
            app = self._parsed.get(obj.app_id)
        automated = obj.kind in FLUX_KINDS or (
            obj.kind == ARGO_KIND and app is not None and app.policy.automated
        )
        if not automated or app is None:
            return  # a manual app's failed operation is not tried again by itself
        now = self._clock()
        if obj.kind == HELM_KIND:
            self._release_failed(obj, app, written or {}, phase=phase, now=now)
            return
        heal = SELF_HEAL_BACKOFF if obj.kind == ARGO_KIND and app.policy.self_heal else None
        attempt = self._backoff.failed(
            obj, retry_policy(obj), now=now, revision=self._head(app), then=heal
        )
        patch = retry_status(obj, written or {}, attempt, phase=phase, now=now)
        if patch:
            self._real_api.write_status(obj, patch)

    # -- HelmRelease remediation (remediation.py, release_remedy.py) ----------------

    def _released(self, obj: AppObject) -> None:
        status = obj.body.get("status") or {}
        patch = cleared(obj)
        if any(status.get(k) for k in patch) or "lastHandledResetAt" in patch:
            self._real_api.write_status(obj, patch)

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
        count = failures(obj, remediation.action) + 1 if counted else 0
        remedied = None
        if counted and remediation.remedy_after(count) is not Remedy.NONE:
            remedied = remediate(
                remediation.remedy_after(count),
                obj,
                app,
                targets=self._targets,
                store=self._store,
            )
        patch: dict[str, Any] = dict(written)
        if counted:
            patch = failure_patch(obj, written, remediation, count, remedied, now=now)
        policy = retry_policy(obj)
        if counted and remediation.exhausted(count):
            policy = None  # Stalled: no next attempt at this generation
        elif remediation.retry_interval_s:
            every = remediation.retry_interval_s
            policy = RetrySpec(limit=-1, duration_s=every, factor=1.0, max_duration_s=every)
        attempt = self._backoff.failed(obj, policy, now=now, revision=None)
        patch.update(retry_status(obj, patch, attempt, phase=phase, now=now))
        if patch != written:
            self._real_api.write_status(obj, patch)


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


__all__ = ["RetryingReconciler", "retry_status", "source_head"]

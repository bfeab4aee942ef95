"""A sync result written the way Argo CD and Flux write their objects' status.

Argo CD ``Application``: ``status.sync`` (status, revision), ``status.health``,
``status.operationState`` (phase, message, startedAt, finishedAt, syncResult
with one row per resource) and ``status.reconciledAt``. Flux
``Kustomization``: ``Ready``/``Reconciling`` conditions with Flux's reasons,
``lastAppliedRevision``, ``lastAttemptedRevision`` and ``observedGeneration``.
Pure: the caller writes the returned mapping through the status subresource.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gitwave.engine.model import ChangeAction, ChangeSetEntry, HealthCode
from gitwave.engine.sync import SyncResult


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_epoch(seconds: float) -> str:
    return timestamp(datetime.fromtimestamp(seconds, UTC))


def _resource_row(entry: ChangeSetEntry) -> dict[str, Any]:
    key = entry.key
    if entry.action is ChangeAction.FAILED:
        status = "SyncFailed"
    elif entry.action in (ChangeAction.DELETED, ChangeAction.ORPHANED):
        status = "Pruned"
    elif entry.action is ChangeAction.SKIPPED:
        status = "PruneSkipped"
    else:
        status = "Synced"
    row: dict[str, Any] = {
        "group": key.group,
        "kind": key.kind,
        "namespace": key.namespace or "",
        "name": key.name,
        "status": status,
        "message": entry.message or entry.action.value,
        "syncPhase": "Sync",
    }
    if entry.live is not None:
        version = str(entry.live.manifest.get("apiVersion", "")).rpartition("/")[2]
        if version:
            row["version"] = version
    return row


def argo_operation_state(result: SyncResult, *, initiated_by: str) -> dict[str, Any]:
    """``status.operationState`` for one finished sync."""
    return {
        "operation": {
            "sync": {"revision": result.revision},
            "initiatedBy": {"username": initiated_by}
            if initiated_by != "automated"
            else {"automated": True},
        },
        "phase": result.phase.value,
        "message": result.message or ("successfully synced" if result.ok else "sync failed"),
        "startedAt": _from_epoch(result.started),
        "finishedAt": _from_epoch(result.finished),
        "syncResult": {
            "revision": result.revision,
            "resources": [_resource_row(e) for e in result.changeset.entries],
        },
    }


def running_state(operation: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """``status.operationState`` while ``operation`` runs (a merge patch: the last
    run's finish and result are cleared)."""
    return {
        "operation": dict(operation),
        "phase": "Running",
        "message": "running",
        "startedAt": timestamp(now),
        "finishedAt": None,
        "syncResult": None,
    }


def argo_history(
    body: Mapping[str, Any], result: SyncResult, *, initiated_by: str
) -> list[dict[str, Any]]:
    """``status.history`` after a successful sync: the object's own history
    (whoever wrote it, so it continues across replicas) plus this sync, the
    last ``spec.revisionHistoryLimit`` (default 10) kept, as Argo CD does."""
    status = body.get("status") or {}
    past = status.get("history") if isinstance(status, Mapping) else None
    history = [dict(h) for h in past if isinstance(h, Mapping)] if isinstance(past, list) else []
    spec = body.get("spec") or {}
    limit = spec.get("revisionHistoryLimit") if isinstance(spec, Mapping) else None
    keep = limit if isinstance(limit, int) and limit >= 1 else 10
    last_id = max(
        (int(h.get("id", 0)) for h in history if isinstance(h.get("id"), int)), default=-1
    )
    entry: dict[str, Any] = {
        "id": last_id + 1,
        "revision": result.revision,
        "deployStartedAt": _from_epoch(result.started),
        "deployedAt": _from_epoch(result.finished),
        "initiatedBy": {"username": initiated_by}
        if initiated_by != "automated"
        else {"automated": True},
    }
    source = spec.get("source") if isinstance(spec, Mapping) else None
    if isinstance(source, Mapping):
        entry["source"] = dict(source)
    return [*history, entry][-keep:]


def argo_status(
    *,
    in_sync: bool | None,
    revision: str,
    health: HealthCode,
    health_message: str,
    now: datetime,
    operation_state: dict[str, Any] | None = None,
    shard: int | None = None,
) -> dict[str, Any]:
    """An Application's ``status`` (``in_sync`` None: the comparison failed → Unknown)."""
    status: dict[str, Any] = {
        "sync": {
            "status": "Unknown" if in_sync is None else ("Synced" if in_sync else "OutOfSync"),
            "revision": revision,
        },
        "health": {"status": health.value},
        "reconciledAt": timestamp(now),
        # A merge patch: null clears an earlier ComparisonError once a
        # comparison works again (a failure sets its own conditions).
        "conditions": None,
    }
    if health_message:
        status["health"]["message"] = health_message
    if operation_state is not None:
        status["operationState"] = operation_state
    if shard is not None:
        # Argo CD records the controller shard an app is handled by in status too.
        status["controllerNamespace"] = ""
        status["shard"] = shard
    return status


def flux_condition(
    kind: str, ok: bool, reason: str, message: str, generation: int, now: datetime
) -> dict[str, Any]:
    """A Flux (kstatus) condition: ``Ready``, ``Released``, ``Stalled``, …"""
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": timestamp(now),
    }


FLUX_HISTORY_LIMIT = 5


def flux_history(
    body: Mapping[str, Any], result: SyncResult, *, revision: str, now: datetime
) -> list[dict[str, Any]]:
    """A Kustomization's ``status.history`` after one reconcile, as Flux keeps it
    (kustomize-controller v1.5+): one entry per distinct applied set (its
    ``digest``), newest first, counting reconciliations, the last 5. Continued
    from the object, so it is one history whichever replica reconciled."""
    status = body.get("status") or {}
    past = status.get("history") if isinstance(status, Mapping) else None
    history = [dict(h) for h in past if isinstance(h, Mapping)] if isinstance(past, list) else []
    applied = sorted(
        str(e.key)
        for e in result.changeset.entries
        if e.action not in (ChangeAction.DELETED, ChangeAction.ORPHANED, ChangeAction.FAILED)
    )
    digest = "sha256:" + hashlib.sha256("\n".join([revision, *applied]).encode()).hexdigest()
    duration = max(result.finished - result.started, 0.0)
    state = "ReconciliationSucceeded" if result.ok else "ReconciliationFailed"
    found = next((h for h in history if h.get("digest") == digest), None)
    if found is None:
        found = {"digest": digest, "firstReconciled": timestamp(now), "totalReconciliations": 0}
    else:
        history.remove(found)
    found.update(
        {
            "lastReconciled": timestamp(now),
            "lastReconciledDuration": f"{duration:.3f}s",
            "lastReconciledStatus": state,
            "totalReconciliations": int(found.get("totalReconciliations") or 0) + 1,
            "metadata": {"revision": revision},
        }
    )
    return [found, *history][:FLUX_HISTORY_LIMIT]


def flux_status(
    *,
    result: SyncResult | None,
    error: str | None,
    revision: str,
    branch: str,
    generation: int,
    now: datetime,
    last_applied: str = "",
) -> dict[str, Any]:
    """A Kustomization's ``status`` after one reconcile (``error``: it stopped before syncing)."""
    flux_revision = f"{branch}@sha1:{revision}" if revision else ""
    conditions: list[dict[str, Any]]
    if error is not None or result is None:
        conditions = [
            flux_condition(
                "Ready", False, "ReconciliationFailed", error or "failed", generation, now
            ),
        ]
    elif not result.ok:
        conditions = [
            flux_condition("Ready", False, "ReconciliationFailed", result.message, generation, now),
        ]
    elif result.health.code in (HealthCode.HEALTHY, HealthCode.SUSPENDED):
        last_applied = flux_revision
        conditions = [
            flux_condition(
                "Ready",
                True,
                "ReconciliationSucceeded",
                f"Applied revision: {flux_revision}",
                generation,
                now,
            ),
        ]
    else:
        last_applied = flux_revision
        conditions = [
            flux_condition(
                "Ready",
                False,
                "HealthCheckFailed" if result.health.code is HealthCode.DEGRADED else "Progressing",
                result.health.message or f"health {result.health.code.value}",
                generation,
                now,
            ),
            flux_condition(
                "Reconciling", True, "Progressing", "waiting for health", generation, now
            ),
        ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "lastAttemptedRevision": flux_revision,
        "conditions": conditions,
    }
    if last_applied:
        status["lastAppliedRevision"] = last_applied
    return status


__all__ = [
    "argo_history",
    "argo_operation_state",
    "argo_status",
    "flux_condition",
    "flux_history",
    "flux_status",
    "running_state",
    "timestamp",
]

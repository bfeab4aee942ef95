"""The status an app object gets after a reconcile, by kind: an Argo CD
Application's, a Flux Kustomization's, a Flux HelmRelease's (pure; the loop
writes it through the status subresource)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.controller.objects import ARGO_KIND, HELM_KIND, AppObject
from gitwave.engine.controller.release_sync import release_failure, release_result
from gitwave.engine.controller.requests import force_requested, reconcile_requested
from gitwave.engine.controller.status import (
    argo_history,
    argo_operation_state,
    argo_status,
    flux_history,
    flux_status,
)
from gitwave.engine.model import HealthCode
from gitwave.engine.operations import Synced


def _handled(obj: AppObject, status: dict[str, Any]) -> None:
    """Flux: the reconcile request this run answered, as ``flux reconcile`` waits for."""
    asked = reconcile_requested(obj)
    if asked:
        status["lastHandledReconcileAt"] = asked
    forced = force_requested(obj)
    if forced:  # a HelmRelease's forced release: answered once, tried or not
        status["lastHandledForceAt"] = forced


def failure_status(obj: AppObject, message: str, now: datetime) -> dict[str, Any]:
    """The status of an app that stopped before syncing (a bad spec, a render error)."""
    if obj.kind == ARGO_KIND:
        status = argo_status(
            in_sync=None, revision="", health=HealthCode.UNKNOWN, health_message="", now=now
        )
        status["conditions"] = [
            {
                "type": "ComparisonError",
                "message": message,
                "lastTransitionTime": status["reconciledAt"],
            }
        ]
        return status
    if obj.kind == HELM_KIND:
        status = release_failure(obj, message, now)
    else:
        status = flux_status(
            result=None,
            error=message,
            revision="",
            branch="",
            generation=obj.generation,
            now=now,
        )
    _handled(obj, status)
    return status


def synced_status(
    obj: AppObject, app: AppSpec, synced: Synced, *, initiated: str, now: datetime
) -> dict[str, Any]:
    """The status after a sync that ran (succeeded or not)."""
    result = synced.result
    if obj.kind == ARGO_KIND:
        status = argo_status(
            in_sync=result.ok,
            revision=result.revision,
            health=result.health.code,
            health_message=result.health.message,
            now=now,
            operation_state=argo_operation_state(result, initiated_by=initiated),
        )
        if result.ok and not result.dry_run:
            status["history"] = argo_history(obj.body, result, initiated_by=initiated)
        return status
    if obj.kind == HELM_KIND:
        status = release_result(obj, synced, now)
    else:
        branch = str((app.source.revision or "") or "HEAD")
        status = flux_status(
            result=result,
            error=None,
            revision=result.revision,
            branch=branch,
            generation=obj.generation,
            now=now,
        )
        if not result.dry_run:
            status["history"] = flux_history(
                obj.body, result, revision=status["lastAttemptedRevision"], now=now
            )
    _handled(obj, status)
    return status


__all__ = ["failure_status", "synced_status"]

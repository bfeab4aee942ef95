"""A sync result as Argo CD and Flux write it in their objects' status (pure mapping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from gitwave.engine.controller.status import (
    argo_history,
    argo_operation_state,
    argo_status,
    flux_status,
)
from gitwave.engine.model import (
    ChangeAction,
    ChangeSet,
    ChangeSetEntry,
    Health,
    HealthCode,
    ResourceKey,
)
from gitwave.engine.sync import SyncPhase, SyncResult

NOW = datetime(2026, 12, 4, 0, 0, 5, tzinfo=UTC)
STARTED = datetime(2026, 12, 4, 0, 0, 1, tzinfo=UTC).timestamp()
REV = "a" * 40
HEALTHY = Health(HealthCode.HEALTHY)


def result(
    phase: SyncPhase = SyncPhase.SUCCEEDED,
    health: Health = HEALTHY,
    entries: tuple[ChangeSetEntry, ...] = (),
    message: str = "",
) -> SyncResult:
    return SyncResult(
        app="web",
        revision=REV,
        phase=phase,
        message=message,
        changeset=ChangeSet(entries),
        health=health,
        started=STARTED,
        finished=STARTED + 3,
    )


def test_operation_state_lists_each_resource_as_argo_does() -> None:
    entries = (
        ChangeSetEntry(ResourceKey("", "ConfigMap", "shop", "a"), ChangeAction.CREATED),
        ChangeSetEntry(ResourceKey("apps", "Deployment", "shop", "b"), ChangeAction.FAILED, "no"),
        ChangeSetEntry(ResourceKey("", "Secret", "shop", "c"), ChangeAction.DELETED),
    )
    state = argo_operation_state(result(SyncPhase.FAILED, entries=entries), initiated_by="alice")
    assert state["phase"] == "Failed"
    assert state["startedAt"] == "2026-12-04T00:00:01Z"
    assert state["finishedAt"] == "2026-12-04T00:00:04Z"
    assert state["operation"]["initiatedBy"] == {"username": "alice"}
    rows = [(r["kind"], r["name"], r["status"]) for r in state["syncResult"]["resources"]]
    assert rows == [
        ("ConfigMap", "a", "Synced"),
        ("Deployment", "b", "SyncFailed"),
        ("Secret", "c", "Pruned"),
    ]
    automated = argo_operation_state(result(), initiated_by="automated")
    assert automated["operation"]["initiatedBy"] == {"automated": True}


@pytest.mark.parametrize(
    ("in_sync", "want"), [(True, "Synced"), (False, "OutOfSync"), (None, "Unknown")]
)
def test_sync_status(in_sync: bool | None, want: str) -> None:
    status = argo_status(
        in_sync=in_sync, revision=REV, health=HealthCode.PROGRESSING, health_message="", now=NOW
    )
    assert status["sync"] == {"status": want, "revision": REV}
    assert status["health"] == {"status": "Progressing"}
    assert status["reconciledAt"] == "2026-12-04T00:00:05Z"


def test_history_continues_from_the_object_and_keeps_the_limit() -> None:
    body: dict[str, Any] = {
        "spec": {
            "source": {"repoURL": "https://git.example/r", "path": "web"},
            "revisionHistoryLimit": 2,
        },
        "status": {"history": [{"id": 4, "revision": "b" * 40}, {"id": 5, "revision": "c" * 40}]},
    }
    history = argo_history(body, result(), initiated_by="automated")
    assert [(h["id"], h["revision"]) for h in history] == [(5, "c" * 40), (6, REV)]
    assert history[-1]["source"] == body["spec"]["source"]
    assert history[-1]["deployedAt"] == "2026-12-04T00:00:04Z"
    assert [h["id"] for h in argo_history({}, result(), initiated_by="bob")] == [0]


@dataclass(frozen=True)
class FluxCase:
    reason: str
    result: SyncResult | None
    error: str | None
    ready: str
    flux_reason: str
    applied: bool


FLUX = [
    FluxCase("healthy sync", result(), None, "True", "ReconciliationSucceeded", True),
    FluxCase(
        "applied, waiting for health",
        result(health=Health(HealthCode.PROGRESSING, "rollout")),
        None,
        "False",
        "Progressing",
        True,
    ),
    FluxCase(
        "applied, degraded",
        result(health=Health(HealthCode.DEGRADED, "crash")),
        None,
        "False",
        "HealthCheckFailed",
        True,
    ),
    FluxCase(
        "failed sync",
        result(SyncPhase.FAILED, message="apply failed"),
        None,
        "False",
        "ReconciliationFailed",
        False,
    ),
    FluxCase("bad spec", None, "spec.path: missing", "False", "ReconciliationFailed", False),
]


@pytest.mark.parametrize("case", FLUX, ids=lambda c: c.reason)
def test_flux_ready_condition(case: FluxCase) -> None:
    status = flux_status(
        result=case.result,
        error=case.error,
        revision=REV if case.result else "",
        branch="main",
        generation=3,
        now=NOW,
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == (case.ready, case.flux_reason)
    assert ready["observedGeneration"] == 3 and status["observedGeneration"] == 3
    assert ("lastAppliedRevision" in status) == case.applied
    if case.applied:
        assert status["lastAppliedRevision"] == f"main@sha1:{REV}"
    if case.error:
        assert ready["message"] == case.error


def test_flux_history_counts_reconciles_of_one_applied_set_and_keeps_five() -> None:
    from gitwave.engine.controller.status import flux_history

    entries = (ChangeSetEntry(ResourceKey("", "ConfigMap", "shop", "a"), ChangeAction.CREATED),)
    first = flux_history({}, result(entries=entries), revision=f"main@sha1:{REV}", now=NOW)
    assert len(first) == 1
    assert first[0]["totalReconciliations"] == 1
    assert first[0]["lastReconciledStatus"] == "ReconciliationSucceeded"
    assert first[0]["metadata"] == {"revision": f"main@sha1:{REV}"}
    assert first[0]["lastReconciledDuration"] == "3.000s"
    again = flux_history(
        {"status": {"history": first}},
        result(entries=entries),
        revision=f"main@sha1:{REV}",
        now=NOW,
    )
    assert [(h["digest"], h["totalReconciliations"]) for h in again] == [(first[0]["digest"], 2)]
    history = again
    for i in range(6):
        history = flux_history(
            {"status": {"history": history}},
            result(entries=entries),
            revision=f"main@sha1:{i:040d}",
            now=NOW,
        )
    assert len(history) == 5  # the newest five applied sets, newest first
    assert history[0]["metadata"]["revision"] == f"main@sha1:{5:040d}"

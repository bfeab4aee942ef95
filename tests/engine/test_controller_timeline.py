"""Each operation as Events on its app (pure), and app references as the CLI reads them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, AppObject
from gitwave.engine.controller.timeline import (
    FINISHED_AT,
    PHASE,
    STARTED_AT,
    operation_event,
    timeline_row,
)
from gitwave.engine.errors import ValidationError
from gitwave.tui.controller_client import parse_app_ref

ARGO_APP = AppObject(ARGO_KIND, "argocd", "shop", 1, {})
FLUX_APP = AppObject(FLUX_KIND, "flux-system", "feed", 1, {})
T0, T1 = "2026-12-04T05:00:00.000001+00:00", "2026-12-04T05:00:03.500000+00:00"


@dataclass
class Case:
    reason: str
    obj: AppObject
    finished: str
    phase: str
    initiated: str
    want_reason: str
    want_message: str
    warning: bool


CASES = [
    Case("argo start", ARGO_APP, "", "Running", "alice", "OperationStarted",
         "Initiated sync by alice (replica r1)", False),
    Case("argo end", ARGO_APP, T1, "Succeeded", "automated", "OperationCompleted",
         "Automated sync succeeded (replica r1)", False),
    Case("argo interrupted", ARGO_APP, T1, "Interrupted", "alice", "OperationCompleted",
         "Sync by alice interrupted (replica r1)", True),
    Case("flux start", FLUX_APP, "", "Running", "automated", "Progressing",
         "Initiated automated sync (replica r1)", False),
    Case("flux failed", FLUX_APP, T1, "Failed", "automated", "ReconciliationFailed",
         "Automated sync failed (replica r1)", True),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_operation_events_use_each_tools_reasons(case: Case) -> None:
    event = operation_event(
        case.obj,
        replica="r1",
        started=T0,
        finished=case.finished,
        phase=case.phase,
        initiated=case.initiated,
    )
    assert (event.reason, event.message, event.warning) == (
        case.want_reason,
        case.want_message,
        case.warning,
    )
    assert event.annotations[STARTED_AT] == T0
    assert event.annotations.get(FINISHED_AT, "") == case.finished


def test_an_event_reads_back_as_a_timeline_row() -> None:
    row = timeline_row(
        {
            "metadata": {"annotations": {STARTED_AT: T0, FINISHED_AT: T1, PHASE: "Succeeded"}},
            "type": "Normal",
            "reason": "OperationCompleted",
            "reportingInstance": "r2",
            "message": "done",
        }
    )
    assert (row.time, row.replica, row.started, row.finished, row.phase) == (
        T1,
        "r2",
        T0,
        T1,
        "Succeeded",
    )


REFS = [
    ("shop", "", ("", "", "shop")),
    ("shop", "argocd", ("", "argocd", "shop")),
    ("argocd/shop", "", ("", "argocd", "shop")),
    ("app/shop", "argocd", (ARGO_KIND, "argocd", "shop")),
    ("ks/flux-system/feed", "", (FLUX_KIND, "flux-system", "feed")),
    ("Kustomization/flux-system/feed", "", (FLUX_KIND, "flux-system", "feed")),
]


@pytest.mark.parametrize("text,namespace,want", REFS)
def test_app_references(text: str, namespace: str, want: tuple[str, str, str]) -> None:
    assert parse_app_ref(text, namespace=namespace) == want


@pytest.mark.parametrize("text", ["a/b/c/d", "deploy/ns/web", "ns//x", ""])
def test_bad_app_references_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_app_ref(text)

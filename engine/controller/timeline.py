"""Each operation's start and end as Kubernetes Events on the app object: the
controller's timeline kept in the cluster, whichever replica ran it.

``kubectl describe application NAME`` and ``kubectl get events`` show them
(Argo CD's reasons ``OperationStarted``/``OperationCompleted``, Flux's
``Progressing``/``ReconciliationSucceeded``/``ReconciliationFailed``), and
``gitwave events --controller APP`` lists them. Every Event names the replica
that ran the operation (``reportingInstance``) and carries the exact start and
end in annotations, so the Events alone audit who operated which app when,
after any replica is gone. Pure: the caller creates the Event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.controller.objects import ARGO_KIND, AppObject

REPORTING_CONTROLLER = "gitwave.dev/controller"
STARTED_AT = "gitwave.dev/started-at"
FINISHED_AT = "gitwave.dev/finished-at"
PHASE = "gitwave.dev/phase"
_GOOD = ("Succeeded", "Running")


@dataclass(frozen=True)
class OperationEvent:
    """One Event about an app's operation (a start when ``finished`` is "")."""

    reason: str
    message: str
    warning: bool
    replica: str
    started: str  # ISO 8601 with microseconds (the audit compares them)
    finished: str
    phase: str

    @property
    def annotations(self) -> dict[str, str]:
        found = {STARTED_AT: self.started, PHASE: self.phase}
        if self.finished:
            found[FINISHED_AT] = self.finished
        return found


def operation_event(
    obj: AppObject,
    *,
    replica: str,
    started: str,
    finished: str,
    phase: str,
    initiated: str,
    detail: str = "",
) -> OperationEvent:
    """The Event for a start (``finished`` "") or an end of an operation on ``obj``."""
    who = "automated sync" if initiated == "automated" else f"sync by {initiated}"
    argo = obj.kind == ARGO_KIND
    if not finished:
        reason = "OperationStarted" if argo else "Progressing"
        message = f"Initiated {who} (replica {replica})"
    else:
        ok = phase == "Succeeded"
        if argo:
            reason = "OperationCompleted"
        else:
            reason = "ReconciliationSucceeded" if ok else "ReconciliationFailed"
        message = f"{who.capitalize()} {phase.lower()} (replica {replica})"
        if detail:
            message += f": {detail}"
    return OperationEvent(
        reason=reason,
        message=message[:1024],
        warning=phase not in _GOOD,
        replica=replica,
        started=started,
        finished=finished,
        phase=phase,
    )


@dataclass(frozen=True)
class TimelineRow:
    """One Event as ``gitwave events --controller`` prints it."""

    time: str
    type: str
    reason: str
    replica: str
    message: str
    started: str
    finished: str
    phase: str


def timeline_row(event: Mapping[str, Any]) -> TimelineRow:
    """A core/v1 Event (as a plain object) read back."""
    meta = event.get("metadata") or {}
    notes = meta.get("annotations") or {}
    return TimelineRow(
        time=str(notes.get(FINISHED_AT) or notes.get(STARTED_AT) or event.get("lastTimestamp")),
        type=str(event.get("type", "")),
        reason=str(event.get("reason", "")),
        replica=str(event.get("reportingInstance", "")),
        message=str(event.get("message", "")),
        started=str(notes.get(STARTED_AT, "")),
        finished=str(notes.get(FINISHED_AT, "")),
        phase=str(notes.get(PHASE, "")),
    )


__all__ = [
    "FINISHED_AT",
    "PHASE",
    "REPORTING_CONTROLLER",
    "STARTED_AT",
    "OperationEvent",
    "TimelineRow",
    "operation_event",
    "timeline_row",
]

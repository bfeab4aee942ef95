"""The phase, message and conditions of a Rollout's status, as the Argo
Rollouts controller writes them after each step (``rollouts.advance``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.model import Manifest

from .base import as_map, meta_of, spec_of, status_condition


def replicas_pending(status: Mapping[str, Any]) -> bool:
    """Whether some replicas are not available yet."""
    return int(status.get("availableReplicas") or 0) < int(status.get("replicas") or 0)


def invalid(status: dict[str, Any], message: str, now: str) -> dict[str, Any]:
    """``status`` Degraded with an InvalidSpec condition saying ``message``."""
    status["conditions"] = [status_condition("InvalidSpec", True, "InvalidSpec", message, now)]
    status["phase"] = "Degraded"
    status["message"] = f"InvalidSpec: {message}"
    return status


def describe(
    obj: Manifest, status: dict[str, Any], steps: Sequence[Mapping[str, Any]], now: str
) -> None:
    """``phase``, ``message`` and conditions as the Rollouts controller writes them."""
    aborted = status.get("abort") is True
    paused = bool(status.get("pauseConditions")) or spec_of(obj).get("paused") is True
    pending = replicas_pending(status)
    done = status.get("currentPodHash") == status.get("stableRS")
    previous = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}

    def keep_time(condition: dict[str, Any]) -> dict[str, Any]:
        old = previous.get(condition["type"])
        if old and (old.get("status"), old.get("reason")) == (
            condition["status"],
            condition["reason"],
        ):
            condition["lastTransitionTime"] = old.get("lastTransitionTime", now)
        return condition

    if aborted:
        run = as_map(as_map(status.get("canary")).get("currentStepAnalysisRunStatus"))
        message = f"Rollout aborted update to revision {status['currentPodHash']}"
        if run.get("status") in ("Failed", "Error") and run.get("message"):
            message = f"{message}: {run['message']}"
        progressing = status_condition("Progressing", False, "RolloutAborted", message, now)
        status["phase"], status["message"] = "Degraded", f"RolloutAborted: {message}"
    elif paused:
        reasons = [str(c.get("reason")) for c in status.get("pauseConditions") or []]
        reason = reasons[0] if reasons else "RolloutPaused"
        progressing = status_condition(
            "Progressing", True, "RolloutPaused", "Rollout is paused", now
        )
        status["phase"], status["message"] = "Paused", reason
    elif pending or not done:
        message = "more replicas need to be updated" if pending else "waiting for steps"
        progressing = status_condition(
            "Progressing",
            True,
            "ReplicaSetUpdated",
            f'ReplicaSet "{meta_of(obj).get("name")}-{status["currentPodHash"]}" is progressing.',
            now,
        )
        status["phase"], status["message"] = "Progressing", message
    else:
        progressing = status_condition(
            "Progressing",
            True,
            "NewReplicaSetAvailable",
            "Rollout has completed rollout",
            now,
        )
        status["phase"] = "Healthy"
        status.pop("message", None)
    available = not pending
    conditions = [
        keep_time(
            status_condition(
                "Available",
                available,
                "AvailableReason",
                "Rollout has minimum availability"
                if available
                else "Rollout does not have minimum availability",
                now,
            )
        ),
        keep_time(progressing),
    ]
    if paused:
        conditions.append(
            keep_time(status_condition("Paused", True, "RolloutPaused", "Rollout is paused", now))
        )
    conditions.append(
        keep_time(
            status_condition(
                "Healthy",
                done and available and not aborted,
                "RolloutHealthy" if done and available else "RolloutHealthyIncomplete",
                "Rollout is healthy" if done and available else "Rollout is not healthy",
                now,
            )
        )
    )
    status["conditions"] = conditions
    if steps:
        status["currentStepIndex"] = min(int(status.get("currentStepIndex") or 0), len(steps))
    else:
        status.pop("currentStepIndex", None)
    status["selector"] = ",".join(
        f"{k}={v}"
        for k, v in sorted(as_map(as_map(spec_of(obj).get("selector")).get("matchLabels")).items())
    )

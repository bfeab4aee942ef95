"""Pods, Jobs and CronJobs: a pod's phase and container states, a Job's
pod and completion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gitwave.engine.model import Manifest

from .base import (
    HOST_IP,
    SAFE_ALPHABET,
    Rollout,
    StatusContext,
    fails,
    meta_of,
    never,
    pod_from_template,
    register,
    safe_hash,
    spec_of,
    status_condition,
    template_of,
)


def _pod_ip(obj: Manifest) -> str:
    seed = safe_hash([meta_of(obj).get("namespace"), meta_of(obj).get("name")], 8)
    number = sum(SAFE_ALPHABET.index(c) * (27**i) for i, c in enumerate(seed))
    return f"10.244.{number % 250}.{number // 250 % 250 + 2}"


@register("", "Pod")
def _pod(obj: Manifest, context: StatusContext) -> Manifest:
    spec = spec_of(obj)
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    run_to_completion = spec.get("restartPolicy", "Always") != "Always"
    now = context.now
    started_at = str(context.previous.get("startTime") or now)
    base: dict[str, Any] = {"hostIP": HOST_IP, "startTime": started_at, "qosClass": "BestEffort"}

    def container_status(state: dict[str, Any], *, ready: bool, restarts: int = 0) -> list[Any]:
        return [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "ready": ready,
                "started": "running" in state,
                "restartCount": restarts,
                "state": state,
            }
            for c in containers
        ]

    def conditions(ready: bool, reason: str = "") -> list[dict[str, Any]]:
        result = []
        for type_ in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            is_true = ready or type_ in ("PodScheduled", "Initialized")
            condition = {"type": type_, "status": "True" if is_true else "False"}
            if not is_true and reason:
                condition["reason"] = reason
            condition["lastTransitionTime"] = now
            result.append(condition)
        return result

    if context.phase is Rollout.STARTED:
        return {
            **base,
            "phase": "Pending",
            "conditions": conditions(False, "ContainersNotReady"),
            "containerStatuses": container_status(
                {"waiting": {"reason": "ContainerCreating"}}, ready=False
            ),
        }
    ip = {"podIP": _pod_ip(obj), "podIPs": [{"ip": _pod_ip(obj)}]}
    if fails(obj):
        if run_to_completion:
            terminated = {"exitCode": 1, "reason": "Error", "finishedAt": now}
            return {
                **base,
                **ip,
                "phase": "Failed",
                "conditions": conditions(False, "PodFailed"),
                "containerStatuses": container_status({"terminated": terminated}, ready=False),
            }
        waiting = {
            "reason": "CrashLoopBackOff",
            "message": "back-off 10s restarting failed container",
        }
        return {
            **base,
            **ip,
            "phase": "Running",
            "conditions": conditions(False, "ContainersNotReady"),
            "containerStatuses": container_status({"waiting": waiting}, ready=False, restarts=1),
        }
    if run_to_completion:
        terminated = {"exitCode": 0, "reason": "Completed", "finishedAt": now}
        return {
            **base,
            **ip,
            "phase": "Succeeded",
            "conditions": conditions(False, "PodCompleted"),
            "containerStatuses": container_status({"terminated": terminated}, ready=False),
        }
    return {
        **base,
        **ip,
        "phase": "Running",
        "conditions": conditions(True),
        "containerStatuses": container_status({"running": {"startedAt": now}}, ready=True),
    }


def _job_children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    if spec_of(owner).get("suspend") is True:
        return []
    meta = meta_of(owner)
    name = str(meta.get("name"))
    labels = {
        "batch.kubernetes.io/job-name": name,
        "job-name": name,
        "batch.kubernetes.io/controller-uid": str(meta.get("uid")),
    }
    pod_name = f"{name}-{safe_hash([name, str(meta.get('uid'))], 5)}"
    return [pod_from_template(owner, template_of(owner), pod_name, labels)]


@register(
    "batch",
    "Job",
    settles=lambda obj: spec_of(obj).get("suspend") is not True,
    children=_job_children,
)
def _job(obj: Manifest, context: StatusContext) -> Manifest:
    now = context.now
    if spec_of(obj).get("suspend") is True:
        return {
            "conditions": [
                status_condition("Suspended", True, "JobSuspended", "Job suspended", now)
            ]
        }
    started = str(context.previous.get("startTime") or now)
    if context.phase is Rollout.STARTED:
        return {"startTime": started, "active": 1, "ready": 0, "terminating": 0}
    if fails(template_of(obj)):
        message = "Job has reached the specified backoff limit"
        return {
            "startTime": started,
            "failed": 1,
            "ready": 0,
            "terminating": 0,
            "conditions": [
                status_condition("FailureTarget", True, "BackoffLimitExceeded", message, now),
                status_condition("Failed", True, "BackoffLimitExceeded", message, now),
            ],
        }
    return {
        "startTime": started,
        "completionTime": now,
        "succeeded": 1,
        "ready": 0,
        "terminating": 0,
        "conditions": [
            status_condition(
                "SuccessCriteriaMet",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ),
            status_condition(
                "Complete",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ),
        ],
    }


@register("batch", "CronJob", settles=never)
def _cron_job(obj: Manifest, context: StatusContext) -> Manifest:
    return {}

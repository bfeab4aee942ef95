"""Health of core objects: Pod, PersistentVolumeClaim, Namespace."""

from __future__ import annotations

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import (
    HEALTHY,
    as_mapping,
    condition_of,
    has_status,
    spec_of,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest

# Waiting reasons that mean a container will not start without a change.
_POD_FAILURE_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@register_health_check("", "Pod")
def _pod(manifest: Manifest) -> Health:
    spec, status = spec_of(manifest), status_of(manifest)
    statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for container in statuses:
        waiting = as_mapping(as_mapping(as_mapping(container).get("state")).get("waiting"))
        reason = str(waiting.get("reason") or "")
        if reason in _POD_FAILURE_REASONS:
            name = as_mapping(container).get("name", "?")
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            return Health(HealthCode.DEGRADED, f"Container {name} is in {reason}{detail}")
    phase = status.get("phase")
    restart_policy = spec.get("restartPolicy") or "Always"
    if phase == "Succeeded":
        return Health(HealthCode.HEALTHY, "Pod completed")
    if phase == "Failed":
        why = status.get("message") or status.get("reason") or "a container exited with an error"
        return Health(HealthCode.DEGRADED, f"Pod failed: {why}")
    if phase == "Pending" or phase is None:
        waiting_for = status.get("message") or status.get("reason")
        return Health(
            HealthCode.PROGRESSING,
            f"Pod is pending: {waiting_for}" if waiting_for else "Pod is pending",
        )
    if phase == "Running":
        if restart_policy != "Always":
            # A run-to-completion pod (a hook, a job's pod) is not done until it exits.
            return Health(HealthCode.PROGRESSING, "Pod is running to completion")
        if has_status(condition_of(status, "Ready"), "True"):
            return Health(HealthCode.HEALTHY, "Pod is running and ready")
        return Health(HealthCode.PROGRESSING, "Pod is running, waiting for readiness")
    return Health(HealthCode.UNKNOWN, f"Pod phase is {phase}")


@register_health_check("", "PersistentVolumeClaim")
def _pvc(manifest: Manifest) -> Health:
    phase = status_of(manifest).get("phase")
    if phase == "Bound":
        return Health(HealthCode.HEALTHY, "Claim is bound")
    if phase == "Lost":
        return Health(HealthCode.DEGRADED, "Claim lost its volume")
    if phase == "Pending" or phase is None:
        return Health(HealthCode.PROGRESSING, "Waiting for the claim to be bound")
    return Health(HealthCode.UNKNOWN, f"Claim phase is {phase}")


@register_health_check("", "Namespace")
def _namespace(manifest: Manifest) -> Health:
    phase = status_of(manifest).get("phase")
    if phase == "Terminating":
        return Health(HealthCode.PROGRESSING, "Namespace is terminating")
    if phase in ("Active", None):
        return HEALTHY
    return Health(HealthCode.UNKNOWN, f"Namespace phase is {phase}")

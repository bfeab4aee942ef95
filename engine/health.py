"""Health assessment: what a live object's status says about it.

Pure: ``health_of(manifest)`` reads only the manifest it is given. Each kind has
one small check function in a registry keyed by ``(group, kind)`` (the way
gitops-engine keeps ``health_deployment.go``, ``health_pvc.go``, …). Kinds
without a check fall back to a generic reading of ``status.conditions`` so
custom resources (Crossplane, Flux, cert-manager, …) get a sensible answer.

Messages are written for people: they say what the object is waiting for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from gitwave.engine.model import Health, HealthCode, Manifest

HealthCheck = Callable[[Manifest], Health]

_CHECKS: dict[tuple[str, str], HealthCheck] = {}

# Words in a condition reason that mean the controller gave up rather than is
# still working; "ReconcileError", "InstallFailed", "BackoffLimitExceeded", …
_FAILURE_REASON_WORDS = ("fail", "error", "exceeded", "invalid", "backoff", "denied")

HEALTHY = Health(HealthCode.HEALTHY)


def health_of(manifest: Manifest) -> Health:
    """The health of one live object.

    Never raises: a status that does not have the shape its kind promises gives
    ``Unknown`` with the reason, so one odd object cannot break a sync.
    """
    api_version = str(manifest.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    kind = str(manifest.get("kind") or "")
    meta = _mapping(manifest.get("metadata"))
    if meta.get("deletionTimestamp"):
        return Health(HealthCode.PROGRESSING, "Pending deletion")
    check = _CHECKS.get((group, kind), _generic_health)
    try:
        return check(manifest)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return Health(HealthCode.UNKNOWN, f"Cannot read the status of this {kind}: {exc}")


def register_health_check(group: str, kind: str) -> Callable[[HealthCheck], HealthCheck]:
    """Register ``check`` as the health function of ``group``/``kind``.

    Used as a decorator; a later registration for the same kind replaces the
    earlier one (so an extension can refine a built-in check)."""

    def register(check: HealthCheck) -> HealthCheck:
        _CHECKS[(group, kind)] = check
        return check

    return register


def registered_kinds() -> frozenset[tuple[str, str]]:
    """The ``(group, kind)`` pairs that have their own check."""
    return frozenset(_CHECKS)


# ---------------------------------------------------------------- helpers


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _status(manifest: Manifest) -> Mapping[str, Any]:
    return _mapping(manifest.get("status"))


def _spec(manifest: Manifest) -> Mapping[str, Any]:
    return _mapping(manifest.get("spec"))


def _int(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    return int(value)


def _conditions(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return []
    return [c for c in conditions if isinstance(c, Mapping)]


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for condition in _conditions(status):
        if condition.get("type") == type_:
            return condition
    return None


def _is(condition: Mapping[str, Any] | None, value: str) -> bool:
    return condition is not None and str(condition.get("status")) == value


def _explain(condition: Mapping[str, Any], fallback: str) -> str:
    """The condition's message, else its reason, else ``fallback``."""
    return str(condition.get("message") or condition.get("reason") or fallback)


def _generation_pending(manifest: Manifest) -> bool:
    meta = _mapping(manifest.get("metadata"))
    generation = _int(meta.get("generation"))
    observed = _int(_status(manifest).get("observedGeneration"))
    return generation > 0 and observed < generation


def _reason_is_failure(reason: str) -> bool:
    lowered = reason.lower()
    return any(word in lowered for word in _FAILURE_REASON_WORDS)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# ---------------------------------------------------------------- workloads


@register_health_check("apps", "Deployment")
@register_health_check("extensions", "Deployment")
def _deployment(manifest: Manifest) -> Health:
    spec, status = _spec(manifest), _status(manifest)
    if spec.get("paused") is True:
        return Health(HealthCode.SUSPENDED, "Deployment is paused")
    if _generation_pending(manifest):
        return Health(
            HealthCode.PROGRESSING,
            "Waiting for rollout: the controller has not seen the latest spec yet",
        )
    progressing = _condition(status, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(
            HealthCode.DEGRADED,
            _explain(progressing, "Deployment exceeded its progress deadline"),
        )
    wanted = _int(spec.get("replicas"), 1)
    replicas = _int(status.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    if updated < wanted:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {updated} of {wanted} new replicas have been updated",
        )
    if replicas > updated:
        old = replicas - updated
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {_plural(old, 'old replica')} pending termination",
        )
    if available < updated:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {available} of {updated} updated replicas are available",
        )
    return Health(HealthCode.HEALTHY, f"{_plural(available, 'replica')} available")


@register_health_check("apps", "StatefulSet")
def _stateful_set(manifest: Manifest) -> Health:
    spec, status = _spec(manifest), _status(manifest)
    if _generation_pending(manifest) or "observedGeneration" not in status:
        return Health(
            HealthCode.PROGRESSING,
            "Waiting for rollout: the controller has not seen the latest spec yet",
        )
    wanted = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < wanted:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {ready} of {wanted} pods are ready",
        )
    strategy = _mapping(spec.get("updateStrategy"))
    if strategy.get("type") == "OnDelete":
        return Health(
            HealthCode.HEALTHY, f"{_plural(ready, 'pod')} ready (update strategy OnDelete)"
        )
    partition = _int(_mapping(strategy.get("rollingUpdate")).get("partition"))
    if partition > 0:
        want_updated = max(wanted - partition, 0)
        updated = _int(status.get("updatedReplicas"))
        if updated < want_updated:
            return Health(
                HealthCode.PROGRESSING,
                f"Waiting for partitioned rollout: {updated} of {want_updated} "
                "new pods have been updated",
            )
        return Health(HealthCode.HEALTHY, f"Partitioned rollout complete: {updated} pods updated")
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if update and current != update:
        updated = _int(status.get("updatedReplicas"))
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {updated} of {wanted} pods are at revision {update}",
        )
    return Health(HealthCode.HEALTHY, f"{_plural(ready, 'pod')} ready")


@register_health_check("apps", "DaemonSet")
@register_health_check("extensions", "DaemonSet")
def _daemon_set(manifest: Manifest) -> Health:
    spec, status = _spec(manifest), _status(manifest)
    if _generation_pending(manifest):
        return Health(
            HealthCode.PROGRESSING,
            "Waiting for rollout: the controller has not seen the latest spec yet",
        )
    desired = _int(status.get("desiredNumberScheduled"))
    if _mapping(spec.get("updateStrategy")).get("type") == "OnDelete":
        return Health(HealthCode.HEALTHY, "Update strategy OnDelete: pods are replaced by hand")
    updated = _int(status.get("updatedNumberScheduled"))
    if updated < desired:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {updated} of {desired} new pods have been updated",
        )
    available = _int(status.get("numberAvailable"))
    if available < desired:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {available} of {desired} updated pods are available",
        )
    return Health(HealthCode.HEALTHY, f"{_plural(available, 'pod')} available")


@register_health_check("apps", "ReplicaSet")
@register_health_check("extensions", "ReplicaSet")
def _replica_set(manifest: Manifest) -> Health:
    spec, status = _spec(manifest), _status(manifest)
    if _generation_pending(manifest):
        return Health(
            HealthCode.PROGRESSING,
            "Waiting for the controller to see the latest spec",
        )
    failure = _condition(status, "ReplicaFailure")
    if _is(failure, "True") and failure is not None:
        return Health(HealthCode.DEGRADED, _explain(failure, "Replica failure"))
    wanted = _int(spec.get("replicas"), 1)
    available = _int(status.get("availableReplicas"))
    if available < wanted:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for pods: {available} of {wanted} replicas are available",
        )
    return Health(HealthCode.HEALTHY, f"{_plural(available, 'replica')} available")


@register_health_check("batch", "Job")
def _job(manifest: Manifest) -> Health:
    spec, status = _spec(manifest), _status(manifest)
    failed = _condition(status, "Failed")
    if _is(failed, "True") and failed is not None:
        return Health(HealthCode.DEGRADED, f"Job failed: {_explain(failed, 'no reason given')}")
    if _is(_condition(status, "Complete"), "True"):
        return Health(HealthCode.HEALTHY, "Job completed")
    if spec.get("suspend") is True:
        return Health(HealthCode.SUSPENDED, "Job is suspended")
    active = _int(status.get("active"))
    if active:
        return Health(HealthCode.PROGRESSING, f"Job is running ({_plural(active, 'active pod')})")
    return Health(HealthCode.PROGRESSING, "Waiting for the job to start")


@register_health_check("batch", "CronJob")
def _cron_job(manifest: Manifest) -> Health:
    if _spec(manifest).get("suspend") is True:
        return Health(HealthCode.SUSPENDED, "CronJob is suspended")
    last = _status(manifest).get("lastScheduleTime")
    if last:
        return Health(HealthCode.HEALTHY, f"Last scheduled at {last}")
    return Health(HealthCode.HEALTHY, "Waiting for the first schedule")


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
    spec, status = _spec(manifest), _status(manifest)
    statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    for container in statuses:
        waiting = _mapping(_mapping(_mapping(container).get("state")).get("waiting"))
        reason = str(waiting.get("reason") or "")
        if reason in _POD_FAILURE_REASONS:
            name = _mapping(container).get("name", "?")
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
        if _is(_condition(status, "Ready"), "True"):
            return Health(HealthCode.HEALTHY, "Pod is running and ready")
        return Health(HealthCode.PROGRESSING, "Pod is running, waiting for readiness")
    return Health(HealthCode.UNKNOWN, f"Pod phase is {phase}")


# ---------------------------------------------------------------- storage and network


@register_health_check("", "PersistentVolumeClaim")
def _pvc(manifest: Manifest) -> Health:
    phase = _status(manifest).get("phase")
    if phase == "Bound":
        return Health(HealthCode.HEALTHY, "Claim is bound")
    if phase == "Lost":
        return Health(HealthCode.DEGRADED, "Claim lost its volume")
    if phase == "Pending" or phase is None:
        return Health(HealthCode.PROGRESSING, "Waiting for the claim to be bound")
    return Health(HealthCode.UNKNOWN, f"Claim phase is {phase}")


def _has_load_balancer_address(manifest: Manifest) -> bool:
    ingress = _mapping(_status(manifest).get("loadBalancer")).get("ingress")
    return isinstance(ingress, list) and len(ingress) > 0


@register_health_check("", "Service")
def _service(manifest: Manifest) -> Health:
    if _spec(manifest).get("type") != "LoadBalancer":
        return HEALTHY
    if _has_load_balancer_address(manifest):
        return Health(HealthCode.HEALTHY, "Load balancer has an address")
    return Health(HealthCode.PROGRESSING, "Waiting for the load balancer to get an address")


@register_health_check("networking.k8s.io", "Ingress")
@register_health_check("extensions", "Ingress")
def _ingress(manifest: Manifest) -> Health:
    if _has_load_balancer_address(manifest):
        return Health(HealthCode.HEALTHY, "Ingress has an address")
    return Health(HealthCode.PROGRESSING, "Waiting for the ingress to get an address")


# ---------------------------------------------------------------- cluster objects


@register_health_check("apiextensions.k8s.io", "CustomResourceDefinition")
def _crd(manifest: Manifest) -> Health:
    status = _status(manifest)
    names = _condition(status, "NamesAccepted")
    if _is(names, "False") and names is not None:
        return Health(HealthCode.DEGRADED, f"Names not accepted: {_explain(names, 'conflict')}")
    schema = _condition(status, "NonStructuralSchema")
    if _is(schema, "True") and schema is not None:
        return Health(HealthCode.DEGRADED, f"Schema is not structural: {_explain(schema, '')}")
    if _is(_condition(status, "Established"), "True"):
        return Health(HealthCode.HEALTHY, "CRD is established")
    return Health(HealthCode.PROGRESSING, "Waiting for the CRD to be established")


@register_health_check("", "Namespace")
def _namespace(manifest: Manifest) -> Health:
    phase = _status(manifest).get("phase")
    if phase == "Terminating":
        return Health(HealthCode.PROGRESSING, "Namespace is terminating")
    if phase in ("Active", None):
        return HEALTHY
    return Health(HealthCode.UNKNOWN, f"Namespace phase is {phase}")


_HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"


@register_health_check("autoscaling", "HorizontalPodAutoscaler")
def _hpa(manifest: Manifest) -> Health:
    status = _status(manifest)
    conditions = _conditions(status)
    if not conditions:
        # autoscaling/v1 keeps the conditions in an annotation, as JSON.
        meta = _mapping(manifest.get("metadata"))
        raw = _mapping(meta.get("annotations")).get(_HPA_CONDITIONS_ANNOTATION)
        if isinstance(raw, str):
            conditions = [c for c in json.loads(raw) if isinstance(c, Mapping)]
    by_type = {c.get("type"): c for c in conditions}
    if not by_type:
        return Health(HealthCode.PROGRESSING, "Waiting for the autoscaler to report")
    able = by_type.get("AbleToScale")
    if _is(able, "False") and able is not None:
        return Health(HealthCode.DEGRADED, f"Cannot scale: {_explain(able, 'no reason given')}")
    active = by_type.get("ScalingActive")
    if _is(active, "False") and active is not None:
        if active.get("reason") == "ScalingDisabled":
            return Health(HealthCode.SUSPENDED, "Scaling is disabled (target scaled to zero)")
        return Health(
            HealthCode.DEGRADED, f"Scaling is not active: {_explain(active, 'no reason given')}"
        )
    return Health(HealthCode.HEALTHY, "Autoscaler is active")


@register_health_check("argoproj.io", "Application")
def _argo_application(manifest: Manifest) -> Health:
    health = _mapping(_status(manifest).get("health"))
    code = health.get("status")
    if not code:
        return Health(HealthCode.PROGRESSING, "Waiting for the application to report health")
    try:
        parsed = HealthCode(str(code))
    except ValueError:
        return Health(HealthCode.UNKNOWN, f"Unknown application health {code!r}")
    return Health(parsed, str(health.get("message") or f"Application is {code}"))


# ---------------------------------------------------------------- everything else


def _generic_health(manifest: Manifest) -> Health:
    """Custom resources: the common condition conventions.

    kstatus (``Stalled``/``Reconciling``), Crossplane (``Synced``/``Ready``) and
    most operators (``Ready`` or ``Available``) are understood; an object with
    no conditions at all is taken as Healthy, as Argo CD does.
    """
    status = _status(manifest)
    stalled = _condition(status, "Stalled")
    if _is(stalled, "True") and stalled is not None:
        return Health(HealthCode.DEGRADED, f"Stalled: {_explain(stalled, 'no reason given')}")
    synced = _condition(status, "Synced")
    if _is(synced, "False") and synced is not None:
        return Health(HealthCode.DEGRADED, f"Not synced: {_explain(synced, 'no reason given')}")
    ready = _condition(status, "Ready") or _condition(status, "Available")
    if ready is not None:
        kind = ready.get("type")
        if _is(ready, "True"):
            return Health(HealthCode.HEALTHY, str(ready.get("message") or f"{kind}"))
        reason = str(ready.get("reason") or "")
        if _is(ready, "False") and _reason_is_failure(reason):
            return Health(HealthCode.DEGRADED, f"Not {kind}: {_explain(ready, reason)}")
        return Health(
            HealthCode.PROGRESSING, f"Waiting to be {kind}: {_explain(ready, 'no reason given')}"
        )
    reconciling = _condition(status, "Reconciling")
    if _is(reconciling, "True") and reconciling is not None:
        return Health(HealthCode.PROGRESSING, f"Reconciling: {_explain(reconciling, '')}")
    return HEALTHY

"""Health of workload controllers: Deployment, StatefulSet, DaemonSet, ReplicaSet."""

from __future__ import annotations

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import (
    Replicas,
    as_int,
    as_mapping,
    condition_of,
    explain,
    generation_pending,
    has_status,
    plural,
    spec_of,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest

# A rollout's controller has not observed the newest generation: nothing its
# status says is about the spec in Git yet.
_SPEC_NOT_SEEN = Health(
    HealthCode.PROGRESSING, "Waiting for rollout: the controller has not seen the latest spec yet"
)


@register_health_check("apps", "Deployment")
@register_health_check("extensions", "Deployment")
def _deployment(manifest: Manifest) -> Health:
    spec, status = spec_of(manifest), status_of(manifest)
    if spec.get("paused") is True:
        return Health(HealthCode.SUSPENDED, "Deployment is paused")
    if generation_pending(manifest):
        return _SPEC_NOT_SEEN
    progressing = condition_of(status, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(
            HealthCode.DEGRADED,
            explain(progressing, "Deployment exceeded its progress deadline"),
        )
    replicas = Replicas.of(manifest)
    waiting = replicas.waiting(
        not_updated=lambda r: (
            f"Waiting for rollout: {r.updated} of {r.wanted} new replicas have been updated"
        ),
        old_pending=lambda r: (
            f"Waiting for rollout: {plural(r.total - r.updated, 'old replica')} pending termination"
        ),
        not_available=lambda r: (
            f"Waiting for rollout: {r.available} of {r.updated} updated replicas are available"
        ),
    )
    if waiting is not None:
        return waiting
    return Health(HealthCode.HEALTHY, f"{plural(replicas.available, 'replica')} available")


@register_health_check("apps", "StatefulSet")
def _stateful_set(manifest: Manifest) -> Health:
    spec, status = spec_of(manifest), status_of(manifest)
    if generation_pending(manifest) or "observedGeneration" not in status:
        return _SPEC_NOT_SEEN
    wanted = as_int(spec.get("replicas"), 1)
    ready = as_int(status.get("readyReplicas"))
    if ready < wanted:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {ready} of {wanted} pods are ready",
        )
    strategy = as_mapping(spec.get("updateStrategy"))
    if strategy.get("type") == "OnDelete":
        return Health(
            HealthCode.HEALTHY, f"{plural(ready, 'pod')} ready (update strategy OnDelete)"
        )
    partition = as_int(as_mapping(strategy.get("rollingUpdate")).get("partition"))
    if partition > 0:
        want_updated = max(wanted - partition, 0)
        updated = as_int(status.get("updatedReplicas"))
        if updated < want_updated:
            return Health(
                HealthCode.PROGRESSING,
                f"Waiting for partitioned rollout: {updated} of {want_updated} "
                "new pods have been updated",
            )
        return Health(HealthCode.HEALTHY, f"Partitioned rollout complete: {updated} pods updated")
    current, update = status.get("currentRevision"), status.get("updateRevision")
    if update and current != update:
        updated = as_int(status.get("updatedReplicas"))
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {updated} of {wanted} pods are at revision {update}",
        )
    return Health(HealthCode.HEALTHY, f"{plural(ready, 'pod')} ready")


@register_health_check("apps", "DaemonSet")
@register_health_check("extensions", "DaemonSet")
def _daemon_set(manifest: Manifest) -> Health:
    spec, status = spec_of(manifest), status_of(manifest)
    if generation_pending(manifest):
        return _SPEC_NOT_SEEN
    desired = as_int(status.get("desiredNumberScheduled"))
    if as_mapping(spec.get("updateStrategy")).get("type") == "OnDelete":
        return Health(HealthCode.HEALTHY, "Update strategy OnDelete: pods are replaced by hand")
    updated = as_int(status.get("updatedNumberScheduled"))
    if updated < desired:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {updated} of {desired} new pods have been updated",
        )
    available = as_int(status.get("numberAvailable"))
    if available < desired:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for rollout: {available} of {desired} updated pods are available",
        )
    return Health(HealthCode.HEALTHY, f"{plural(available, 'pod')} available")


@register_health_check("apps", "ReplicaSet")
@register_health_check("extensions", "ReplicaSet")
def _replica_set(manifest: Manifest) -> Health:
    spec, status = spec_of(manifest), status_of(manifest)
    if generation_pending(manifest):
        return Health(
            HealthCode.PROGRESSING,
            "Waiting for the controller to see the latest spec",
        )
    failure = condition_of(status, "ReplicaFailure")
    if has_status(failure, "True") and failure is not None:
        return Health(HealthCode.DEGRADED, explain(failure, "Replica failure"))
    wanted = as_int(spec.get("replicas"), 1)
    available = as_int(status.get("availableReplicas"))
    if available < wanted:
        return Health(
            HealthCode.PROGRESSING,
            f"Waiting for pods: {available} of {wanted} replicas are available",
        )
    return Health(HealthCode.HEALTHY, f"{plural(available, 'replica')} available")

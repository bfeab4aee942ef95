"""Flux's health rules: kstatus (sigs.k8s.io/cli-utils ``pkg/kstatus/status``).

Flux's kustomize-controller judges what it applied with kstatus, which differs
from Argo CD's checks (``registry``) in what it waits for: an Ingress or a
LoadBalancer Service without an address is Current as soon as it exists, a
Job is Current while it runs, a Pod that failed is Current (it completed).

The order is kstatus's: generic properties first (being deleted, a generation
not yet observed, ``Reconciling``/``Stalled`` conditions, then a ``Ready``
condition), then a rule for the built-in kind, else Current. Pure: reads only
the manifest. Read written from kstatus's documented behaviour, not its code.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.health.status import (
    as_int,
    as_mapping,
    condition_of,
    conditions_of,
    has_status,
    spec_of,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest

__all__ = ["KStatus", "KStatusResult", "kstatus_health", "kstatus_of"]


class KStatus(enum.Enum):
    """kstatus's statuses, and the gitwave health each one reads as."""

    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    NOT_FOUND = "NotFound"
    UNKNOWN = "Unknown"

    @property
    def health_code(self) -> HealthCode:
        return _HEALTH_CODES[self]


_HEALTH_CODES = {
    KStatus.CURRENT: HealthCode.HEALTHY,
    KStatus.IN_PROGRESS: HealthCode.PROGRESSING,
    KStatus.FAILED: HealthCode.DEGRADED,
    KStatus.TERMINATING: HealthCode.PROGRESSING,
    KStatus.NOT_FOUND: HealthCode.MISSING,
    KStatus.UNKNOWN: HealthCode.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class KStatusResult:
    status: KStatus
    message: str

    @property
    def health(self) -> Health:
        return Health(self.status.health_code, f"{self.status.value}: {self.message}")


def _current(message: str) -> KStatusResult:
    return KStatusResult(KStatus.CURRENT, message)


def _in_progress(message: str) -> KStatusResult:
    return KStatusResult(KStatus.IN_PROGRESS, message)


def _failed(message: str) -> KStatusResult:
    return KStatusResult(KStatus.FAILED, message)


_Rule = Callable[[Manifest], KStatusResult]
_RULES: dict[tuple[str, str], _Rule] = {}


def _rule(*kinds: tuple[str, str]) -> Callable[[_Rule], _Rule]:
    def register(rule: _Rule) -> _Rule:
        for kind in kinds:
            _RULES[kind] = rule
        return rule

    return register


def kstatus_of(manifest: Manifest) -> KStatusResult:
    """kstatus's verdict on one live object. Never raises: an odd status is Unknown."""
    kind = str(manifest.get("kind") or "")
    group = str(manifest.get("apiVersion") or "").rpartition("/")[0]
    try:
        generic = _generic(manifest)
        if generic is not None:
            return generic
        rule = _RULES.get((group, kind))
        return rule(manifest) if rule is not None else _current("Resource is current")
    except (TypeError, ValueError, AttributeError) as exc:
        return KStatusResult(KStatus.UNKNOWN, f"cannot read the status of this {kind}: {exc}")


def kstatus_health(manifest: Manifest) -> Health:
    """``kstatus_of`` as a gitwave Health (Current → Healthy, InProgress and
    Terminating → Progressing, Failed → Degraded)."""
    return kstatus_of(manifest).health


def _generic(manifest: Manifest) -> KStatusResult | None:
    meta = as_mapping(manifest.get("metadata"))
    if meta.get("deletionTimestamp"):
        return KStatusResult(KStatus.TERMINATING, "Resource scheduled for deletion")
    status = status_of(manifest)
    if "generation" in meta and "observedGeneration" in status:
        generation, observed = as_int(meta["generation"]), as_int(status["observedGeneration"])
        if generation != observed:
            return _in_progress(
                f"{manifest.get('kind')} generation is {generation}, "
                f"but latest observed generation is {observed}"
            )
    for condition in conditions_of(status):
        if condition.get("type") == "Reconciling" and has_status(condition, "True"):
            return _in_progress(_text(condition, "Reconciling"))
        if condition.get("type") == "Stalled" and has_status(condition, "True"):
            return _failed(_text(condition, "Stalled"))
    # Flux's own kinds (and most controllers built on its runtime) report
    # readiness with a Ready condition; kstatus reads it once the generation
    # is observed.
    ready = condition_of(status, "Ready")
    if ready is not None and _kind_has_no_rule(manifest):
        if has_status(ready, "True"):
            return _current(_text(ready, "Ready"))
        return _in_progress(_text(ready, "not Ready"))
    return None


def _kind_has_no_rule(manifest: Manifest) -> bool:
    group = str(manifest.get("apiVersion") or "").rpartition("/")[0]
    return (group, str(manifest.get("kind") or "")) not in _RULES


def _text(condition: Mapping[str, Any], fallback: str) -> str:
    return str(condition.get("message") or condition.get("reason") or fallback)


@_rule(("", "Secret"), ("", "ConfigMap"), ("batch", "CronJob"))
def _always_ready(manifest: Manifest) -> KStatusResult:
    return _current("Resource is always ready")


@_rule(("apps", "Deployment"), ("extensions", "Deployment"))
def _deployment(manifest: Manifest) -> KStatusResult:
    spec, status = spec_of(manifest), status_of(manifest)
    # Without a progress deadline the controller sets no Progressing condition.
    progressing = "progressDeadlineSeconds" not in spec
    available = False
    for condition in conditions_of(status):
        if condition.get("type") == "Progressing":
            if condition.get("reason") == "ProgressDeadlineExceeded":
                return _failed("Progress deadline exceeded")
            new_available = condition.get("reason") == "NewReplicaSetAvailable"
            if has_status(condition, "True") and new_available:
                progressing = True
        elif condition.get("type") == "Available" and has_status(condition, "True"):
            available = True
    wanted = as_int(spec.get("replicas"), 1)
    replicas = as_int(status.get("replicas"))
    updated = as_int(status.get("updatedReplicas"))
    ready = as_int(status.get("readyReplicas"))
    available_count = as_int(status.get("availableReplicas"))
    if wanted > replicas:
        return _in_progress(f"Replicas: {replicas}/{wanted}")
    if wanted > updated:
        return _in_progress(f"Updated: {updated}/{wanted}")
    if replicas > wanted:
        return _in_progress(f"Pending termination: {replicas - wanted}")
    if updated > available_count:
        return _in_progress(f"Available: {available_count}/{updated}")
    if wanted > ready:
        return _in_progress(f"Ready: {ready}/{wanted}")
    if not progressing:
        return _in_progress("ReplicaSet not Available")
    if not available:
        return _in_progress("Deployment not Available")
    return _current(f"Deployment is available. Replicas: {replicas}")


@_rule(("apps", "StatefulSet"))
def _stateful_set(manifest: Manifest) -> KStatusResult:
    spec, status = spec_of(manifest), status_of(manifest)
    strategy = as_mapping(spec.get("updateStrategy"))
    if strategy.get("type") == "OnDelete":
        return _current("StatefulSet is using the ondelete update strategy")
    wanted = as_int(spec.get("replicas"), 1)
    ready = as_int(status.get("readyReplicas"))
    current = as_int(status.get("currentReplicas"))
    updated = as_int(status.get("updatedReplicas"))
    replicas = as_int(status.get("replicas"))
    partition = as_int(as_mapping(strategy.get("rollingUpdate")).get("partition"), -1)
    if wanted > replicas:
        return _in_progress(f"Replicas: {replicas}/{wanted}")
    if wanted > ready:
        return _in_progress(f"Ready: {ready}/{wanted}")
    if replicas > wanted:
        return _in_progress(f"Pending termination: {replicas - wanted}")
    if partition != -1:
        if updated < wanted - partition:
            return _in_progress(f"updated: {updated}/{wanted - partition}")
        return _current(f"Partition rollout complete. updated: {updated}")
    if wanted > current:
        return _in_progress(f"current: {current}/{wanted}")
    if status.get("currentRevision", "") != status.get("updateRevision", ""):
        return _in_progress("Waiting for updated revision to match current")
    return _current(f"All replicas scheduled as expected. Replicas: {replicas}")


@_rule(("apps", "DaemonSet"), ("extensions", "DaemonSet"))
def _daemon_set(manifest: Manifest) -> KStatusResult:
    meta, status = as_mapping(manifest.get("metadata")), status_of(manifest)
    # The controller always sets these once it acted: their absence means it has not.
    if "generation" not in meta:
        return _in_progress("DaemonSet metadata.generation not found")
    if "observedGeneration" not in status:
        return _in_progress("DaemonSet status.observedGeneration not found")
    if "desiredNumberScheduled" not in status:
        return _in_progress("Missing .status.desiredNumberScheduled")
    desired = as_int(status["desiredNumberScheduled"])
    for field_name, label in (
        ("currentNumberScheduled", "Current"),
        ("updatedNumberScheduled", "Updated"),
        ("numberAvailable", "Available"),
        ("numberReady", "Ready"),
    ):
        have = as_int(status.get(field_name))
        if desired > have:
            return _in_progress(f"{label}: {have}/{desired}")
    return _current(f"All replicas scheduled as expected. Replicas: {desired}")


@_rule(("apps", "ReplicaSet"), ("extensions", "ReplicaSet"))
def _replica_set(manifest: Manifest) -> KStatusResult:
    spec, status = spec_of(manifest), status_of(manifest)
    failure = condition_of(status, "ReplicaFailure")
    if has_status(failure, "True"):
        return _in_progress("Replica Failure condition. Check Pods")
    wanted = as_int(spec.get("replicas"), 1)
    replicas = as_int(status.get("replicas"))
    for field_name, label in (
        ("fullyLabeledReplicas", "Labelled"),
        ("availableReplicas", "Available"),
        ("readyReplicas", "Ready"),
    ):
        have = as_int(status.get(field_name))
        if wanted > have:
            return _in_progress(f"{label}: {have}/{wanted}")
    if replicas > wanted:
        return _in_progress(f"Pending termination: {replicas - wanted}")
    return _current(f"ReplicaSet is available. Replicas: {replicas}")


@_rule(("", "PersistentVolumeClaim"))
def _pvc(manifest: Manifest) -> KStatusResult:
    phase = status_of(manifest).get("phase") or "unknown"
    if phase != "Bound":
        return _in_progress(f"PVC is not Bound. phase: {phase}")
    return _current("PVC is Bound")


@_rule(("", "Pod"))
def _pod(manifest: Manifest) -> KStatusResult:
    status = status_of(manifest)
    phase = status.get("phase") or ""
    if phase == "Succeeded":
        return _current("Pod has completed successfully")
    if phase == "Failed":
        return _current("Pod has completed, but not successfully")
    if phase == "Running":
        if has_status(condition_of(status, "Ready"), "True"):
            return _current("Pod is Ready")
        crashing = [
            str(as_mapping(c).get("name"))
            for c in status.get("containerStatuses") or []
            if as_mapping(as_mapping(as_mapping(c).get("state")).get("waiting")).get("reason")
            == "CrashLoopBackOff"
        ]
        if crashing:
            return _failed(f"Containers in CrashLoop state: {','.join(crashing)}")
        return _in_progress("Pod is running but is not Ready")
    if phase == "Pending":
        scheduled = condition_of(status, "PodScheduled")
        if has_status(scheduled, "False") and as_mapping(scheduled).get("reason") == (
            "Unschedulable"
        ):
            # kstatus gives a pod 15 s before calling it unschedulable; a pure
            # reading has no clock, so it stays in progress (the wait's timeout ends it).
            return _in_progress("Pod has not been scheduled")
        return _in_progress("Pod is in the Pending phase")
    if phase == "":
        return _in_progress("Pod phase not available")
    return KStatusResult(KStatus.UNKNOWN, f"unknown phase {phase}")


@_rule(("policy", "PodDisruptionBudget"))
def _pdb(manifest: Manifest) -> KStatusResult:
    # The generation check above already made sure the controller saw it.
    return _current("AllowedDisruptions has been computed.")


@_rule(("batch", "Job"))
def _job(manifest: Manifest) -> KStatusResult:
    spec, status = spec_of(manifest), status_of(manifest)
    parallelism = as_int(spec.get("parallelism"), 1)
    completions = as_int(spec.get("completions"), parallelism)
    for condition in conditions_of(status):
        kind = condition.get("type")
        if kind == "Complete" and has_status(condition, "True"):
            succeeded = as_int(status.get("succeeded"))
            return _current(f"Job Completed. succeeded: {succeeded}/{completions}")
        if kind == "Failed" and has_status(condition, "True"):
            return _failed(f"Job Failed. failed: {as_int(status.get('failed'))}/{completions}")
        if kind == "Suspended" and has_status(condition, "True"):
            return _current("Job is suspended")
    if not status.get("startTime"):
        return _in_progress("Job not started")
    return _current(
        f"Job in progress. success:{as_int(status.get('succeeded'))}, "
        f"active: {as_int(status.get('active'))}, failed: {as_int(status.get('failed'))}"
    )


@_rule(("", "Service"))
def _service(manifest: Manifest) -> KStatusResult:
    spec = spec_of(manifest)
    if spec.get("type") == "LoadBalancer" and not spec.get("clusterIP"):
        return _in_progress("ClusterIP not set. Service type: LoadBalancer")
    return _current("Service is ready")


@_rule(("apiextensions.k8s.io", "CustomResourceDefinition"))
def _crd(manifest: Manifest) -> KStatusResult:
    for condition in conditions_of(status_of(manifest)):
        kind = condition.get("type")
        if kind == "NamesAccepted" and has_status(condition, "False"):
            return _failed(_text(condition, "names not accepted"))
        if kind == "Established":
            if has_status(condition, "False") and condition.get("reason") != "Installing":
                return _failed(_text(condition, "not established"))
            if has_status(condition, "True"):
                return _current("CRD is established")
    return _in_progress("Install in progress")

"""Simulated controllers: the status a real cluster's controllers would write,
and the objects they would create (a Deployment's ReplicaSets and Pods).

There are no background threads. When an object's spec changes, its
controller writes the *started* status and the time the rollout will be done;
the first read after that time writes the *settled* status (see
``SandboxProvider``). Everything here is pure: a function of the object, the
rollout phase and the time it is given.

An object whose pod template (or, for a Pod, itself) carries the annotation
``sandbox.gitwave.dev/fail: "true"`` fails instead of settling: its pods crash
(or exit 1), a Deployment exceeds its progress deadline, a Job fails. Tests of
SyncFail hooks and failed rollouts use it.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.model import Manifest

FAIL_ANNOTATION = "sandbox.gitwave.dev/fail"
NODE_NAME = "sandbox-node"
HOST_IP = "172.18.0.2"

# Kubernetes' alphabet for generated name suffixes (no vowels, no look-alikes).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class Rollout(enum.Enum):
    """Where a controller is with the latest spec."""

    STARTED = "started"  # spec seen, pods starting
    SETTLED = "settled"  # rollout_seconds later: done (or failed, for a failing object)


@dataclass(frozen=True, slots=True)
class StatusContext:
    phase: Rollout
    now: str  # RFC 3339, for condition timestamps
    previous: Mapping[str, Any]  # the status before this write


StatusFn = Callable[[Manifest, StatusContext], Manifest]
ChildrenFn = Callable[[Manifest, Sequence[Manifest]], list[Manifest]]


@dataclass(frozen=True, slots=True)
class Controller:
    status: StatusFn
    # Whether the object needs time (rollout_seconds) to settle; False: the
    # settled status is written at once.
    settles: Callable[[Manifest], bool]
    # The children this object should own given the ones it owns now; None
    # for kinds that own nothing.
    children: ChildrenFn | None = None


_CONTROLLERS: dict[tuple[str, str], Controller] = {}


def controller_for(group: str, kind: str) -> Controller | None:
    return _CONTROLLERS.get((group, kind))


def _register(
    group: str,
    kind: str,
    *,
    settles: Callable[[Manifest], bool] = lambda obj: True,
    children: ChildrenFn | None = None,
) -> Callable[[StatusFn], StatusFn]:
    def register(fn: StatusFn) -> StatusFn:
        _CONTROLLERS[(group, kind)] = Controller(fn, settles, children)
        return fn

    return register


def _never(obj: Manifest) -> bool:
    return False


# ---------------------------------------------------------------- helpers


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _spec(obj: Manifest) -> dict[str, Any]:
    return _map(obj.get("spec"))


def _meta(obj: Manifest) -> dict[str, Any]:
    return _map(obj.get("metadata"))


def _generation(obj: Manifest) -> int:
    return int(_meta(obj).get("generation") or 1)


def _replicas(obj: Manifest) -> int:
    value = _spec(obj).get("replicas", 1)
    return int(value) if isinstance(value, int) else 1


def _fails(template_or_pod: Mapping[str, Any]) -> bool:
    annotations = _map(_map(template_or_pod.get("metadata")).get("annotations"))
    return str(annotations.get(FAIL_ANNOTATION, "")).lower() == "true"


def _template(obj: Manifest) -> dict[str, Any]:
    return _map(_spec(obj).get("template"))


def safe_hash(data: Any, length: int) -> str:
    """A stable name suffix from ``data`` (like the pod-template-hash)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    number = int.from_bytes(digest[:12], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_SAFE_ALPHABET))
        chars.append(_SAFE_ALPHABET[index])
    return "".join(chars)


def pod_template_hash(template: Mapping[str, Any]) -> str:
    return safe_hash(template, 10)


def _condition(type_: str, status: bool, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
        "lastUpdateTime": now,
    }


def _owner_reference(owner: Manifest) -> dict[str, Any]:
    meta = _meta(owner)
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _pod_from_template(
    owner: Manifest, template: Mapping[str, Any], name: str, extra_labels: Mapping[str, str]
) -> Manifest:
    template_meta = _map(template.get("metadata"))
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": _meta(owner).get("namespace", ""),
        "labels": {**_map(template_meta.get("labels")), **extra_labels},
        "ownerReferences": [_owner_reference(owner)],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(_map(template_meta.get("annotations")))
    spec = json.loads(json.dumps(_map(template.get("spec"))))
    spec["nodeName"] = NODE_NAME
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _replica_pods(owner: Manifest, count: int, extra_labels: Mapping[str, str]) -> list[Manifest]:
    name = str(_meta(owner).get("name"))
    template = _template(owner)
    return [
        _pod_from_template(owner, template, f"{name}-{safe_hash([name, i], 5)}", extra_labels)
        for i in range(count)
    ]


# ---------------------------------------------------------------- Deployment


def _deployment_children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    meta, spec = _meta(owner), _spec(owner)
    template = json.loads(json.dumps(_template(owner)))
    template_hash = pod_template_hash(template)
    name = f"{meta.get('name')}-{template_hash}"
    template_meta = template.setdefault("metadata", {})
    labels = {**_map(template_meta.get("labels")), "pod-template-hash": template_hash}
    template_meta["labels"] = labels
    selector = json.loads(json.dumps(_map(spec.get("selector"))))
    selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash

    def revision(rs: Manifest) -> int:
        annotations = _map(_meta(rs).get("annotations"))
        return int(annotations.get("deployment.kubernetes.io/revision", "0") or 0)

    old = sorted(
        (rs for rs in existing if rs.get("kind") == "ReplicaSet" and _meta(rs).get("name") != name),
        key=revision,
    )
    current = next((rs for rs in existing if _meta(rs).get("name") == name), None)
    number = revision(current) if current else max((revision(rs) for rs in old), default=0) + 1
    replicas = _replicas(owner)
    new_rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace", ""),
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/revision": str(number),
                "deployment.kubernetes.io/desired-replicas": str(replicas),
            },
            "ownerReferences": [_owner_reference(owner)],
        },
        "spec": {"replicas": replicas, "selector": selector, "template": template},
    }
    # Old ReplicaSets stay, scaled to zero, as rollout history.
    keep = max(int(spec.get("revisionHistoryLimit", 10) or 0), 0)
    history = []
    for rs in old[len(old) - keep :] if keep else []:
        scaled = json.loads(json.dumps(rs))
        scaled["spec"]["replicas"] = 0
        history.append(scaled)
    return [*history, new_rs]


@_register("apps", "Deployment", children=_deployment_children)
def _deployment(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = _replicas(obj)
    template = _template(obj)
    rs_name = f"{_meta(obj).get('name')}-{pod_template_hash(template)}"
    status: dict[str, Any] = {"observedGeneration": _generation(obj), "replicas": replicas}
    now = context.now
    if context.phase is Rollout.STARTED:
        status.update(updatedReplicas=0, readyReplicas=0, availableReplicas=0)
        if replicas:
            status["unavailableReplicas"] = replicas
        status["conditions"] = [
            _condition(
                "Available",
                replicas == 0,
                "MinimumReplicasAvailable" if replicas == 0 else "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability."
                if replicas
                else "Deployment has minimum availability.",
                now,
            ),
            _condition(
                "Progressing",
                True,
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
            ),
        ]
    elif _fails(template):
        status.update(updatedReplicas=replicas, readyReplicas=0, availableReplicas=0)
        if replicas:
            status["unavailableReplicas"] = replicas
        status["conditions"] = [
            _condition(
                "Available",
                False,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            ),
            _condition(
                "Progressing",
                False,
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                now,
            ),
        ]
    else:
        status.update(updatedReplicas=replicas, readyReplicas=replicas, availableReplicas=replicas)
        status["conditions"] = [
            _condition(
                "Available",
                True,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            ),
            _condition(
                "Progressing",
                True,
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            ),
        ]
    return status


# ---------------------------------------------------------------- ReplicaSet, StatefulSet, …


def _replica_set_children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    labels = {}
    template_hash = _map(_meta(owner).get("labels")).get("pod-template-hash")
    if template_hash:
        labels["pod-template-hash"] = str(template_hash)
    return _replica_pods(owner, _replicas(owner), labels)


@_register("apps", "ReplicaSet", children=_replica_set_children)
def _replica_set(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = _replicas(obj)
    ready = replicas if context.phase is Rollout.SETTLED and not _fails(_template(obj)) else 0
    status: dict[str, Any] = {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
    }
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    return status


def _stateful_set_revision(obj: Manifest) -> str:
    return f"{_meta(obj).get('name')}-{pod_template_hash(_template(obj))}"


def _stateful_set_children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    name = str(_meta(owner).get("name"))
    revision = _stateful_set_revision(owner)
    return [
        _pod_from_template(
            owner,
            _template(owner),
            f"{name}-{i}",
            {
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                "apps.kubernetes.io/pod-index": str(i),
            },
        )
        for i in range(_replicas(owner))
    ]


@_register("apps", "StatefulSet", children=_stateful_set_children)
def _stateful_set(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = _replicas(obj)
    revision = _stateful_set_revision(obj)
    settled = context.phase is Rollout.SETTLED and not _fails(_template(obj))
    ready = replicas if settled else 0
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": ready,
        "updatedReplicas": ready,
        "currentRevision": revision
        if settled
        else str(context.previous.get("currentRevision") or revision),
        "updateRevision": revision,
        "collisionCount": 0,
    }


@_register("apps", "DaemonSet")
def _daemon_set(obj: Manifest, context: StatusContext) -> Manifest:
    # One node in the sandbox, so one pod (status only: no Pod objects).
    settled = context.phase is Rollout.SETTLED and not _fails(_template(obj))
    ready = 1 if settled else 0
    status: dict[str, Any] = {
        "observedGeneration": _generation(obj),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "updatedNumberScheduled": 1 if context.phase is Rollout.SETTLED else 0,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
    }
    if not ready:
        status["numberUnavailable"] = 1
    return status


# ---------------------------------------------------------------- Pod, Job, CronJob


def _pod_ip(obj: Manifest) -> str:
    seed = safe_hash([_meta(obj).get("namespace"), _meta(obj).get("name")], 8)
    number = sum(_SAFE_ALPHABET.index(c) * (27**i) for i, c in enumerate(seed))
    return f"10.244.{number % 250}.{number // 250 % 250 + 2}"


@_register("", "Pod")
def _pod(obj: Manifest, context: StatusContext) -> Manifest:
    spec = _spec(obj)
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
    if _fails(obj):
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
    if _spec(owner).get("suspend") is True:
        return []
    meta = _meta(owner)
    name = str(meta.get("name"))
    labels = {
        "batch.kubernetes.io/job-name": name,
        "job-name": name,
        "batch.kubernetes.io/controller-uid": str(meta.get("uid")),
    }
    pod_name = f"{name}-{safe_hash([name, str(meta.get('uid'))], 5)}"
    return [_pod_from_template(owner, _template(owner), pod_name, labels)]


@_register(
    "batch",
    "Job",
    settles=lambda obj: _spec(obj).get("suspend") is not True,
    children=_job_children,
)
def _job(obj: Manifest, context: StatusContext) -> Manifest:
    now = context.now
    if _spec(obj).get("suspend") is True:
        return {"conditions": [_condition("Suspended", True, "JobSuspended", "Job suspended", now)]}
    started = str(context.previous.get("startTime") or now)
    if context.phase is Rollout.STARTED:
        return {"startTime": started, "active": 1, "ready": 0, "terminating": 0}
    if _fails(_template(obj)):
        message = "Job has reached the specified backoff limit"
        return {
            "startTime": started,
            "failed": 1,
            "ready": 0,
            "terminating": 0,
            "conditions": [
                _condition("FailureTarget", True, "BackoffLimitExceeded", message, now),
                _condition("Failed", True, "BackoffLimitExceeded", message, now),
            ],
        }
    return {
        "startTime": started,
        "completionTime": now,
        "succeeded": 1,
        "ready": 0,
        "terminating": 0,
        "conditions": [
            _condition(
                "SuccessCriteriaMet",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ),
            _condition(
                "Complete",
                True,
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ),
        ],
    }


@_register("batch", "CronJob", settles=_never)
def _cron_job(obj: Manifest, context: StatusContext) -> Manifest:
    return {}


# ---------------------------------------------------------------- Service, Ingress, storage


def _is_load_balancer(obj: Manifest) -> bool:
    return _spec(obj).get("type") == "LoadBalancer"


@_register("", "Service", settles=_is_load_balancer)
def _service(obj: Manifest, context: StatusContext) -> Manifest:
    if _is_load_balancer(obj) and context.phase is Rollout.SETTLED:
        return {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}}
    return {"loadBalancer": {}}


@_register("networking.k8s.io", "Ingress")
def _ingress(obj: Manifest, context: StatusContext) -> Manifest:
    if context.phase is Rollout.SETTLED:
        return {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
    return {"loadBalancer": {}}


@_register("", "PersistentVolumeClaim", settles=_never)
def _pvc(obj: Manifest, context: StatusContext) -> Manifest:
    spec = _spec(obj)
    status: dict[str, Any] = {"phase": "Bound"}
    if spec.get("accessModes"):
        status["accessModes"] = spec["accessModes"]
    requests = _map(_map(spec.get("resources")).get("requests"))
    if "storage" in requests:
        status["capacity"] = {"storage": requests["storage"]}
    return status


# ---------------------------------------------------------------- cluster objects


@_register("", "Namespace", settles=_never)
def _namespace(obj: Manifest, context: StatusContext) -> Manifest:
    return {"phase": "Active"}


@_register("apiextensions.k8s.io", "CustomResourceDefinition", settles=_never)
def _crd(obj: Manifest, context: StatusContext) -> Manifest:
    spec = _spec(obj)
    now = context.now
    storage = [
        str(v.get("name"))
        for v in spec.get("versions") or []
        if isinstance(v, dict) and v.get("storage")
    ]
    return {
        "acceptedNames": dict(_map(spec.get("names"))),
        "storedVersions": storage,
        "conditions": [
            _condition("NamesAccepted", True, "NoConflicts", "no conflicts found", now),
            _condition(
                "Established",
                True,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                now,
            ),
        ],
    }


@_register("autoscaling", "HorizontalPodAutoscaler", settles=_never)
def _hpa(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = int(_spec(obj).get("minReplicas") or 1)
    now = context.now
    return {
        "currentReplicas": replicas,
        "desiredReplicas": replicas,
        "conditions": [
            _condition(
                "AbleToScale",
                True,
                "ReadyForNewScale",
                "recommended size matches current size",
                now,
            ),
            _condition(
                "ScalingActive",
                True,
                "ValidMetricFound",
                "the HPA was able to compute the replica count",
                now,
            ),
        ],
    }

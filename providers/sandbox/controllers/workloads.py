"""Deployments (with their ReplicaSets as rollout history), ReplicaSets,
StatefulSets and DaemonSets: their status and the pods they own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gitwave.engine.model import Manifest

from .base import (
    Rollout,
    StatusContext,
    as_map,
    fails,
    generation_of,
    meta_of,
    owner_reference,
    pod_from_template,
    pod_template_hash,
    register,
    replica_pods,
    replicas_of,
    spec_of,
    status_condition,
    template_of,
)


def _deployment_children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    meta, spec = meta_of(owner), spec_of(owner)
    template = json.loads(json.dumps(template_of(owner)))
    template_hash = pod_template_hash(template)
    name = f"{meta.get('name')}-{template_hash}"
    template_meta = template.setdefault("metadata", {})
    labels = {**as_map(template_meta.get("labels")), "pod-template-hash": template_hash}
    template_meta["labels"] = labels
    selector = json.loads(json.dumps(as_map(spec.get("selector"))))
    selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash

    def revision(rs: Manifest) -> int:
        annotations = as_map(meta_of(rs).get("annotations"))
        return int(annotations.get("deployment.kubernetes.io/revision", "0") or 0)

    old = sorted(
        (
            rs
            for rs in existing
            if rs.get("kind") == "ReplicaSet" and meta_of(rs).get("name") != name
        ),
        key=revision,
    )
    current = next((rs for rs in existing if meta_of(rs).get("name") == name), None)
    number = revision(current) if current else max((revision(rs) for rs in old), default=0) + 1
    replicas = replicas_of(owner)
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
            "ownerReferences": [owner_reference(owner)],
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


@register("apps", "Deployment", children=_deployment_children)
def _deployment(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = replicas_of(obj)
    template = template_of(obj)
    rs_name = f"{meta_of(obj).get('name')}-{pod_template_hash(template)}"
    status: dict[str, Any] = {"observedGeneration": generation_of(obj), "replicas": replicas}
    now = context.now
    if context.phase is Rollout.STARTED:
        status.update(updatedReplicas=0, readyReplicas=0, availableReplicas=0)
        if replicas:
            status["unavailableReplicas"] = replicas
        status["conditions"] = [
            status_condition(
                "Available",
                replicas == 0,
                "MinimumReplicasAvailable" if replicas == 0 else "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability."
                if replicas
                else "Deployment has minimum availability.",
                now,
            ),
            status_condition(
                "Progressing",
                True,
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
            ),
        ]
    elif fails(template):
        status.update(updatedReplicas=replicas, readyReplicas=0, availableReplicas=0)
        if replicas:
            status["unavailableReplicas"] = replicas
        status["conditions"] = [
            status_condition(
                "Available",
                False,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
            ),
            status_condition(
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
            status_condition(
                "Available",
                True,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
            ),
            status_condition(
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
    template_hash = as_map(meta_of(owner).get("labels")).get("pod-template-hash")
    if template_hash:
        labels["pod-template-hash"] = str(template_hash)
    return replica_pods(owner, replicas_of(owner), labels)


@register("apps", "ReplicaSet", children=_replica_set_children)
def _replica_set(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = replicas_of(obj)
    ready = replicas if context.phase is Rollout.SETTLED and not fails(template_of(obj)) else 0
    status: dict[str, Any] = {
        "observedGeneration": generation_of(obj),
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
    }
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    return status


def _stateful_set_revision(obj: Manifest) -> str:
    return f"{meta_of(obj).get('name')}-{pod_template_hash(template_of(obj))}"


def _stateful_set_children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    name = str(meta_of(owner).get("name"))
    revision = _stateful_set_revision(owner)
    return [
        pod_from_template(
            owner,
            template_of(owner),
            f"{name}-{i}",
            {
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                "apps.kubernetes.io/pod-index": str(i),
            },
        )
        for i in range(replicas_of(owner))
    ]


@register("apps", "StatefulSet", children=_stateful_set_children)
def _stateful_set(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = replicas_of(obj)
    revision = _stateful_set_revision(obj)
    settled = context.phase is Rollout.SETTLED and not fails(template_of(obj))
    ready = replicas if settled else 0
    return {
        "observedGeneration": generation_of(obj),
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


@register("apps", "DaemonSet")
def _daemon_set(obj: Manifest, context: StatusContext) -> Manifest:
    # One node in the sandbox, so one pod (status only: no Pod objects).
    settled = context.phase is Rollout.SETTLED and not fails(template_of(obj))
    ready = 1 if settled else 0
    status: dict[str, Any] = {
        "observedGeneration": generation_of(obj),
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

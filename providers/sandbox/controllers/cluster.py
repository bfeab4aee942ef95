"""Services, Ingresses and PersistentVolumeClaims, and cluster objects:
Namespaces, CustomResourceDefinitions, HorizontalPodAutoscalers."""

from __future__ import annotations

from typing import Any

from gitwave.engine.model import Manifest

from .base import (
    Rollout,
    StatusContext,
    as_map,
    never,
    register,
    spec_of,
    status_condition,
)


def _is_load_balancer(obj: Manifest) -> bool:
    return spec_of(obj).get("type") == "LoadBalancer"


@register("", "Service", settles=_is_load_balancer)
def _service(obj: Manifest, context: StatusContext) -> Manifest:
    if _is_load_balancer(obj) and context.phase is Rollout.SETTLED:
        return {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}}
    return {"loadBalancer": {}}


@register("networking.k8s.io", "Ingress")
def _ingress(obj: Manifest, context: StatusContext) -> Manifest:
    if context.phase is Rollout.SETTLED:
        return {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
    return {"loadBalancer": {}}


@register("", "PersistentVolumeClaim", settles=never)
def _pvc(obj: Manifest, context: StatusContext) -> Manifest:
    spec = spec_of(obj)
    status: dict[str, Any] = {"phase": "Bound"}
    if spec.get("accessModes"):
        status["accessModes"] = spec["accessModes"]
    requests = as_map(as_map(spec.get("resources")).get("requests"))
    if "storage" in requests:
        status["capacity"] = {"storage": requests["storage"]}
    return status


# ---------------------------------------------------------------- cluster objects


@register("", "Namespace", settles=never)
def _namespace(obj: Manifest, context: StatusContext) -> Manifest:
    return {"phase": "Active"}


@register("apiextensions.k8s.io", "CustomResourceDefinition", settles=never)
def _crd(obj: Manifest, context: StatusContext) -> Manifest:
    spec = spec_of(obj)
    now = context.now
    storage = [
        str(v.get("name"))
        for v in spec.get("versions") or []
        if isinstance(v, dict) and v.get("storage")
    ]
    return {
        "acceptedNames": dict(as_map(spec.get("names"))),
        "storedVersions": storage,
        "conditions": [
            status_condition("NamesAccepted", True, "NoConflicts", "no conflicts found", now),
            status_condition(
                "Established",
                True,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                now,
            ),
        ],
    }


@register("autoscaling", "HorizontalPodAutoscaler", settles=never)
def _hpa(obj: Manifest, context: StatusContext) -> Manifest:
    replicas = int(spec_of(obj).get("minReplicas") or 1)
    now = context.now
    return {
        "currentReplicas": replicas,
        "desiredReplicas": replicas,
        "conditions": [
            status_condition(
                "AbleToScale",
                True,
                "ReadyForNewScale",
                "recommended size matches current size",
                now,
            ),
            status_condition(
                "ScalingActive",
                True,
                "ValidMetricFound",
                "the HPA was able to compute the replica count",
                now,
            ),
        ],
    }

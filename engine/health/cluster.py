"""Health of cluster extensions: CustomResourceDefinition, HorizontalPodAutoscaler,
an Argo CD Application."""

from __future__ import annotations

import json
from collections.abc import Mapping

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import (
    as_mapping,
    condition_of,
    conditions_of,
    explain,
    has_status,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest


@register_health_check("apiextensions.k8s.io", "CustomResourceDefinition")
def _crd(manifest: Manifest) -> Health:
    status = status_of(manifest)
    names = condition_of(status, "NamesAccepted")
    if has_status(names, "False") and names is not None:
        return Health(HealthCode.DEGRADED, f"Names not accepted: {explain(names, 'conflict')}")
    schema = condition_of(status, "NonStructuralSchema")
    if has_status(schema, "True") and schema is not None:
        return Health(HealthCode.DEGRADED, f"Schema is not structural: {explain(schema, '')}")
    if has_status(condition_of(status, "Established"), "True"):
        return Health(HealthCode.HEALTHY, "CRD is established")
    return Health(HealthCode.PROGRESSING, "Waiting for the CRD to be established")


_HPA_CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"


@register_health_check("autoscaling", "HorizontalPodAutoscaler")
def _hpa(manifest: Manifest) -> Health:
    status = status_of(manifest)
    conditions = conditions_of(status)
    if not conditions:
        # autoscaling/v1 keeps the conditions in an annotation, as JSON.
        meta = as_mapping(manifest.get("metadata"))
        raw = as_mapping(meta.get("annotations")).get(_HPA_CONDITIONS_ANNOTATION)
        if isinstance(raw, str):
            conditions = [c for c in json.loads(raw) if isinstance(c, Mapping)]
    by_type = {c.get("type"): c for c in conditions}
    if not by_type:
        return Health(HealthCode.PROGRESSING, "Waiting for the autoscaler to report")
    able = by_type.get("AbleToScale")
    if has_status(able, "False") and able is not None:
        return Health(HealthCode.DEGRADED, f"Cannot scale: {explain(able, 'no reason given')}")
    active = by_type.get("ScalingActive")
    if has_status(active, "False") and active is not None:
        if active.get("reason") == "ScalingDisabled":
            return Health(HealthCode.SUSPENDED, "Scaling is disabled (target scaled to zero)")
        return Health(
            HealthCode.DEGRADED, f"Scaling is not active: {explain(active, 'no reason given')}"
        )
    return Health(HealthCode.HEALTHY, "Autoscaler is active")


@register_health_check("argoproj.io", "Application")
def _argo_application(manifest: Manifest) -> Health:
    health = as_mapping(status_of(manifest).get("health"))
    code = health.get("status")
    if not code:
        return Health(HealthCode.PROGRESSING, "Waiting for the application to report health")
    try:
        parsed = HealthCode(str(code))
    except ValueError:
        return Health(HealthCode.UNKNOWN, f"Unknown application health {code!r}")
    return Health(parsed, str(health.get("message") or f"Application is {code}"))

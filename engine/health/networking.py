"""Health of objects that get an address: a LoadBalancer Service, an Ingress."""

from __future__ import annotations

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import (
    HEALTHY,
    as_mapping,
    spec_of,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest


def _has_load_balancer_address(manifest: Manifest) -> bool:
    ingress = as_mapping(status_of(manifest).get("loadBalancer")).get("ingress")
    return isinstance(ingress, list) and len(ingress) > 0


@register_health_check("", "Service")
def _service(manifest: Manifest) -> Health:
    if spec_of(manifest).get("type") != "LoadBalancer":
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

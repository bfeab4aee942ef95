"""Health assessment: what a live object's status says about it.

Pure: ``health_of(manifest)`` reads only the manifest it is given. Each kind has
one small check function in a registry keyed by ``(group, kind)`` (the way
gitops-engine keeps ``health_deployment.go``, ``health_pvc.go``, …). Kinds
without a check fall back to a generic reading of ``status.conditions`` so
custom resources (Crossplane, Flux, cert-manager, …) get a sensible answer.

Messages are written for people: they say what the object is waiting for.

The registry and ``health_of`` are in ``registry``; the shared status readers
in ``status``; one module per kind family (``workloads``, ``batch``, ``core``,
``networking``, ``cluster``) registers its checks when this package is
imported; ``generic`` reads the conditions of every other kind.
"""

from __future__ import annotations

# Imported for their registrations: each module adds its kinds' checks.
from gitwave.engine.health import (
    batch,
    cluster,
    core,
    networking,
    rollouts,
    sealed_secrets,
    workloads,
)
from gitwave.engine.health.registry import (
    HealthCheck,
    health_of,
    register_health_check,
    registered_kinds,
)

__all__ = [
    "HealthCheck",
    "batch",
    "cluster",
    "core",
    "health_of",
    "networking",
    "register_health_check",
    "registered_kinds",
    "rollouts",
    "sealed_secrets",
    "workloads",
]

"""The app objects the controller reads from the management cluster (a value type
shared by the loop and the Kubernetes side, kept free of heavy imports)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ARGO_KIND = "Application"
FLUX_KIND = "Kustomization"
HELM_KIND = "HelmRelease"
# Flux kinds: always automated, Ready conditions, suspend and reconcile requests as Flux.
FLUX_KINDS = (FLUX_KIND, HELM_KIND)


@dataclass(frozen=True)
class AppObject:
    """An Application or Kustomization as read from the management cluster."""

    kind: str
    namespace: str
    name: str
    generation: int
    body: Mapping[str, Any] = field(repr=False)

    @property
    def app_id(self) -> str:
        """Stable across replicas and restarts: what the shard hash is taken of."""
        return f"{self.kind}/{self.namespace}/{self.name}"


__all__ = ["ARGO_KIND", "FLUX_KIND", "FLUX_KINDS", "HELM_KIND", "AppObject"]

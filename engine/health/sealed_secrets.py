"""Health of a Bitnami SealedSecret: what its controller says in ``Synced``."""

from __future__ import annotations

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import as_mapping, condition_of, explain, has_status, status_of
from gitwave.engine.model import Health, HealthCode, Manifest


@register_health_check("bitnami.com", "SealedSecret")
def _sealed_secret(manifest: Manifest) -> Health:
    """Healthy once the controller unsealed the current generation (``Synced=True``),
    Degraded with its message when it could not, Progressing until it reports:
    as Argo CD's check for the kind, with the generation compared first."""
    status = status_of(manifest)
    generation = as_mapping(manifest.get("metadata")).get("generation")
    observed = status.get("observedGeneration")
    synced = condition_of(status, "Synced")
    if synced is None or (
        observed is not None and generation is not None and int(observed) < int(generation)
    ):
        return Health(
            HealthCode.PROGRESSING, "Waiting for the sealed-secrets controller to unseal it"
        )
    if has_status(synced, "False"):
        return Health(HealthCode.DEGRADED, f"Not unsealed: {explain(synced, 'no reason given')}")
    if has_status(synced, "True"):
        return Health(HealthCode.HEALTHY, "Unsealed into its Secret")
    return Health(HealthCode.PROGRESSING, f"Unsealing: {explain(synced, 'no reason given')}")

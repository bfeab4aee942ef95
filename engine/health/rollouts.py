"""Health of an Argo Rollouts ``Rollout``, read as Argo CD's built-in check reads it.

The order of the questions is what matters: an unobserved spec is
Progressing before anything else; an invalid spec, an abort and a missed
progress deadline are Degraded; a pause (a ``pause`` step, a controller pause
after inconclusive analysis, or ``spec.paused``) is Suspended, whatever the
replicas say, so a sync wave moves on past a canary waiting for a promote;
then replicas being updated or becoming available, then the strategy's own
cut-over (blue-green's active selector, canary's stable ReplicaSet) decide
between Progressing and Healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import Replicas, as_mapping, conditions_of, spec_of, status_of
from gitwave.engine.model import Health, HealthCode, Manifest

_NOT_OBSERVED = "Waiting for rollout spec update to be observed"


def _observed_generation_differs(manifest: Manifest, status: Mapping[str, Any]) -> bool:
    """Rollouts write ``observedGeneration`` as a string ("3"); very old
    releases wrote a hash, which says nothing about the generation."""
    observed = status.get("observedGeneration")
    try:
        number = int(str(observed))
    except ValueError:
        return False
    generation = as_mapping(manifest.get("metadata")).get("generation")
    return generation is not None and number != int(generation)


def _stable_hash(status: Mapping[str, Any]) -> str:
    # status.canary.stableRS was the field before Rollouts v0.8.
    return str(status.get("stableRS") or as_mapping(status.get("canary")).get("stableRS") or "")


def is_paused(manifest: Manifest) -> bool:
    """Whether the Rollout waits on a pause: a pause condition, or ``spec.paused``."""
    status = status_of(manifest)
    conditions = status.get("pauseConditions")
    if isinstance(conditions, list) and conditions:
        return True
    return spec_of(manifest).get("paused") is True


@register_health_check("argoproj.io", "Rollout")
def rollout_health(manifest: Manifest) -> Health:
    """Progressing until observed; Degraded on InvalidSpec, an abort or a missed
    progress deadline (with the controller's message); Suspended while paused;
    Progressing while replicas are updated, made available or old ones are
    scaled down, or until the canary's steps are done (stable = current);
    else Healthy."""
    status = status_of(manifest)
    if not status or status.get("observedGeneration") is None:
        return Health(HealthCode.PROGRESSING, _NOT_OBSERVED)
    if _observed_generation_differs(manifest, status):
        return Health(HealthCode.PROGRESSING, _NOT_OBSERVED)
    for condition in conditions_of(status):
        kind, reason = condition.get("type"), condition.get("reason")
        if kind == "InvalidSpec" or (
            kind == "Progressing" and reason in ("RolloutAborted", "ProgressDeadlineExceeded")
        ):
            return Health(HealthCode.DEGRADED, str(condition.get("message") or reason or kind))
    if is_paused(manifest):
        return Health(HealthCode.SUSPENDED, "Rollout is paused")
    current = status.get("currentPodHash")
    if current is None:
        return Health(
            HealthCode.PROGRESSING,
            "Waiting for rollout to finish: status has not been reconciled.",
        )
    replicas = Replicas.of(manifest)
    # Argo CD's order: old replicas are only waited for by a canary, below.
    waiting = replicas.waiting(
        not_updated=lambda _: "Waiting for roll out to finish: More replicas need to be updated",
        not_available=lambda _: (
            "Waiting for roll out to finish: updated replicas are still becoming available"
        ),
    )
    if waiting is not None:
        return waiting
    spec = spec_of(manifest)
    strategy = as_mapping(spec.get("strategy"))
    stable = _stable_hash(status)
    if strategy.get("blueGreen") is not None:
        active = as_mapping(status.get("blueGreen")).get("activeSelector")
        if active != current:
            return Health(HealthCode.PROGRESSING, "active service cutover pending")
        if stable and stable != current:
            return Health(HealthCode.PROGRESSING, "waiting for analysis to complete")
    elif strategy.get("canary") is not None:
        if replicas.total > replicas.updated:
            return Health(
                HealthCode.PROGRESSING,
                "Waiting for roll out to finish: old replicas are pending termination",
            )
        if stable != current:
            return Health(HealthCode.PROGRESSING, "Waiting for rollout to finish steps")
    return Health(HealthCode.HEALTHY)

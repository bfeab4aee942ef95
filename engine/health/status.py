"""Reading a live object's status: the helpers every health check shares
(conditions, generations, counts) and how a condition reason reads as a failure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.model import Health, HealthCode, Manifest

# Words in a condition reason that mean the controller gave up rather than is
# still working; "ReconcileError", "InstallFailed", "BackoffLimitExceeded", …
_FAILURE_REASON_WORDS = ("fail", "error", "exceeded", "invalid", "backoff", "denied")

HEALTHY = Health(HealthCode.HEALTHY)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def status_of(manifest: Manifest) -> Mapping[str, Any]:
    return as_mapping(manifest.get("status"))


def spec_of(manifest: Manifest) -> Mapping[str, Any]:
    return as_mapping(manifest.get("spec"))


def as_int(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    return int(value)


def conditions_of(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return []
    return [c for c in conditions if isinstance(c, Mapping)]


def condition_of(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for condition in conditions_of(status):
        if condition.get("type") == type_:
            return condition
    return None


def has_status(condition: Mapping[str, Any] | None, value: str) -> bool:
    return condition is not None and str(condition.get("status")) == value


def explain(condition: Mapping[str, Any], fallback: str) -> str:
    """The condition's message, else its reason, else ``fallback``."""
    return str(condition.get("message") or condition.get("reason") or fallback)


def generation_pending(manifest: Manifest) -> bool:
    meta = as_mapping(manifest.get("metadata"))
    generation = as_int(meta.get("generation"))
    observed = as_int(status_of(manifest).get("observedGeneration"))
    return generation > 0 and observed < generation


def reason_is_failure(reason: str) -> bool:
    lowered = reason.lower()
    return any(word in lowered for word in _FAILURE_REASON_WORDS)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True, slots=True)
class Replicas:
    """A replicated workload's counts: ``wanted`` (``spec.replicas``, 1 when
    unset) and the status's ``total``, ``updated`` and ``available``."""

    wanted: int
    total: int
    updated: int
    available: int

    @classmethod
    def of(cls, manifest: Manifest) -> Replicas:
        """The counts of ``manifest`` (a Deployment, a Rollout, ...)."""
        spec, status = spec_of(manifest), status_of(manifest)
        return cls(
            wanted=as_int(spec.get("replicas"), 1),
            total=as_int(status.get("replicas")),
            updated=as_int(status.get("updatedReplicas")),
            available=as_int(status.get("availableReplicas")),
        )

    def waiting(
        self,
        *,
        not_updated: Callable[[Replicas], str],
        not_available: Callable[[Replicas], str],
        old_pending: Callable[[Replicas], str] | None = None,
    ) -> Health | None:
        """Progressing, with the caller's message, while fewer replicas than wanted
        are updated, then (with ``old_pending``) while old ones still run, then
        while updated ones are not all available; None once none of that holds."""
        if self.updated < self.wanted:
            return Health(HealthCode.PROGRESSING, not_updated(self))
        if old_pending is not None and self.total > self.updated:
            return Health(HealthCode.PROGRESSING, old_pending(self))
        if self.available < self.updated:
            return Health(HealthCode.PROGRESSING, not_available(self))
        return None

"""What a Rollout's spec says, for the sandbox's Argo Rollouts controller
(``rollouts``): its canary steps and their pauses and weights, its pod
template and the split of pods between the stable and canary ReplicaSets
that a status asks for. Pure functions of the object and its status.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.model import Manifest

from .base import as_map, pod_template_hash, spec_of

GROUP = "argoproj.io"
KIND = "Rollout"
HASH_LABEL = "rollouts-pod-template-hash"

_DURATION = re.compile(r"^(\d+)(s|m|h)?$")


def pause_seconds(value: Any) -> float | None:
    """A pause's ``duration`` (``30``, ``"30s"``, ``"5m"``, ``"1h"``) in seconds;
    None for an indefinite pause. ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value).strip())
    if match is None:
        raise ValueError(f"pause duration {value!r} is not a number with s, m or h")
    return float(int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"])


def steps_of(obj: Manifest) -> list[Mapping[str, Any]]:
    canary = as_map(as_map(spec_of(obj).get("strategy")).get("canary"))
    steps = canary.get("steps")
    return [as_map(s) for s in steps] if isinstance(steps, list) else []


def _replicas(obj: Manifest) -> int:
    value = spec_of(obj).get("replicas", 1)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 1


def template_of(obj: Manifest) -> dict[str, Any]:
    return as_map(spec_of(obj).get("template"))


def template_hash(obj: Manifest) -> str:
    return pod_template_hash(template_of(obj))


def weight_at(steps: Sequence[Mapping[str, Any]], index: int) -> int:
    """The canary weight once steps up to ``index`` ran: the last setWeight."""
    for step in reversed(steps[: index + 1]):
        if "setWeight" in step:
            return max(0, min(int(step["setWeight"]), 100))
    return 0


@dataclass(frozen=True, slots=True)
class Split:
    """How many pods each ReplicaSet should have."""

    stable: str
    stable_count: int
    canary: str
    canary_count: int

    @property
    def total(self) -> int:
        return self.stable_count + (self.canary_count if self.canary != self.stable else 0)


def split_of(obj: Manifest, status: Mapping[str, Any]) -> Split:
    """The pods the stable and canary ReplicaSets should run for ``status``."""
    replicas = _replicas(obj)
    current = str(status.get("currentPodHash") or template_hash(obj))
    stable = str(status.get("stableRS") or current)
    if stable == current:
        return Split(stable, replicas, current, replicas)
    if status.get("abort") is True:
        return Split(stable, replicas, current, 0)
    steps = steps_of(obj)
    index = int(status.get("currentStepIndex") or 0)
    weight = 100 if index >= len(steps) else weight_at(steps, index)
    canary = math.ceil(replicas * weight / 100)
    return Split(stable, max(replicas - canary, 0), current, canary)

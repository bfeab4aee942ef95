"""Argo Rollouts' controller, as the sandbox plays it: a canary walked step by step.

A Rollout's first revision goes straight to stable (as Argo Rollouts does).
A later change of its pod template makes that template the canary and walks
``spec.strategy.canary.steps`` from the first:

* ``setWeight: N``: the canary ReplicaSet gets ``ceil(N% of replicas)`` pods,
  the stable one the rest; the step is done when they are available
  (``rollout_seconds`` later, as any sandbox rollout);
* ``pause: {}``: a ``CanaryPauseStep`` pause condition and ``controllerPause``
  until a promote clears the condition; ``pause: {duration: 30s}`` ends by
  itself when the sandbox's clock has passed the duration;
* ``analysis``: the named AnalysisTemplates are measured once (``analysis``):
  Successful moves on, Failed or Error aborts, Inconclusive pauses;

then the canary becomes stable and the old ReplicaSet is scaled to zero.
``status.abort`` (``gitwave rollout abort``) scales the canary to zero and
leaves the Rollout Degraded until its template changes; ``status.promoteFull``
skips the remaining steps; ``spec.paused`` holds it where it is.

The steps live here; what the spec says and the split of pods in
``rollout_spec``, the ReplicaSets in ``rollout_replicasets``, the analysis
step in ``rollout_analysis``, the phase, message and conditions written
after a step in ``rollout_status`` (the public names of the first three are
re-exported).

Like the other controllers there is no background thread: ``advance`` is a
function of the Rollout, its status and the time, and returns when it next
has something to do; the sandbox calls it again at that time (on the first
read after it), so tests move a clock instead of sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gitwave.engine.model import Manifest

from .base import (
    Controller,
    StatusContext,
    as_map,
    generation_of,
    meta_of,
    never,
    register_controller,
    rfc3339,
    spec_of,
)
from .rollout_analysis import AnalysisOutcome, AnalysisRunner, analysis_templates, run_analysis
from .rollout_replicasets import children
from .rollout_spec import (
    GROUP,
    HASH_LABEL,
    KIND,
    Split,
    pause_seconds,
    split_of,
    steps_of,
    template_hash,
    weight_at,
)
from .rollout_status import describe, invalid, replicas_pending

PAUSE_STEP = "CanaryPauseStep"
INCONCLUSIVE = "InconclusiveAnalysisRun"

__all__ = [
    "GROUP",
    "HASH_LABEL",
    "INCONCLUSIVE",
    "KIND",
    "PAUSE_STEP",
    "AnalysisOutcome",
    "AnalysisRunner",
    "Moment",
    "Split",
    "advance",
    "analysis_templates",
    "children",
    "pause_seconds",
    "run_analysis",
    "split_of",
    "steps_of",
    "template_hash",
    "weight_at",
]

# At most this many steps are taken in one call (a loop guard; a Rollout has a handful).
_MAX_MOVES = 200


@dataclass(frozen=True, slots=True)
class Moment:
    """When ``advance`` runs: ``now``; ``ready_at``: when the replicas being
    scaled are available (None: nothing pending)."""

    now: float
    ready_at: float | None
    rollout_seconds: float
    analysis: AnalysisRunner


def _seconds(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _counts(status: dict[str, Any], split: Split, *, running: int | None = None) -> None:
    """Write the replica counts; ``running``: how many pods are available
    while the others start (None: all of them)."""
    status["replicas"] = split.total
    status["updatedReplicas"] = split.canary_count
    available = split.total if running is None else min(running, split.total)
    status["readyReplicas"] = status["availableReplicas"] = available


def _pods_by_hash(status: Mapping[str, Any]) -> dict[str, int]:
    """How many pods of each template the last written split had."""
    weights = as_map(as_map(status.get("canary")).get("weights"))
    canary = str(as_map(weights.get("canary")).get("podTemplateHash") or "")
    stable = str(as_map(weights.get("stable")).get("podTemplateHash") or "")
    replicas = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if not canary:
        return {}
    if canary == stable:
        return {canary: replicas}
    return {canary: updated, stable: max(replicas - updated, 0)}


def _set_split(obj: Manifest, status: dict[str, Any], moment: Moment, now: float) -> float | None:
    """Scale to the split ``status`` asks for; when pods must start, the time
    they are available."""
    split = split_of(obj, status)
    before = _pods_by_hash(status)
    wanted = (
        {split.canary: split.canary_count}
        if split.stable == split.canary
        else {split.canary: split.canary_count, split.stable: split.stable_count}
    )
    weight = (
        100
        if split.stable == split.canary
        else round(100 * split.canary_count / max(split.total, 1))
    )
    if status.get("abort") is True:
        weight = 0
    status.setdefault("canary", {})["weights"] = {
        "canary": {"weight": weight, "podTemplateHash": split.canary},
        "stable": {"weight": 100 - weight, "podTemplateHash": split.stable},
    }
    if {h: n for h, n in before.items() if n} == {h: n for h, n in wanted.items() if n}:
        _counts(status, split, running=int(status.get("availableReplicas") or 0))
        return None
    # Pods of a template that ran before keep running; the new ones start.
    running = sum(min(count, before.get(h, 0)) for h, count in wanted.items())
    if running >= split.total or moment.rollout_seconds <= 0:
        _counts(status, split)
        return None
    _counts(status, split, running=min(running, int(status.get("availableReplicas") or 0)))
    return now + moment.rollout_seconds


def advance(obj: Manifest, moment: Moment) -> tuple[dict[str, Any], float | None]:
    """The Rollout's status after everything due by ``moment.now``, and when
    it next has something to do (None: it waits for a change or a promote)."""
    status: dict[str, Any] = json.loads(json.dumps(as_map(obj.get("status"))))
    now = moment.now
    status["observedGeneration"] = str(generation_of(obj))
    steps = steps_of(obj)
    current = template_hash(obj)
    try:
        for step in steps:
            if "pause" in step:
                pause_seconds(as_map(step.get("pause")).get("duration"))
    except ValueError as exc:
        return invalid(status, str(exc), rfc3339(now)), None
    if status.get("currentPodHash") != current:
        _new_revision(status, current, len(steps))
    due = moment.ready_at if replicas_pending(status) else None
    if due is not None and now >= due:
        _counts(status, split_of(obj, status))
        due = None
    if due is None:
        due = _set_split(obj, status, moment, now)
    for _ in range(_MAX_MOVES):
        if due is not None or status.get("abort") is True or spec_of(obj).get("paused") is True:
            break
        if status["currentPodHash"] == status.get("stableRS"):
            break
        moved, due = _move(obj, status, steps, moment, now)
        if not moved:
            break
    describe(obj, status, steps, rfc3339(now))
    return status, due


def _new_revision(status: dict[str, Any], current: str, steps: int) -> None:
    first = not status.get("currentPodHash")
    status["currentPodHash"] = current
    for field in ("pauseConditions", "abort", "abortedAt", "promoteFull", "controllerPause"):
        status.pop(field, None)
    as_map(status.get("canary")).pop("currentStepAnalysisRunStatus", None)
    status["currentStepIndex"] = 0
    if first or status.get("stableRS") == current:
        # A first revision, or back to the stable one: no steps, as Argo Rollouts does.
        status["stableRS"] = current
        status["currentStepIndex"] = steps


def _move(
    obj: Manifest,
    status: dict[str, Any],
    steps: Sequence[Mapping[str, Any]],
    moment: Moment,
    now: float,
) -> tuple[bool, float | None]:
    """Take the current step as far as it goes now: (moved on, next due time)."""
    index = int(status.get("currentStepIndex") or 0)
    if status.get("promoteFull") is True:
        index = len(steps)
    if index >= len(steps):
        status["currentStepIndex"] = len(steps)
        status["stableRS"] = status["currentPodHash"]
        status.pop("promoteFull", None)
        status.pop("pauseConditions", None)
        status.pop("controllerPause", None)
        return True, _set_split(obj, status, moment, now)
    step = steps[index]
    conditions = status.get("pauseConditions") or []
    if status.get("controllerPause") is True and not conditions:
        # A promote cleared the pause this step put up: the step is done.
        status.pop("controllerPause", None)
        return _next(obj, status, index, moment, now)
    if "setWeight" in step:
        return _next(obj, status, index, moment, now)
    if "pause" in step:
        duration = pause_seconds(as_map(step.get("pause")).get("duration"))
        if not conditions:
            status["pauseConditions"] = [{"reason": PAUSE_STEP, "startTime": rfc3339(now)}]
            status["controllerPause"] = True
            return False, None if duration is None else now + duration
        started = _seconds(conditions[0].get("startTime")) or now
        if duration is not None and now >= started + duration:
            status.pop("pauseConditions", None)
            status.pop("controllerPause", None)
            return _next(obj, status, index, moment, now)
        return False, None if duration is None else started + duration
    if "analysis" in step:
        if conditions:
            return False, None  # Inconclusive: waits for a promote
        outcome = moment.analysis(obj, as_map(step.get("analysis")))
        name = f"{meta_of(obj).get('name')}-{status['currentPodHash']}-{index}"
        status.setdefault("canary", {})["currentStepAnalysisRunStatus"] = {
            "name": name,
            "status": outcome.phase,
            "message": outcome.message,
        }
        if outcome.phase == "Successful":
            return _next(obj, status, index, moment, now)
        if outcome.phase == "Inconclusive":
            status["pauseConditions"] = [{"reason": INCONCLUSIVE, "startTime": rfc3339(now)}]
            status["controllerPause"] = True
            return False, None
        status["abort"] = True
        status["abortedAt"] = rfc3339(now)
        return True, _set_split(obj, status, moment, now)
    # A step the sandbox does not play (experiment, setCanaryScale, …) is passed.
    return _next(obj, status, index, moment, now)


def _next(
    obj: Manifest, status: dict[str, Any], index: int, moment: Moment, now: float
) -> tuple[bool, float | None]:
    status["currentStepIndex"] = index + 1
    return True, _set_split(obj, status, moment, now)


def _unused_status(obj: Manifest, context: StatusContext) -> Manifest:
    # Rollouts are stepped by ``advance``; the two-phase status is never asked for.
    return dict(context.previous)


register_controller(
    GROUP, KIND, Controller(_unused_status, never, children=children, advance=advance)
)

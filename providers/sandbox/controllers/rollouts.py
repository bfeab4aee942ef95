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

Like the other controllers there is no background thread: ``advance`` is a
function of the Rollout, its status and the time, and returns when it next
has something to do; the sandbox calls it again at that time (on the first
read after it), so tests move a clock instead of sleeping.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitwave.engine.model import Manifest, ResourceKey

from ..analysis import Fetch, Measurement, Phase, measure_metric, template_args
from .base import (
    Controller,
    StatusContext,
    as_map,
    generation_of,
    meta_of,
    never,
    owner_reference,
    pod_template_hash,
    register_controller,
    spec_of,
)

GROUP = "argoproj.io"
KIND = "Rollout"
HASH_LABEL = "rollouts-pod-template-hash"
PAUSE_STEP = "CanaryPauseStep"
INCONCLUSIVE = "InconclusiveAnalysisRun"

# At most this many steps are taken in one call (a loop guard; a Rollout has a handful).
_MAX_MOVES = 200


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    """What an analysis step found: ``Successful``, ``Failed``, ``Error`` or
    ``Inconclusive``, and a message for people."""

    phase: str
    message: str


# Runs the analysis of a step: (rollout, the step's ``analysis``) -> outcome.
AnalysisRunner = Callable[[Manifest, Mapping[str, Any]], AnalysisOutcome]


@dataclass(frozen=True, slots=True)
class Moment:
    """When ``advance`` runs: ``now``; ``ready_at``: when the replicas being
    scaled are available (None: nothing pending)."""

    now: float
    ready_at: float | None
    rollout_seconds: float
    analysis: AnalysisRunner


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


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


def _template(obj: Manifest) -> dict[str, Any]:
    return as_map(spec_of(obj).get("template"))


def template_hash(obj: Manifest) -> str:
    return pod_template_hash(_template(obj))


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


def _condition(type_: str, ok: bool, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
        "lastUpdateTime": now,
    }


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


def _pending(status: Mapping[str, Any]) -> bool:
    return int(status.get("availableReplicas") or 0) < int(status.get("replicas") or 0)


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
        return _invalid(status, str(exc), _stamp(now)), None
    if status.get("currentPodHash") != current:
        _new_revision(status, current, len(steps))
    due = moment.ready_at if _pending(status) else None
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
    _describe(obj, status, steps, _stamp(now))
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
            status["pauseConditions"] = [{"reason": PAUSE_STEP, "startTime": _stamp(now)}]
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
            status["pauseConditions"] = [{"reason": INCONCLUSIVE, "startTime": _stamp(now)}]
            status["controllerPause"] = True
            return False, None
        status["abort"] = True
        status["abortedAt"] = _stamp(now)
        return True, _set_split(obj, status, moment, now)
    # A step the sandbox does not play (experiment, setCanaryScale, …) is passed.
    return _next(obj, status, index, moment, now)


def _next(
    obj: Manifest, status: dict[str, Any], index: int, moment: Moment, now: float
) -> tuple[bool, float | None]:
    status["currentStepIndex"] = index + 1
    return True, _set_split(obj, status, moment, now)


def _invalid(status: dict[str, Any], message: str, now: str) -> dict[str, Any]:
    status["conditions"] = [_condition("InvalidSpec", True, "InvalidSpec", message, now)]
    status["phase"] = "Degraded"
    status["message"] = f"InvalidSpec: {message}"
    return status


def _describe(
    obj: Manifest, status: dict[str, Any], steps: Sequence[Mapping[str, Any]], now: str
) -> None:
    """``phase``, ``message`` and conditions as the Rollouts controller writes them."""
    aborted = status.get("abort") is True
    paused = bool(status.get("pauseConditions")) or spec_of(obj).get("paused") is True
    pending = _pending(status)
    done = status.get("currentPodHash") == status.get("stableRS")
    previous = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}

    def keep_time(condition: dict[str, Any]) -> dict[str, Any]:
        old = previous.get(condition["type"])
        if old and (old.get("status"), old.get("reason")) == (
            condition["status"],
            condition["reason"],
        ):
            condition["lastTransitionTime"] = old.get("lastTransitionTime", now)
        return condition

    if aborted:
        run = as_map(as_map(status.get("canary")).get("currentStepAnalysisRunStatus"))
        message = f"Rollout aborted update to revision {status['currentPodHash']}"
        if run.get("status") in ("Failed", "Error") and run.get("message"):
            message = f"{message}: {run['message']}"
        progressing = _condition("Progressing", False, "RolloutAborted", message, now)
        status["phase"], status["message"] = "Degraded", f"RolloutAborted: {message}"
    elif paused:
        reasons = [str(c.get("reason")) for c in status.get("pauseConditions") or []]
        reason = reasons[0] if reasons else "RolloutPaused"
        progressing = _condition("Progressing", True, "RolloutPaused", "Rollout is paused", now)
        status["phase"], status["message"] = "Paused", reason
    elif pending or not done:
        message = "more replicas need to be updated" if pending else "waiting for steps"
        progressing = _condition(
            "Progressing",
            True,
            "ReplicaSetUpdated",
            f'ReplicaSet "{meta_of(obj).get("name")}-{status["currentPodHash"]}" is progressing.',
            now,
        )
        status["phase"], status["message"] = "Progressing", message
    else:
        progressing = _condition(
            "Progressing",
            True,
            "NewReplicaSetAvailable",
            "Rollout has completed rollout",
            now,
        )
        status["phase"] = "Healthy"
        status.pop("message", None)
    available = not pending
    conditions = [
        keep_time(
            _condition(
                "Available",
                available,
                "AvailableReason",
                "Rollout has minimum availability"
                if available
                else "Rollout does not have minimum availability",
                now,
            )
        ),
        keep_time(progressing),
    ]
    if paused:
        conditions.append(
            keep_time(_condition("Paused", True, "RolloutPaused", "Rollout is paused", now))
        )
    conditions.append(
        keep_time(
            _condition(
                "Healthy",
                done and available and not aborted,
                "RolloutHealthy" if done and available else "RolloutHealthyIncomplete",
                "Rollout is healthy" if done and available else "Rollout is not healthy",
                now,
            )
        )
    )
    status["conditions"] = conditions
    if steps:
        status["currentStepIndex"] = min(int(status.get("currentStepIndex") or 0), len(steps))
    else:
        status.pop("currentStepIndex", None)
    status["selector"] = ",".join(
        f"{k}={v}"
        for k, v in sorted(as_map(as_map(spec_of(obj).get("selector")).get("matchLabels")).items())
    )


# ------------------------------------------------------------------ ReplicaSets


def children(owner: Manifest, existing: Sequence[Manifest]) -> list[Manifest]:
    """The ReplicaSets a Rollout owns: stable and canary at their split, older
    ones kept at zero as history (``revisionHistoryLimit``, default 10)."""
    status = as_map(owner.get("status"))
    if not status.get("currentPodHash"):
        return []
    split = split_of(owner, status)
    name = str(meta_of(owner).get("name"))
    by_name = {
        str(meta_of(rs).get("name")): rs for rs in existing if rs.get("kind") == "ReplicaSet"
    }
    wanted: dict[str, Manifest] = {}
    counts = {split.stable: split.stable_count, split.canary: split.canary_count}
    for pod_hash, count in counts.items():
        rs_name = f"{name}-{pod_hash}"
        held = by_name.get(rs_name)
        if held is not None:
            rs = json.loads(json.dumps(held))
            rs.pop("status", None)
        elif pod_hash == template_hash(owner):
            rs = _replica_set(owner, pod_hash)
        else:
            continue  # a stable ReplicaSet deleted by hand: nothing to scale
        rs["spec"]["replicas"] = count
        wanted[rs_name] = rs
    keep = max(int(spec_of(owner).get("revisionHistoryLimit", 10) or 0), 0)
    old = sorted(n for n in by_name if n not in wanted)
    for rs_name in old[len(old) - keep :] if keep else []:
        rs = json.loads(json.dumps(by_name[rs_name]))
        rs.pop("status", None)
        rs["spec"]["replicas"] = 0
        wanted[rs_name] = rs
    return list(wanted.values())


def _replica_set(owner: Manifest, pod_hash: str) -> Manifest:
    meta = meta_of(owner)
    template = json.loads(json.dumps(_template(owner)))
    template_meta = template.setdefault("metadata", {})
    labels = {**as_map(template_meta.get("labels")), HASH_LABEL: pod_hash}
    template_meta["labels"] = labels
    selector = json.loads(json.dumps(as_map(spec_of(owner).get("selector"))))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta.get('name')}-{pod_hash}",
            "namespace": meta.get("namespace", ""),
            "labels": labels,
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }


def analysis_templates(obj: Manifest, analysis: Mapping[str, Any]) -> list[ResourceKey]:
    """The AnalysisTemplates a step's ``analysis`` names, in the Rollout's namespace."""
    namespace = str(meta_of(obj).get("namespace") or "")
    keys = []
    for ref in analysis.get("templates") or []:
        name = as_map(ref).get("templateName")
        if name:
            keys.append(ResourceKey(GROUP, "AnalysisTemplate", namespace, str(name)))
    return keys


def run_analysis(
    obj: Manifest,
    analysis: Mapping[str, Any],
    *,
    lookup: Callable[[ResourceKey], Manifest | None],
    fetch: Fetch,
) -> AnalysisOutcome:
    """Measure every metric of the AnalysisTemplates a step names, once: Failed
    or Error when one is, Inconclusive when one is and none failed, else
    Successful. A missing template is an Error naming it."""
    given = {
        str(as_map(a).get("name")): str(as_map(a).get("value") or "")
        for a in analysis.get("args") or []
        if as_map(a).get("name")
    }
    keys = analysis_templates(obj, analysis)
    if not keys:
        return AnalysisOutcome("Error", "the analysis step names no templateName")
    measurements: list[Measurement] = []
    for key in keys:
        template = lookup(key)
        if template is None:
            return AnalysisOutcome(
                "Error", f"AnalysisTemplate/{key.namespace}/{key.name} not found"
            )
        args = template_args(template, given)
        for metric in as_map(template.get("spec")).get("metrics") or []:
            measurements.append(measure_metric(as_map(metric), args, fetch))
    for phase in (Phase.ERROR, Phase.FAILED, Phase.INCONCLUSIVE):
        bad = [m for m in measurements if m.phase is phase]
        if bad:
            return AnalysisOutcome(phase.value, "; ".join(m.message for m in bad))
    shown = ", ".join(f"{m.metric}={m.value}" for m in measurements)
    return AnalysisOutcome(Phase.SUCCESSFUL.value, f"Metric assessed Successful: {shown}")


def _unused_status(obj: Manifest, context: StatusContext) -> Manifest:
    # Rollouts are stepped by ``advance``; the two-phase status is never asked for.
    return dict(context.previous)


register_controller(
    GROUP, KIND, Controller(_unused_status, never, children=children, advance=advance)
)

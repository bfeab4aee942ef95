"""Drift: which fields of the live state left what Git says, who changed them,
and when healing them again and again has become a fight to stop.

Everything here is pure: a plan (already diffed against the live state) goes
in, values come out. ``LoopGuard`` keeps a little history of heals, but takes
the time from an injected clock and does no I/O.

A drift loop is two writers undoing each other: gitwave heals
``spec.replicas`` back to 3, an autoscaler or a person with ``kubectl scale``
sets it to 10 again, gitwave heals it… After ``limit`` heals of one field
within ``window_s`` the guard refuses further heals of that field (the field
keeps its live value; the object's other fields are still healed) until the
oldest of those heals leaves the window, names
both field managers (from ``metadata.managedFields``), and offers the
``ignoreDifferences`` rule that ends the fight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.field_managers import field_managers
from gitwave.engine.fieldpath import parse_diff_path, to_pointer
from gitwave.engine.model import Action, FieldOp, Plan, ResourceKey

OUR_MANAGER = "gitwave"
DEFAULT_HEAL_LIMIT = 3
DEFAULT_HEAL_WINDOW_S = 300.0


def json_pointer(path: str) -> str:
    """The RFC 6901 pointer of a diff path: ``metadata.labels["a/b"]`` →
    ``/metadata/labels/a~1b`` (what ``ignoreDifferences.jsonPointers`` takes).

    Raises FieldPathError (a ValueError) for text that is not a diff path."""
    return to_pointer(parse_diff_path(path))


@dataclass(frozen=True, slots=True)
class DriftedField:
    """One field of one object that differs from Git, with who owns it live.

    ``path`` is the diff path (``""`` for an object that is missing live);
    ``live``/``desired`` are already masked for Secrets. ``managers`` are the
    live field's owners other than gitwave (who changed it)."""

    key: ResourceKey
    path: str
    live: Any = None
    desired: Any = None
    managers: tuple[str, ...] = ()

    @property
    def describe(self) -> str:
        """``Deployment/shop/api spec.replicas: 10 → 3 (by kubectl)``: live → desired,
        the direction ``plan`` and the TUI's diff write a change in."""
        if not self.path:
            return f"{self.key.display}: deleted live"
        who = f" (by {', '.join(self.managers)})" if self.managers else ""
        return f"{self.key.display} {self.path}: {_short(self.live)} → {_short(self.desired)}{who}"


def _short(value: Any) -> str:
    if value is None:
        return "(unset)"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def drifted_fields(plan: Plan, *, ours: str = OUR_MANAGER) -> tuple[DriftedField, ...]:
    """Every field the plan would change back, object by object in plan order.

    An object missing live is one entry with an empty path. Hooks and prunes
    are not drift (hooks run every sync; prunes are what Git removed)."""
    found: list[DriftedField] = []
    for task in plan.tasks():
        if task.action is Action.CREATE:
            found.append(DriftedField(task.key, ""))
        elif task.action is Action.UPDATE:
            manifest = task.live.manifest if task.live is not None else {}
            for change in task.changes:
                owners = _owners(manifest, task.key, change.path) if manifest else ()
                others = tuple(m for m in owners if m != ours)
                live = None if change.op is FieldOp.ADD else change.live
                found.append(DriftedField(task.key, change.path, live, change.desired, others))
    return tuple(found)


def _owners(manifest: Mapping[str, Any], key: ResourceKey, path: str) -> tuple[str, ...]:
    """``field_managers`` of ``path``; for a Secret's ``stringData`` key also the
    managers of the same key under ``data``: the API server stores stringData
    in data, so whoever changed the value since (``kubectl patch``, ``edit``)
    owns ``data.<key>``, while the apply that set it keeps ``stringData.<key>``."""
    owners = field_managers(manifest, path)
    if (key.group, key.kind) == ("", "Secret") and path.startswith("stringData"):
        stored = field_managers(manifest, "data" + path.removeprefix("stringData"))
        owners += tuple(m for m in stored if m not in owners)
    return owners


# --- drift loops ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriftLoop:
    """A field gitwave healed ``heals`` times within ``window_s``; healing it is
    paused until ``until`` (clock time)."""

    app: str
    key: ResourceKey
    path: str
    heals: int
    window_s: float
    until: float
    others: tuple[str, ...]  # the managers that kept changing it back
    ours: str = OUR_MANAGER

    @property
    def managers(self) -> tuple[str, ...]:
        """Both sides of the fight: gitwave first, then the others."""
        return (self.ours, *(self.others or ("an unknown manager",)))

    @property
    def message(self) -> str:
        """One line naming the field, the managers and what gitwave does now."""
        minutes = self.window_s / 60
        window = f"{minutes:g}m" if minutes >= 1 else f"{self.window_s:g}s"
        return (
            f"drift loop on {self.key.display} {self.path}: healed {self.heals} times in "
            f"{window}, changed back each time; managers {' vs '.join(self.managers)}. "
            "Healing of this field is paused; to let "
            f"{self.others[0] if self.others else 'the other manager'} own it, add "
            "this to the Application:"
        )

    @property
    def ignore_rule(self) -> str:
        """The ``ignoreDifferences`` YAML snippet that ends the loop."""
        return ignore_rule_yaml(self.key, [json_pointer(self.path)] if self.path else [])


def ignore_rule_yaml(key: ResourceKey, pointers: Iterable[str]) -> str:
    """An Argo CD ``ignoreDifferences`` entry for ``key`` and ``pointers``, as YAML."""
    rule: dict[str, Any] = {"group": key.group, "kind": key.kind, "name": key.name}
    if key.namespace:
        rule["namespace"] = key.namespace
    rule["jsonPointers"] = list(pointers)
    import yaml  # for this one rule; PyYAML is 20 ms of every start

    text: str = yaml.dump(
        {"ignoreDifferences": [rule]},
        Dumper=yaml.CSafeDumper,
        sort_keys=False,
        default_flow_style=False,
    )
    return text


_FieldId = tuple[str, ResourceKey, str]


@dataclass
class _Heals:
    times: list[float] = field(default_factory=list)
    others: list[str] = field(default_factory=list)


class LoopGuard:
    """Counts heals per (app, object, field) in a sliding window.

    ``should_heal`` is False for a field healed ``limit`` times within the last
    ``window_s`` seconds: gitwave then stops fighting over it until the oldest
    of those heals leaves the window, so a field fought over forever is healed
    at most ``limit`` times per window. Thread-safe: the loop steps several
    apps at once (``engine.fleet_run``)."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_HEAL_LIMIT,
        window_s: float = DEFAULT_HEAL_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError(f"heal limit must be at least 1, not {limit}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._heals: dict[_FieldId, _Heals] = {}
        self._lock = threading.RLock()

    def _recent(self, field_id: _FieldId) -> _Heals:
        heals = self._heals.setdefault(field_id, _Heals())
        horizon = self._clock() - self.window_s
        heals.times = [t for t in heals.times if t > horizon]
        return heals

    def loop(self, app: str, drifted: DriftedField) -> DriftLoop | None:
        """The loop this field is in (healing it is paused), or None when it may be healed."""
        field_id = (app, drifted.key, drifted.path)
        with self._lock:
            heals = self._recent(field_id)
            times = list(heals.times)
            others = list(heals.others)
        if len(times) < self.limit:
            return None
        for name in drifted.managers:
            if name not in others:
                others.append(name)
        return DriftLoop(
            app=app,
            key=drifted.key,
            path=drifted.path,
            heals=len(times),
            window_s=self.window_s,
            until=times[-self.limit] + self.window_s,
            others=tuple(others),
        )

    def record_heal(self, app: str, drifted: DriftedField) -> None:
        """Note that gitwave healed this field now (who had changed it included)."""
        with self._lock:
            heals = self._recent((app, drifted.key, drifted.path))
            heals.times.append(self._clock())
            for name in drifted.managers:
                if name not in heals.others:
                    heals.others.append(name)

    def split(
        self, app: str, drifted: Sequence[DriftedField]
    ) -> tuple[tuple[DriftedField, ...], tuple[DriftLoop, ...]]:
        """The fields that may be healed, and the loops of those that may not."""
        healable: list[DriftedField] = []
        loops: list[DriftLoop] = []
        for item in drifted:
            found = self.loop(app, item)
            if found is None:
                healable.append(item)
            else:
                loops.append(found)
        return tuple(healable), tuple(loops)

    def reset(self, app: str) -> None:
        """Forget ``app``'s heals (a new revision: Git may have settled the fight)."""
        with self._lock:
            for field_id in [f for f in self._heals if f[0] == app]:
                del self._heals[field_id]

"""What a plan prunes: the tracked objects gone from the source, those kept
and why, the checks before any prune, and the waves the prunes run in.

Prune order follows Argo CD: the prune waves reuse the wave numbers the pruned
objects carry, in reverse (the object created in the highest wave is deleted in
the lowest prune wave). Inside a prune wave, objects go in reverse kind order
(Deployments before their Namespace). With ``prune_last`` (or the
``PruneLast=true`` sync option on the live object) prunes run in one wave after
every other Sync wave. ``engine/plan.py`` places the waves and makes the tasks.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitwave.engine.errors import SafetyError, ValidationError
from gitwave.engine.graph import ResourceGraph, order_key
from gitwave.engine.graph_facts import parse_sync_options, parse_sync_wave
from gitwave.engine.model import HookPhase, Kept, Live, Owner, ResourceKey
from gitwave.engine.ownership import (
    is_prunable_by,
    namesake_elsewhere,
    not_prunable_reason,
    protected_reason,
)

if TYPE_CHECKING:
    from gitwave.engine.plan import PlanOptions  # plan imports this module


@dataclass(frozen=True, slots=True)
class Pruning:
    """What a plan does with the tracked objects gone from the source
    (``prune_candidates``)."""

    prunable: list[Live]
    warnings: list[str]
    unpruned: tuple[ResourceKey, ...]
    kept: tuple[Kept, ...]


def prune_candidates(
    owner: Owner,
    graph: ResourceGraph,
    tracked: Sequence[Live],
    options: PlanOptions,
    adopted: Collection[ResourceKey],
) -> Pruning:
    """The tracked objects to prune; a warning for each one left alone that is
    not this app's; those a prune would delete (prune off) and those it keeps."""
    desired = {*graph.resources, *graph.skipped}
    orphans: dict[ResourceKey, Live] = {}
    for seen in tracked:
        # A namesake's object in another scope is another app's entirely: not
        # even a warning (a fleet of per-namespace ``web`` apps would get one
        # per object of every other).
        if seen.key not in desired and not namesake_elsewhere(seen, owner):
            orphans.setdefault(seen.key, seen)
    prunable: list[Live] = []
    warnings: list[str] = []
    unpruned: list[ResourceKey] = []
    kept: list[Kept] = []
    for key in sorted(orphans, key=order_key):
        seen = orphans[key]
        if not is_prunable_by(seen, owner, adopted=adopted):
            warnings.append(not_prunable_reason(seen, owner))
        elif (reason := _kept_reason(seen, owner, options)) is not None:
            kept.append(Kept(key, reason))
        elif not options.prune:
            warnings.append(f"{key.display} is not in the source; turn on prune to delete it")
            unpruned.append(key)
        else:
            prunable.append(seen)
    return Pruning(prunable, warnings, tuple(unpruned), tuple(kept))


def _kept_reason(seen: Live, owner: Owner, options: PlanOptions) -> str | None:
    removed = bool(options.removed_from)
    reason = protected_reason(seen, prune_protected=options.prune_protected, removed_app=removed)
    if reason is None and removed and not options.cascade:
        reason = (
            f"app {owner.app} was removed from {options.removed_from} without Argo CD's "
            "resources-finalizer, so its objects stay, as Argo CD leaves them; add the "
            "finalizer to a child app to have its objects pruned with it"
        )
    return reason


def check_safe_to_prune(
    app: str,
    graph: ResourceGraph,
    live: Mapping[ResourceKey, Live | None],
    tracked: Sequence[Live],
    prunable: Sequence[Live],
    options: PlanOptions,
) -> None:
    partial = sorted(
        {seen.key for seen in (*tracked, *live.values()) if seen is not None and not seen.complete},
        key=order_key,
    )
    if partial:
        raise SafetyError(
            f"refusing to prune: the live state of {partial[0].display} was read only in part; "
            "nothing is pruned on a partial view",
            hint="retry once the target answers in full",
        )
    if prunable and not graph.has_objects and not options.allow_empty:
        raise SafetyError(
            f"refusing to prune {len(prunable)} objects: the render for app {app} is empty; "
            "set syncPolicy.automated.allowEmpty to true if the app should really be emptied",
            hint="check the source path and revision: an empty render usually means a wrong path",
        )


def prune_waves(
    prunable: Iterable[Live], graph: ResourceGraph, options: PlanOptions
) -> dict[int, tuple[Live, ...]]:
    """The objects to prune by the wave number they run in, in the order they
    are deleted (see the module docstring)."""
    by_wave: dict[int, list[Live]] = {}
    last: list[Live] = []
    every_number = [s.wave for s in graph.stages if s.phase is HookPhase.SYNC]
    for seen in prunable:
        try:
            number = parse_sync_wave(seen.annotations, subject=seen.key.display)
        except ValidationError:
            number = 0  # it was applied with a valid wave; someone edited it live
        every_number.append(number)
        if options.prune_last or "PruneLast=true" in parse_sync_options(seen.annotations):
            last.append(seen)
        else:
            by_wave.setdefault(number, []).append(seen)

    numbers = sorted(by_wave)
    swapped = dict(zip(numbers, reversed(numbers), strict=True))
    result: dict[int, list[Live]] = {swapped[n]: by_wave[n] for n in numbers}
    if last:
        # Like Argo CD: one past the last Sync wave, counting the prunes' own waves.
        result.setdefault(max([*every_number, 0]) + 1, []).extend(last)
    return {
        number: tuple(sorted(items, key=lambda s: order_key(s.key), reverse=True))
        for number, items in sorted(result.items())
    }

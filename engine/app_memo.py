"""The plan memo (``plan_memo``, big apps only): the digest of each desired
object, kept beside the render's graph, and whether the memo a plan found
needs writing again. The digests are taken for every app: the pre-flight
keeps under them what passed its schema check (``validate.preflight``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitwave.engine import plan_memo
from gitwave.engine.graph import ResourceGraph
from gitwave.engine.graph_cache import graph_files
from gitwave.engine.model import Action, Owner, Plan, ResourceKey
from gitwave.engine.plan_memo import desired_digest

if TYPE_CHECKING:
    from gitwave.engine.app_pipeline import Desired


def desired_digests(
    desired: Desired,
    graph: ResourceGraph,
    ignore: Mapping[ResourceKey, tuple[str, ...]],
    owner: Owner,
) -> dict[ResourceKey, str]:
    """Each object's ``desired_digest``; kept beside the render's graph
    (``graph_cache``), whose key holds the manifests they hash, with the owner
    and ignore rules: an unchanged render does not hash 10,000 objects again.
    An object whose references were bound since (it is not the object the
    graph was built from) is hashed anew."""
    unbound = desired.graph.resources
    files = graph_files()
    key_text = ""
    kept = None
    if desired.key:
        rules = sorted((str(k), list(v)) for k, v in ignore.items() if v)
        # The scope only when set: the command line's cached digests stay valid.
        who = (owner.app, owner.source, *((owner.scope,) if owner.scope else ()))
        key_text = repr(("digests", plan_memo.FORMAT, desired.key, *who, rules))
        kept = files.load_digests(key_text, len(graph.resources))
    found: dict[ResourceKey, str] = {}
    for position, (key, resource) in enumerate(graph.resources.items()):
        if kept is not None and kept[position] and resource is unbound.get(key):
            found[key] = kept[position]
        else:
            found[key] = desired_digest(resource, ignore=ignore.get(key, ()), owner=owner)
    if kept is None and key_text:
        # Only digests of the objects as rendered: a bound object's digest would
        # stand, in a process that cannot bind it, for the object unbound.
        files.save_digests(
            key_text,
            [found[k] if r is unbound.get(k) else "" for k, r in graph.resources.items()],
        )
    return found


def memo_unchanged(plan: Plan, known: frozenset[ResourceKey], before: Mapping[str, Any]) -> bool:
    """True when the plan found in sync exactly the objects the memo vouched
    for, and the memo holds no others: ``memo_entries`` would give ``before``
    back (each vouched entry is its two digests), so it is not built (it
    names 10,000 keys as text)."""
    if len(known) != len(before):
        return False
    in_sync = [task.key for task in plan.tasks() if task.action is Action.NONE]
    return len(in_sync) == len(known) and known.issuperset(in_sync)

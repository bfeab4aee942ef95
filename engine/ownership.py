"""Who owns a live object, and what a plan may do with it: pure rules over
tracking ids, for the plan stage.

An app's owner is its name and a digest of its source (``model.Owner``), and
for the controller's apps where the name is unique (``Kind/namespace``). A
live object the plan would update, or that carries this app's label, belongs
to one of four parties:

- this app (its exact tracking id): updated and, once gone from the source,
  pruned;
- this app in the form an older gitwave wrote: the name alone (no source), or
  for a controller app the name and source without the scope. Counted as this
  app's so that upgrading breaks nothing; the next sync rewrites the tracking
  id in the new form, after which only this app owns it. A command-line app
  prunes its name-only objects; a controller app prunes none of the older form,
  since a namesake in another namespace wrote the very same value;
- a controller app before its repository or path was edited (same scope and
  name, another source): its name is unique in the cluster, so these are
  its objects, rewritten on the next sync and pruned once gone from the new
  source, as Argo CD tracks an app by its instance;
- nobody (no tracking id: made by hand, or by ``CreateNamespace``): adopted on
  apply, as Argo CD does with objects that lack its tracking annotation, never
  pruned;
- another owner (another name, the same name from another repository or
  path, or the same name in another scope): never updated, never pruned.
  Planning fails naming both apps (Argo CD's SharedResourceWarning made an
  error, its ``FailOnSharedResource=true`` by default) unless the user adopts
  them (``--adopt``). A namesake's object in another scope that this app does
  not render is no business of this app's at all (``namesake_elsewhere``).

What a prune leaves alone although it is this app's: objects marked
``Prune=false`` (Argo CD), and the kinds whose deletion takes more with it
(Namespaces: everything in them; CustomResourceDefinitions: every custom
resource of theirs; PersistentVolumeClaims: their volume's data), unless the
object says ``Prune=true`` or the app opts in with the sync option
``PruneProtectedKinds=true``.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Collection, Iterable, Mapping

from gitwave.engine.errors import OwnershipError
from gitwave.engine.graph_facts import parse_sync_options
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    LABEL_APP,
    FieldChange,
    FieldOp,
    Live,
    Owner,
    Resource,
    ResourceKey,
)

__all__ = [
    "Claim",
    "check_owners",
    "claim_of",
    "is_prunable_by",
    "namesake_elsewhere",
    "not_prunable_reason",
    "protected_reason",
    "retrack_change",
    "tracked_resource",
]

# Kinds never pruned implicitly, and why.
_PROTECTED = {
    ("", "Namespace"): "Namespaces are not pruned implicitly: deleting one deletes "
    "everything in it",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "CustomResourceDefinitions are "
    "not pruned implicitly: deleting one deletes all its custom resources",
    ("", "PersistentVolumeClaim"): "PersistentVolumeClaims are not pruned implicitly: "
    "deleting one can delete its volume's data",
}
PRUNE_HINT = "add the sync option Prune=true to the object, or PruneProtectedKinds=true to the app"


class Claim(enum.Enum):
    """Whose a live object is, as seen by one app."""

    OURS = "ours"
    LEGACY = "ours (tracking id of an older gitwave)"
    UNTRACKED = "untracked"
    OTHER = "another app's"

    @property
    def is_ours(self) -> bool:
        return self in (Claim.OURS, Claim.LEGACY)


def _older_forms(owner: Owner) -> tuple[Owner, ...]:
    """The owners an older gitwave wrote for ``owner``'s objects: the name alone;
    for a scoped app also the name and source (before scopes were recorded)."""
    if not owner.scope:
        return (Owner(owner.app),)
    return (Owner(owner.app), Owner(owner.app, owner.source))


def _earlier_source(found: Owner | None, owner: Owner) -> bool:
    """Whether ``found`` is scoped ``owner`` itself before its repository or
    path was edited: a scoped name is unique in the cluster (one Application
    ``team-a/web``), so whatever source it had, it was this app (Argo CD
    tracks an app by its instance, not its path)."""
    return (
        found is not None
        and bool(owner.scope)
        and found.scope == owner.scope
        and found.app == owner.app
        and found.source != owner.source
    )


def claim_of(seen: Live, owner: Owner) -> Claim:
    """Whose ``seen`` is, for ``owner`` (see the module docstring)."""
    found = Owner.of(seen.annotations)
    if found is None:
        return Claim.UNTRACKED
    if found == owner:
        return Claim.OURS
    if found in _older_forms(owner) or _earlier_source(found, owner):
        return Claim.LEGACY
    return Claim.OTHER


def is_prunable_by(seen: Live, owner: Owner, *, adopted: Collection[ResourceKey] = ()) -> bool:
    """Whether ``owner`` may prune ``seen``: its tracking id is exactly ``owner``'s
    for this very object (or, for an app without scope, the name-only form of
    it), or the user adopted it. An annotation copied from another object is
    not enough; nor is an older form a scoped app's namesakes share."""
    value = seen.annotations.get(ANNOTATION_TRACKING_ID)
    if value == owner.tracking_id(seen.key):
        return True
    if not owner.scope and value == Owner(owner.app).tracking_id(seen.key):
        return True
    found = Owner.of(seen.annotations)
    if _earlier_source(found, owner) and found is not None and value == found.tracking_id(seen.key):
        return True
    return seen.key in adopted and Owner.of(seen.annotations) is not None


def namesake_elsewhere(seen: Live, owner: Owner) -> bool:
    """Whether ``seen`` was applied by an app of ``owner``'s name in another
    scope (the same label, another app): a controller's ``web`` in another
    namespace, or the other of a command-line and a controller ``web``. Such
    objects are neither this app's to prune nor a conflict unless this app
    renders them (then ``check_owners`` refuses them)."""
    found = Owner.of(seen.annotations)
    return (
        found is not None
        and found.app == owner.app
        and found.scope != owner.scope
        and bool(found.scope or owner.scope)
        and found not in _older_forms(owner)
    )


def not_prunable_reason(seen: Live, owner: Owner) -> str:
    """Why a tracked object gone from the source is not ``owner``'s to prune."""
    found = Owner.of(seen.annotations)
    if owner.scope and found in _older_forms(owner):
        assert found is not None
        return (
            f"{seen.key.display} is not in the source; its tracking id is the older form "
            f"{found.who}, which every {owner.app} of this source in any namespace wrote, "
            f"so {owner.scope}/{owner.app} never prunes it; delete it by hand if no app "
            "renders it"
        )
    return (
        f"{seen.key.display} is not in the source but its tracking id is not {owner.app}'s; "
        "it is never pruned"
    )


def retrack_change(seen: Live, owner: Owner) -> FieldChange:
    """The change a sync makes to ``seen``'s tracking id when it takes the
    object over (older form, untracked, adopted): shown in the plan so an
    object whose fields are in sync is still applied once."""
    old = seen.annotations.get(ANNOTATION_TRACKING_ID)
    return FieldChange(
        f'metadata.annotations["{ANNOTATION_TRACKING_ID}"]',
        FieldOp.ADD if old is None else FieldOp.REPLACE,
        live=old,
        desired=owner.tracking_id(seen.key),
    )


def check_owners(
    owner: Owner,
    *,
    desired: Mapping[ResourceKey, Live | None],
    tracked: Iterable[Live],
    hooks: Collection[ResourceKey] = (),
    adopt: bool = False,
    source_label: str = "",
) -> tuple[ResourceKey, ...]:
    """The live objects of another owner that ``owner`` would touch: the desired
    objects (hooks aside, they are recreated under their own rules) and the
    objects labelled with ``owner``'s name whose tracking id names the same app
    (same scope) from another source (two apps of one name). Returns them,
    sorted, when ``adopt``; raises OwnershipError naming the first and both
    apps otherwise. ``source_label`` is this app's source as a user reads it.
    A scoped app's name is unique in its scope, so there are no two apps of one
    name to find: for it only the desired objects are checked (a namesake in
    another namespace is another app, refused only where this app renders its
    objects)."""
    foreign: dict[ResourceKey, Owner] = {}
    for key, seen in desired.items():
        if seen is None or key in hooks or claim_of(seen, owner) is not Claim.OTHER:
            continue
        found = Owner.of(seen.annotations)
        assert found is not None
        foreign[key] = found
    for seen in () if owner.scope else tracked:
        found = Owner.of(seen.annotations)
        if (
            found is not None
            and found.app == owner.app
            and not found.scope
            and found.source not in ("", owner.source)
            and seen.key not in desired
        ):
            foreign.setdefault(seen.key, found)
    keys = tuple(sorted(foreign))
    if not keys or adopt:
        return keys
    first = keys[0]
    more = f" (and {len(keys) - 1} more objects)" if len(keys) > 1 else ""
    where = f"{source_label}, id {owner.source}" if source_label else owner.source or "unknown"
    name = f"{owner.scope}/{owner.app}" if owner.scope else owner.app
    this = f"{name} (source {where})"
    raise OwnershipError(
        first,
        f"{first.display} is managed by {foreign[first]}; this app is {this}{more}",
        hint=_SCOPED_HINT if owner.scope else _HINT,
    )


_HINT = (
    "nothing was changed; give one of the two apps another name, or pass --adopt to take "
    "these objects over"
)
# The controller has no --adopt: an object is one app's, and another app that
# renders it is refused until the first lets it go (Argo CD's SharedResource).
_SCOPED_HINT = (
    "nothing was changed; two apps render this object: give this app another destination "
    "namespace or path, or delete the other app (or take the object out of its source and "
    "prune it) first"
)


def protected_reason(seen: Live, *, prune_protected: bool, removed_app: bool = False) -> str | None:
    """Why a prune leaves ``seen`` alone although it is this app's, or None.

    ``Prune=false`` always keeps it; so does ``Delete=false`` when the whole app
    is gone (``removed_app``: Argo CD keeps such objects when it deletes an
    app). A protected kind is kept unless the object says ``Prune=true`` or
    the app opts in (``prune_protected``)."""
    options = parse_sync_options(seen.annotations)
    if "Prune=false" in options:
        return "its sync option Prune=false"
    if removed_app and "Delete=false" in options:
        return "its sync option Delete=false"
    reason = _PROTECTED.get((seen.key.group, seen.key.kind))
    if reason is None or prune_protected or "Prune=true" in options:
        return None
    return f"{reason}; {PRUNE_HINT}"


def tracked_resource(resource: Resource, owner: Owner | str) -> Resource:
    """A copy of ``resource`` carrying the app's label and exact tracking id
    (an app name alone writes the tracking id without a source)."""
    if isinstance(owner, str):
        owner = Owner(owner)
    manifest = copy.deepcopy(resource.manifest)
    meta = manifest.setdefault("metadata", {})
    meta.setdefault("labels", {})[LABEL_APP] = owner.app
    meta.setdefault("annotations", {})[ANNOTATION_TRACKING_ID] = owner.tracking_id(resource.key)
    return Resource(
        resource.key,
        resource.api_version,
        manifest,
        resource.source,
        masked_values=resource.masked_values,
    )

"""Which child apps each app of apps held: what lets a plan find the objects
of a child that was removed from its parent's render (issue 10 item 12).

A child is recorded under its parent's owner (``name@source``) each time it is
synced, and forgotten once its objects are pruned (or, without Argo CD's
resources-finalizer, left running). The table lives in the history database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gitwave.engine.apps import AppKind, AppSpec, SyncPolicy
from gitwave.engine.apps.model import Location, app_set_scope
from gitwave.engine.model import Owner, Plan
from gitwave.engine.store import Database, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_children (
    parent TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    cascade INTEGER NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    destination TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (parent, owner)
);
"""


@dataclass(frozen=True, slots=True)
class ChildRecord:
    """A child app an app of apps held when the child was last synced: its
    owner (``name@source``), name, and whether it carried the resources-finalizer."""

    owner: str
    name: str
    cascade: bool
    # Where its parent, an ApplicationSet, is defined (``AppSpec.set_scope``; ""
    # for other parents) and the cluster the child went to ("" or ``in-cluster``:
    # the current target): what prunes it once the set itself is gone.
    scope: str = ""
    destination: str = ""


class ChildrenStore(Database):
    """The children of apps of apps, in the history database. Thread-safe."""

    _SCHEMA = _SCHEMA
    _WHAT = "the app of apps records"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with self._tx() as db:
            # Records an older gitwave made lack the newer columns.
            columns = {row[1] for row in db.execute("PRAGMA table_info(app_children)")}
            for column in ("scope", "destination"):
                if column not in columns:
                    db.execute(
                        f"ALTER TABLE app_children ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
                    )

    @classmethod
    def beside(cls, store: Store) -> ChildrenStore:
        """The records kept in ``store``'s database file."""
        return cls(store.path)

    def remember(self, parent: str, child: ChildRecord) -> None:
        """Record that the app of apps ``parent`` (its owner) holds ``child``."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO app_children"
                " (parent, owner, name, cascade, scope, destination) VALUES (?,?,?,?,?,?)",
                (
                    parent,
                    child.owner,
                    child.name,
                    int(child.cascade),
                    child.scope,
                    child.destination,
                ),
            )

    def children(self, parent: str) -> list[ChildRecord]:
        """The children recorded for the app of apps ``parent`` (its owner), by name."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT owner, name, cascade, scope, destination FROM app_children"
                " WHERE parent = ? ORDER BY name, owner",
                (parent,),
            ).fetchall()
        return [ChildRecord(o, n, bool(c), sc, d) for o, n, c, sc, d in rows]

    def set_children(self) -> list[tuple[str, ChildRecord]]:
        """``(parent, child)`` for every child an ApplicationSet generated (its
        record has a scope), by parent then name."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT parent, owner, name, cascade, scope, destination FROM app_children"
                " WHERE scope != '' ORDER BY parent, name, owner"
            ).fetchall()
        return [(p, ChildRecord(o, n, bool(c), sc, d)) for p, o, n, c, sc, d in rows]

    def forget(self, parent: str, owner: str) -> None:
        """Drop the record of a child that is gone: its objects pruned, or left running."""
        with self._tx() as db:
            db.execute("DELETE FROM app_children WHERE parent = ? AND owner = ?", (parent, owner))


def owner_text(owner: Owner) -> str:
    """``[scope/]name@source``: how an owner is recorded (``Owner.parse`` reads it)."""
    return owner.who


def removed_children(
    apps: Sequence[AppSpec], records: ChildrenStore, *, only: Collection[str] = ()
) -> list[AppSpec]:
    """The child apps recorded under an app of apps among ``apps`` (a flattened
    tree) that no app of ``apps`` is any more, as apps without a render: their
    plan holds only the objects they left. A child that moved to another parent
    of the tree is still there (same owner). With ``only``, the removed children
    of those apps, or of those names.

    Each follows its parent's prune policy (Argo CD: the parent prunes the child
    Application, and its resources-finalizer deletes the child's objects). When
    the parent holds no child at all any more, its render may be wrong (a bad
    path): the children's objects are then pruned only if the parent allows an
    empty render (``allowEmpty``)."""
    present = {owner_text(app.owner) for app in apps}
    removed: list[AppSpec] = []
    for parent in apps:
        for record in records.children(owner_text(parent.owner)):
            if record.owner in present:
                continue
            if only and parent.name not in only and record.name not in only:
                continue
            recorded = Owner.parse(record.owner)
            removed.append(
                _at_recorded_destination(
                    replace(
                        parent,
                        name=recorded.app,
                        kind=AppKind.ARGO,
                        children=(),
                        depends_on=(),
                        health_checks=(),
                        ignore_differences=(),
                        policy=replace(
                            parent.policy,
                            allow_empty=bool(parent.children) or parent.policy.allow_empty,
                            prune_last=False,
                        ),
                        parent=owner_text(parent.owner),
                        cascade=record.cascade,
                        removed_from=parent.name,
                        owner_source=recorded.source,
                        set_scope=record.scope,
                    ),
                    record,
                )
            )
    return removed


def removed_set_children(
    apps: Sequence[AppSpec],
    records: ChildrenStore,
    *,
    location: Location | None,
    broken: Collection[str] = (),
    only: Collection[str] = (),
    partial: bool = False,
) -> list[AppSpec]:
    """The apps generated by an ApplicationSet that is gone: its top-level file
    deleted from ``location`` (or the set taken out of it), or the set gone from
    the render of an app of apps among ``apps`` (a flattened tree). Argo CD
    deletes such a set's Applications, and their objects unless the set said
    ``preserveResourcesOnDeletion`` (recorded per child as ``cascade``).

    A set that is in ``broken`` (by name), whose file is, or whose app of apps
    is, failed to load: its apps are unknown, not removed, and are left alone
    (nothing is pruned on a partial view); so are the sets of ``location`` when
    it is ``partial`` (a definition there could not be read: the set may have
    moved into it). With ``only``, the apps of those sets, or of those names."""
    present = {owner_text(app.owner) for app in apps}
    holders = {
        app_set_scope(owner_text(app.owner)): app
        for app in apps
        if app.name not in broken and app.kind is not AppKind.APPSET
    }
    removed: list[AppSpec] = []
    for parent, record in records.set_children():
        if parent in present or record.owner in present:
            continue  # the set is here (its own removed elements are found above), or moved
        set_name = Owner.parse(parent).app
        holder = holders.get(record.scope)
        in_location = location is not None and not partial and location.covers(record.scope)
        if holder is None and not in_location:
            continue  # another location's set, or one whose app of apps is broken or gone
        set_file = location.set_file(record.scope) if location is not None else ""
        if set_name in broken or (set_file and _file_broken(set_file, broken)):
            continue
        if only and set_name not in only and record.name not in only:
            continue
        recorded = Owner.parse(record.owner)
        where = holder.source if holder is not None else location.source if location else None
        if where is None:
            continue
        removed.append(
            _at_recorded_destination(
                AppSpec(
                    name=recorded.app,
                    kind=AppKind.ARGO,
                    # Nothing of its own to render: it reads where its set was.
                    source=where,
                    # The set is deleted on purpose: its apps go with nothing left.
                    policy=SyncPolicy(automated=True, prune=True, allow_empty=True),
                    parent=parent,
                    cascade=record.cascade,
                    removed_from=set_name,
                    owner_source=recorded.source,
                    set_scope=record.scope,
                ),
                record,
            )
        )
    return removed


def _file_broken(file: str, broken: Collection[str]) -> bool:
    """True when the file, or a definition in it (named ``file:line`` when its
    name could not be read), failed to load."""
    return any(name == file or name.startswith(f"{file}:") for name in broken)


def _at_recorded_destination(app: AppSpec, record: ChildRecord) -> AppSpec:
    """A removed app bound for the cluster its objects went to, when recorded: its
    parent (a set) may generate apps for several clusters, or be gone."""
    if not record.destination:  # recorded by an older gitwave: the parent's destination
        return app
    return replace(app, destination_server="", destination_name=record.destination)


def note_sync(
    records: ChildrenStore, app: AppSpec, plan: Plan, *, ok: bool, destination: str = ""
) -> None:
    """Keep the records up to date after a real (not dry-run) sync of ``app``
    (to the cluster named ``destination``): a child is recorded under its parent;
    a removed child is forgotten once the sync leaves nothing of it to prune."""
    if app.removed_from:
        if ok and not plan.unpruned:
            records.forget(app.parent, owner_text(app.owner))
    elif app.parent:
        records.remember(
            app.parent,
            ChildRecord(owner_text(app.owner), app.name, app.cascade, app.set_scope, destination),
        )

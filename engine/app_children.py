"""Which child apps each app of apps held: what lets a plan find the objects
of a child that was removed from its parent's render (issue 10 item 12).

A child is recorded under its parent's owner (``name@source``) each time it is
synced, and forgotten once its objects are pruned (or, without Argo CD's
resources-finalizer, left running). The table lives in the history database.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.model import Owner, Plan
from gitwave.engine.store import Database, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_children (
    parent TEXT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    cascade INTEGER NOT NULL,
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


class ChildrenStore(Database):
    """The children of apps of apps, in the history database. Thread-safe."""

    _SCHEMA = _SCHEMA
    _WHAT = "the app of apps records"

    @classmethod
    def beside(cls, store: Store) -> ChildrenStore:
        """The records kept in ``store``'s database file."""
        return cls(store.path)

    def remember(self, parent: str, child: ChildRecord) -> None:
        """Record that the app of apps ``parent`` (its owner) holds ``child``."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO app_children (parent, owner, name, cascade)"
                " VALUES (?,?,?,?)",
                (parent, child.owner, child.name, int(child.cascade)),
            )

    def children(self, parent: str) -> list[ChildRecord]:
        """The children recorded for the app of apps ``parent`` (its owner), by name."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT owner, name, cascade FROM app_children WHERE parent = ?"
                " ORDER BY name, owner",
                (parent,),
            ).fetchall()
        return [ChildRecord(owner, name, bool(cascade)) for owner, name, cascade in rows]

    def forget(self, parent: str, owner: str) -> None:
        """Drop the record of a child that is gone: its objects pruned, or left running."""
        with self._tx() as db:
            db.execute("DELETE FROM app_children WHERE parent = ? AND owner = ?", (parent, owner))


def owner_text(owner: Owner) -> str:
    """``name@source``: how an owner is recorded."""
    return f"{owner.app}@{owner.source}" if owner.source else owner.app


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
            name, _, source = record.owner.partition("@")
            removed.append(
                replace(
                    parent,
                    name=name,
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
                    owner_source=source,
                )
            )
    return removed


def note_sync(records: ChildrenStore, app: AppSpec, plan: Plan, *, ok: bool) -> None:
    """Keep the records up to date after a real (not dry-run) sync of ``app``: a
    child is recorded under its parent; a removed child is forgotten once the
    sync leaves nothing of it to prune."""
    if app.removed_from:
        if ok and not plan.unpruned:
            records.forget(app.parent, owner_text(app.owner))
    elif app.parent:
        records.remember(app.parent, ChildRecord(owner_text(app.owner), app.name, app.cascade))

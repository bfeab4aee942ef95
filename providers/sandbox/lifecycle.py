"""The sandbox API server's write path: how an object is created, updated,
settled and deleted.

Apply and update as a field manager (an apply that would take fields from
another applier fails naming them, unless forced), resource versions, uids and generations,
server defaults and allocations, the simulated controllers' started and
settled status and the children they own, and deletion with its propagation
(owned objects, a Namespace's contents, a CRD's custom resources) and
``finalizers`` (an object with some stays Terminating until they are removed). The caller
(``SandboxProvider``) holds the lock and opens the write transaction.
One class: these steps share the one write transaction and each depends on
the previous one's result. What is checked before a write is elsewhere: the
manifest apply reads (``defaults.desired_manifest``), whether the kind is
served in that scope (``kinds.served_kind``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitwave.engine.api import clone
from gitwave.engine.errors import FieldConflictError
from gitwave.engine.model import (
    ChangeAction,
    ChangeSetEntry,
    Live,
    Manifest,
    Propagation,
    ResourceKey,
)

from .controllers import Controller, Rollout, StatusContext, controller_for
from .controllers.base import merged_child, rfc3339
from .defaults import Allocator, DefaultContext, apply_defaults, candidate_values
from .fields import apply_as, apply_conflicts, dotted, touch, update_as
from .finalizers import (
    finalizers_of,
    finish_delete,
    is_deleting,
    refuse_new_finalizers,
    remove_or_mark,
)
from .kinds import is_crd, kind_from_crd, served_kind
from .schema import Row
from .sealed import SealedSecretController, is_sealed_secret
from .store import Store
from .validation import Validation

if TYPE_CHECKING:
    from .analysis import Fetch
    from .controllers.rollouts import Moment

GITWAVE_MANAGER = "gitwave"
CONTROLLER_MANAGER = "sandbox-controller"
BOOTSTRAP_MANAGER = "sandbox-bootstrap"

# Namespaces every fresh sandbox has, as every real cluster does.
BOOTSTRAP_NAMESPACES = ("default", "kube-system")

_NOT_SPEC = frozenset({"metadata", "status", "apiVersion", "kind"})


def _new_uid() -> str:
    import uuid  # with platform, 15 ms of a start that may create nothing

    return str(uuid.uuid4())


def _spec_part(manifest: Manifest) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata and status."""
    return {k: v for k, v in manifest.items() if k not in _NOT_SPEC}


def _identity(key: ResourceKey) -> dict[str, str]:
    return {"name": key.name, "namespace": key.namespace} if key.namespace else {"name": key.name}


def _bumps_generation(old: Manifest, new: Manifest) -> bool:
    """Generation counts changes of ``spec``; a ConfigMap's data, a Role's rules
    or any metadata change leave it alone, as on a real API server."""
    return old.get("spec") != new.get("spec")


def _two_phase_status(controller: Controller, obj: Manifest, phase: Rollout, at: float) -> Manifest:
    """What a controller that is not stepped writes at ``phase`` (its previous status given)."""
    previous = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    return controller.status(obj, StatusContext(phase, rfc3339(at), previous or {}))


class Lifecycle:
    """Writes objects into ``store`` as the API server and its controllers would.

    ``rollout_seconds`` is how long simulated controllers take to settle a
    change; ``clock`` tells the time. Not thread-safe: the provider serialises
    calls and wraps writes in ``store.write()``.
    """

    def __init__(
        self,
        store: Store,
        *,
        rollout_seconds: float,
        clock: Callable[[], float],
        sealed_secrets: SealedSecretController | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        self._store = store
        # The HTTP GETs of Rollout analysis (None: ``analysis.http_get``, loaded with a Rollout).
        self._fetch = fetch
        self._rollout = rollout_seconds
        self._clock = clock
        self._sealed_secrets = sealed_secrets  # the sandbox plays the sealed-secrets controller
        self.validation = Validation(store)

    def _allocator(self, key: ResourceKey, *, reserve: bool) -> Allocator:
        def allocate(pool: str, *, seed: str, requested: str | None = None) -> str:
            return self._store.allocate(
                pool,
                owner=str(key),
                seed=seed,
                candidates=candidate_values(pool, seed),
                requested=requested,
                reserve=reserve,
            )

        return allocate

    def apply(
        self,
        key: ResourceKey,
        api_version: str,
        desired: Manifest,
        now: float,
        *,
        dry_run: bool,
        force: bool = False,
        manager: str = GITWAVE_MANAGER,
    ) -> ChangeSetEntry:
        """Server-side apply of ``desired`` as ``manager``. Raises
        FieldConflictError, changing nothing, when it would take fields another
        applier owns and ``force`` is off."""
        served_kind(self._store, key, api_version)
        crd_kind = kind_from_crd(key, desired) if is_crd(key.group, key.kind) else None
        row = self._store.get(key)
        live: Manifest = (
            row.manifest
            if row is not None
            else {"apiVersion": api_version, "kind": key.kind, "metadata": _identity(key)}
        )
        stamp = rfc3339(now)
        if row is not None and not force:
            conflicts = apply_conflicts(row.manifest, desired, manager=manager)
            if conflicts:
                raise FieldConflictError(key, [(dotted(path), who) for path, who in conflicts])
        new = apply_as(live, desired, manager=manager, time=stamp)
        apply_defaults(new, DefaultContext(key, self._allocator(key, reserve=not dry_run)))
        if row is not None and new == row.manifest:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, live=row.live())
        if row is not None:
            refuse_new_finalizers(key, row.manifest, new)
            self.validation.check_update(key, api_version, row.manifest, new)
        touch(new, manager=manager, time=stamp)
        spec_changed = row is None or _spec_part(row.manifest) != _spec_part(new)
        action = ChangeAction.CREATED if row is None else ChangeAction.CONFIGURED
        if dry_run:
            meta = new["metadata"]
            if row is None:
                meta.update(uid=_new_uid(), creationTimestamp=stamp, generation=1)
            elif _bumps_generation(row.manifest, new):
                meta["generation"] = int(meta.get("generation") or 0) + 1
            return ChangeSetEntry(key, action, live=Live(key, new, str(row.rv) if row else ""))
        saved = self._save(key, new, row, spec_changed=spec_changed, now=now)
        if is_deleting(new) and not finalizers_of(new):
            self._finish_delete(saved)
            return ChangeSetEntry(key, action, "its last finalizer is gone: deleted")
        if crd_kind is not None:
            self._store.unregister_crd(key.name)
            self._store.register_kind(crd_kind)
        return ChangeSetEntry(key, action, live=saved.live())

    def update(
        self, key: ResourceKey, row: Row, obj: Manifest, *, manager: str, now: float
    ) -> ChangeSetEntry:
        """Write a whole object as ``manager`` (operation Update)."""
        stamp = rfc3339(now)
        apply_defaults(obj, DefaultContext(key, self._allocator(key, reserve=True)))
        new = update_as(row.manifest, obj, manager=manager, time=stamp)
        if new == row.manifest:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, live=row.live())
        refuse_new_finalizers(key, row.manifest, new)
        spec_changed = _spec_part(row.manifest) != _spec_part(new)
        saved = self._save(key, new, row, spec_changed=spec_changed, now=now)
        if is_deleting(new) and not finalizers_of(new):
            # Removing the last finalizer completes the delete asked for before.
            self._finish_delete(saved)
            return ChangeSetEntry(key, ChangeAction.DELETED, "its last finalizer is gone: deleted")
        return ChangeSetEntry(key, ChangeAction.CONFIGURED, live=saved.live())

    def _moment(self, now: float, ready_at: float | None) -> Moment:
        from .analysis import http_get  # only a Rollout steps
        from .controllers.rollouts import Moment, run_analysis

        def analysis(obj: Manifest, step: Any) -> Any:
            def lookup(key: ResourceKey) -> Manifest | None:
                row = self._store.get(key)
                return row.manifest if row is not None else None

            return run_analysis(obj, step, lookup=lookup, fetch=self._fetch or http_get)

        return Moment(now, ready_at, self._rollout, analysis)

    def _save(
        self,
        key: ResourceKey,
        obj: Manifest,
        old: Row | None,
        *,
        spec_changed: bool,
        now: float,
        status_changed: bool = False,
    ) -> Row:
        """Store ``obj`` with a new resource version; when its spec changed, let
        its controller write the started status and reconcile its children."""
        meta = obj.setdefault("metadata", {})
        meta["name"] = key.name
        if key.namespace:
            meta["namespace"] = key.namespace
        if old is None:
            meta["uid"] = _new_uid()
            meta["creationTimestamp"] = rfc3339(now)
            meta["generation"] = 1
        else:
            meta["uid"] = old.uid
            meta["creationTimestamp"] = old.manifest["metadata"].get("creationTimestamp")
            generation = int(old.manifest["metadata"].get("generation") or 1)
            meta["generation"] = (
                generation + 1 if _bumps_generation(old.manifest, obj) else generation
            )
        rv = self._store.next_rv()
        meta["resourceVersion"] = str(rv)
        settle_at = old.settle_at if old is not None else None
        controller = controller_for(key.group, key.kind)
        run = controller is not None and (
            old is None or spec_changed or (status_changed and controller.advance is not None)
        )
        if controller is not None and run and controller.advance is not None:
            status, settle_at = controller.advance(
                obj, self._moment(now, old.settle_at if old is not None else None)
            )
            obj["status"] = status
        elif controller is not None and run:
            settles = controller.settles(obj) and self._rollout > 0
            phase = Rollout.STARTED if settles else Rollout.SETTLED
            obj["status"] = _two_phase_status(controller, obj, phase, now)
            settle_at = now + self._rollout if settles else None
        unsealed = None
        if self._sealed_secrets is not None and is_sealed_secret(key.group, key.kind):
            held = self._store.get(ResourceKey("", "Secret", key.namespace, key.name))
            unsealed = self._sealed_secrets.reconcile(obj, held.manifest if held else None, now)
        row = self._store.put(key, obj, rv=rv, settle_at=settle_at)
        if controller is not None and run and controller.children is not None:
            self._reconcile_children(row, now)
        if unsealed is not None:
            self._write_child(ResourceKey.of(unsealed), unsealed, now)
        return row

    def _reconcile_children(self, owner: Row, now: float) -> None:
        controller = controller_for(owner.key.group, owner.key.kind)
        if controller is None or controller.children is None:
            return
        existing = self._store.children_of(owner.uid)
        wanted = {
            ResourceKey.of(child): child
            for child in controller.children(owner.manifest, [r.manifest for r in existing])
        }
        for row in existing:
            if row.key not in wanted:
                self.delete_tree(row, Propagation.BACKGROUND, now)
        for key, child in wanted.items():
            self._write_child(key, child, now)

    def _write_child(self, key: ResourceKey, child: Manifest, now: float) -> None:
        """Create or update an object a controller owns (as its field manager)."""
        apply_defaults(child, DefaultContext(key, self._allocator(key, reserve=True)))
        stamp = rfc3339(now)
        old = self._store.get(key)
        if old is None:
            obj = update_as({}, child, manager=CONTROLLER_MANAGER, time=stamp)
            self._save(key, obj, None, spec_changed=True, now=now)
            return
        obj = merged_child(old.manifest, child)
        if obj == old.manifest:
            return
        obj = update_as(old.manifest, obj, manager=CONTROLLER_MANAGER, time=stamp)
        spec_changed = _spec_part(old.manifest) != _spec_part(obj)
        self._save(key, obj, old, spec_changed=spec_changed, now=now)

    def settle(self, row: Row) -> Row:
        """Write the settled status of an object whose rollout time has come."""
        controller = controller_for(row.key.group, row.key.kind)
        settled_at = row.settle_at if row.settle_at is not None else self._clock()
        if controller is not None and controller.advance is not None:
            return self._step(row, controller.advance)
        if controller is None:
            return self._store.put(row.key, row.manifest, rv=row.rv, settle_at=None)
        obj = clone(row.manifest)
        obj["status"] = _two_phase_status(controller, obj, Rollout.SETTLED, settled_at)
        return self._put_status(row, obj, settle_at=None)

    def _step(self, row: Row, advance: Any) -> Row:
        """Walk a stepping controller through everything due by now: each step
        at the time it was due, so a read long after sees the whole walk."""
        now = self._clock()
        obj = clone(row.manifest)
        at = row.settle_at if row.settle_at is not None else now
        due: float | None = at
        for _ in range(1000):
            status, due = advance(obj, self._moment(at, due))
            obj["status"] = status
            if due is None or due > now:
                break
            at = due
        saved = self._put_status(row, obj, settle_at=due)
        if saved.rv != row.rv:
            self._reconcile_children(saved, at)
        return saved

    def _put_status(self, row: Row, obj: Manifest, *, settle_at: float | None) -> Row:
        """Store the status a controller wrote into ``obj`` (a copy of ``row``'s);
        a new resource version only when it changed something."""
        if obj == row.manifest:
            return self._store.put(row.key, row.manifest, rv=row.rv, settle_at=settle_at)
        rv = self._store.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        return self._store.put(row.key, obj, rv=rv, settle_at=settle_at)

    def patch_status(
        self, key: ResourceKey, row: Row, status: Manifest, *, manager: str, now: float
    ) -> ChangeSetEntry:
        """Write ``status`` (the status subresource) as ``manager``; a stepping
        controller reacts at once (a promote, an abort)."""
        obj = clone(row.manifest)
        obj["status"] = status
        if obj == row.manifest:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, live=row.live())
        obj = update_as(row.manifest, obj, manager=manager, time=rfc3339(now))
        saved = self._save(key, obj, row, spec_changed=False, now=now, status_changed=True)
        return ChangeSetEntry(key, ChangeAction.CONFIGURED, live=saved.live())

    def settle_due(self) -> None:
        # Every read asks; decoding the due rows only to see whether there are
        # any was most of a fleet's reads.
        if not self._store.any_due(self._clock()):
            return
        with self._store.write():
            for row in self._store.due(self._clock()):
                self.settle(row)

    def delete_tree(self, row: Row, propagation: Propagation, now: float) -> int:
        """Remove ``row`` and what it owns; the number of dependents removed.
        An object with finalizers (or a Namespace with such objects in it) is
        only marked Terminating."""
        store = self._store
        removed = 0
        if row.key.group == "" and row.key.kind == "Namespace":
            for inner in store.in_namespace(row.key.name):
                removed += self._remove_or_mark(inner, now)
        if is_crd(row.key.group, row.key.kind):
            for group, kind in store.unregister_crd(row.key.name):
                for custom in store.of_kind(group, kind):
                    if store.exists(custom.key):
                        removed += 1 + self.delete_tree(custom, propagation, now)
        for child in store.children_of(row.uid):
            if propagation is Propagation.ORPHAN:
                self._orphan(child, owner_uid=row.uid, now=now)
            elif store.exists(child.key):
                removed += 1 + self.delete_tree(child, propagation, now)
        fresh = store.get(row.key)
        if fresh is not None:
            self._remove_or_mark(fresh, now)
        return removed

    def _remove_or_mark(self, row: Row, now: float) -> int:
        return remove_or_mark(self._store, row, stamp=rfc3339(now))

    def _finish_delete(self, row: Row) -> None:
        finish_delete(self._store, row)

    def _orphan(self, child: Row, *, owner_uid: str, now: float) -> None:
        obj = clone(child.manifest)
        meta = obj["metadata"]
        refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            meta["ownerReferences"] = refs
        else:
            meta.pop("ownerReferences", None)
        obj = update_as(child.manifest, obj, manager=CONTROLLER_MANAGER, time=rfc3339(now))
        self._save(child.key, obj, child, spec_changed=False, now=now)

    def bootstrap(self, now: float) -> None:
        for name in BOOTSTRAP_NAMESPACES:
            key = ResourceKey("", "Namespace", "", name)
            obj: Manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            apply_defaults(obj, DefaultContext(key, self._allocator(key, reserve=True)))
            obj = update_as({}, obj, manager=BOOTSTRAP_MANAGER, time=rfc3339(now))
            self._save(key, obj, None, spec_changed=True, now=now)

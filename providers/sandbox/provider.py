"""SandboxProvider: an embedded target that behaves like a Kubernetes API server.

It assigns uids, resource versions and generations, fills in server defaults,
tracks field managers like server-side apply, refuses objects in missing
namespaces and kinds no CRD registered, and runs simulated controllers whose
status depends on an injected clock (see ``controllers``). State lives in
SQLite (``store``), so the CLI in another process sees and changes the same
objects while a sync runs.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitwave.engine.api import ChangeFeed, Provider, health_of, is_cloud_group
from gitwave.engine.errors import ConflictError, ProviderError, UnreachableError
from gitwave.engine.model import (
    SERVER_METADATA_FIELDS,
    ChangeAction,
    ChangeSetEntry,
    Health,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)

from .controllers import Rollout, StatusContext, controller_for
from .defaults import Allocator, DefaultContext, apply_defaults, fold_string_data
from .fields import apply_as, clone, touch, update_as, without_nulls
from .kinds import ServedKind, builtin_kind, is_crd, kind_from_crd, unknown_kind_error
from .store import Row, Store, candidate_values

GITWAVE_MANAGER = "gitwave"
CONTROLLER_MANAGER = "sandbox-controller"
BOOTSTRAP_MANAGER = "sandbox-bootstrap"
STATE_FILE = "sandbox.db"

# Namespaces every fresh sandbox has, as every real cluster does.
BOOTSTRAP_NAMESPACES = ("default", "kube-system")


_SCALABLE = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")})


# Aliases: inside the class, ``list`` names the method.
LiveList = list[Live]
KeyList = list[ResourceKey]

_NOT_SPEC = frozenset({"metadata", "status", "apiVersion", "kind"})


def default_state_dir() -> Path:
    """Where the sandbox keeps its state: ``$GITWAVE_STATE``, else
    ``$XDG_STATE_HOME/gitwave``, else ``~/.local/state/gitwave``."""
    explicit = os.environ.get("GITWAVE_STATE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg:
        return Path(xdg) / "gitwave"
    return Path.home() / ".local" / "state" / "gitwave"


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(manifest: Manifest) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata and status."""
    return {k: v for k, v in manifest.items() if k not in _NOT_SPEC}


def _identity(key: ResourceKey) -> dict[str, str]:
    return {"name": key.name, "namespace": key.namespace} if key.namespace else {"name": key.name}


def _bumps_generation(old: Manifest, new: Manifest) -> bool:
    """Generation counts changes of ``spec``; a ConfigMap's data, a Role's rules
    or any metadata change leave it alone, as on a real API server."""
    return old.get("spec") != new.get("spec")


def _with_hint(error: ProviderError, hint: str) -> ProviderError:
    error.hint = hint
    return error


class SandboxProvider:
    """The embedded default target. Thread-safe; several processes may share a state dir.

    ``rollout_seconds`` is how long simulated controllers take to settle a
    change (a Deployment's pods becoming ready, a Job completing); ``clock``
    tells the time, so tests can move it by hand.
    """

    name = "sandbox"

    def __init__(
        self,
        state_dir: Path,
        *,
        rollout_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._rollout = max(float(rollout_seconds), 0.0)
        self._clock = clock
        self._lock = threading.RLock()
        self._live_cache: dict[ResourceKey, tuple[int, Live]] = {}
        # Threads waiting for the lock: while there are some, commits are grouped.
        self._queue_lock = threading.Lock()
        self._queued = 0
        self._store = Store(self.state_dir / STATE_FILE)
        with self._guard(), self._store.write():
            if self._store.current_rv() == 0:
                self._bootstrap(self._clock())

    def close(self) -> None:
        """Close the database; the provider is unusable afterwards."""
        with self._lock:
            self._store.close()

    def __enter__(self) -> SandboxProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group every write of this provider (from any thread) into one commit.

        Makes bulk applies fast. While the batch is open, other processes wait
        to write (they still read); a failed operation inside it is rolled back
        on its own, and an exception out of the block rolls back everything."""
        with self._guard():
            self._store.begin_batch()
        committed = False
        try:
            yield
            committed = True
        finally:
            with self._guard():
                self._store.end_batch(commit=committed)

    # ------------------------------------------------------------ Provider protocol

    def handles(self, api_version: str, kind: str) -> bool:
        """Every Kubernetes-shaped kind except cloud resources (another provider's)."""
        group = api_version.rpartition("/")[0]
        return bool(kind) and not is_cloud_group(group)

    def observe(self, key: ResourceKey) -> Live | None:
        """The live object, or None when it does not exist."""
        with self._guard():
            row = self._store.get(key)
            if row is None:
                return None
            now = self._clock()
            if row.settle_at is not None and now >= row.settle_at:
                with self._store.write():
                    fresh = self._store.get(key)
                    if fresh is not None and fresh.settle_at is not None:
                        fresh = self._settle(fresh)
                    row = fresh
            return row.live() if row is not None else None

    def observe_many(self, keys: Iterable[ResourceKey]) -> dict[ResourceKey, Live | None]:
        """``observe`` for many keys in one read (a plan of 10,000 objects)."""
        wanted = list(keys)
        with self._guard():
            self._settle_due()
            versions = self._store.versions(wanted)
            # Decoding stored JSON is most of a no-op re-plan; an object whose
            # resourceVersion did not move is the same object, so reuse it.
            cache = self._live_cache
            misses = [k for k, rv in versions.items() if k not in cache or cache[k][0] != rv]
            for key, row in self._store.get_many(misses).items():
                cache[key] = (row.rv, row.live())
            current = {
                key: cache[key][1]
                for key, rv in versions.items()
                if key in cache and cache[key][0] >= rv
            }
        return {key: current.get(key) for key in wanted}

    def tracked_keys(self, app: str) -> list[ResourceKey]:
        """The keys ``list_tracked`` would return, without reading the objects."""
        with self._guard():
            return self._store.keys(app=app)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        """Server-side apply as field manager ``gitwave`` (with force).

        Returns created, configured or unchanged (the resource version is then
        not bumped). Raises ProviderError for an unknown kind, a missing
        namespace, or a manifest the API server would reject."""
        key = resource.key
        desired = self._desired(resource)
        with self._guard():
            now = self._clock()
            if dry_run:
                return self._apply(key, resource.api_version, desired, now, dry_run=True)
            with self._store.write():
                return self._apply(key, resource.api_version, desired, now, dry_run=False)

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        """Delete the object. Foreground and background delete what it owns
        (recursively: Deployment → ReplicaSets → Pods); orphan leaves them and
        removes their owner references. A Namespace takes everything in it, a
        CRD all its custom resources."""
        with self._guard(), self._store.write():
            row = self._store.get(key)
            if row is None:
                return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent")
            dependents = self._delete_tree(row, propagation, self._clock())
        message = f"deleted with {dependents} dependents" if dependents else "deleted"
        return ChangeSetEntry(key, ChangeAction.DELETED, message=message)

    def health(self, live: Live) -> Health:
        return health_of(live.manifest)

    def list_tracked(self, app: str) -> LiveList:
        """Objects labelled ``gitwave.dev/app: <app>``, sorted by key."""
        with self._guard():
            self._settle_due()
            return [row.live() for row in self._store.query(app=app)]

    # ------------------------------------------------------------ sandbox-only reads

    def list(self, *, kind: str | None = None, namespace: str | None = None) -> LiveList:
        """Objects of ``kind`` (case-insensitive) in ``namespace``; None means all.
        Sorted by group, kind, namespace, name."""
        with self._guard():
            self._settle_due()
            return [r.live() for r in self._store.query(kind=kind, namespace=namespace)]

    def namespaces(self) -> set[str]:
        with self._guard():
            return self._store.namespaces()

    def changes_since(self, resource_version: str) -> tuple[str, LiveList]:
        """The current resource version and every object written after
        ``resource_version`` ("" or "0": all), oldest change first. Poll with the
        returned version to see only newer changes; see ``deletions_since``."""
        since = self._parse_rv(resource_version)
        with self._guard(), self._store.write():
            self._settle_due()
            rows = self._store.changed_after(since)
            return str(self._store.current_rv()), [r.live() for r in rows]

    def deletions_since(self, resource_version: str) -> tuple[str, KeyList]:
        """The current resource version and the keys deleted after ``resource_version``."""
        since = self._parse_rv(resource_version)
        with self._guard(), self._store.write():
            deleted = self._store.deleted_after(since)
            return str(self._store.current_rv()), [key for _, key in deleted]

    # ------------------------------------------------------------ change feed

    def changes(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        """The ChangeFeed capability: the new cursor (the current resource
        version) and the keys of the objects created, changed (a settled
        status too) or deleted after ``cursor``; ``""`` starts the feed with
        the current cursor and no keys. The keys are never None: deletions are
        kept as tombstones, so no cursor is too old. ProviderError for a
        cursor that is not a resource version."""
        if not cursor:
            with self._guard(), self._store.write():
                return str(self._store.current_rv()), frozenset()
        since = self._parse_rv(cursor)
        # One transaction: the cursor returned is the version both reads saw,
        # so a change lands in exactly one answer.
        with self._guard(), self._store.write():
            self._settle_due()
            changed = self._store.changed_keys_after(since)
            deleted = self._store.deleted_after(since)
            current = str(self._store.current_rv())
        return current, frozenset(changed) | frozenset(key for _, key in deleted)

    # ------------------------------------------------------------ out-of-band writes

    def scale(self, key: ResourceKey, replicas: int, *, manager: str = "kubectl") -> ChangeSetEntry:
        """Set ``spec.replicas`` as field manager ``manager`` (``kubectl scale``).

        Bumps the generation and restarts the rollout. Raises ProviderError for
        a kind that does not scale, a negative count or a missing object."""
        if (key.group, key.kind) not in _SCALABLE:
            raise ProviderError(key, "only Deployments, StatefulSets and ReplicaSets can be scaled")
        if replicas < 0:
            raise ProviderError(key, f"replicas must be 0 or more, not {replicas}")
        with self._guard(), self._store.write():
            row = self._existing(key)
            obj = clone(row.manifest)
            obj.setdefault("spec", {})["replicas"] = replicas
            return self._update(key, row, obj, manager=manager, now=self._clock())

    def replace_live(
        self, key: ResourceKey, manifest: Manifest, *, manager: str = "kubectl-edit"
    ) -> ChangeSetEntry:
        """Replace the object with ``manifest`` as ``manager`` writes it (``kubectl edit``).

        ``metadata.resourceVersion``, when set, must be the current one, else
        ConflictError. Status and server metadata cannot be edited. Raises
        ProviderError when the manifest changes kind, name or namespace."""
        self._check_same_object(key, manifest)
        with self._guard(), self._store.write():
            row = self._existing(key)
            wanted_rv = (manifest.get("metadata") or {}).get("resourceVersion")
            if wanted_rv not in (None, "") and str(wanted_rv) != str(row.rv):
                raise ConflictError(
                    key,
                    "the object has been modified; please apply your changes to the "
                    f"latest version and try again (edited version {wanted_rv}, "
                    f"current {row.rv})",
                )
            obj: Manifest = without_nulls(dict(manifest))
            meta = obj.setdefault("metadata", {})
            for field in SERVER_METADATA_FIELDS:
                meta.pop(field, None)
                if field in row.manifest["metadata"]:
                    meta[field] = clone(row.manifest["metadata"][field])
            obj.pop("status", None)
            if "status" in row.manifest:
                obj["status"] = clone(row.manifest["status"])
            if key.group == "" and key.kind == "Secret":
                fold_string_data(obj, key)
            crd_kind = kind_from_crd(key, obj) if is_crd(key.group, key.kind) else None
            entry = self._update(key, row, obj, manager=manager, now=self._clock())
            if crd_kind is not None:
                self._store.unregister_crd(key.name)
                self._store.register_kind(crd_kind)
            return entry

    # ------------------------------------------------------------ internals

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise threads; report database trouble as typed errors."""
        with self._queue_lock:
            self._queued += 1
        with self._lock:
            with self._queue_lock:
                self._queued -= 1
            try:
                try:
                    yield
                finally:
                    self._store.flush(more_coming=self._queued > 0)
            except sqlite3.OperationalError as exc:
                # Locked for too long, disk full, …: trying again later can help.
                raise UnreachableError(f"sandbox ({self.state_dir})", str(exc)) from exc
            except sqlite3.Error as exc:
                raise ProviderError(None, f"sandbox state is damaged: {exc}") from exc

    def _parse_rv(self, resource_version: str) -> int:
        try:
            return int(resource_version or 0)
        except ValueError:
            raise ProviderError(None, f"not a resource version: {resource_version!r}") from None

    def _existing(self, key: ResourceKey) -> Row:
        row = self._store.get(key)
        if row is None:
            raise ProviderError(key, "not found in the sandbox")
        return row

    def _check_same_object(self, key: ResourceKey, manifest: Manifest) -> None:
        meta = manifest.get("metadata")
        if not isinstance(meta, dict):
            raise ProviderError(key, "the edited object has no metadata")
        group = str(manifest.get("apiVersion", "")).rpartition("/")[0]
        edited = (group, manifest.get("kind"), meta.get("namespace") or "", meta.get("name"))
        if edited != (key.group, key.kind, key.namespace, key.name):
            raise _with_hint(
                ProviderError(
                    key,
                    "an edit cannot change apiVersion group, kind, name or namespace "
                    f"(the edited object is {edited[1]}/{edited[2] or '-'}/{edited[3]})",
                ),
                "to rename an object, create the new one and delete the old one",
            )

    def _desired(self, resource: Resource) -> Manifest:
        """The manifest as apply sees it: a private copy without nulls, status or
        server metadata, with identity taken from the key."""
        key = resource.key
        if str(resource.api_version).rpartition("/")[0] != key.group:
            raise ProviderError(
                key, f"apiVersion {resource.api_version!r} is not in API group {key.group!r}"
            )
        desired: Manifest = without_nulls(dict(resource.manifest))
        meta = desired.get("metadata")
        if not isinstance(meta, dict):
            raise ProviderError(key, "metadata must be a map")
        for field in SERVER_METADATA_FIELDS:
            meta.pop(field, None)
        meta["name"] = key.name
        if key.namespace:
            meta["namespace"] = key.namespace
        else:
            meta.pop("namespace", None)
        desired.pop("status", None)
        desired["apiVersion"] = resource.api_version
        desired["kind"] = key.kind
        if key.group == "" and key.kind == "Secret":
            fold_string_data(desired, key)
        return desired

    def _served(self, key: ResourceKey, api_version: str) -> ServedKind:
        served = builtin_kind(key.group, key.kind) or self._store.served_kind(key.group, key.kind)
        if served is None or not served.serves(api_version):
            raise unknown_kind_error(key, api_version)
        if served.scope.is_namespaced:
            if not key.namespace:
                raise _with_hint(
                    ProviderError(key, f"{key.kind} is namespaced; metadata.namespace is required"),
                    "set metadata.namespace or the application's destination namespace",
                )
            if not self._store.exists(ResourceKey("", "Namespace", "", key.namespace)):
                raise _with_hint(
                    ProviderError(key, f"namespace {key.namespace!r} does not exist"),
                    f"add a Namespace {key.namespace!r} to the repository (gitwave applies "
                    "it before what is in it) or create it in the sandbox first",
                )
        elif key.namespace:
            raise _with_hint(
                ProviderError(
                    key,
                    f"{key.kind} is cluster-scoped; it cannot be in namespace {key.namespace!r}",
                ),
                "remove metadata.namespace from this object",
            )
        return served

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

    def _apply(
        self, key: ResourceKey, api_version: str, desired: Manifest, now: float, *, dry_run: bool
    ) -> ChangeSetEntry:
        self._served(key, api_version)
        crd_kind = kind_from_crd(key, desired) if is_crd(key.group, key.kind) else None
        row = self._store.get(key)
        live: Manifest = (
            row.manifest
            if row is not None
            else {"apiVersion": api_version, "kind": key.kind, "metadata": _identity(key)}
        )
        stamp = rfc3339(now)
        new = apply_as(live, desired, manager=GITWAVE_MANAGER, time=stamp)
        apply_defaults(new, DefaultContext(key, self._allocator(key, reserve=not dry_run)))
        if row is not None and new == row.manifest:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, live=row.live())
        touch(new, manager=GITWAVE_MANAGER, time=stamp)
        spec_changed = row is None or _spec_part(row.manifest) != _spec_part(new)
        action = ChangeAction.CREATED if row is None else ChangeAction.CONFIGURED
        if dry_run:
            meta = new["metadata"]
            if row is None:
                meta.update(uid=str(uuid.uuid4()), creationTimestamp=stamp, generation=1)
            elif _bumps_generation(row.manifest, new):
                meta["generation"] = int(meta.get("generation") or 0) + 1
            return ChangeSetEntry(key, action, live=Live(key, new, str(row.rv) if row else ""))
        saved = self._save(key, new, row, spec_changed=spec_changed, now=now)
        if crd_kind is not None:
            self._store.unregister_crd(key.name)
            self._store.register_kind(crd_kind)
        return ChangeSetEntry(key, action, live=saved.live())

    def _update(
        self, key: ResourceKey, row: Row, obj: Manifest, *, manager: str, now: float
    ) -> ChangeSetEntry:
        """Write a whole object as ``manager`` (operation Update)."""
        stamp = rfc3339(now)
        apply_defaults(obj, DefaultContext(key, self._allocator(key, reserve=True)))
        new = update_as(row.manifest, obj, manager=manager, time=stamp)
        if new == row.manifest:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, live=row.live())
        spec_changed = _spec_part(row.manifest) != _spec_part(new)
        saved = self._save(key, new, row, spec_changed=spec_changed, now=now)
        return ChangeSetEntry(key, ChangeAction.CONFIGURED, live=saved.live())

    def _save(
        self, key: ResourceKey, obj: Manifest, old: Row | None, *, spec_changed: bool, now: float
    ) -> Row:
        """Store ``obj`` with a new resource version; when its spec changed, let
        its controller write the started status and reconcile its children."""
        meta = obj.setdefault("metadata", {})
        meta["name"] = key.name
        if key.namespace:
            meta["namespace"] = key.namespace
        if old is None:
            meta["uid"] = str(uuid.uuid4())
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
        run = controller is not None and (old is None or spec_changed)
        if controller is not None and run:
            settles = controller.settles(obj) and self._rollout > 0
            previous = obj.get("status") if isinstance(obj.get("status"), dict) else {}
            obj["status"] = controller.status(
                obj,
                StatusContext(
                    Rollout.STARTED if settles else Rollout.SETTLED, rfc3339(now), previous or {}
                ),
            )
            settle_at = now + self._rollout if settles else None
        row = self._store.put(key, obj, rv=rv, settle_at=settle_at)
        if controller is not None and run and controller.children is not None:
            self._reconcile_children(row, now)
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
                self._delete_tree(row, Propagation.BACKGROUND, now)
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
        obj = clone(old.manifest)
        meta = obj.setdefault("metadata", {})
        for field in ("labels", "annotations", "ownerReferences"):
            value = child["metadata"].get(field)
            if value:
                meta[field] = value
            else:
                meta.pop(field, None)
        obj["spec"] = child.get("spec", {})
        if obj == old.manifest:
            return
        obj = update_as(old.manifest, obj, manager=CONTROLLER_MANAGER, time=stamp)
        spec_changed = _spec_part(old.manifest) != _spec_part(obj)
        self._save(key, obj, old, spec_changed=spec_changed, now=now)

    def _settle(self, row: Row) -> Row:
        """Write the settled status of an object whose rollout time has come."""
        controller = controller_for(row.key.group, row.key.kind)
        settled_at = row.settle_at if row.settle_at is not None else self._clock()
        if controller is None:
            return self._store.put(row.key, row.manifest, rv=row.rv, settle_at=None)
        obj = clone(row.manifest)
        previous = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        obj["status"] = controller.status(
            obj, StatusContext(Rollout.SETTLED, rfc3339(settled_at), previous or {})
        )
        if obj == row.manifest:
            return self._store.put(row.key, row.manifest, rv=row.rv, settle_at=None)
        rv = self._store.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        return self._store.put(row.key, obj, rv=rv, settle_at=None)

    def _settle_due(self) -> None:
        due = self._store.due(self._clock())
        if not due:
            return
        with self._store.write():
            for row in self._store.due(self._clock()):
                self._settle(row)

    def _delete_tree(self, row: Row, propagation: Propagation, now: float) -> int:
        """Remove ``row`` and what it owns; the number of dependents removed."""
        store = self._store
        removed = 0
        if row.key.group == "" and row.key.kind == "Namespace":
            for inner in store.in_namespace(row.key.name):
                store.remove(inner.key, rv=store.next_rv())
                removed += 1
        if is_crd(row.key.group, row.key.kind):
            for group, kind in store.unregister_crd(row.key.name):
                for custom in store.of_kind(group, kind):
                    if store.exists(custom.key):
                        removed += 1 + self._delete_tree(custom, propagation, now)
        for child in store.children_of(row.uid):
            if propagation is Propagation.ORPHAN:
                self._orphan(child, owner_uid=row.uid, now=now)
            elif store.exists(child.key):
                removed += 1 + self._delete_tree(child, propagation, now)
        store.remove(row.key, rv=store.next_rv())
        return removed

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

    def _bootstrap(self, now: float) -> None:
        for name in BOOTSTRAP_NAMESPACES:
            key = ResourceKey("", "Namespace", "", name)
            obj: Manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            apply_defaults(obj, DefaultContext(key, self._allocator(key, reserve=True)))
            obj = update_as({}, obj, manager=BOOTSTRAP_MANAGER, time=rfc3339(now))
            self._save(key, obj, None, spec_changed=True, now=now)


def _conforms(sandbox: SandboxProvider) -> Provider:
    """Never called: mypy checks here that SandboxProvider is a Provider."""
    return sandbox


def _feeds(sandbox: SandboxProvider) -> ChangeFeed:
    """Never called: mypy checks here that SandboxProvider is a ChangeFeed."""
    return sandbox

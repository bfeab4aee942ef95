"""SandboxProvider: an embedded target that behaves like a Kubernetes API server.

It assigns uids, resource versions and generations, fills in server defaults,
tracks field managers like server-side apply, refuses objects in missing
namespaces and kinds no CRD registered, and runs simulated controllers whose
status depends on an injected clock (see ``controllers``). State lives in
SQLite (``store``), so the CLI in another process sees and changes the same
objects while a sync runs. How an object is written (defaults, generations,
controllers, deletion) is ``lifecycle``; the lock and the transactions are
``core``; kubectl's out-of-band writes are ``edits``. This class answers the
Provider protocol and its optional capabilities under that one lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import nullcontext

from gitwave.engine.api import (
    KUBERNETES_VERSION,
    ChangeFeed,
    ChangeWaiter,
    KindCatalog,
    Provider,
    health_of,
    is_cloud_group,
)
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import (
    ChangeAction,
    ChangeSetEntry,
    Health,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)

from .core import SandboxCore
from .defaults import desired_manifest
from .fields import without_nulls
from .finalizers import waiting_on
from .lifecycle import GITWAVE_MANAGER

# How often a sleeping wait looks whether the state moved (``wait_for_change``).
FEED_POLL_S = 0.05

# Aliases: inside the class, ``list`` names the method.
LiveList = list[Live]
KeyList = list[ResourceKey]


class SandboxProvider(SandboxCore):
    """The embedded default target. Thread-safe; several processes may share a state dir.

    ``rollout_seconds`` is how long simulated controllers take to settle a
    change (a Deployment's pods becoming ready, a Job completing); ``clock``
    tells the time, so tests can move it by hand.
    """

    name = "sandbox"

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
                        fresh = self._objects.settle(fresh)
                    row = fresh
            return row.live() if row is not None else None

    def observe_many(self, keys: Iterable[ResourceKey]) -> dict[ResourceKey, Live | None]:
        """``observe`` for many keys in one read (a plan of 10,000 objects)."""
        wanted = list(keys)
        with self._guard():
            self._objects.settle_due()
            if not self._live_cache:
                # Nothing read yet (a fresh `gitwave plan`): one query reads the
                # objects and their versions, instead of the versions first.
                found = self._store.lives(wanted)
                self._live_cache.update(found)
                return {key: (hit[1] if (hit := found.get(key)) else None) for key in wanted}
            versions = self._store.versions(wanted)
            # Decoding stored JSON is most of a no-op re-plan; an object whose
            # resourceVersion did not move is the same object, so reuse it.
            cache = self._live_cache
            misses = [k for k, rv in versions.items() if k not in cache or cache[k][0] != rv]
            cache.update(self._store.lives(misses))
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
        """Server-side apply as field manager ``gitwave``; forced only over
        imperative edits, or over other appliers with ``resource.force_conflicts``.

        Returns created, configured or unchanged (the resource version is then
        not bumped). Raises FieldConflictError naming the fields and managers
        when another applier owns fields it would change; ProviderError for an
        unknown kind, a missing namespace, or a manifest the API server would
        reject (``validation``: the kind's schema, names, immutable fields), in
        the API server's words."""
        return self.server_side_apply(
            resource, manager=GITWAVE_MANAGER, force=resource.force_conflicts, dry_run=dry_run
        )

    def server_side_apply(
        self, resource: Resource, *, manager: str, force: bool = False, dry_run: bool = False
    ) -> ChangeSetEntry:
        """Server-side apply as field manager ``manager`` (``kubectl apply
        --server-side --field-manager=…``, or another GitOps tool). Raises like
        ``apply``."""
        key = resource.key
        desired = desired_manifest(resource)
        with self._guard():
            self._objects.validation.check_object(
                key, resource.api_version, without_nulls(dict(resource.manifest))
            )
            now = self._clock()
            with nullcontext() if dry_run else self._store.write():
                return self._objects.apply(
                    key,
                    resource.api_version,
                    desired,
                    now,
                    dry_run=dry_run,
                    force=force,
                    manager=manager,
                )

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        """Delete the object. Foreground and background delete what it owns
        (recursively: Deployment → ReplicaSets → Pods); orphan leaves them and
        removes their owner references. A Namespace takes everything in it, a
        CRD all its custom resources. An object with finalizers is only marked
        (``deletionTimestamp``) and stays, Terminating, until they are removed;
        the entry is deleted either way (the deletion started)."""
        with self._guard(), self._store.write():
            row = self._store.get(key)
            if row is None:
                return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent")
            dependents = self._objects.delete_tree(row, propagation, self._clock())
            left = self._store.get(key)
        message = f"deleted with {dependents} dependents" if dependents else "deleted"
        if left is not None:
            message = f"terminating: waiting on {waiting_on(left.manifest)}"
            return ChangeSetEntry(key, ChangeAction.DELETED, message=message, live=left.live())
        return ChangeSetEntry(key, ChangeAction.DELETED, message=message)

    def health(self, live: Live) -> Health:
        return health_of(live.manifest)

    def list_tracked(self, app: str) -> LiveList:
        """Objects labelled ``gitwave.dev/app: <app>``, sorted by key."""
        with self._guard():
            self._objects.settle_due()
            return [row.live() for row in self._store.query(app=app)]

    # ------------------------------------------------------------ KindCatalog

    def serves(self, api_version: str, kind: str) -> bool:
        """True when the sandbox accepts ``apiVersion``/``kind`` now: a built-in kind
        at a version Kubernetes serves, or a version a stored CRD registered."""
        with self._guard():
            return self._objects.validation.serves(api_version, kind)

    def kubernetes_version(self) -> str:
        """The release whose API the sandbox plays (``engine.provider.ServerVersion``)."""
        return KUBERNETES_VERSION

    def api_versions(self) -> tuple[str, ...]:
        """The API versions the sandbox serves now (``engine.provider.ServedAPIVersions``)."""
        with self._guard():
            return self._objects.validation.api_versions()

    def custom_resource_definition(self, group: str, kind: str) -> Manifest | None:
        """The stored CustomResourceDefinition that registered ``group``/``kind``, or None."""
        with self._guard():
            return self._objects.validation.custom_resource_definition(group, kind)

    # ------------------------------------------------------------ ObjectAdmission

    def refusal(self, resource: Resource) -> str | None:
        """Why the sandbox's controllers would not accept ``resource`` (a
        SealedSecret its key cannot open), or None."""
        return self.sealed_secrets.refusal(resource)

    # ------------------------------------------------------------ sandbox-only reads

    def list(self, *, kind: str | None = None, namespace: str | None = None) -> LiveList:
        """Objects of ``kind`` (case-insensitive) in ``namespace``; None means all.
        Sorted by group, kind, namespace, name."""
        with self._guard():
            self._objects.settle_due()
            return [r.live() for r in self._store.query(kind=kind, namespace=namespace)]

    def namespaces(self) -> set[str]:
        with self._guard():
            return self._store.namespaces()

    def state_stamp(self, app: str) -> str | None:
        """The store's file and its write counter (every write moves it); None
        while an object is due to settle (a read would change it)."""
        with self._guard():
            return self._store.stamp(self._clock())

    def changes_since(self, resource_version: str) -> tuple[str, LiveList]:
        """The current resource version and every object written after
        ``resource_version`` ("" or "0": all), oldest change first. Poll with the
        returned version to see only newer changes; see ``deletions_since``."""
        since = self._parse_rv(resource_version)
        with self._guard(), self._store.write():
            self._objects.settle_due()
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
            self._objects.settle_due()
            changed = self._store.changed_keys_after(since)
            deleted = self._store.deleted_after(since)
            current = str(self._store.current_rv())
        return current, frozenset(changed) | frozenset(key for _, key in deleted)

    def wait_for_change(self, cursor: str, timeout: float) -> bool:
        """The ChangeWaiter capability: block until something is written after
        ``cursor`` (by this process or another sharing the state directory) or a
        simulated controller's next step falls due, at most ``timeout`` seconds.
        Other processes write the same SQLite file and cannot wake this one, so
        it reads the resource version and whether a step is due (two indexed
        reads, no object decoded) every ``FEED_POLL_S``: a health wait sleeps
        here instead of reading its objects again. True when something changed
        or fell due, or the cursor is not a resource version; False on timeout."""
        try:
            since = int(cursor)
        except ValueError:
            return True
        end = time.monotonic() + max(timeout, 0.0)
        while True:
            with self._guard():
                if self._store.current_rv() != since or self._store.any_due(self._clock()):
                    return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, FEED_POLL_S))

    # ------------------------------------------------------------ out-of-band writes

    def scale(self, key: ResourceKey, replicas: int, *, manager: str = "kubectl") -> ChangeSetEntry:
        """Set ``spec.replicas`` as field manager ``manager`` (``kubectl scale``).

        Bumps the generation and restarts the rollout. Raises ProviderError for
        a kind that does not scale, a negative count or a missing object."""
        from . import edits  # kubectl's writes: tests and `gitwave rollout`, never a status

        edits.check_scale(key, replicas)
        with self._guard(), self._store.write():
            row = self._existing(key)
            return edits.scale(self._objects, row, replicas, manager=manager, now=self._clock())

    def replace_live(
        self, key: ResourceKey, manifest: Manifest, *, manager: str = "kubectl-edit"
    ) -> ChangeSetEntry:
        """Replace the object with ``manifest`` as ``manager`` writes it (``kubectl edit``).

        ``metadata.resourceVersion``, when set, must be the current one, else
        ConflictError. Status and server metadata cannot be edited. Raises
        ProviderError when the manifest changes kind, name or namespace."""
        from . import edits

        edits.check_same_object(key, manifest)
        with self._guard(), self._store.write():
            row = self._existing(key)
            return edits.replace(
                self._objects, self._store, row, manifest, manager=manager, now=self._clock()
            )

    def merge_patch(
        self,
        key: ResourceKey,
        patch: Manifest,
        *,
        subresource: str | None = None,
        manager: str = "gitwave-rollout",
    ) -> Live:
        """A JSON merge patch (``kubectl patch --type merge``) of the object, or
        of its ``status`` subresource (``engine.rollouts.RolloutPatcher``); a
        Rollout's simulated controller reacts at once. ProviderError for a
        missing object or another subresource."""
        from . import edits

        if subresource not in (None, "status"):
            raise ProviderError(key, f"the sandbox cannot patch subresource {subresource!r}")
        with self._guard(), self._store.write():
            row = self._existing(key)
            return edits.patch(
                self._objects,
                row,
                patch,
                subresource=subresource,
                manager=manager,
                now=self._clock(),
            )

    # ------------------------------------------------------------ internals

    def _parse_rv(self, resource_version: str) -> int:
        try:
            return int(resource_version or 0)
        except ValueError:
            raise ProviderError(None, f"not a resource version: {resource_version!r}") from None


def _conforms(sandbox: SandboxProvider) -> Provider:
    """Never called: mypy checks here that SandboxProvider is a Provider."""
    return sandbox


def _feeds(sandbox: SandboxProvider) -> tuple[ChangeFeed, ChangeWaiter]:
    """Never called: mypy checks here that SandboxProvider is a ChangeFeed and
    a ChangeWaiter."""
    return sandbox, sandbox


def _catalogs(sandbox: SandboxProvider) -> KindCatalog:
    """Never called: mypy checks here that SandboxProvider is a KindCatalog."""
    return sandbox

"""ApplicationSets in the cluster reconciled into Application objects.

Each pass, for every ApplicationSet of a shard this replica holds, the
generators run (``appsets.plan_set``) against the Applications of the set's
namespace, then the Applications are created, replaced and deleted through
the ``SetApi`` seam, and the set's status conditions written. The generated
Applications are then ordinary apps for ``loop.Controller`` (synced, status
written); one deleted with the resources-finalizer is finalized by
``finalizers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from gitwave.engine.apps.generators import RepoOpener
from gitwave.engine.apps.holder import open_repository
from gitwave.engine.apps.model import RepoResolver
from gitwave.engine.cluster_secrets import is_cluster_secret, parse_cluster_secret
from gitwave.engine.clusters import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    Cluster,
    ClusterKind,
)
from gitwave.engine.controller.appsets import SetActions, plan_set
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.sharding import shard_of

log = logging.getLogger("gitwave.controller")


@runtime_checkable
class SetApi(Protocol):
    """What reconciling ApplicationSets needs of the management cluster."""

    def list_app_sets(self) -> list[AppObject]:
        """Every ApplicationSet not being deleted, in every namespace."""
        ...

    def list_cluster_secrets(self) -> list[Mapping[str, Any]]:
        """The Argo CD cluster Secrets of the controller's namespace (credentials inside:
        never logged)."""
        ...

    def list_namespace_apps(self, namespace: str) -> list[Mapping[str, Any]]:
        """Every Application of ``namespace`` as plain objects (those being deleted too)."""
        ...

    def create_app(self, body: Mapping[str, Any]) -> None:
        """Create the Application ``body``."""
        ...

    def replace_app(self, body: Mapping[str, Any]) -> None:
        """Replace the Application ``body`` at its resourceVersion (409 on a lost race)."""
        ...

    def delete_app(self, namespace: str, name: str) -> None:
        """Delete Application ``namespace/name`` (its finalizers then run)."""
        ...

    def write_status(self, obj: AppObject, status: Mapping[str, Any]) -> None:
        """Merge ``status`` into the object's status subresource."""
        ...


@dataclass(frozen=True)
class SecretClusters:
    """The clusters of Argo CD cluster Secrets, and ``in-cluster`` unless a
    Secret names the in-cluster server itself (as Argo CD lists them)."""

    secrets: Sequence[Mapping[str, Any]]

    def clusters(self) -> Sequence[Cluster]:
        """Raises ValidationError naming a malformed cluster Secret: the set then
        generates nothing, so no Application of a cluster is deleted for it."""
        found = [parse_cluster_secret(s)[0] for s in self.secrets if is_cluster_secret(s)]
        if not any(c.server == IN_CLUSTER_SERVER for c in found):
            found.insert(
                0, Cluster(name=IN_CLUSTER_NAME, server=IN_CLUSTER_SERVER, kind=ClusterKind.CURRENT)
            )
        return tuple(found)


class SetReconciler:
    """Creates, updates and deletes the Applications of the held shards' sets."""

    def __init__(
        self,
        api: SetApi,
        *,
        resolve: RepoResolver,
        allowed_repos: tuple[Path, ...],
        shards: int,
        holds: Callable[[int], bool],
        clock: Callable[[], datetime],
        resync_s: float = 180.0,
    ) -> None:
        self._api = api
        self._resolve = resolve
        self._allowed = allowed_repos
        self._shards = shards
        self._holds = holds
        self._clock = clock
        self._resync = timedelta(seconds=resync_s)
        # set id → (what its last run saw, when): the generators run again only
        # when that changed or after resync_s (a git generator fetches).
        self._seen: dict[str, tuple[tuple[Any, ...], datetime]] = {}

    def reconcile_once(self) -> list[str]:
        """One pass over the sets of held shards; the ids of the sets handled."""
        handled: list[str] = []
        sets = [
            s for s in self._api.list_app_sets() if self._holds(shard_of(s.app_id, self._shards))
        ]
        if not sets:
            return handled
        clusters = SecretClusters(tuple(self._api.list_cluster_secrets()))
        for obj in sets:
            try:
                if self._reconcile(obj, clusters):
                    handled.append(obj.app_id)
            except Exception as error:  # one broken set never stops the others
                self._seen.pop(obj.app_id, None)
                log.warning("%s: %s", obj.app_id, error)
        return handled

    def _reconcile(self, obj: AppObject, clusters: SecretClusters) -> bool:
        existing = [
            app
            for app in self._api.list_namespace_apps(obj.namespace)
            if not (app.get("metadata") or {}).get("deletionTimestamp")
        ]
        now = self._clock()
        seen = _fingerprint(obj, existing, clusters)
        last = self._seen.get(obj.app_id)
        if last is not None and last[0] == seen and now - last[1] < self._resync:
            return False
        actions = plan_set(
            obj.body,
            existing=existing,
            clusters=clusters,
            open_repo=self._opener(obj.app_id),
            resolve=self._resolve,
            now=now,
        )
        failures = self._apply(obj, actions)
        if failures:
            self._seen.pop(obj.app_id, None)  # tried again on the next pass
        else:
            self._seen[obj.app_id] = (seen, now)
        status = actions.status
        if failures:
            conditions = [dict(c) for c in status.get("conditions") or []]
            for condition in conditions:
                if condition["type"] in ("ErrorOccurred", "ResourcesUpToDate"):
                    condition["status"] = (
                        "True" if condition["type"] == "ErrorOccurred" else "False"
                    )
                    condition["reason"] = "ApplicationSetError"
                    condition["message"] = "\n".join(failures)
            status = {**status, "conditions": conditions}
        if status != {k: (obj.body.get("status") or {}).get(k) for k in status}:
            self._api.write_status(obj, status)
        return True

    def _apply(self, obj: AppObject, actions: SetActions) -> list[str]:
        """Create, replace, delete; the errors (a lost race is retried next pass)."""
        failures: list[str] = []
        steps: list[tuple[str, str, Callable[[], None]]] = []
        for body in actions.create:
            steps.append(("create", _name(body), partial(self._api.create_app, body)))
        for body in actions.update:
            steps.append(("update", _name(body), partial(self._api.replace_app, body)))
        for name in actions.delete:
            steps.append(("delete", name, partial(self._api.delete_app, obj.namespace, name)))
        for verb, name, step in steps:
            try:
                step()
                log.info(
                    "%s: %sd Application/%s/%s", obj.app_id, verb.rstrip("e"), obj.namespace, name
                )
            except Exception as error:
                failures.append(f"{verb} Application/{obj.namespace}/{name}: {error}")
        return failures

    def _opener(self, where: str) -> RepoOpener:
        opened: dict[tuple[str, str], Path] = {}

        def open_repo(repo_url: str, revision: str, field: str) -> Path:
            key = (repo_url, revision)
            if key not in opened:
                opened[key] = open_repository(
                    self._resolve,
                    repo_url,
                    revision,
                    where=where,
                    field_name=field,
                    allowed=self._allowed,
                    cache_dir=None,
                ).root
            return opened[key]

        return open_repo


def _fingerprint(
    obj: AppObject, existing: Sequence[Mapping[str, Any]], clusters: SecretClusters
) -> tuple[Any, ...]:
    """What a set's run depends on besides its repositories: its generation, its
    Applications (a deleted or edited one is put back) and the cluster Secrets."""

    def version(item: Mapping[str, Any]) -> tuple[str, str]:
        meta = item.get("metadata") or {}
        return str(meta.get("name", "")), str(meta.get("resourceVersion", ""))

    return (
        obj.generation,
        tuple(sorted(version(a) for a in existing)),
        tuple(sorted(version(s) for s in clusters.secrets)),
    )


def _name(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("name", ""))


__all__ = ["SecretClusters", "SetApi", "SetReconciler"]

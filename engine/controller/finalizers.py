"""Applications deleted with Argo CD's resources-finalizer: their objects pruned,
then the finalizer removed, so the API server lets the Application go.

As Argo CD: deleting an Application that carries
``resources-finalizer.argocd.argoproj.io`` (an ApplicationSet gives its
Applications one unless ``preserveResourcesOnDeletion``) deletes every object
tracked as that app's first. The prune is the one a child app removed from its
app of apps gets (``AppSpec.removed_from``): only objects carrying this app's
exact tracking id, CRDs, Namespaces and PVCs never. Deleting the Application is
the confirmation, so the prune guard does not stop it. A prune that fails
keeps the finalizer (the Application stays, being deleted) and is tried again
on the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol, runtime_checkable

from gitwave.engine.apps.argo import parse_argo
from gitwave.engine.apps.model import RESOURCES_FINALIZER, AppSpec, RepoResolver
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.sharding import shard_of
from gitwave.engine.model import SourceRef
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store

log = logging.getLogger("gitwave.controller")


@runtime_checkable
class FinalizerApi(Protocol):
    """What finalizing deleted Applications needs of the management cluster."""

    def list_deleting_apps(self) -> list[AppObject]:
        """The Applications being deleted that still carry a finalizer."""
        ...

    def remove_finalizer(self, obj: AppObject, finalizer: str) -> None:
        """Remove ``finalizer`` from the object (at the resourceVersion read)."""
        ...


def removal_of(app: AppSpec, obj: AppObject) -> AppSpec:
    """``app`` as an app with nothing left to render: its plan prunes every
    object it tracks (an empty render is what is asked for)."""
    return replace(
        app,
        children=(),
        depends_on=(),
        health_checks=(),
        removed_from=f"deleted {obj.app_id}",
        # Its own history and lock, as when it synced (``parse_app_object``).
        store_name=obj.app_id,
        cascade=True,
        policy=replace(app.policy, prune=True, allow_empty=True, prune_last=False),
    )


class Finalizer:
    """Prunes the objects of held shards' Applications being deleted."""

    def __init__(
        self,
        api: FinalizerApi,
        *,
        targets: ProviderRouter,
        store: Store | None,
        resolve: RepoResolver,
        shards: int,
        holds: Callable[[int], bool],
        in_flight: Callable[[str], bool] = lambda _: False,
    ) -> None:
        self._api = api
        self._in_flight = in_flight
        self._targets = targets
        self._store = store
        self._resolve = resolve
        self._shards = shards
        self._holds = holds

    def finalize_once(self) -> list[str]:
        """One pass; the ids of the Applications whose finalizer was removed."""
        done: list[str] = []
        for obj in self._api.list_deleting_apps():
            finalizers = (obj.body.get("metadata") or {}).get("finalizers") or []
            if RESOURCES_FINALIZER not in finalizers:
                continue  # another controller's finalizer: not ours to run
            if not self._holds(shard_of(obj.app_id, self._shards)):
                continue
            if self._in_flight(obj.app_id):
                continue  # a sync of it still runs: pruned once that one stopped
            try:
                if self._finalize(obj):
                    done.append(obj.app_id)
            except Exception as error:  # one stuck deletion never stops the others
                log.warning("%s: deleting its objects failed: %s", obj.app_id, error)
        return done

    def _finalize(self, obj: AppObject) -> bool:
        origin = SourceRef(obj.app_id, 0)
        app = removal_of(parse_argo(obj.body, origin, self._resolve), obj)
        synced = sync_app(
            app,
            targets=self._targets,
            store=self._store,
            request=SyncRequest(lock_timeout_s=0, retry=False, prune=True, confirm_prune=True),
        )
        if not synced.result.ok:
            log.warning("%s: prune failed: %s", obj.app_id, synced.result.message)
            return False
        self._api.remove_finalizer(obj, RESOURCES_FINALIZER)
        log.info("%s: its objects deleted, finalizer removed", obj.app_id)
        return True


__all__ = ["Finalizer", "FinalizerApi", "removal_of"]

"""Rolling an app back (``operations.rollback``): re-apply the manifests a
history entry recorded, as a sync of that entry (``operation_sync.sync``).

Imported by the operation that rolls back, not by ``engine.operations``
(which re-exports ``rollback`` lazily).
"""

from __future__ import annotations

from gitwave.engine.app_pipeline import AppState, plan_resources
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import ValidationError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.model import Owner
from gitwave.engine.operation_sync import Synced, sync
from gitwave.engine.operations import targets_for
from gitwave.engine.projects import check_project
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.sync_record import holding
from gitwave.engine.sync_request import SyncRequest

__all__ = ["rollback"]


def rollback(
    app: AppSpec,
    sync_id: int,
    *,
    targets: ProviderRouter,
    store: Store,
    request: SyncRequest = SyncRequest(),
    sink: EventSink = discard,
) -> Synced:
    """Re-apply the manifests recorded for history entry ``sync_id``.

    Needs no Git: the manifests come from the store. Secrets are not recorded,
    so they keep their live contents (they are left out of the plan). Holds
    the app's lock from the plan to the end (AppBusyError past its timeout)."""
    with holding(store, app.recorded_as, request, sink):
        return _rollback(
            app,
            sync_id,
            targets=targets_for(app, targets),
            store=store,
            request=request,
            sink=sink,
        )


def _rollback(
    app: AppSpec,
    sync_id: int,
    *,
    targets: ProviderRouter,
    store: Store,
    request: SyncRequest,
    sink: EventSink,
) -> Synced:
    entry = store.get(sync_id)
    if entry.app != app.recorded_as:
        raise ValidationError(
            f"history entry {sync_id}",
            f"belongs to app {entry.app!r}, not {app.name!r}",
            hint=f"`gitwave history {app.name}` lists this app's entries",
        )
    recorded = store.manifests(sync_id)
    # Objects a Secret's value reached (Flux postBuild) are recorded masked: kept too.
    cleaned = [r for r in recorded if not r.is_secret and not r.masked_values]
    secrets = [r.key for r in recorded if r.is_secret or r.masked_values]
    # The objects belong to the app as it was synced then: the history says
    # which source that was (an entry from before it did: the name alone). The
    # scope is the app's own: its history is kept apart already (``recorded_as``),
    # and an entry from before scopes were recorded names none.
    recorded_owner = Owner.parse(entry.owner)
    state = plan_resources(
        app,
        cleaned,
        revision=entry.revision,
        targets=targets,
        prune=bool(request.prune),
        parallelism=request.parallelism,
        # Left out of the plan, they must not look like leftovers to prune.
        keep=secrets,
        adopt=request.adopt,
        owner=Owner(recorded_owner.app or app.name, recorded_owner.source, app.owner.scope),
    )
    check_project(app, state.graph)  # what the project allowed then, it may refuse now
    sink(
        Event(
            kind=EventKind.ROLLBACK,
            app=app.name,
            revision=entry.revision,
            message=f"rolling back to history entry {sync_id}",
        )
    )
    # The Secrets' stubs are recorded too, so a rollback to this entry keeps them as well.
    recorded_state = AppState(
        app=state.app,
        revision=state.revision,
        resources=tuple(recorded),
        composed=state.composed,
        graph=state.graph,
        live=state.live,
        plan=state.plan,
    )
    return sync(
        recorded_state,
        targets=targets,
        store=store,
        request=SyncRequest(
            prune=bool(request.prune),
            dry_run=request.dry_run,
            wave_timeout_s=request.wave_timeout_s,
            parallelism=request.parallelism,
            adopt=request.adopt,
            lock_timeout_s=request.lock_timeout_s,
        ),
        sink=sink,
        source=f"rollback of #{sync_id}",
        rollback_of=sync_id,
    )

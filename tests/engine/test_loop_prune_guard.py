"""The continuous loop and the prune guard: the loop never confirms a guarded
prune itself; it reports the app OutOfSync with the reason and waits for a
confirmed manual sync (``gitwave sync --confirm-prune``)."""

from __future__ import annotations

import pytest

from gitwave.engine.apps import load_apps
from gitwave.engine.events import EventKind
from gitwave.engine.model import ResourceKey, SyncStatus
from gitwave.engine.operations import sync_app
from gitwave.engine.prune_guard import PruneGuardError
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_request import SyncRequest
from tests.engine.test_loop import UI, GitRepo, Loop, _cache, loop  # noqa: F401 (fixtures)

SERVICE = ResourceKey("", "Service", "guestbook", "guestbook-ui")


def test_the_loop_does_not_prune_past_the_guard_until_a_confirmed_sync(loop: Loop) -> None:  # noqa: F811
    repo = GitRepo(loop.root, "guestbook", {"automated": {"prune": True}})
    loop.start(interval_s=0.3)
    loop.wait("Synced", lambda: loop.status() and loop.status().sync is SyncStatus.SYNCED)
    synced = len(loop.store.history("guestbook"))

    # 2 of the app's 4 objects leave Git: 50 %, past the default 25 %.
    repo.repo.index.remove(
        ["manifests/deployment.yaml", "manifests/service.yaml"], working_tree=True
    )
    repo.repo.index.commit("remove the api", author=repo.author, committer=repo.author)

    status = loop.wait(
        "the guard's report",
        lambda: (s := loop.status()) and "prune guard" in s.message and s,
        timeout=30,
    )
    assert status.sync is SyncStatus.OUT_OF_SYNC
    assert "prune of 2 of 4 objects (50%) exceeds the prune limit of 25%" in status.message
    assert "--confirm-prune" in status.message
    # The plan's event may be recorded just after the status says it.
    plans = loop.wait(
        "the guard's plan event",
        lambda: [e.message for e in loop.of(EventKind.PLAN) if "prune guard" in e.message],
    )
    assert "2 to prune" in plans[0], plans
    assert loop.sandbox.observe(UI) is not None and loop.sandbox.observe(SERVICE) is not None
    assert len(loop.store.history("guestbook")) == synced, "no sync was even started"

    # What `gitwave sync` does from another process: refused, then confirmed.
    _, (app,) = load_apps(str(loop.root))
    targets = ProviderRouter([loop.sandbox])
    with pytest.raises(PruneGuardError, match="refusing to sync app guestbook"):
        sync_app(app, targets=targets, store=loop.store, request=SyncRequest(lock_timeout_s=30))
    assert loop.sandbox.observe(UI) is not None
    sync_app(
        app,
        targets=targets,
        store=loop.store,
        request=SyncRequest(confirm_prune=True, lock_timeout_s=30),
    )
    assert loop.sandbox.observe(UI) is None and loop.sandbox.observe(SERVICE) is None
    loop.wait("Synced", lambda: loop.status() and loop.status().sync is SyncStatus.SYNCED)

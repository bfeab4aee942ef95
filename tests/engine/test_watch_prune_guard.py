"""``gitwave watch`` and the prune guard: a save that prunes past the app's limit
is not synced; the cycle line says why and what to run."""

from __future__ import annotations

from pathlib import Path

from gitwave.engine.operations import SyncRequest
from tests.engine.test_watch import (  # noqa: F401 (fixtures)
    SERVICE,
    UI,
    Watcher,
    _cache,
    watcher,
    work_tree,
)


def test_watch_does_not_prune_past_the_guard(watcher: Watcher, tmp_path: Path) -> None:  # noqa: F811
    app = work_tree(tmp_path, "guestbook")
    # The Deployment and the Service in one file: one save removes both.
    api = (app / "deployment.yaml").read_text() + "\n---\n" + (app / "service.yaml").read_text()
    (app / "deployment.yaml").unlink()
    (app / "service.yaml").unlink()
    (app / "api.yaml").write_text(api)
    watcher.start(app, request=SyncRequest(prune=True))
    watcher.wait_cycles(1)

    (app / "api.yaml").unlink()
    cycle = watcher.wait_cycles(2)[1]

    assert "2 to prune → error: refusing to sync app" in cycle.message, cycle.message
    assert "prune of 2 of 4 objects (50%) exceeds the prune limit of 25%" in cycle.message
    assert "--confirm-prune" in cycle.message
    assert watcher.sandbox.observe(UI) is not None and watcher.sandbox.observe(SERVICE) is not None
    assert watcher.thread is not None and watcher.thread.is_alive()

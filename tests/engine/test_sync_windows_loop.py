"""The reconcile loop under sync windows, with a frozen clock passed in: an
automated sync is held while a deny window is open (status says which window
and until when, nothing is applied) and runs once the clock leaves it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitwave.engine.model import ResourceKey, SyncStatus
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.test_cli_projects import CONFIG, application, documents, origin_repo, project

SETTINGS = ResourceKey("", "ConfigMap", "team-a", "settings")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_the_loop_holds_auto_sync_in_a_deny_window_and_syncs_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    app = application()
    app["spec"]["syncPolicy"]["automated"] = {"selfHeal": True}
    night = {
        "kind": "deny",
        "schedule": "0 22 * * *",
        "duration": "8h",
        "timeZone": "Europe/Berlin",
        "applications": ["web"],
    }
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(
                project(
                    clusterResourceWhitelist=[{"group": "", "kind": "Namespace"}],
                    syncWindows=[night],
                ),
                app,
            ),
            "manifests/all.yaml": documents(CONFIG),
        },
    )
    sandbox = SandboxProvider(tmp_path / "state", rollout_seconds=0.0)
    store = Store(tmp_path / "state" / "gitwave.db")
    now = [epoch("2026-11-30T22:30")]  # 23:30 in Berlin: inside the window
    reconciler = Reconciler(
        str(repo),
        targets=ProviderRouter([sandbox]),
        store=store,
        options=LoopOptions(interval_s=60.0),
        clock=lambda: now[0],
    )
    try:
        reconciler.start()
        reconciler.step()

        [status] = reconciler.statuses()
        assert status.sync is SyncStatus.OUT_OF_SYNC
        assert status.message == (
            "auto-sync held: deny window #0 (0 22 * * *, 8h0m0s, Europe/Berlin) "
            "until 2026-12-01 06:00 CET"
        )
        assert sandbox.observe(SETTINGS) is None
        assert store.history("web") == []

        now[0] = epoch("2026-12-01T04:59")  # 05:59 in Berlin: still held
        reconciler.step()
        assert sandbox.observe(SETTINGS) is None

        now[0] = epoch("2026-12-01T05:01")  # 06:01 in Berlin: the window closed
        reconciler.step()
        [status] = reconciler.statuses()
        assert status.sync is SyncStatus.SYNCED, status.message
        assert sandbox.observe(SETTINGS) is not None
    finally:
        store.close()
        sandbox.close()

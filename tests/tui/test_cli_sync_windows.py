"""``gitwave sync`` and ``gitwave status`` under an AppProject's sync windows.

The windows here are open at any time (a schedule firing every minute for an
hour), so the outcome does not depend on when the test runs; the time-bound
cases are in tests/engine/test_sync_windows.py with a frozen clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tui.test_cli_projects import (
    CONFIG,
    application,
    documents,
    live_objects,
    origin_repo,
    project,
    run,
)

ALWAYS = {"schedule": "* * * * *", "duration": "1h"}


@pytest.fixture(autouse=True)
def own_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own sandbox and history, never the user's."""
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")


def repo_with(tmp_path: Path, *windows: dict[str, Any]) -> Path:
    return origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(
                project(
                    clusterResourceWhitelist=[{"group": "", "kind": "Namespace"}],
                    syncWindows=list(windows),
                ),
                application(),
            ),
            "manifests/all.yaml": documents(CONFIG),
        },
    )


def test_a_manual_sync_in_a_deny_window_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(tmp_path, {"kind": "deny", "applications": ["web"], **ALWAYS})

    code, out, err = run(capsys, "sync", str(repo))

    assert code != 0
    assert (
        "AppProject/team-a refuses a manual sync now: deny window #0 (* * * * *, 1h0m0s, UTC)"
        in out + err
    )
    assert "nothing was applied" in out + err
    assert "ConfigMap/team-a/settings" not in live_objects(capsys)


def test_manual_sync_true_lets_a_manual_sync_through_a_deny_window(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(
        tmp_path, {"kind": "deny", "namespaces": ["team-*"], "manualSync": True, **ALWAYS}
    )

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 0, out + err
    assert "ConfigMap/team-a/settings" in live_objects(capsys)


def test_a_window_for_other_apps_does_not_hold_this_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(tmp_path, {"kind": "deny", "applications": ["api-*"], **ALWAYS})

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 0, out + err
    assert "ConfigMap/team-a/settings" in live_objects(capsys)


def test_an_open_allow_window_lets_the_sync_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(tmp_path, {"kind": "allow", "clusters": ["in-cluster"], **ALWAYS})

    code, out, err = run(capsys, "sync", str(repo))

    assert code == 0, out + err
    assert "ConfigMap/team-a/settings" in live_objects(capsys)


def test_a_dry_run_in_a_deny_window_still_shows_the_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(tmp_path, {"kind": "deny", "applications": ["*"], **ALWAYS})

    code, out, err = run(capsys, "sync", "--dry-run", str(repo))

    assert code == 0, out + err
    assert "refuses a manual sync" not in out + err
    assert "ConfigMap/team-a/settings" not in live_objects(capsys)


def test_status_shows_the_window_that_blocks_syncs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(
        tmp_path, {"kind": "deny", "applications": ["web"], "manualSync": True, **ALWAYS}
    )

    code, out, err = run(capsys, "status", str(repo))

    assert code == 0, out + err
    assert "web: sync blocked by deny window #0 (* * * * *, 1h0m0s, UTC) until " in out
    assert "manual sync allowed (manualSync)" in out


def test_status_says_nothing_of_windows_for_an_app_they_do_not_match(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = repo_with(tmp_path, {"kind": "deny", "applications": ["api"], **ALWAYS})

    code, out, err = run(capsys, "status", str(repo))

    assert code == 0, out + err
    assert "window" not in out

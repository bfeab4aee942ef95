"""The TUI under an AppProject's sync windows: the app screen says which window
holds syncs, and the sync it offers is refused naming the window. The
controller's clock is frozen (a deny window open 22:00-06:00 UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gitwave.engine.operations import SyncRequest
from gitwave.engine.sync_windows import SyncWindowError
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from tests.tui.test_app_support import (
    SIZE,
    Env,
    drawn,
    make_env,
    notified,
    screen_text,
    until,
)
from tests.tui.test_cli_projects import CONFIG, application, documents, origin_repo, project

pytestmark = pytest.mark.anyio

NIGHT = datetime(2026, 11, 30, 23, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    deny = {"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "applications": ["web"]}
    repo = origin_repo(
        tmp_path / "repo",
        {
            "apps.yaml": documents(
                project(
                    clusterResourceWhitelist=[{"group": "", "kind": "Namespace"}],
                    syncWindows=[deny],
                ),
                application(),
            ),
            "manifests/all.yaml": documents(CONFIG),
        },
    )
    built = make_env(tmp_path, repo, clock=lambda: NIGHT)
    yield built
    built.close()


def test_the_controller_refuses_a_sync_in_the_window(env: Env) -> None:
    with pytest.raises(SyncWindowError) as caught:
        env.controller.sync("web", SyncRequest())

    assert "deny window #0 (0 22 * * *, 8h0m0s, UTC) until 2026-12-01 06:00 UTC" in str(
        caught.value
    )
    assert env.sandbox.list(namespace="team-a") == []


async def test_the_app_screen_shows_the_window_and_its_sync_is_refused(env: Env) -> None:
    app = env.app(open_app="web")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        await until(pilot, lambda: screen.loads > 0, what="the app to load")
        await until(
            pilot,
            lambda: "sync blocked: deny window #0 until 06:00 UTC" in screen_text(app),
            what="the window in the summary",
        )
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: drawn(app, ConfirmScreen), what="the plan to confirm")
        await pilot.press("y")
        await until(
            pilot,
            lambda: notified(app, "refuses a manual sync now: deny window #0"),
            what="the refusal",
        )
    assert env.sandbox.list(namespace="team-a") == []

"""While a sync runs the app list says Syncing (this TUI's sync, or another
gitwave's: its history row Running and the app's lock held), and the diff
screen a sync was started from shows the diff after it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from gitwave.engine.locks import hold_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.diff import DiffScreen
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from tests.tui.test_app_support import SIZE, Env, drawn, fleet, make_env, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path)
    built = make_env(tmp_path, root / "samples" / "app-of-apps")
    yield built
    built.close()


def sync_column(screen: AppsScreen, name: str) -> str:
    table = screen.query_one("#apps", DataTable)
    for index in range(table.row_count):
        cells = table.get_row_at(index)
        if str(getattr(cells[0], "plain", cells[0])) == name:
            return str(getattr(cells[1], "plain", cells[1]))
    raise AssertionError(f"no row {name}")


async def test_a_sync_another_gitwave_runs_shows_as_syncing(env: Env) -> None:
    app = env.app(refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, AppsScreen)
        await until(pilot, lambda: screen.loaded)
        assert "Syncing" not in sync_column(screen, "waves")
        # What `gitwave sync` does while it runs: the app's lock, a Running row.
        with hold_app(env.store, "waves", timeout_s=5):
            sync_id = env.store.begin_sync(
                app="waves", revision="abc", source="cli", started=0.0, manifests=[]
            )
            await until(pilot, lambda: sync_column(screen, "waves") == "▶ Syncing", timeout=30)
            assert "Syncing" not in sync_column(screen, "guestbook")
            env.store.finish_sync(
                sync_id, finished=1.0, result="Succeeded", message="ok", outcomes=[]
            )
        await until(pilot, lambda: "Syncing" not in sync_column(screen, "waves"), timeout=30)


async def test_a_running_row_a_killed_sync_left_is_not_syncing(env: Env) -> None:
    # Its process is gone: no lock holds the app, so nothing runs.
    env.store.begin_sync(app="waves", revision="abc", source="cli", started=0.0, manifests=[])
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, AppsScreen)
        await until(pilot, lambda: screen.loaded)
        assert "Syncing" not in sync_column(screen, "waves")


async def test_the_diff_screen_shows_the_diff_after_its_sync(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        await until(pilot, lambda: app.screen.loads > 0)  # type: ignore[attr-defined]
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        diff = app.screen
        assert isinstance(diff, DiffScreen)
        await until(pilot, lambda: diff.loads > 0)
        assert "missing live; a sync creates it" in diff.text
        shown = diff.loads
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: drawn(app, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.results, what="the sync result")
        assert app.results[-1].ok
        await until(pilot, lambda: app.screen is diff and diff.loads > shown)
        await until(pilot, lambda: "every object is in sync with Git" in diff.text)
        assert "missing live" not in diff.text

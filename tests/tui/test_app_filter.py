"""`/` filters in every view at 80x24: typed letters go to the filter, never to
the screen's keys (``p`` pause, ``S`` sync), and esc clears the filter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from gitwave.engine.operations import sync_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.events import EventsScreen
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import (
    SIZE,
    Env,
    commit,
    drawn,
    fleet,
    make_env,
    screen_text,
    until,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook",))
    built = make_env(tmp_path, root / "samples" / "guestbook")
    yield built
    built.close()


def labels(screen: ApplicationScreen) -> list[str]:
    return [row.label for row in screen.query_one("#tree", ResourceTree).rows()]


async def test_slash_on_the_app_screen_filters_and_letters_fire_no_keys(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: drawn(app, ApplicationScreen))
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        await until(pilot, lambda: screen.view is not None and len(labels(screen)) > 2)
        everything = labels(screen)
        # "p" would pause, "S" would open the sync options, "w" the waves, "e" events.
        await pilot.press("slash", *"Service pew")
        assert app.screen is screen
        assert screen.mode == "tree"
        assert not (env.state / "autosync.json").exists()
        assert screen.filter_text == "Service pew"
        await pilot.press(*["backspace"] * 4)
        assert labels(screen) == ["app guestbook", "Service guestbook-ui"]
        assert "filter: Service" in screen_text(app)
        await pilot.press("enter")  # keep the filter, back to the tree
        assert labels(screen) == ["app guestbook", "Service guestbook-ui"]
        await pilot.press("escape")  # clears the filter, stays on the screen
        assert app.screen is screen
        assert labels(screen) == everything
        await pilot.press("escape")  # no filter left: back to the list
        await until(pilot, lambda: isinstance(app.screen, AppsScreen))


async def test_slash_filters_history_and_events(env: Env) -> None:
    spec = env.controller.app("guestbook")
    sync_app(spec, targets=env.controller.targets, store=env.store, sink=env.store.record_event)
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: drawn(app, ApplicationScreen))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loads)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one("#history", DataTable)
        total = table.row_count
        assert total >= 1
        await pilot.press("slash", *"zzz R")  # "R" would roll back
        assert app.screen is history
        assert table.row_count == 0
        assert "no history entry matches" in screen_text(app)
        await pilot.press("escape")
        assert table.row_count == total
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.replayed)
        events = app.screen
        assert isinstance(events, EventsScreen)
        assert any("ResourceApplied" not in line for line in events.lines)
        await pilot.press("slash", *"ResourceApplied")
        shown = events.shown_lines()
        assert shown and all("ResourceApplied" in line for line in shown)
        assert len(shown) < len(events.lines)
        await pilot.press("escape")
        assert events.shown_lines() == events.lines


async def test_objects_sort_naturally_in_the_tree_and_the_waves(tmp_path: Path) -> None:
    root = tmp_path / "configs"
    root.mkdir()
    docs = [
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
        "data:\n  a: b\n"
        for name in ("cfg-135", "cfg-15", "cfg-2")
    ]
    (root / "configs.yaml").write_text("---\n".join(docs))
    commit(root, "Three config maps")
    env = make_env(tmp_path, root)
    try:
        app = env.app(open_app="configs")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: drawn(app, ApplicationScreen))
            screen = app.screen
            assert isinstance(screen, ApplicationScreen)
            await until(pilot, lambda: len(labels(screen)) == 4)
            want = ["ConfigMap cfg-2", "ConfigMap cfg-15", "ConfigMap cfg-135"]
            assert labels(screen)[1:] == want
            await pilot.press("w")
            tree = screen.query_one("#tree", ResourceTree)
            await until(pilot, lambda: screen.mode == "waves" and tree.row_count > 1)
            tree.expand_all()
            assert [lb for lb in labels(screen) if lb.startswith("ConfigMap")] == want
    finally:
        env.close()


async def test_the_footer_at_80_columns_shows_help_and_quit_in_every_view(env: Env) -> None:
    app = env.app()

    def footer() -> str:
        lines = screen_text(app).splitlines()
        return lines[-1] if lines else ""

    # The footer is composed after the screen's first lines (seen empty on a
    # loaded machine): wait for it to be drawn, then read it; a footer without
    # the hints fails the wait.
    def shows_hints() -> bool:
        return "? help" in footer() and "q quit" in footer()

    async with app.run_test(size=SIZE) as pilot:
        apps = app.screen
        assert isinstance(apps, AppsScreen)
        await until(pilot, lambda: apps.loaded and drawn(app, AppsScreen) and shows_hints())
        footers = {"apps": footer()}
        await pilot.press("enter")
        await until(pilot, lambda: drawn(app, ApplicationScreen) and shows_hints())
        footers["app"] = footer()
        for key, screen in (("h", HistoryScreen), ("e", EventsScreen)):
            await pilot.press(key)
            await until(pilot, lambda s=screen: drawn(app, s) and shows_hints())  # type: ignore[misc]
            footers[key] = footer()
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        for footer_line in footers.values():
            assert "? help" in footer_line and "q quit" in footer_line, footers

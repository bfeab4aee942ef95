"""`/` then letters typed in one burst (tmux send-keys, a fast typist over
SSH): every key after `/` goes to the filter, in every view that has one,
even when the keys reach the app before the filter line has focus.

``Pilot.press`` waits for the app to go idle after each key, which hides the
race; ``burst`` queues every key first, as a terminal read of several bytes
does, and only then lets the app run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.app import GitwaveApp
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.base import FILTER_ID, GitwaveScreen
from gitwave.tui.screens.events import EventsScreen
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.screens.object_text import ObjectTextScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import SIZE, Env, drawn, fleet, make_env, screen_text, until

pytestmark = pytest.mark.anyio

DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook",))
    built = make_env(tmp_path, root / "samples" / "guestbook", rollout=0.0)
    spec = built.controller.app("guestbook")
    sync_app(
        spec, targets=built.controller.targets, store=built.store, sink=built.store.record_event
    )
    yield built
    built.close()


def burst(app: GitwaveApp, text: str) -> None:
    """Queue one key event per character of ``text`` through the driver, all
    before the app handles the first (as the terminal driver does when one
    read returns several keys)."""
    driver = app._driver
    assert driver is not None
    for char in text:
        key = char if char.isalnum() else _character_to_key(char)
        driver.send_message(events.Key(key, char))


async def typed_in_the_filter(pilot: Pilot[None], screen: GitwaveScreen, text: str) -> None:
    """Send ``/`` + ``text`` in one burst; wait until the filter holds it all,
    or until a key fired something else (another screen on top)."""
    app = pilot.app
    burst(app, "/" + text)  # type: ignore[arg-type]
    await until(
        pilot,
        lambda: screen.filter_text == text.strip() or app.screen is not screen,
        what=f"the filter to read {text!r}",
    )
    assert app.screen is screen, f"a key opened {app.screen!r}"
    box = screen.query_one(f"#{FILTER_ID}", Input)
    assert box.value == text
    assert app.focused is box


async def escape_clears(pilot: Pilot[None], screen: GitwaveScreen) -> None:
    await pilot.press("escape")
    assert pilot.app.screen is screen
    assert screen.filter_text == ""
    assert not screen.query_one(f"#{FILTER_ID}", Input).display


async def test_a_burst_on_the_app_list_filters_and_pauses_nothing(env: Env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: drawn(app, AppsScreen) and app.screen.loaded)  # type: ignore[attr-defined]
        apps = app.screen
        assert isinstance(apps, AppsScreen)
        # one "p" pauses the selected app; "S" sync, "d" diff, "h" history, "e" events
        await typed_in_the_filter(pilot, apps, "app-42 Shed")
        assert not (env.state / "autosync.json").exists()
        assert "filter: app-42 Shed" in screen_text(app)
        assert apps.filter_home().row_count == 0
        await escape_clears(pilot, apps)
        assert apps.filter_home().row_count == 1


async def test_a_burst_on_the_app_screen_filters_and_pauses_nothing(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: drawn(app, ApplicationScreen))
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        await until(pilot, lambda: screen.loads > 0)
        tree = screen.query_one("#tree", ResourceTree)
        assert tree.move_to(str(DEPLOYMENT))  # so y, d, l, s have an object to act on
        # p pause, w waves, y yaml, d describe, l logs, s sync object, h, e, D, t, b
        await typed_in_the_filter(pilot, screen, "Deploy pwlsheDtb")
        assert screen.mode == "tree"
        assert not (env.state / "autosync.json").exists()
        await escape_clears(pilot, screen)
        assert tree.move_to(str(DEPLOYMENT))


async def test_a_burst_on_history_events_and_yaml_goes_to_their_filters(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: drawn(app, ApplicationScreen))
        await until(pilot, lambda: app.screen.loads > 0)  # type: ignore[attr-defined]
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loads)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await typed_in_the_filter(pilot, history, "Rr zz")  # R roll back, r refresh
        assert "no history entry matches" in screen_text(app)
        await escape_clears(pilot, history)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen.replayed)
        events_screen = app.screen
        assert isinstance(events_screen, EventsScreen)
        await typed_in_the_filter(pilot, events_screen, "jkG Applied")  # j k G scroll
        assert all("jkG Applied" in line for line in events_screen.shown_lines())
        await escape_clears(pilot, events_screen)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))

        application = app.screen
        assert isinstance(application, ApplicationScreen)
        assert application.query_one("#tree", ResourceTree).move_to(str(DEPLOYMENT))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ObjectTextScreen) and app.screen.loads)
        yaml = app.screen
        assert isinstance(yaml, ObjectTextScreen)
        await typed_in_the_filter(pilot, yaml, "rgG replicas")  # r refresh, g/G top/bottom
        assert yaml.text.strip() == ""  # no line holds that text
        await escape_clears(pilot, yaml)
        assert "kind: Deployment" in yaml.text

"""The command palette (``:``, Ctrl+P): every verb for every app, not only the
highlighted one, and none of Textual's own entries (theme, screenshot, keys)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.command import CommandPalette

from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.diff import DiffScreen
from gitwave.tui.screens.modals import SyncOptionsScreen
from gitwave.tui.screens.palette import app_commands
from tests.tui.test_app_support import SIZE, Env, fleet, make_env, screen_text, until

pytestmark = pytest.mark.anyio

VERBS = ("open", "sync", "diff", "history", "rollback", "events", "pause")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path)
    built = make_env(tmp_path, root / "samples" / "app-of-apps")
    yield built
    built.close()


async def listed(pilot: object, app: object) -> AppsScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, AppsScreen)
    await until(pilot, lambda: screen.loaded)  # type: ignore[arg-type]
    return screen


@pytest.mark.parametrize("key", ["colon", "ctrl+p"])
async def test_a_verb_for_an_app_that_is_not_highlighted(env: Env, key: str) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await listed(pilot, app)
        assert screen.selected_name != "waves"
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"sync waves")
        await until(pilot, lambda: "sync waves" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        assert app.screen.app_name == "waves"  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AppsScreen))
        await pilot.press("colon", *"diff guestbook", "enter")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        assert app.screen.app_name == "guestbook"  # type: ignore[attr-defined]
    assert env.sandbox.list(namespace="shop") == []


@pytest.mark.parametrize("read_only", [False, True], ids=["controls", "read-only"])
async def test_every_verb_for_every_app_and_nothing_of_textual(env: Env, read_only: bool) -> None:
    app = env.app(read_only=read_only)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, app)
        titles = [c.title for c in app_commands(app, None)]
        await pilot.press("colon", *"theme")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.pause(0.3)
        shown = screen_text(app)
    apps = [spec.name for spec in env.controller.cached_apps()]
    assert {"guestbook", "waves"} <= set(apps)
    controls = {"sync", "rollback", "pause"}
    for name in apps:
        for verb in VERBS:
            assert (f"{verb} {name}" in titles) is not (read_only and verb in controls)
    assert titles[-2:] == ["help", "quit"]
    for textual_own in ("theme", "Theme", "screenshot", "Screenshot", "Maximize", "Keys"):
        assert not any(textual_own in t for t in titles)
    assert "Change theme" not in shown


async def test_the_app_on_screen_comes_first(env: Env) -> None:
    app = env.app(open_app="waves")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.controller.cached_apps())
        titles = [c.title for c in app_commands(app, app.current_app_name(app.screen))]
    assert titles[: len(VERBS)] == [f"{verb} waves" for verb in VERBS]

"""The TUI's typed confirmation of a sync the prune guard stops: the plan and
its blast radius, then the operator types the app's name; a wrong name or
escape syncs nothing. Against a real SandboxProvider, through the Pilot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.app import GitwaveApp
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.modals import SyncOptionsScreen
from gitwave.tui.screens.typed_confirm import TypedConfirmScreen
from tests.tui.test_app_support import (
    SIZE,
    Env,
    commit,
    drawn,
    fleet,
    make_env,
    notified,
    screen_text,
    until,
)

pytestmark = pytest.mark.anyio

DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
SERVICE = ResourceKey("", "Service", "guestbook", "guestbook-ui")


async def open_sync_options_with_prune(pilot: Pilot[None], app: GitwaveApp) -> None:
    """S, then p and enter once the options are drawn: on a loaded machine the
    dialog can come up after keys pressed at once, which would then miss it."""
    await pilot.press("S")
    await until(pilot, lambda: drawn(app, SyncOptionsScreen))
    await pilot.press("p", "enter")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook",))
    built = make_env(tmp_path, root / "samples" / "guestbook")
    sync_app(built.controller.app("guestbook"), targets=built.controller.targets, store=built.store)
    # 2 of the app's 4 objects leave Git: 50 %, past the default limit of 25 %.
    (root / "samples" / "guestbook" / "deployment.yaml").unlink()
    (root / "samples" / "guestbook" / "service.yaml").unlink()
    commit(root, "Remove the api")
    yield built
    built.close()


async def test_a_guarded_sync_needs_the_app_name_typed(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        await until(pilot, lambda: screen.loads > 0, what="the app to load")

        # Escape: nothing synced.
        await open_sync_options_with_prune(pilot, app)
        await until(pilot, lambda: drawn(app, TypedConfirmScreen))
        text = screen_text(app)
        assert "The prune guard stops it." in text
        assert "prune of 2 of 4 objects (50%) exceeds the prune limit of 25%" in text
        assert "Type guestbook and press enter to sync" in text
        await pilot.press("escape")
        await until(pilot, lambda: notified(app, "sync cancelled; nothing was applied or deleted"))

        # A stray y, enter, or a wrong name: still nothing synced.
        await open_sync_options_with_prune(pilot, app)
        await until(pilot, lambda: drawn(app, TypedConfirmScreen))
        await pilot.press("y", "enter")
        await until(pilot, lambda: "'y' is not 'guestbook': nothing synced" in screen_text(app))
        assert isinstance(app.screen, TypedConfirmScreen)
        assert env.sandbox.observe(DEPLOYMENT) is not None
        assert len(env.store.history("guestbook")) == 1

        await pilot.press("backspace", *"guestbook", "enter")
        gone = (DEPLOYMENT, SERVICE)
        await until(
            pilot,
            lambda: all(env.sandbox.observe(key) is None for key in gone),
            what="the confirmed prune",
        )
    assert len(env.store.history("guestbook")) == 2

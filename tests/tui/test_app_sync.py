"""Syncing from the TUI at 80x24: options, the plan before anything changes,
confirmation, live progress (the running wave, what blocks it) and the
result — against a real SandboxProvider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.events import EventKind
from gitwave.engine.model import HealthCode, Resource, ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.app import GitwaveApp
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import (
    SIZE,
    Env,
    drawn,
    fleet,
    make_env,
    notified,
    screen_text,
    until,
)

pytestmark = pytest.mark.anyio

DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
CONFIGMAP = ResourceKey("", "ConfigMap", "guestbook", "guestbook-ui-config")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook",))
    built = make_env(tmp_path, root / "samples" / "guestbook")
    yield built
    built.close()


async def open_app(pilot: object, app: GitwaveApp) -> ApplicationScreen:
    screen = app.screen
    assert isinstance(screen, ApplicationScreen)
    await until(pilot, lambda: screen.loads > 0, what="the app to load")  # type: ignore[arg-type]
    return screen


def tree_cells(screen: ApplicationScreen) -> dict[str, tuple[str, str]]:
    """Row label → (sync, health) as the tree draws them."""
    tree = screen.query_one("#tree", ResourceTree)
    return {row.label: (row.sync.text, row.health.text) for row in tree.rows()}


async def test_sync_from_the_app_screen_with_confirmation_turns_it_healthy(env: Env) -> None:
    # The sync ends before its last wave is healthy (as in Argo CD); with the usual
    # refresh on, the screen follows a Progressing app every second until it settles.
    app = env.app(open_app="guestbook", refresh=5.0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, app)
        assert tree_cells(screen)["Deployment guestbook-ui"] == ("+ OutOfSync", "∅ Missing")
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: drawn(app, ConfirmScreen))
        # The plan, before anything is applied.
        confirm_text = screen_text(app)
        assert "Sync app guestbook to sandbox?" in confirm_text
        assert "+ Deployment/guestbook/guestbook-ui (create)" in confirm_text
        assert "Plan: 4 to create" in confirm_text
        assert env.sandbox.list(namespace="guestbook") == []
        await pilot.press("y")
        await until(pilot, lambda: app.results, what="the sync result")
        assert app.results[-1].ok
        await until(
            pilot,
            lambda: tree_cells(screen).get("Deployment guestbook-ui") == ("✓ Synced", "✓ Healthy"),
            what="the tree to show the Deployment synced and healthy",
        )
        assert "✓ Synced  ✓ Healthy" in screen_text(app)
        # The live tree shows what the Deployment owns.
        labels = list(tree_cells(screen))
        assert any(label.startswith("ReplicaSet guestbook-ui-") for label in labels)
        assert sum(label.startswith("Pod guestbook-ui-") for label in labels) == 3
        [record] = env.store.history("guestbook")
        assert record.result == "Succeeded"
        kinds = {e.kind for e in env.store.events("guestbook")}
        assert {EventKind.SYNC_STARTED, EventKind.WAVE_STARTED, EventKind.SYNC_FINISHED} <= kinds


@pytest.mark.parametrize("answer", ["n", "escape"])
async def test_saying_no_applies_nothing(env: Env, answer: str) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(answer)
        await until(pilot, lambda: notified(app, "sync cancelled"))
        assert isinstance(app.screen, ApplicationScreen)
    assert env.sandbox.list(namespace="guestbook") == []
    assert env.store.history("guestbook") == []


async def test_enter_in_the_confirmation_means_no(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("S")
        # Under load the dialog comes up after a key pressed at once would land.
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # the focused button is No
        await until(pilot, lambda: notified(app, "sync cancelled"))
    assert env.sandbox.list(namespace="guestbook") == []


async def test_dry_run_changes_nothing_and_records_nothing(env: Env) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("d", "enter")  # no confirmation: a dry run changes nothing
        await until(pilot, lambda: app.results, what="the dry-run result")
        assert app.results[-1].dry_run and app.results[-1].ok
        assert notified(app, "(dry run)")
    assert env.sandbox.list(namespace="guestbook") == []
    assert env.store.history("guestbook") == []


async def test_s_syncs_only_the_selected_object(env: Env) -> None:
    # The namespace must exist for a ConfigMap alone to apply.
    env.sandbox.apply(
        Resource(
            ResourceKey("", "Namespace", "", "guestbook"),
            "v1",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "guestbook"}},
        )
    )
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_app(pilot, app)
        tree = screen.query_one("#tree", ResourceTree)
        assert tree.move_to(str(CONFIGMAP))
        await pilot.press("s")
        await until(pilot, lambda: drawn(app, ConfirmScreen))
        text = screen_text(app)
        assert "Sync ConfigMap/guestbook/guestbook-ui-config to sandbox?" in text
        assert "Plan: 1 to create, 0 to update" in text
        await pilot.press("y")
        await until(pilot, lambda: app.results, what="the sync result")
    live = {live.key for live in env.sandbox.list(namespace="guestbook")}
    assert live == {CONFIGMAP}
    [record] = env.store.history("guestbook")
    assert "only ConfigMap/guestbook/guestbook-ui-config" in record.source


async def test_a_plan_that_changed_after_confirmation_is_not_applied(env: Env) -> None:
    sync_app(env.controller.app("guestbook"), targets=env.controller.targets, store=env.store)
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_app(pilot, app)
        await pilot.press("S")
        # Under load the dialog comes up after a key pressed at once would land.
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: drawn(app, ConfirmScreen))
        assert "Plan: 0 to create, 0 to update" in screen_text(app)
        # Someone scales the Deployment while the plan is on screen.
        env.sandbox.scale(DEPLOYMENT, 7)
        await pilot.press("y")
        await until(pilot, lambda: notified(app, "the live state changed since the plan was shown"))
    live = env.sandbox.observe(DEPLOYMENT)
    assert live is not None and live.manifest["spec"]["replicas"] == 7
    assert len(env.store.history("guestbook")) == 1


async def test_running_sync_shows_its_wave_and_what_blocks_it(tmp_path: Path) -> None:
    root = fleet(tmp_path, ("waves",))
    # Slow rollouts: each wave waits about a second on its objects.
    env = make_env(tmp_path, root / "samples" / "waves", rollout=1.0)
    try:
        app = env.app(open_app="waves")
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_app(pilot, app)
            await pilot.press("w")  # the waves view
            await pilot.press("S")
            # Under load the dialog comes up after a key pressed at once would land.
            await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: "waiting for Deployment/shop/shop-api" in screen.blocked)
            assert screen.running_wave == "Sync wave 1"
            text = screen_text(app)
            assert "Blocked: Sync wave 1: waiting for Deployment/shop/shop-api: Progressing" in text
            tree = screen.query_one("#tree", ResourceTree)
            # The tree redraws a moment after a burst of events.
            await until(
                pilot, lambda: [row.label for row in tree.rows() if row.emphasis] == ["Sync wave 1"]
            )
            running = [row for row in tree.rows() if row.emphasis]
            assert running[0].sync.text == "▶ running"
            done = [row.label for row in tree.rows() if row.sync.text == "✓ done"]
            assert "Sync wave 0" in done
            await until(pilot, lambda: app.results, timeout=60, what="the sync result")
            assert app.results[-1].ok
            await until(pilot, lambda: not screen.blocked and screen.running_wave is None)
            await until(
                pilot,
                lambda: (
                    screen.view is not None
                    and screen.view.summary.health.code is HealthCode.HEALTHY
                ),
            )
    finally:
        env.close()

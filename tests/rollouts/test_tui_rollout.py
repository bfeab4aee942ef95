"""The Application screen and a Rollout (Pilot, 80x24, real sandbox): its row
shows step and weight; ``P`` promotes and ``A`` aborts, each after a
confirmation that shows where the Rollout is; ``n`` changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.modals import ConfirmScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import (
    SIZE,
    Env,
    commit,
    drawn,
    make_env,
    notified,
    screen_text,
    until,
)

pytestmark = pytest.mark.anyio

KEY = ResourceKey("argoproj.io", "Rollout", "shop", "web")
STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def write(root: Path, image: str) -> None:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
                "strategy": {"canary": {"steps": STEPS}},
            },
        },
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.yaml").write_text(yaml.safe_dump_all(docs))
    commit(root.parent, f"web {image}")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    """App ``shop`` synced at v1 then v2: its Rollout paused at step 1 (25%)."""
    root = tmp_path / "repo" / "shop"
    write(root, "nginx:1")
    built = make_env(tmp_path, root, rollout=0)  # pods ready at once: no wall-clock waits
    sync_app(built.controller.app("shop"), targets=built.controller.targets, store=built.store)
    write(root, "nginx:2")
    sync_app(built.controller.app("shop"), targets=built.controller.targets, store=built.store)
    yield built
    built.close()


def rollout_label(screen: ApplicationScreen) -> str:
    tree = screen.query_one("#tree", ResourceTree)
    return next((row.label for row in tree.rows() if row.id == str(KEY)), "")


async def open_rollout(pilot: Any, env: Env) -> ApplicationScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ApplicationScreen)
    await until(pilot, lambda: screen.loads > 0, what="the app to load")
    assert screen.query_one("#tree", ResourceTree).move_to(str(KEY))
    return screen


async def test_the_rollout_row_shows_step_and_weight_and_p_promotes(env: Env) -> None:
    app = env.app(open_app="shop")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollout(pilot, env)
        assert rollout_label(screen) == "Rollout web  step 1/4 (pause) weight 25%"
        await pilot.press("P")
        await until(pilot, lambda: drawn(app, ConfirmScreen), what="the confirmation")
        text = screen_text(app)
        assert "Promote web?" in text
        assert "Suspended: Rollout is paused" in text
        assert "step 1/4 (pause) weight 25%" in text
        await pilot.press("y")
        await until(pilot, lambda: notified(app, "rollout 'web' promoted"), what="the notice")
        await until(
            pilot,
            lambda: rollout_label(screen) == "Rollout web  step 3/4 (pause) weight 50%",
            what="the row to show the next pause",
        )
    live = env.sandbox.observe(KEY)
    assert live is not None and live.manifest["status"]["currentStepIndex"] == 3


async def test_a_aborts_after_confirmation_and_n_changes_nothing(env: Env) -> None:
    app = env.app(open_app="shop")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollout(pilot, env)
        await pilot.press("A")
        await until(pilot, lambda: drawn(app, ConfirmScreen), what="the confirmation")
        assert "Abort web?" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: notified(app, "web: abort cancelled"), what="the cancel notice")
        live = env.sandbox.observe(KEY)
        assert live is not None and "abort" not in live.manifest["status"]
        await pilot.press("A")
        await until(pilot, lambda: drawn(app, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: notified(app, "rollout 'web' aborted"), what="the notice")
        await until(
            pilot,
            lambda: rollout_label(screen) == "Rollout web  aborted",
            what="the row to show the abort",
        )
    live = env.sandbox.observe(KEY)
    assert live is not None and live.manifest["status"]["abort"] is True


async def test_the_keys_are_refused_read_only_and_off_a_rollout(env: Env) -> None:
    app = env.app(open_app="shop", read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await open_rollout(pilot, env)
        await pilot.press("P")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    live = env.sandbox.observe(KEY)
    assert live is not None and live.manifest["status"]["currentStepIndex"] == 1
    app = env.app(open_app="shop")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollout(pilot, env)
        screen.query_one("#tree", ResourceTree).move_to(
            str(ResourceKey("", "Namespace", "", "shop"))
        )
        await pilot.press("A")
        await until(pilot, lambda: notified(app, "select a Rollout to abort"), what="the warning")

# ruff: noqa: F811  (pytest fixtures imported from test_app_snapshots are arguments here)
"""SVG snapshots of the views issue 13 asked for: describe at 80x24 and
160x48, and, without colour (NO_COLOR), the sync options (on reads [x], off
[ ]), and the cursor row of the app list and the history (reversed text).

Same fleet, clocks and update procedure as ``test_app_snapshots``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.tui.snapshots.test_app_snapshots import (  # noqa: F401  (fixtures)
    IDS,
    SIZES,
    apps_loaded,
    env,
    opened,
    shop,
    utc,
)
from tests.tui.test_app_support import Env, until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_describe(snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]) -> None:
    # A Pod: the objects gitwave applies carry a tracking id that names the
    # fleet's temporary path, which changes from run to run.
    pod = env.sandbox.list(kind="Pod", namespace="shop")[0].key
    assert snap_compare(shop(env), terminal_size=size, run_before=opened("d", row=str(pod)))


def test_sync_options_without_colour(
    snap_compare: Callable[..., bool], env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def options(pilot: Pilot[None]) -> None:
        await opened("S")(pilot)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "SyncOptionsScreen")
        await pilot.press("d")  # dry run on; prune and force stay off
        await pilot.pause(0.3)

    assert snap_compare(shop(env), terminal_size=(80, 24), run_before=options)


def test_app_list_without_colour(
    snap_compare: Callable[..., bool], env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(env.app(), terminal_size=(80, 24), run_before=apps_loaded)


def test_history_without_colour(
    snap_compare: Callable[..., bool], env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(shop(env), terminal_size=(80, 24), run_before=opened("h"))

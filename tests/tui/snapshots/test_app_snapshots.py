"""SVG snapshots of the main screens at 80x24 and 160x48.

Deterministic: the fleet in ./repo is committed with a fixed author and date
(a fixed SHA), the sandbox and the controller read a fixed clock, history and
events carry fixed times, and times print in UTC. Update after a deliberate
change with ``pytest tests/tui/snapshots --snapshot-update`` and look at the
SVGs in __snapshots__ before committing them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ChangeAction, ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.engine.store_records import ResourceOutcome
from gitwave.tui.app import GitwaveApp
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import Env, commit, make_env, until

HERE = Path(__file__).resolve().parent
NOW = 1_714_564_800.0  # 2024-05-01 12:00:00 UTC
DEPLOYMENT = ResourceKey("apps", "Deployment", "shop", "shop-api")
SIZES = [(80, 24), (160, 48)]

# About 2 s a snapshot on 2 cores: `make test` compares them, `make test-fast` does not.
pytestmark = pytest.mark.slow
IDS = ["80x24", "160x48"]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def env(tmp_path: Path, utc: None) -> Iterator[Env]:
    root = tmp_path / "fleet"
    shutil.copytree(HERE / "repo", root)
    sha = commit(root, "Shop API 1.4.2 with its config")
    built = make_env(
        tmp_path, root, rollout=0.0, clock=lambda: NOW + 300, sandbox_clock=lambda: NOW
    )
    controller = built.controller
    sync_app(controller.app("shop"), targets=controller.targets, store=None)
    built.sandbox.scale(DEPLOYMENT, 5)  # drift: a diff to show
    controller.set_paused("shop", paused=True)
    record = built.store.record_sync
    common = {"source": ". shop@HEAD", "manifests": [], "who": "ops@bastion"}
    record(
        app="shop",
        revision="0" * 40,
        started=NOW - 7200,
        finished=NOW - 7195,
        result="Failed",
        message="Sync wave 1 timed out",
        outcomes=[],
        **common,
    )
    record(
        app="shop",
        revision=sha,
        started=NOW - 60,
        finished=NOW - 52,
        result="Succeeded",
        message="successfully synced",
        outcomes=[ResourceOutcome(DEPLOYMENT, ChangeAction.CREATED)],
        **common,
    )
    for offset, kind, resource, wave, message in [
        (-60, EventKind.SYNC_STARTED, None, "", ""),
        (-59, EventKind.WAVE_STARTED, None, "Sync wave -1", "1 objects"),
        (-59, EventKind.RESOURCE_APPLIED, ResourceKey("", "Namespace", "", "shop"), "", "created"),
        (-58, EventKind.WAVE_FINISHED, None, "Sync wave -1", "healthy"),
        (-58, EventKind.WAVE_STARTED, None, "Sync wave 1", "1 objects"),
        (-57, EventKind.RESOURCE_APPLIED, DEPLOYMENT, "", "created"),
        (
            -57,
            EventKind.WAITING,
            DEPLOYMENT,
            "Sync wave 1",
            "waiting for Deployment/shop/shop-api: Progressing: Waiting for rollout",
        ),
        (-53, EventKind.HEALTH_CHANGED, DEPLOYMENT, "Sync wave 1", "Healthy: 2 replicas available"),
        (-52, EventKind.SYNC_FINISHED, None, "", "Succeeded: successfully synced"),
        (-10, EventKind.DRIFT_DETECTED, DEPLOYMENT, "", "spec.replicas: 2 -> 5"),
    ]:
        built.store.record_event(
            Event(
                kind=kind,
                app="shop",
                message=message,
                revision=sha,
                resource=resource,
                wave=wave,
                time=NOW + offset,
            )
        )
    yield built
    built.close()


async def apps_loaded(pilot: Pilot[None]) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, AppsScreen)
    await until(pilot, lambda: screen.loaded)
    await pilot.pause()


def opened(*keys: str, row: str | None = None) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Wait for the Application screen, put the cursor on ``row``, press ``keys``,
    then wait for whatever screen they open to finish loading."""

    async def run(pilot: Pilot[None]) -> None:
        app = pilot.app
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        await until(pilot, lambda: screen.loads > 0)
        if row is not None:
            assert screen.query_one("#tree", ResourceTree).move_to(row)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        current = app.screen
        await until(
            pilot, lambda: getattr(current, "loads", 1) > 0 and getattr(current, "replayed", True)
        )
        await pilot.pause(0.3)  # let a RichLog finish laying out its lines

    return run


def shop(env: Env, **kwargs: object) -> GitwaveApp:
    return env.app(open_app="shop", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_applications(snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]) -> None:
    assert snap_compare(env.app(), terminal_size=size, run_before=apps_loaded)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_application_tree(
    snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]
) -> None:
    assert snap_compare(shop(env), terminal_size=size, run_before=opened(row=str(DEPLOYMENT)))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_application_waves(
    snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]
) -> None:
    assert snap_compare(shop(env), terminal_size=size, run_before=opened("w"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_diff(snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]) -> None:
    assert snap_compare(shop(env), terminal_size=size, run_before=opened("D"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_history(snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]) -> None:
    assert snap_compare(shop(env), terminal_size=size, run_before=opened("h"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_events(snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]) -> None:
    assert snap_compare(shop(env), terminal_size=size, run_before=opened("e"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_sync_confirmation(
    snap_compare: Callable[..., bool], env: Env, size: tuple[int, int]
) -> None:
    async def confirm(pilot: Pilot[None]) -> None:
        await opened("S", "enter")(pilot)
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen")
        await pilot.pause(0.3)

    assert snap_compare(shop(env), terminal_size=size, run_before=confirm)


def test_help(snap_compare: Callable[..., bool], env: Env) -> None:
    assert snap_compare(shop(env), terminal_size=(80, 24), run_before=opened("question_mark"))


def test_read_only_application(snap_compare: Callable[..., bool], env: Env) -> None:
    app = shop(env, read_only=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=opened())


def test_application_without_colour(
    snap_compare: Callable[..., bool], env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # read when the app is made
    assert snap_compare(shop(env), terminal_size=(80, 24), run_before=opened(row=str(DEPLOYMENT)))

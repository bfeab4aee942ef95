"""The k9s views of the Application screen: NAMESPACE and AGE columns, ``y``
the live YAML (Secret values masked), ``d`` describe (labels, conditions,
owner, events) and ``l`` logs, which the sandbox says it does not keep."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.app import GitwaveApp
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.object_text import ObjectTextScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import (
    SIZE,
    Env,
    fleet,
    make_env,
    notified,
    screen_text,
    until,
)

pytestmark = pytest.mark.anyio

NOW = 1_714_564_800.0
DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
SECRET = ResourceKey("", "Secret", "shop", "shop-db-credentials")
PASSWORD = "not-a-real-password-42"  # samples/waves/10-config.yaml


def env_at(tmp_path: Path, sample: str, *, age: float) -> Env:
    """``sample`` synced by a sandbox whose clock reads NOW; the TUI's clock
    reads ``age`` seconds later."""
    root = fleet(tmp_path, (sample,))
    built = make_env(
        tmp_path,
        root / "samples" / sample,
        rollout=0.0,
        clock=lambda: NOW + age,
        sandbox_clock=lambda: NOW,
    )
    controller = built.controller
    sync_app(
        controller.app(sample),
        targets=controller.targets,
        store=built.store,
        sink=built.store.record_event,
    )
    return built


@pytest.fixture
def guestbook(tmp_path: Path) -> Iterator[Env]:
    built = env_at(tmp_path, "guestbook", age=300)
    yield built
    built.close()


async def open_on(pilot: object, app: GitwaveApp, row_id: str) -> ApplicationScreen:
    await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, ApplicationScreen)
    await until(pilot, lambda: screen.loads > 0)  # type: ignore[arg-type]
    assert screen.query_one("#tree", ResourceTree).move_to(row_id)
    return screen


async def page(pilot: object, app: GitwaveApp, key: str) -> ObjectTextScreen:
    await pilot.press(key)  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ObjectTextScreen))  # type: ignore[arg-type]
    shown = app.screen
    assert isinstance(shown, ObjectTextScreen)
    await until(pilot, lambda: shown.loads > 0)  # type: ignore[arg-type]
    return shown


@pytest.mark.parametrize(
    ("age", "want"), [(300, "5m"), (3 * 3600 + 5, "3h"), (2 * 86400 + 60, "2d")]
)
async def test_the_tree_has_namespace_and_age_columns(
    tmp_path: Path, age: float, want: str
) -> None:
    env = env_at(tmp_path, "guestbook", age=age)
    try:
        app = env.app(open_app="guestbook")
        async with app.run_test(size=SIZE) as pilot:
            await open_on(pilot, app, str(DEPLOYMENT))
            text = screen_text(app)
    finally:
        env.close()
    header = next(line for line in text.splitlines() if "NAME" in line)
    assert header.split() == ["NAME", "NAMESPACE", "SYNC", "HEALTH", "WAVE", "AGE"]
    row = next(line for line in text.splitlines() if "Deployment guestbook-ui" in line)
    assert row.split()[-1] == want
    assert "guestbook" in row.split("Deployment guestbook-ui", 1)[1]


async def test_y_shows_the_live_object_as_yaml(guestbook: Env) -> None:
    guestbook.sandbox.scale(DEPLOYMENT, 7)
    app = guestbook.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_on(pilot, app, str(DEPLOYMENT))
        shown = await page(pilot, app, "y")
        text = shown.text
        assert "kind: Deployment" in text
        assert "replicas: 7" in text  # live, not Git's 3
        assert "managedFields" not in text
        assert "yaml Deployment/guestbook/guestbook-ui" in screen_text(app)
        await pilot.press("slash", *"replicas")
        await until(pilot, lambda: shown.filter_text == "replicas")
        kept = shown.text.splitlines()
        assert "  replicas: 7" in kept
        assert all("replicas" in line.lower() for line in kept)
        await pilot.press("escape", "escape")
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))


async def test_y_and_d_on_a_secret_never_show_its_values(tmp_path: Path) -> None:
    env = env_at(tmp_path, "waves", age=60)
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    try:
        app = env.app(open_app="waves")
        async with app.run_test(size=SIZE) as pilot:
            await open_on(pilot, app, str(SECRET))
            yaml_page = (await page(pilot, app, "y")).text
            seen = screen_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
            described = (await page(pilot, app, "d")).text
            seen += screen_text(app)
    finally:
        env.close()
    assert "kind: Secret" in yaml_page
    assert "password: '***'" in yaml_page
    for text in (yaml_page, described, seen):
        assert PASSWORD not in text
        assert encoded not in text


async def test_d_describes_labels_conditions_owner_and_events(guestbook: Env) -> None:
    app = guestbook.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_on(pilot, app, str(DEPLOYMENT))
        text = (await page(pilot, app, "d")).text
        await pilot.press("escape")
        pod = next(k.key for k in guestbook.sandbox.list(kind="Pod", namespace="guestbook"))
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        assert screen.query_one("#tree", ResourceTree).move_to(str(pod))
        pod_text = (await page(pilot, app, "d")).text
    assert "Name:         guestbook-ui" in text
    assert "Namespace:    guestbook" in text
    assert "Kind:         Deployment (apps/v1)" in text
    assert "Created:      2024-05-01T12:00:00Z (5m ago)" in text
    assert "Labels:" in text and "gitwave.dev" in text
    assert "Conditions:" in text and "Available" in text and "True" in text
    assert "Events (sandbox):  the sandbox target keeps no events" in text
    gitwave_events = text.split("Gitwave events:", 1)[1]
    assert "AGE" in gitwave_events
    assert "<none>" not in gitwave_events  # the sync's events about this object
    assert "Controlled By: ReplicaSet/" in pod_text
    assert "not in Git (owned)" in pod_text


@pytest.mark.parametrize(
    "row",
    ["pod", str(DEPLOYMENT)],
    ids=["a pod", "a deployment: its pod"],
)
async def test_l_says_the_sandbox_keeps_no_logs(guestbook: Env, row: str) -> None:
    if row == "pod":
        row = str(next(p.key for p in guestbook.sandbox.list(kind="Pod", namespace="guestbook")))
    app = guestbook.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_on(pilot, app, row)
        text = (await page(pilot, app, "l")).text
        shown = screen_text(app)
    assert "logs are not available on the sandbox target" in text
    assert "logs are not available on the sandbox target" in shown


async def test_l_on_an_object_without_pods_says_so(guestbook: Env) -> None:
    service = ResourceKey("", "Service", "guestbook", "guestbook-ui")
    app = guestbook.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_on(pilot, app, str(service))
        text = (await page(pilot, app, "l")).text
    assert "Service/guestbook/guestbook-ui runs no Pod: select a Pod to read its logs" in text


async def test_the_keys_need_an_object(guestbook: Env) -> None:
    app = guestbook.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await open_on(pilot, app, "app")
        await pilot.press("y")
        await until(pilot, lambda: notified(app, "select an object to see its YAML"))
        assert isinstance(app.screen, ApplicationScreen)

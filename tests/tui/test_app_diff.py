"""The Diff screen: field-level desired vs live after out-of-band changes, for
one object and for the whole app; Secret values never shown."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.diff import DiffScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import SIZE, Env, fleet, make_env, screen_text, until

pytestmark = pytest.mark.anyio

DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
SECRET = ResourceKey("", "Secret", "shop", "shop-db-credentials")
PASSWORD = "not-a-real-password-42"  # samples/waves/10-config.yaml


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook", "waves"))
    built = make_env(tmp_path, root / "samples" / "guestbook")
    yield built
    built.close()


async def diff_of(pilot: object, app: object, row_id: str | None, key: str) -> str:
    """Open the app, put the cursor on ``row_id`` and press ``key``; the diff text."""
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, ApplicationScreen)
    await until(pilot, lambda: screen.loads > 0)  # type: ignore[arg-type]
    if row_id is not None:
        assert screen.query_one("#tree", ResourceTree).move_to(row_id)
    await pilot.press(key)  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, DiffScreen))  # type: ignore[arg-type, attr-defined]
    diff = app.screen  # type: ignore[attr-defined]
    await until(pilot, lambda: diff.loads > 0)  # type: ignore[arg-type]
    return str(diff.text)


@dataclass
class Case:
    reason: str
    row: str | None
    key: str
    want: list[str]
    not_want: list[str]


CASES = [
    Case(
        "enter on the Deployment: its changed field, live then desired",
        str(DEPLOYMENT),
        "enter",
        ["~ Deployment/guestbook/guestbook-ui  differs from Git", "~ spec.replicas: 10 → 3"],
        ["ConfigMap", "Service/"],
    ),
    Case(
        "D: the whole app, only what differs, and a count of the rest",
        str(DEPLOYMENT),
        "D",
        ["~ Deployment/guestbook/guestbook-ui", "~ spec.replicas: 10 → 3", "3 objects unchanged"],
        ["ConfigMap/guestbook"],
    ),
    Case(
        "enter on the app row: the whole app",
        "app",
        "enter",
        ["~ spec.replicas: 10 → 3", "3 objects unchanged"],
        [],
    ),
    Case(
        "enter on an object in sync",
        str(ResourceKey("", "Service", "guestbook", "guestbook-ui")),
        "enter",
        ["✓ Service/guestbook/guestbook-ui  in sync"],
        ["replicas"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
async def test_diff_after_an_out_of_band_scale(env: Env, case: Case) -> None:
    sync_app(env.controller.app("guestbook"), targets=env.controller.targets, store=env.store)
    env.sandbox.scale(DEPLOYMENT, 10)
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        text = await diff_of(pilot, app, case.row, case.key)
        for want in case.want:
            assert want in text
        for unwanted in case.not_want:
            assert unwanted not in text
        assert case.want[-1] in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))


async def test_an_owned_pod_points_at_its_owner(env: Env) -> None:
    sync_app(env.controller.app("guestbook"), targets=env.controller.targets, store=env.store)
    pod = next(live.key for live in env.sandbox.list(kind="Pod", namespace="guestbook"))
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        text = await diff_of(pilot, app, str(pod), "enter")
    assert f"{pod.display} is not in Git: Deployment/guestbook/guestbook-ui owns it." in text


@pytest.mark.parametrize("changed", [False, True], ids=["to create", "changed live"])
async def test_a_secret_never_shows_its_values(tmp_path: Path, changed: bool) -> None:
    root = fleet(tmp_path, ("waves",))
    env = make_env(tmp_path, root / "samples" / "waves")
    try:
        if changed:
            sync_app(env.controller.app("waves"), targets=env.controller.targets, store=env.store)
            live = env.sandbox.observe(SECRET)
            assert live is not None
            edited = dict(live.manifest)
            edited["data"] = {**edited["data"], "password": base64.b64encode(b"leaked-1").decode()}
            env.sandbox.replace_live(SECRET, edited)
        app = env.app(open_app="waves")
        async with app.run_test(size=SIZE) as pilot:
            text = await diff_of(pilot, app, str(SECRET), "enter")
            shown = screen_text(app)
            await pilot.press("escape", "D")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen))
            await until(pilot, lambda: app.screen.loads > 0)  # type: ignore[attr-defined]
            text += app.screen.text  # type: ignore[attr-defined]
            shown += screen_text(app)
        secrets = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), "leaked-1"]
        secrets.append(base64.b64encode(b"leaked-1").decode())
        for secret in secrets:
            assert secret not in text and secret not in shown
        assert "***" in text
        if changed:
            assert "Data.password: *** → ***" in text  # stringData, as Git writes it
        else:
            assert "password: '***'" in text  # the entry is listed, its value is not
    finally:
        env.close()


async def test_the_live_tree_refreshes_by_itself(env: Env) -> None:
    sync_app(env.controller.app("guestbook"), targets=env.controller.targets, store=env.store)
    app = env.app(open_app="guestbook", refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        tree = screen.query_one("#tree", ResourceTree)

        def deployment() -> str:
            return next(r.sync.text for r in tree.rows() if r.ref == DEPLOYMENT)

        await until(pilot, lambda: screen.loads > 0 and deployment() == "✓ Synced")
        env.sandbox.scale(DEPLOYMENT, 6)  # kubectl scale, behind the TUI's back
        await until(pilot, lambda: deployment() == "~ OutOfSync", timeout=30)
        # The new Pods appear under the Deployment's ReplicaSet.
        await until(
            pilot,
            lambda: len([r for r in tree.rows() if r.label.startswith("Pod guestbook-ui-")]) == 6,
            timeout=30,
        )

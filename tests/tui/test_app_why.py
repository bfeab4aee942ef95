"""The Application screen names the whole chain a waiting wave is on, from
what the operator waits for to the object holding it (issue 13, "why
blocked, as a chain"), and ``b`` says it for the highlighted object.

The database is a StatefulSet whose rollout the sandbox's clock holds: the
clock stands still until the test lets it go, so the wave waits exactly as
long as the test looks (no sleeps)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.model import ResourceKey
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from tests.tui.test_app_support import commit, make_env, notified, screen_text, until

pytestmark = pytest.mark.anyio

API = ResourceKey("apps", "Deployment", "shop", "api")
CHAIN = "Deployment/shop/api ← Secret/shop/db-conn ← StatefulSet/shop/db: Progressing"


class HeldClock:
    """The sandbox's clock: still while ``held`` (a rollout started then never
    ends), an hour ahead of the wall clock once let go (it ends at once)."""

    def __init__(self) -> None:
        self.held = True
        self.start = time.time()

    def __call__(self) -> float:
        return self.start if self.held else time.time() + 3600


def workload(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
            **({"serviceName": name} if kind == "StatefulSet" else {}),
        },
    }


def shop_repo(root: Path) -> Path:
    """shop/db (the database), the Secret it writes (depends on it), and
    shop/api mounting that Secret."""
    root.mkdir()
    container = {"name": "c", "image": "app:1"}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db-conn",
            "namespace": "shop",
            "annotations": {"gitwave.dev/depends-on": "StatefulSet.apps/shop/db"},
        },
        "stringData": {"host": "db.shop"},
    }
    api = workload(
        "Deployment",
        "api",
        {
            "containers": [container],
            "volumes": [{"name": "db", "secret": {"secretName": "db-conn"}}],
        },
    )
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        workload("StatefulSet", "db", {"containers": [container]}),
        secret,
        api,
    ]
    (root / "shop.yaml").write_text(yaml.safe_dump_all(docs))
    commit(root, "shop")
    return root


async def test_a_waiting_wave_names_the_chain_and_b_says_it_for_the_object(
    tmp_path: Path,
) -> None:
    clock = HeldClock()
    env = make_env(tmp_path, shop_repo(tmp_path / "shop"), sandbox_clock=clock)
    try:
        app = env.app(open_app="shop")
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.screen
            assert isinstance(screen, ApplicationScreen)
            await until(pilot, lambda: screen.loads > 0, what="the app to load")
            await pilot.press("S")
            await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: CHAIN in screen.blocked, what="the chain")
            await until(pilot, lambda: f"Blocked: {screen.running_wave}" in screen_text(app))
            assert f"waiting for {CHAIN}" in screen_text(app)

            tree = screen.query_one("#tree", ResourceTree)
            assert tree.move_to(str(API))
            await pilot.press("b")
            await until(pilot, lambda: notified(app, CHAIN), what="the why notification")

            clock.held = False  # the database is ready: the sync goes on and ends
            await until(pilot, lambda: app.results, timeout=60, what="the sync result")
            assert app.results[-1].ok
            await until(pilot, lambda: not screen.blocked)
    finally:
        env.close()

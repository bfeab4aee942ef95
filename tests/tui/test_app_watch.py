"""`gitwave tui --watch`: the watch-mode cycles run in a worker and show live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.model import ResourceKey
from gitwave.tui.app import GitwaveApp
from gitwave.tui.widgets.status import UNICODE
from tests.tui.test_app_support import SIZE, Env, fleet, make_env, notified, until

pytestmark = pytest.mark.anyio

CONFIGMAP = ResourceKey("", "ConfigMap", "guestbook", "guestbook-ui-config")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook",))
    built = make_env(tmp_path, root / "samples" / "guestbook")
    yield built
    built.close()


async def test_a_save_is_synced_and_its_cycle_shown(env: Env) -> None:
    app = GitwaveApp(
        env.controller, refresh_seconds=0, glyphs=UNICODE, watch_path=str(env.location)
    )
    async with app.run_test(size=SIZE) as pilot:
        # The first cycle syncs the app as it is in the work tree.
        await until(pilot, lambda: env.sandbox.observe(CONFIGMAP) is not None, what="first sync")
        await until(pilot, lambda: app.watch_lines, what="the first cycle line")

        config = env.location / "configmap.yaml"
        config.write_text(config.read_text().replace("Welcome to the guestbook", "Hello"))

        def saved() -> bool:
            live = env.sandbox.observe(CONFIGMAP)
            return live is not None and live.manifest["data"]["greeting"] == "Hello"

        await until(pilot, saved, what="the save to be applied")
        await until(
            pilot,
            lambda: any("configmap.yaml" in line for line in app.watch_lines),
            what="the cycle naming the saved file",
        )
        line = next(x for x in app.watch_lines if "configmap.yaml" in x)
        assert line.startswith("guestbook: ")
        assert "1 to update" in line
        assert notified(app, "configmap.yaml")
        assert app.sub_title == app.watch_lines[-1]

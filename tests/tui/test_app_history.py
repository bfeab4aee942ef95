"""History (with rollback) and Events (replayed, then live) at 80x24."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import sync_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.events import EventsScreen
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.screens.messages import SyncRequested
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
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


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root = fleet(tmp_path, ("guestbook",))
    built = make_env(tmp_path, root / "samples" / "guestbook")
    yield built
    built.close()


def replicas(env: Env) -> int:
    live = env.sandbox.observe(DEPLOYMENT)
    assert live is not None
    return int(live.manifest["spec"]["replicas"])


def two_revisions(env: Env) -> tuple[str, str]:
    """Sync the sample (3 replicas), commit 5 replicas, sync again; the two SHAs."""
    app = env.controller.app("guestbook")
    first = sync_app(app, targets=env.controller.targets, store=env.store).state
    manifest = env.location / "deployment.yaml"
    manifest.write_text(manifest.read_text().replace("replicas: 3", "replicas: 5"))
    commit(env.location.parents[1], "Scale the guestbook to 5", when="1714568400 +0000")
    second = sync_app(app, targets=env.controller.targets, store=env.store).state
    assert replicas(env) == 5
    return first.plan.revision, second.plan.revision


def words(lines: list[str]) -> str:
    """The lines with runs of spaces as one (columns are padded)."""
    return "\n".join(" ".join(line.split()) for line in lines)


def history_rows(screen: HistoryScreen) -> list[list[str]]:
    table = screen.query_one("#history", DataTable)
    return [
        [str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)
    ]


async def test_history_lists_syncs_newest_first_and_rolls_back(env: Env) -> None:
    old, new = two_revisions(env)
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await until(pilot, lambda: screen.loads > 0)
        rows = history_rows(screen)
        assert [(r[0], r[1], r[3]) for r in rows] == [
            ("2 live", new[:7], "✓ Succeeded"),
            ("1", old[:7], "✓ Succeeded"),
        ]
        await pilot.press("down", "R")
        await until(pilot, lambda: drawn(app, ConfirmScreen))
        text = screen_text(app)
        assert f"Roll guestbook back to history entry #1 ({old[:7]})?" in text
        assert "spec.replicas: 5 -> 3" in text
        assert replicas(env) == 5  # nothing changed before the answer
        await pilot.press("y")
        await until(pilot, lambda: app.results, what="the rollback result")
        assert app.results[-1].ok
        await until(pilot, lambda: len(history_rows(screen)) == 3)
        top = history_rows(screen)[0]
        assert top[1] == old[:7]
        assert "(rollback of #1)" in top[3], screen_text(app)
    assert replicas(env) == 3


async def test_history_at_80_columns_keeps_who_and_refuses_the_live_entry(env: Env) -> None:
    two_revisions(env)
    source = "samples/guestbook@refs/heads/a-very-long-branch-name-for-the-release"
    env.store.record_sync(
        app="guestbook",
        revision="1" * 40,
        source=source,
        started=1714570000,
        finished=1714570004,
        result="Succeeded",
        message="rolled back",
        outcomes=[],
        manifests=[],
        rollback_of=1,
        who="release-manager@bastion-eu-1",
    )
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loads)
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert "WHO" in lines[1]
        assert any("release-manager@bastion-eu-1" in line for line in lines)
        assert all(len(line) <= 80 for line in lines)
        # The newest entry is what runs now: rolling back to it would change nothing.
        assert history_rows(screen)[0][0] == "3 live"
        await pilot.press("R")
        await until(pilot, lambda: notified(app, "#3 is what guestbook runs now"))
        assert not isinstance(app.screen, ConfirmScreen)


async def test_read_only_refuses_rollback(env: Env) -> None:
    two_revisions(env)
    app = env.app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        app.open_history("guestbook")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await until(pilot, lambda: screen.loads > 0)
        assert "roll back" not in screen_text(app).splitlines()[-1]
        await pilot.press("down", "R")
        await until(pilot, lambda: notified(app, "read-only mode"))
        assert not isinstance(app.screen, ConfirmScreen)
    assert replicas(env) == 5
    assert len(env.store.history("guestbook")) == 2


async def test_events_replay_then_follow_a_sync_live(env: Env) -> None:
    sync_app(
        env.controller.app("guestbook"),
        targets=env.controller.targets,
        store=env.store,
        sink=env.store.record_event,
    )
    recorded = len(env.store.events("guestbook"))
    env.sandbox.scale(DEPLOYMENT, 1)
    app = env.app(open_app="guestbook")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EventsScreen))
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        await until(pilot, lambda: screen.replayed)
        assert len(screen.lines) == recorded
        assert "ResourceApplied Deployment/guestbook/guestbook-ui created" in words(screen.lines)
        # A sync started now (here from the app, as the palette does) shows up live.
        app.post_message(SyncRequested("guestbook"))
        await until(pilot, lambda: isinstance(app.screen, SyncOptionsScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.results, what="the sync result")
        await until(pilot, lambda: any("SyncFinished" in line for line in screen.lines[recorded:]))
        live = words(screen.lines[recorded:])
        assert "ResourceApplied Deployment/guestbook/guestbook-ui configured" in live
        # The health the sync reports (it no longer waits for its last wave, as Argo CD).
        assert "HealthChanged Deployment/guestbook/guestbook-ui" in live
        assert "SyncFinished" in screen_text(app)
        # Every recorded event shown once: nothing replayed twice, nothing missed.
        # (Lines themselves may repeat: two syncs in one second read alike.)
        await until(pilot, lambda: len(screen.lines) >= len(env.store.events("guestbook")))
        assert len(screen.lines) == len(env.store.events("guestbook"))

"""The Applications screen at 80x24: statuses, filter, sort, pause/resume,
read-only refusal, help and the command palette — on a real sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable

from gitwave.engine.operations import sync_app
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.help import HelpScreen
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
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


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    # app-of-apps: its children guestbook (automated) and waves (manual).
    root = fleet(tmp_path)
    built = make_env(tmp_path, root / "samples" / "app-of-apps")
    yield built
    built.close()


def table_rows(screen: AppsScreen) -> list[list[str]]:
    table = screen.query_one("#apps", DataTable)
    return [
        [str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)
    ]


def help_entries(text: str) -> dict[str, dict[str, list[str]]]:
    """Help text → section → key → descriptions."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("  "):
            current = sections.setdefault(line, {})
            continue
        keys, what = line.strip().split("  ", 1)
        for key in keys.split(", "):
            current.setdefault(key, []).append(what)
    return sections


async def loaded(pilot: object, app: object, *, select: str = "") -> AppsScreen:
    """The app list once loaded, its cursor on the app ``select`` when given."""
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, AppsScreen)
    await until(pilot, lambda: screen.loaded, what="the app list")  # type: ignore[arg-type]
    if select:
        screen.query_one("#apps", DataTable).move_cursor(row=screen.visible_names().index(select))
    return screen


def auto_sync_column(screen: AppsScreen) -> dict[str, str]:
    """The AUTO-SYNC cell of every listed app, by name."""
    return {row[0]: row[5] for row in table_rows(screen)}


async def test_lists_every_app_with_status_revision_and_auto_sync(env: Env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        rows = {r[0]: r for r in table_rows(screen)}
        assert set(rows) == {"guestbook", "waves"}
        _, sync, health, revision, last, auto = rows["guestbook"]
        assert sync == "~ OutOfSync"
        assert health == "∅ Missing"
        assert revision.startswith(env.controller.view("guestbook").summary.revision.short)
        assert "Add the samples" in screen_text(app)
        assert last == "never"
        assert auto == "✓ on"  # syncPolicy.automated
        assert rows["waves"][5] == "- off"


async def test_enter_opens_the_selected_app(env: Env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        first = screen.visible_names()[0]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))
        assert app.screen.app_name == first  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AppsScreen))


@dataclass
class FilterCase:
    reason: str
    typed: str
    want: list[str]


FILTERS = [
    FilterCase("name substring", "wav", ["waves"]),
    FilterCase("case does not matter", "GUEST", ["guestbook"]),
    FilterCase("auto-sync state", "on", ["guestbook"]),
    FilterCase("sync status word", "outofsync", ["guestbook", "waves"]),
    FilterCase("nothing matches", "zzz", []),
]


@pytest.mark.parametrize("case", FILTERS, ids=[c.reason for c in FILTERS])
async def test_slash_filters_and_escape_clears(env: Env, case: FilterCase) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("slash", *case.typed)
        assert [r[0] for r in table_rows(screen)] == case.want
        await pilot.press("enter")  # keep the filter, back to the table
        assert [r[0] for r in table_rows(screen)] == case.want
        assert f"filter: {case.typed}" in screen_text(app)
        await pilot.press("escape")
        assert sorted(r[0] for r in table_rows(screen)) == ["guestbook", "waves"]


async def test_s_cycles_the_sort_column(env: Env) -> None:
    # guestbook synced (Healthy, Synced, newest sync) and waves never synced.
    guestbook = env.controller.app("guestbook")
    sync_app(guestbook, targets=env.controller.targets, store=env.store)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        seen = []
        for _ in range(4):
            seen.append((screen.sort_by.value, [r[0] for r in table_rows(screen)]))
            await pilot.press("s")
        assert seen == [
            ("name", ["guestbook", "waves"]),
            ("sync", ["waves", "guestbook"]),  # out of sync first
            ("health", ["waves", "guestbook"]),  # worst health first
            ("last sync", ["guestbook", "waves"]),  # most recent first
        ]
        assert screen.sort_by.value == "name"  # the cycle wraps


async def test_p_pauses_and_resumes_auto_sync(env: Env) -> None:
    flags = env.state / "autosync.json"
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app, select="guestbook")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Pause auto-sync of guestbook?" in screen_text(app)
        assert not flags.exists() or json.loads(flags.read_text())["paused"] == {}
        await pilot.press("enter")  # enter (or y) says yes here
        await until(pilot, lambda: "‖ paused" in auto_sync_column(screen)["guestbook"])
        assert "guestbook" in json.loads(flags.read_text())["paused"]
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Resume auto-sync of guestbook?" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: auto_sync_column(screen)["guestbook"] == "✓ on")
        assert json.loads(flags.read_text())["paused"] == {}


@pytest.mark.parametrize("answer", ["n", "escape"])
async def test_saying_no_to_pause_leaves_auto_sync_on(env: Env, answer: str) -> None:
    flags = env.state / "autosync.json"
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app, select="guestbook")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(answer)
        await until(pilot, lambda: notified(app, "pause cancelled; auto-sync unchanged"))
        assert app.screen is screen
        assert not flags.exists() or json.loads(flags.read_text())["paused"] == {}
        assert auto_sync_column(screen)["guestbook"] == "✓ on"


async def test_pause_refuses_an_app_without_automated_sync(env: Env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, select="waves")
        await pilot.press("p")
        await until(pilot, lambda: notified(app, "nothing to pause"))
        assert not (env.state / "autosync.json").exists()


@pytest.mark.parametrize("key", ["S", "p"])
async def test_read_only_hides_and_refuses_controls(env: Env, key: str) -> None:
    app = env.app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        footer = screen_text(app).splitlines()[-1]
        assert "sync" not in footer and "pause" not in footer
        assert "filter" in footer
        await pilot.press(key)
        await until(pilot, lambda: notified(app, "read-only mode"))
        assert not isinstance(app.screen, SyncOptionsScreen | ConfirmScreen)
        assert not (env.state / "autosync.json").exists()
        assert env.sandbox.list(namespace="guestbook") == []


@pytest.mark.parametrize("read_only", [False, True])
async def test_question_mark_lists_every_key(env: Env, read_only: bool) -> None:
    app = env.app(read_only=read_only)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = app.screen.text  # type: ignore[attr-defined]
        entries = help_entries(text)
        for section in ("Everywhere", "Applications", "Application", "Diff", "History", "Events"):
            assert section in entries
        wanted = [
            ("Everywhere", "q", "quit"),
            ("Everywhere", "?", "help"),
            ("Everywhere", ":", "palette"),
            ("Applications", "enter", "open"),
            ("Applications", "/", "filter"),
            ("Applications", "s", "sort"),
            ("Application", "j", "down"),
            ("Application", "enter", "open"),
            ("Application", "d", "describe"),
            ("Application", "y", "yaml"),
            ("Application", "l", "logs"),
            ("Application", "h", "history"),
            ("Application", "e", "events"),
            ("Application", "esc", "back"),
        ]
        for section, key, what in wanted:
            assert what in entries[section].get(key, ()), (section, key, what)
        controls = [
            ("Applications", "S", "sync"),
            ("History", "R", "roll back"),
            ("Application", "p", "pause/resume"),
        ]
        for section, key, what in controls:
            assert (what in entries[section].get(key, ())) is not read_only, (section, key)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AppsScreen))


async def test_colon_opens_the_command_palette_with_the_app_commands(env: Env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, select="guestbook")
        await pilot.press("colon")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"history guestbook")
        await until(pilot, lambda: "history guestbook" in screen_text(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert app.screen.app_name == "guestbook"  # type: ignore[attr-defined]


async def test_capital_s_on_the_list_syncs_the_selected_app(env: Env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app, select="waves")
        await pilot.press("S")
        await until(pilot, lambda: drawn(app, SyncOptionsScreen))
        assert app.screen.app_name == "waves"  # type: ignore[attr-defined]
        assert "Sync waves" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, AppsScreen))
    assert env.sandbox.list(namespace="shop") == []


async def test_the_list_refreshes_by_itself(env: Env) -> None:
    app = env.app(refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        # Synced behind the TUI's back (another gitwave, the reconcile loop).
        sync_app(env.controller.app("guestbook"), targets=env.controller.targets, store=env.store)

        def guestbook() -> list[str]:
            return next(r for r in table_rows(screen) if r[0] == "guestbook")

        await until(pilot, lambda: guestbook()[1] == "✓ Synced", timeout=30)
        assert guestbook()[2] == "✓ Healthy"
        assert guestbook()[4].startswith("✓ ")  # the last sync, with its age


async def test_an_app_a_rollback_pinned_shows_pinned(env: Env) -> None:
    # What `gitwave run` does after a rollback of an automated app.
    env.controller.pins.pin(
        "guestbook", revision="a" * 40, skipped="b" * 40, sync_id=None, reason="rollback"
    )
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        autos = {r[0]: r[5] for r in table_rows(screen)}
        assert autos["guestbook"] == "‖ pinned"
        assert autos["waves"] == "- off"
    env.controller.pins.unpin("guestbook", reason="test")
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        assert {r[0]: r[5] for r in table_rows(screen)}["guestbook"] == "✓ on"


async def test_the_apps_an_application_set_generates_are_listed_by_name(tmp_path: Path) -> None:
    # issue 11 item 3: generated apps are ordinary apps in the TUI list too.
    built = make_env(tmp_path, fleet(tmp_path, ("appset",)) / "samples" / "appset")
    try:
        app = built.app()
        async with app.run_test(size=SIZE) as pilot:
            screen = await loaded(pilot, app)
            assert {r[0] for r in table_rows(screen)} == {"team-payments", "team-search"}
    finally:
        built.close()

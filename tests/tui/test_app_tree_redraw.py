"""What the tree shows after a key or an update when only the lines that
changed are drawn again: expand/collapse deep in a big tree, a changed row's
line, the cursor line, and the detail line following the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ResourceKey
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.widgets.resource_tree import ResourceTree, TreeRow
from gitwave.tui.widgets.status import UNICODE, Cell, Tone
from tests.tui.test_app_support import Env, fleet, make_env, screen_text, settle, until
from tests.tui.test_app_tree import TreeApp, fleet_rows, shown

pytestmark = pytest.mark.anyio


def tree_lines(app: App[None]) -> list[str]:
    """The tree's lines on screen, under its header, without trailing spaces."""
    return [line.rstrip() for line in screen_text(app).splitlines()[1:]]  # type: ignore[arg-type]


def names(app: App[None]) -> list[str]:
    """The label of each tree line on screen (the last word of its NAME column, 80 wide)."""
    return [line[2:29].split()[-1] for line in tree_lines(app) if line[2:29].strip()]


async def test_expand_and_collapse_deep_in_a_big_tree_show_the_children_in_order() -> None:
    app = TreeApp(fleet_rows(3000))  # 12,002 rows: only the top level starts open
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)
        assert tree.move_to("d2520")
        assert tree.move_to("d2500")  # from below: d2500 is the top line
        await settle(pilot)
        top = names(app)
        at = top.index("d2500")
        assert at == 0
        await pilot.press("right")  # open d2500: its ReplicaSet comes in under it
        assert tree.cursor_row is not None and tree.cursor_row.id == "d2500"
        assert tree.row_count == 3002 + 1
        assert names(app)[at : at + 3] == ["d2500", "rs2500", "d2501"]
        await pilot.press("down", "right")  # open rs2500: its two Pods
        assert tree.cursor_row.id == "rs2500"
        assert shown(tree)[2501:2506] == ["d2500", "rs2500", "p2500a", "p2500b", "d2501"]
        assert names(app)[at : at + 5] == ["d2500", "rs2500", "p2500a", "p2500b", "d2501"]
        await pilot.press("up", "left")  # close d2500: the lines under it move up
        assert tree.cursor_row.id == "d2500"
        assert tree.row_count == 3002
        assert names(app) == top  # every line drawn again below it, none left behind


async def test_a_collapse_scrolled_to_the_end_keeps_the_last_rows_on_screen() -> None:
    app = TreeApp(fleet_rows(3000))
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)
        await pilot.press("end", "up", "right", "end")  # open d2999, back to the end
        assert names(app)[-3:] == ["d2999", "rs2999", "s"]
        await pilot.press("up", "left", "left")  # to d2999, then close it
        assert tree.cursor_row is not None and tree.cursor_row.id == "d2999"
        assert names(app)[-3:] == ["d2998", "d2999", "s"]
        assert tree_lines(app)[-1].startswith("  └── Service s")


async def test_a_changed_row_is_drawn_again_and_the_same_row_is_not() -> None:
    app = TreeApp(fleet_rows(1))
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)
        assert "✓ Synced" in next(line for line in tree_lines(app) if "p0a" in line)
        rows = fleet_rows(1)
        pod = rows[0].children[0].children[0].children[0]
        assert pod.id == "p0a"
        # The same ids, one Pod's status changed (a new frozen row).
        changed = TreeRow(id="p0a", label="p0a", sync=Cell("✗ Failed", Tone.BAD))
        replica_set = rows[0].children[0].children[0]
        rows = [
            TreeRow(
                id="app",
                label="app shop",
                children=(
                    TreeRow(
                        id="d0",
                        label="Deployment d0",
                        children=(
                            TreeRow(
                                id=replica_set.id,
                                label=replica_set.label,
                                children=(changed, replica_set.children[1]),
                            ),
                        ),
                    ),
                    *rows[0].children[1:],
                ),
            )
        ]
        tree.set_roots(rows)
        await settle(pilot)
        lines = tree_lines(app)
        assert "✗ Failed" in next(line for line in lines if "p0a" in line)
        assert "✓ Synced" in next(line for line in lines if "p0b" in line)


async def test_the_cursor_marker_is_on_one_line_after_moving_back_and_forth() -> None:
    app = TreeApp(fleet_rows(40))
    async with app.run_test(size=(80, 10)) as pilot:
        tree = app.query_one(ResourceTree)
        for keys in (["down"] * 12, ["up"] * 5, ["pagedown"], ["pageup"], ["down"] * 3):
            await pilot.press(*keys)
            marked = [line for line in tree_lines(app) if line.startswith(UNICODE.cursor)]
            assert tree.cursor_row is not None
            assert len(marked) == 1 and tree.cursor_row.label in marked[0]


async def test_the_cursor_line_changes_colour_when_the_tree_loses_the_focus() -> None:
    class TwoWidgets(TreeApp):
        def compose(self) -> ComposeResult:
            yield from super().compose()
            yield ResourceTree(id="other")

    app = TwoWidgets(fleet_rows(1))
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)

        def cursor_background() -> object:
            strip = app.screen._compositor.render_strips()[1]  # the cursor's line
            return next(s.style.bgcolor for s in strip if s.style and s.text.strip())

        focused = cursor_background()
        app.query_one("#other", ResourceTree).focus()
        await settle(pilot)
        assert not tree.has_focus
        assert cursor_background() != focused
        tree.focus()
        await settle(pilot)
        assert cursor_background() == focused


GUESTBOOK_DEPLOYMENT = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    built = make_env(tmp_path, fleet(tmp_path, ("guestbook",)) / "samples" / "guestbook")
    yield built
    built.close()


async def test_the_detail_line_follows_the_cursor_and_a_health_update_redraws_its_line(
    env: Env,
) -> None:
    app = env.app(open_app="guestbook")
    async with app.run_test(size=(100, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ApplicationScreen)
        await until(pilot, lambda: screen.loads > 0, what="the app planned")
        tree = screen.query_one("#tree", ResourceTree)
        for key in ("down", "down", "up", "end"):
            await pilot.press(key)
            row = tree.cursor_row
            assert row is not None and row.detail
            assert screen_text(app).splitlines()[-2].strip().startswith(row.detail[:40])

        def deployment_line() -> str:
            return next(line for line in tree_lines(app) if "Deployment guestbook-ui" in line)

        assert "Missing" in deployment_line()
        app.forward(
            Event(
                EventKind.HEALTH_CHANGED,
                "guestbook",
                "Healthy: 2 replicas available",
                resource=GUESTBOOK_DEPLOYMENT,
            )
        )
        await until(pilot, lambda: "Healthy" in deployment_line(), what="the health on its line")
        assert "Missing" in next(line for line in tree_lines(app) if "Service guestbook-ui" in line)

"""Page keys in a big tree, whose next pages are drawn ahead while the app is
idle: the lines they show, the cursor marker, a row that changed after it
was drawn ahead, and the scrollbar's thumb (drawn again only when it moves)."""

from __future__ import annotations

import pytest
from textual.app import App

from gitwave.tui.widgets.resource_tree import ResourceTree, TreeRow
from gitwave.tui.widgets.status import UNICODE, Cell, Tone
from tests.tui.test_app_support import settle
from tests.tui.test_app_tree import TreeApp, fleet_rows, shown
from tests.tui.test_app_tree_redraw import names, tree_lines

pytestmark = pytest.mark.anyio


def expected_names(tree: ResourceTree, count: int) -> list[str]:
    """The last word of the label of each line from the top of the screen."""
    top = int(tree.scroll_y)
    return [row.label.split()[-1] for row in list(tree.rows())[top : top + count]]


def cursor_lines(app: App[None]) -> list[str]:
    return [line for line in tree_lines(app) if line.startswith(UNICODE.cursor)]


def scrollbar(app: App[None]) -> list[tuple[str, object]]:
    """The scrollbar's two columns on each line of the tree, text and style."""
    strips = app.screen._compositor.render_strips()[1:]  # under the header
    return [
        tuple((s.text, s.style) for s in strip.crop(78, 80))  # type: ignore[misc]
        for strip in strips
    ]


async def test_pages_show_the_rows_in_order_with_the_cursor_marker_on_one_line() -> None:
    app = TreeApp(fleet_rows(3000))  # 3,002 lines: only the top level starts open
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)
        steps = (["pagedown"] * 3, ["pageup"], ["pagedown"] * 5, ["pageup"] * 2, ["end"])
        for keys in steps:
            await pilot.press(*keys)
            await settle(pilot)  # the next pages are drawn ahead meanwhile
            on_screen = names(app)
            assert on_screen == expected_names(tree, len(on_screen))
            marked = cursor_lines(app)
            assert tree.cursor_row is not None
            assert len(marked) == 1 and tree.cursor_row.label in marked[0]


async def test_page_keys_back_and_forth_come_back_to_the_same_lines() -> None:
    app = TreeApp(fleet_rows(3000))
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)
        await pilot.press("pagedown", "pagedown", "pagedown")  # the cursor on the last line
        await settle(pilot)
        before, row = tree_lines(app), tree.cursor_row
        assert row is not None and cursor_lines(app) == [before[-1]]
        await pilot.press("pageup", "pagedown")  # the marker goes up a page and back
        await settle(pilot)
        assert tree_lines(app) == before
        await pilot.press("pagedown", "pageup")  # a page further down and back
        await settle(pilot)
        assert tree.cursor_row is not None and tree.cursor_row.id == row.id
        after = tree_lines(app)
        assert cursor_lines(app) == [after[0]]  # now the top line: the screen scrolled down
        assert after[0][1:] == before[-1][1:]
        assert names(app) == expected_names(tree, len(after))


async def test_a_row_drawn_ahead_then_changed_shows_its_new_status_on_page_down() -> None:
    rows = fleet_rows(40)  # every row open: a Pod of d3 is on the second page
    app = TreeApp(rows)
    async with app.run_test(size=(80, 12)) as pilot:
        tree = app.query_one(ResourceTree)
        assert "p3a" in shown(tree)[11:22] and "p3a" not in names(app)
        await settle(pilot)  # the page below is drawn ahead
        app_row = rows[0]
        d3 = app_row.children[3]
        replica_set = d3.children[0]
        failed = TreeRow(id="p3a", label="p3a", sync=Cell("✗ Failed", Tone.BAD))
        changed_rs = TreeRow(
            id=replica_set.id,
            label=replica_set.label,
            children=(failed, replica_set.children[1]),
        )
        changed_d3 = TreeRow(id=d3.id, label=d3.label, children=(changed_rs,))
        children = (*app_row.children[:3], changed_d3, *app_row.children[4:])
        tree.set_roots([TreeRow(id=app_row.id, label=app_row.label, children=children)])
        await settle(pilot)
        await pilot.press("pagedown", "pagedown")
        await settle(pilot)
        line = next(line for line in tree_lines(app) if "p3a" in line)
        assert "✗ Failed" in line
        assert "✓ Synced" in next(line for line in tree_lines(app) if "p3b" in line)


async def test_the_scrollbar_thumb_moves_when_the_tree_scrolls_far_enough() -> None:
    app = TreeApp(fleet_rows(3000))
    async with app.run_test(size=(80, 12)) as pilot:
        await settle(pilot)
        top = scrollbar(app)
        await pilot.press("pagedown", "pagedown")  # 20 lines of 3,002: the thumb stays
        await settle(pilot)
        assert scrollbar(app) == top
        await pilot.press("end")
        await settle(pilot)
        bottom = scrollbar(app)
        assert bottom != top
        await pilot.press("home")
        await settle(pilot)
        assert scrollbar(app) == top


async def test_in_a_short_tree_each_page_moves_the_thumb() -> None:
    app = TreeApp(fleet_rows(8))  # 34 lines, 11 on screen
    async with app.run_test(size=(80, 12)) as pilot:
        await settle(pilot)
        seen = [scrollbar(app)]
        for _ in range(3):
            await pilot.press("pagedown")
            await settle(pilot)
            seen.append(scrollbar(app))
        assert seen[1] != seen[2] != seen[3]
        await pilot.press("pageup", "pageup", "pageup", "pageup")
        await settle(pilot)
        assert scrollbar(app) == seen[0]

"""ResourceTree, the widget under the live tree and the waves view: keys,
expand/collapse, what it draws, and what it keeps across a refresh."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from textual.app import App, ComposeResult

from gitwave.tui.widgets.resource_tree import ResourceTree, TreeRow
from gitwave.tui.widgets.status import ASCII, UNICODE, Cell, Glyphs, Tone
from tests.tui.test_app_support import screen_text

pytestmark = pytest.mark.anyio


def leaf(name: str) -> TreeRow:
    return TreeRow(id=name, label=name, sync=Cell("✓ Synced", Tone.GOOD))


def fleet_rows(deployments: int = 2) -> list[TreeRow]:
    """app → Deployment d<i> → ReplicaSet rs<i> → Pod p<i>a, p<i>b; and a Service."""
    children = [
        TreeRow(
            id=f"d{i}",
            label=f"Deployment d{i}",
            children=(
                TreeRow(
                    id=f"rs{i}",
                    label=f"ReplicaSet rs{i}",
                    children=(leaf(f"p{i}a"), leaf(f"p{i}b")),
                ),
            ),
        )
        for i in range(deployments)
    ]
    return [TreeRow(id="app", label="app shop", children=(*children, leaf("Service s")))]


class TreeApp(App[None]):
    def __init__(self, rows: Sequence[TreeRow], *, glyphs: Glyphs = UNICODE, limit: int = 2000):
        super().__init__()
        self.rows = rows
        self.glyphs = glyphs
        self.limit = limit
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield ResourceTree(glyphs=self.glyphs, auto_expand_limit=self.limit)

    def on_mount(self) -> None:
        self.query_one(ResourceTree).set_roots(self.rows)
        self.query_one(ResourceTree).focus()

    def on_resource_tree_selected(self, message: ResourceTree.Selected) -> None:
        self.selected.append(message.row.id)


def shown(tree: ResourceTree) -> list[str]:
    return [row.id for row in tree.rows()]


@dataclass
class KeyCase:
    reason: str
    keys: list[str]
    cursor: str
    rows: list[str]


ALL = ["app", "d0", "rs0", "p0a", "p0b", "d1", "rs1", "p1a", "p1b", "Service s"]
KEYS = [
    KeyCase("start on the top row, all expanded", [], "app", ALL),
    KeyCase("down and j move", ["down", "j"], "rs0", ALL),
    KeyCase("k moves up", ["down", "down", "k"], "d0", ALL),
    KeyCase("end/G goes last, home/g first", ["G", "g"], "app", ALL),
    KeyCase("end goes last", ["end"], "Service s", ALL),
    KeyCase(
        "left collapses",
        ["down", "left"],
        "d0",
        ["app", "d0", "d1", "rs1", "p1a", "p1b", "Service s"],
    ),
    KeyCase(
        "left twice: collapsed, then to the parent",
        ["down", "left", "left"],
        "app",
        ["app", "d0", "d1", "rs1", "p1a", "p1b", "Service s"],
    ),
    KeyCase("right on a collapsed row expands it", ["down", "left", "right"], "d0", ALL),
    KeyCase("right on an open row steps in", ["down", "right"], "rs0", ALL),
    KeyCase(
        "space toggles",
        ["down", "down", "space"],
        "rs0",
        ["app", "d0", "rs0", "d1", "rs1", "p1a", "p1b", "Service s"],
    ),
    KeyCase("left on a leaf goes to its parent", ["down", "down", "down", "left"], "rs0", ALL),
    KeyCase("collapse the root", ["left"], "app", ["app"]),
]


@pytest.mark.parametrize("case", KEYS, ids=[c.reason for c in KEYS])
async def test_keys_move_expand_and_collapse(case: KeyCase) -> None:
    app = TreeApp(fleet_rows())
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.query_one(ResourceTree)
        await pilot.press(*case.keys)
        assert tree.cursor_row is not None and tree.cursor_row.id == case.cursor
        assert shown(tree) == case.rows


async def test_enter_selects_and_the_cursor_is_drawn_without_colour() -> None:
    app = TreeApp(fleet_rows())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        assert app.selected == ["d0"]
        lines = screen_text(app).splitlines()  # type: ignore[arg-type]
        assert lines[0].split() == ["NAME", "NAMESPACE", "SYNC", "HEALTH", "WAVE", "AGE"]
        cursor = [line for line in lines if line.startswith(UNICODE.cursor)]
        assert len(cursor) == 1 and "Deployment d0" in cursor[0]


@pytest.mark.parametrize("glyphs", [UNICODE, ASCII], ids=["unicode", "ascii"])
async def test_guides_draw_the_tree(glyphs: Glyphs) -> None:
    app = TreeApp(fleet_rows(1), glyphs=glyphs)
    async with app.run_test(size=(80, 24)):
        lines = [line[:40].rstrip() for line in screen_text(app).splitlines()[1:6]]  # type: ignore[arg-type]
    g = glyphs
    leaf_tail = "─ " if glyphs is UNICODE else "- "
    assert lines == [
        f"{g.cursor} {g.expanded} app shop",
        f"  {g.branch}{g.expanded} Deployment d0",
        f"  {g.pipe}{g.last_branch}{g.expanded} ReplicaSet rs0",
        f"  {g.pipe}  {g.branch}{leaf_tail}p0a",
        f"  {g.pipe}  {g.last_branch}{leaf_tail}p0b",
    ]


async def test_a_big_tree_opens_with_only_the_top_level_expanded() -> None:
    app = TreeApp(fleet_rows(1000), limit=2000)  # 5,002 rows
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.query_one(ResourceTree)
        assert tree.row_count == 1002  # the app and its 1,001 children
        await pilot.press("down", "right")
        assert tree.row_count == 1003
        assert shown(tree)[:4] == ["app", "d0", "rs0", "d1"]


async def test_a_refresh_keeps_the_cursor_and_what_was_collapsed() -> None:
    app = TreeApp(fleet_rows())
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.query_one(ResourceTree)
        await pilot.press("down", "left", "down")  # collapse d0, cursor on d1
        # The same rows come back with a new Deployment in front of d1.
        rows = fleet_rows(3)
        tree.set_roots(rows)
        assert tree.cursor_row is not None and tree.cursor_row.id == "d1"
        assert not tree.is_expanded("d0")
        assert tree.is_expanded("d2")  # new rows start expanded
        assert tree.move_to("p0b")  # expands the ancestors on the way
        assert tree.is_expanded("d0") and tree.cursor_row.id == "p0b"


async def test_the_cursor_stays_on_screen() -> None:
    app = TreeApp(fleet_rows(40))
    async with app.run_test(size=(80, 10)) as pilot:
        tree = app.query_one(ResourceTree)
        await pilot.press(*["pagedown"] * 3)
        visible = screen_text(app)  # type: ignore[arg-type]
        assert tree.cursor_row is not None
        assert tree.cursor_row.label in visible
        await pilot.press("end")
        assert "Service s" in screen_text(app)  # type: ignore[arg-type]

"""The History screen: an app's past syncs with revision and result; roll back from here."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from gitwave.engine.errors import GitwaveError
from gitwave.engine.store_records import SyncRecord
from gitwave.tui.formatting import revision_text
from gitwave.tui.screens.base import FILTER_BINDING, GitwaveScreen, filter_input
from gitwave.tui.screens.messages import RollbackRequested
from gitwave.tui.widgets.status import result_cell
from gitwave.tui.widgets.title_bar import TitleBar


def started_text(seconds: float) -> str:
    """When a sync started, in the operator's local time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


class HistoryScreen(GitwaveScreen):
    """Newest first. ``R`` rolls the app back to the selected entry (after its plan)."""

    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("R", "rollback", "roll back"),
        FILTER_BINDING,
        Binding("r", "refresh", "refresh"),
    ]

    def __init__(self, app_name: str) -> None:
        super().__init__(name=f"history:{app_name}")
        self.app_name = app_name
        self.all_records: list[SyncRecord] = []
        self.records: list[SyncRecord] = []  # the rows shown: after the filter
        self.loads = 0

    def compose(self) -> ComposeResult:
        gw = self.gw
        right = gw.controller.target_name + (" [read-only]" if gw.read_only else "")
        yield TitleBar(("gitwave", self.app_name, "history"), right)
        table: DataTable[Text | str] = DataTable(id="history", cursor_type="row")
        yield table
        yield Static(id="entry")
        yield filter_input("filter history")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#history", DataTable)
        self._add_columns(table)
        table.focus()
        self.gw.changed_signal.subscribe(self, self._app_changed)
        self.load()

    @staticmethod
    def _add_columns(table: DataTable[Text | str]) -> None:
        for label in ("ID", "REVISION", "STARTED", "RESULT", "SOURCE", "WHO"):
            table.add_column(label, key=label.lower())

    @work(thread=True, exclusive=True, group="history")
    def load(self) -> None:
        try:
            records = self.gw.controller.history(self.app_name)
        except GitwaveError as exc:
            self.app.call_from_thread(self.engine_failed, exc)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, records)

    def _app_changed(self, name: str) -> None:
        if name == self.app_name and name not in self.gw.busy:
            self.load()

    def _show(self, records: list[SyncRecord]) -> None:
        self.all_records = records
        self.loads += 1
        self._draw()

    @property
    def live_id(self) -> int | None:
        """The entry the target runs now: the newest real sync, when it succeeded."""
        for record in self.all_records:
            if not record.dry_run:
                return record.id if record.result == "Succeeded" else None
        return None

    def _draw(self) -> None:
        g = self.gw.glyphs
        records = [r for r in self.all_records if _matches(r, self.filter_text)]
        self.records = records
        table = self.query_one("#history", DataTable)
        cursor = table.cursor_row
        # The columns too: a DataTable never narrows a column that was once wide.
        table.clear(columns=True)
        self._add_columns(table)
        narrow = self.size.width < 120
        live = self.live_id
        rows: list[list[Text]] = []
        for r in records:
            result = result_cell(r.result, g).rich()
            if r.rollback_of:
                result.append(f" (rollback of #{r.rollback_of})", style="dim")
            if r.dry_run:
                result.append(" (dry run)", style="dim")
            ident = Text(str(r.id))
            if r.id == live:
                ident.append(" live", style="bold green")
            started = started_text(r.started)
            rows.append(
                [
                    ident,
                    Text(revision_text(r.revision, r.content_digest)),
                    Text(started[5:16] if narrow else started),
                    result,
                    Text(r.source),
                    Text(r.who),
                ]
            )
        _fit(rows, self.size.width)
        for r, cells in zip(records, rows, strict=True):
            table.add_row(*cells, key=str(r.id))
        if records:
            table.move_cursor(row=min(max(cursor, 0), len(records) - 1), animate=False)
        if not records:
            empty = f"no syncs recorded for {self.app_name}"
            if self.all_records:
                empty = f"no history entry matches {self.filter_text!r}"
            self.query_one("#entry", Static).update(empty)
        else:
            self._describe(records[min(table.cursor_row, len(records) - 1)])

    @property
    def selected(self) -> SyncRecord | None:
        table = self.query_one("#history", DataTable)
        if not self.records or not 0 <= table.cursor_row < len(self.records):
            return None
        return self.records[table.cursor_row]

    def _describe(self, record: SyncRecord) -> None:
        took = record.finished - record.started
        text = Text(f"#{record.id} {record.result} in {took:.1f}s: {record.message}")
        if record.content_digest:
            # Uncommitted edits: the commit alone does not say what was applied.
            text.append(f"\napplied {record.revision} {record.content_digest}", style="dim")
        self.query_one("#entry", Static).update(text)

    @on(DataTable.RowHighlighted, "#history")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if (record := self.selected) is not None:
            self._describe(record)

    def on_resize(self) -> None:
        if self.all_records:
            self._draw()

    def action_rollback(self) -> None:
        record = self.selected
        if record is None:
            self.notify("no history entry selected", severity="warning")
            return
        if record.id == self.live_id:
            self.notify(
                f"#{record.id} is what {self.app_name} runs now; choose an older entry",
                severity="warning",
            )
            return
        self.post_message(RollbackRequested(self.app_name, record.id))

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        if not self.clear_filter():
            self.dismiss()

    def filter_changed(self) -> None:
        self._draw()

    def filter_home(self) -> DataTable[Text | str]:
        return self.query_one("#history", DataTable)


def _matches(record: SyncRecord, needle: str) -> bool:
    """The filter matches the id, revision, result, source or who (any case)."""
    needle = needle.lower()
    words = (str(record.id), record.revision, record.result, record.source, record.who)
    return not needle or any(needle in str(w).lower() for w in words)


# The columns that give up room at a narrow width, in turn: SOURCE, then RESULT.
# WHO is never cut: who changed the target is what an operator looks for.
_SHRINK = (4, 3)
_FLOOR = 6


def _fit(rows: list[list[Text]], width: int) -> None:
    """Cut SOURCE, then RESULT, so that every column (WHO last) fits in ``width``."""
    if not rows:
        return
    headers = (2, 8, 7, 6, 6, 3)  # ID, REVISION, STARTED, RESULT, SOURCE, WHO
    widths = [max([h, *(row[i].cell_len for row in rows)]) for i, h in enumerate(headers)]
    # Two cells of padding per column, and the scrollbar.
    over = sum(widths) + 2 * len(widths) + 2 - width
    for column in _SHRINK:
        if over <= 0:
            return
        cut = min(over, widths[column] - _FLOOR)
        if cut <= 0:
            continue
        keep = widths[column] - cut
        for row in rows:
            cell = row[column]
            if cell.cell_len > keep:
                cell.truncate(keep, overflow="ellipsis")
        over -= cut

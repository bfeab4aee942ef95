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
from gitwave.engine.store import SyncRecord
from gitwave.tui.formatting import revision_text
from gitwave.tui.screens.base import GitwaveScreen, filter_input
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
        Binding("slash", "filter", "filter", key_display="/"),
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
        table.add_column("ID", key="id")
        table.add_column("REVISION", key="revision")
        table.add_column("STARTED", key="started")
        table.add_column("RESULT", key="result")
        table.add_column("SOURCE", key="source")
        table.add_column("WHO", key="who")
        table.focus()
        self.gw.changed_signal.subscribe(self, self._app_changed)
        self.load()

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

    def _draw(self) -> None:
        g = self.gw.glyphs
        records = [r for r in self.all_records if _matches(r, self.filter_text)]
        self.records = records
        table = self.query_one("#history", DataTable)
        table.clear()
        for r in records:
            result = result_cell(r.result, g).rich()
            if r.rollback_of:
                result.append(f" (rollback of #{r.rollback_of})", style="dim")
            if r.dry_run:
                result.append(" (dry run)", style="dim")
            table.add_row(
                str(r.id),
                revision_text(r.revision, r.content_digest),
                started_text(r.started),
                result,
                r.source,
                r.who,
                key=str(r.id),
            )
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

    def action_rollback(self) -> None:
        record = self.selected
        if record is None:
            self.notify("no history entry selected", severity="warning")
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

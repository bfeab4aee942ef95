"""The Applications screen: every app with its sync status, health, revision,
last sync and auto-sync state; filter with ``/``, sort with ``s``."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from gitwave.engine.clusters import IN_CLUSTER_NAME
from gitwave.engine.errors import GitwaveError
from gitwave.tui.controller import AppSummary, AppView, SyncStatus
from gitwave.tui.screens.base import FILTER_BINDING, GitwaveScreen, filter_input
from gitwave.tui.screens.messages import PauseRequested, SyncRequested
from gitwave.tui.widgets.status import (
    Cell,
    Tone,
    age,
    auto_sync_cell,
    health_cell,
    result_cell,
    sync_cell,
)
from gitwave.tui.widgets.title_bar import TitleBar


class SortBy(enum.Enum):
    """The columns ``s`` cycles through, with how each one orders the rows."""

    NAME = "name"
    SYNC = "sync"
    HEALTH = "health"
    LAST_SYNC = "last sync"

    def next(self) -> SortBy:
        members = list(SortBy)
        return members[(members.index(self) + 1) % len(members)]

    def key(self, order: int, summary: AppSummary | None) -> tuple[object, ...]:
        """Sort key: worst first for sync and health, newest first for last sync;
        the app's sync order breaks ties (and places apps still loading)."""
        if summary is None or self is SortBy.NAME:
            return (0, summary.name if summary else "", order)
        if self is SortBy.SYNC:
            rank = {SyncStatus.UNKNOWN: 0, SyncStatus.OUT_OF_SYNC: 1, SyncStatus.SYNCED: 2}
            return (rank[summary.sync], order)
        if self is SortBy.HEALTH:
            return (-summary.health.code.rank, order)
        finished = summary.last.finished if summary.last else 0.0
        return (-finished, order)


class AppsScreen(GitwaveScreen):
    """The list of apps under the location. Enter opens one."""

    BINDINGS = [
        Binding("enter", "open", "open"),
        Binding("S", "sync", "sync"),
        Binding("d", "diff", "diff"),
        Binding("h", "history", "history"),
        Binding("e", "events", "events"),
        FILTER_BINDING,
        Binding("s", "sort", "sort"),
        Binding("r", "refresh", "refresh"),
        Binding("p", "pause", "pause/resume"),
        Binding("escape", "clear_filter", "clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(name="apps")
        self.names: list[str] = []
        self.summaries: dict[str, AppSummary | None] = {}
        self._destinations = False  # the DESTINATION column is shown
        self.sort_by = SortBy.NAME
        self.loaded = False
        self.error = ""
        self._started = False
        self._load_started = 0.0
        self._next_refresh = 0.0

    def compose(self) -> ComposeResult:
        gw = self.gw
        right = gw.controller.target_name + (" [read-only]" if gw.read_only else "")
        yield TitleBar(("gitwave", gw.controller.location_label), right)
        table: DataTable[Text | str] = DataTable(id="apps", cursor_type="row", zebra_stripes=False)
        yield table
        yield filter_input("filter apps")
        yield Static(id="status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#apps", DataTable)
        table.add_column("NAME", key="name")
        table.add_column("SYNC", key="sync")
        table.add_column("HEALTH", key="health")
        table.add_column("REVISION", key="revision")
        table.add_column("LAST SYNC", key="last")
        table.add_column("AUTO", key="auto")
        self.gw.changed_signal.subscribe(self, self._app_changed)
        if self.gw.refresh_seconds > 0:
            self.set_interval(1.0, self._tick_refresh)

    def _tick_refresh(self) -> None:
        """Plan the list again every refresh interval while it is on screen; a
        list that took long to plan is planned less often (a fifth of the time)."""
        if self.loaded and self.app.screen is self and time.monotonic() >= self._next_refresh:
            self.loaded = False
            self.load()

    def on_screen_resume(self) -> None:
        # Plan the list the first time it is on screen: with `--app NAME` the
        # app's own screen opens on top first, and planning every app at the
        # same time would only slow that screen down.
        if not self._started and self.app.screen is self:
            self._started = True
            self.load()

    def on_resize(self) -> None:
        if self.names:
            self._render_rows()

    # -- loading ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="apps")
    def load(self, reload: bool = False) -> None:
        """List the apps, then plan them ``--concurrent`` at a time (the runner
        ``sync`` uses), filling the table as each comes."""
        worker = get_current_worker()
        controller = self.gw.controller
        self._load_started = time.monotonic()
        try:
            names = [a.name for a in controller.apps(reload=reload)]
        except GitwaveError as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._set_names, names)
        stop = threading.Event()

        def shown(view: AppView) -> None:
            if worker.is_cancelled:
                stop.set()  # a newer load runs: start no other app
                return
            self.app.call_from_thread(self._set_summary, view.summary)

        def failed(exc: GitwaveError) -> None:
            self.app.call_from_thread(self.engine_failed, exc)

        controller.view_all(names, on_view=shown, on_error=failed, stop=stop)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._done)

    def _failed(self, exc: GitwaveError) -> None:
        self.error = str(exc) + (f"\nhint: {exc.hint}" if exc.hint else "")
        self.loaded = True
        self._render_rows()

    def _set_names(self, names: list[str]) -> None:
        self.error = ""
        self.names = names
        self.summaries = {n: self.summaries.get(n) for n in names}
        self._render_rows()

    def _set_summary(self, summary: AppSummary) -> None:
        self.summaries[summary.name] = summary
        self._render_rows()

    def _done(self) -> None:
        self.gw.heap.settled()
        took = time.monotonic() - self._load_started
        self._next_refresh = time.monotonic() + max(self.gw.refresh_seconds, 5 * took)
        self.loaded = True
        self._render_status()

    def _app_changed(self, name: str) -> None:
        if name in self.summaries:
            self._render_rows()  # a sync started or ended here: shown at once
            self._reload_one(name)

    @work(thread=True, group="apps-one")
    def _reload_one(self, name: str) -> None:
        try:
            summary = self.gw.controller.view(name).summary
        except GitwaveError as exc:
            self.app.call_from_thread(self.engine_failed, exc)
            return
        self.app.call_from_thread(self._set_summary, summary)

    # -- drawing ----------------------------------------------------------------------

    @property
    def _wide(self) -> bool:
        return self.size.width >= 120

    def _row(self, name: str) -> list[Text | str]:
        """The cells of one app; the REVISION cell holds the SHA only (see _fit_subjects)."""
        g = self.gw.glyphs
        summary = self.summaries.get(name)
        if summary is None:
            loading = Cell(f"{g.ellipsis} loading", Tone.DIM).rich()
            blank = [Text("")] * (5 if self._destinations else 4)
            return [name, loading, *blank]
        revision = Text(summary.revision.short)
        if summary.error:
            revision = Text("error", style="red")
        last = Text("never", style="dim")
        if summary.last is not None:
            when = age(self.gw.controller.clock() - summary.last.finished)
            cell = result_cell(summary.last.result, g)
            # Narrow: the symbol alone tells the result (✓ / ✗), with the age.
            text = cell.text if self._wide else cell.text.split(" ")[0]
            last = Text(f"{text} {when} ago", style=cell.tone.rich_style)
        sync = sync_cell(summary.sync, g).rich()
        running = self.gw.busy.get(name) or summary.operation
        if running:
            # A sync in flight (here or in another gitwave): the status it
            # had before says nothing now, as Argo CD shows "Syncing".
            sync = Cell(f"{g.running} {running.capitalize()}", Tone.INFO).rich()
        cells: list[Text | str] = [
            name,
            sync,
            health_cell(summary.health, g).rich(),
            revision,
            last,
            auto_sync_cell(summary.auto_sync, g).rich(),
        ]
        if self._destinations:
            cells.append(Text(summary.destination or "-"))
        return cells

    def _fit_subjects(self, rows: dict[str, list[Text | str]]) -> None:
        """Append each commit subject (or error) to its REVISION cell, cut to the
        room the other columns leave on screen, so the table never scrolls sideways."""
        g = self.gw.glyphs
        headers = ["NAME", "SYNC", "HEALTH", "REVISION", "LAST SYNC", "AUTO"]
        headers += ["DESTINATION"] if self._destinations else []
        widths = [len(h) for h in headers]
        for cells in rows.values():
            for i, cell in enumerate(cells):
                widths[i] = max(
                    widths[i], Text(cell).cell_len if isinstance(cell, str) else cell.cell_len
                )
        # Two cells of padding per column, and the scrollbar.
        room = self.size.width - sum(widths) - 2 * len(widths) - 2 + widths[3] - 8
        for name, cells in rows.items():
            summary = self.summaries.get(name)
            if summary is None:
                continue
            cell = cells[3]
            assert isinstance(cell, Text)
            extra = summary.error or summary.revision.subject
            if extra and room >= 6:
                cell.append(
                    " " + _clip(extra, room, g.ellipsis), style="red" if summary.error else "dim"
                )

    def visible_names(self) -> list[str]:
        """The app names the table shows, in its order (after filter and sort)."""
        needle = self.filter_text.lower()
        order = {n: i for i, n in enumerate(self.names)}

        def matches(name: str) -> bool:
            if not needle:
                return True
            summary = self.summaries.get(name)
            words = [name]
            if summary is not None:
                words += [summary.sync.value, summary.health.code.value, summary.auto_sync.value]
            return any(needle in w.lower() for w in words)

        shown = [n for n in self.names if matches(n)]
        key: Callable[[str], tuple[object, ...]] = lambda n: self.sort_by.key(  # noqa: E731
            order[n], self.summaries.get(n)
        )
        return sorted(shown, key=key)

    def _render_rows(self) -> None:
        try:
            table = self.query_one("#apps", DataTable)
        except NoMatches:
            return  # the screen is closing: a loader's last answer came after its table went
        selected = self.selected_name
        table.clear()
        if not self._destinations and any(
            s is not None and s.destination.partition("/")[0] not in ("", IN_CLUSTER_NAME)
            for s in self.summaries.values()
        ):
            # Shown once an app goes to another cluster than the current target.
            self._destinations = True
            table.add_column("DESTINATION", key="destination")
        rows = {name: self._row(name) for name in self.visible_names()}
        self._fit_subjects(rows)
        for name, cells in rows.items():
            table.add_row(*cells, key=name)
        # DataTable only ever widens a column, and measures new rows when idle:
        # set the widths the rows shown need now, so they shrink back and do
        # not depend on the order the apps' plans arrived in.
        for index, column in enumerate(table.ordered_columns):
            cells = [row[index] for row in rows.values() if index < len(row)]
            column.content_width = max([column.label.cell_len, *map(_width, cells)])
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._render_status()

    def _render_status(self) -> None:
        try:
            status = self.query_one("#status", Static)
        except NoMatches:
            return  # closing, as in _render_rows
        if self.error:
            status.update(Text(f"cannot list the apps: {self.error}", style="red"))
            return
        shown = len(self.query_one("#apps", DataTable).rows)
        text = f"{shown} of {len(self.names)} apps · sort: {self.sort_by.value}"
        if self.filter_text:
            text += f" · filter: {self.filter_text}"
        if not self.loaded:
            text += f" · {self.gw.glyphs.ellipsis} planning"
        status.update(text)

    @property
    def selected_name(self) -> str | None:
        table = self.query_one("#apps", DataTable)
        if not table.rows or table.cursor_row < 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value) if row_key.value is not None else None

    def _selected_or_warn(self) -> str | None:
        name = self.selected_name
        if name is None:
            self.notify("no app selected", severity="warning")
        return name

    # -- actions ----------------------------------------------------------------------

    @on(DataTable.RowSelected, "#apps")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        if (name := self._selected_or_warn()) is not None:
            self.gw.open_app(name)

    def action_sync(self) -> None:
        if (name := self._selected_or_warn()) is not None:
            self.post_message(SyncRequested(name))

    def action_pause(self) -> None:
        if (name := self._selected_or_warn()) is not None:
            self.post_message(PauseRequested(name))

    def action_diff(self) -> None:
        if (name := self._selected_or_warn()) is not None:
            self.gw.open_diff(name)

    def action_history(self) -> None:
        if (name := self._selected_or_warn()) is not None:
            self.gw.open_history(name)

    def action_events(self) -> None:
        if (name := self._selected_or_warn()) is not None:
            self.gw.open_events(name)

    def action_refresh(self) -> None:
        self.loaded = False
        self.load(reload=True)
        self._render_status()

    def action_sort(self) -> None:
        self.sort_by = self.sort_by.next()
        self._render_rows()

    def filter_changed(self) -> None:
        self._render_rows()

    def filter_home(self) -> DataTable[Text | str]:
        return self.query_one("#apps", DataTable)


def _clip(text: str, width: int, ellipsis: str) -> str:
    return text if len(text) <= width else text[: width - len(ellipsis)] + ellipsis


def _width(cell: Text | str) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)

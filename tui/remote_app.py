"""``gitwave tui --controller``: the apps an in-cluster ``gitwave controller`` runs.

One k9s-style screen: every Application and Kustomization of the management
cluster with what its status says (sync, health, revision, suspended, the
operation running), refreshed every ``refresh_s``. The controls change the
objects, never the target: ``s`` asks for a sync (Argo CD's ``operation``,
Flux's ``requestedAt``), ``p`` suspends or resumes (``skip-reconcile``,
``spec.suspend``), ``r`` rolls an Application back to its previous history
entry. Each asks first, then waits in a worker for the controller to act and
says how it ended. The full local screens (plan, diff, live tree) need the
app's render on this machine, which controller mode does not do.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.requests import AppRow, Ask, history_rows
from gitwave.tui.controller_client import ControllerClient
from gitwave.tui.formatting import revision_text
from gitwave.tui.screens.modals import ConfirmScreen

READ_ONLY = "read-only: controls are off (started with --read-only)"


def _policy(row: AppRow) -> str:
    return "Suspended" if row.suspended else ("Auto" if row.automated else "Manual")


class ControllerApp(App[None]):
    """The controller's apps; sync, pause/resume and rollback through the objects."""

    TITLE = "gitwave"
    BINDINGS = [
        Binding("s", "sync", "Sync"),
        Binding("p", "pause", "Pause/Resume"),
        Binding("r", "rollback", "Rollback"),
        Binding("ctrl+r", "refresh", "Refresh"),
        Binding("q", "quit", "Quit"),
    ]
    CSS = """
    #where { height: 1; background: $boost; padding: 0 1; }
    DataTable { height: 1fr; }
    """
    COLUMNS = ("NAME", "NAMESPACE", "KIND", "SYNC", "HEALTH", "REVISION", "POLICY", "OPERATION")

    def __init__(
        self,
        client: ControllerClient,
        *,
        where: str,
        namespace: str = "",
        read_only: bool = False,
        refresh_s: float = 2.0,
        wait_s: float = 300.0,
    ) -> None:
        super().__init__()
        self.client = client
        self.where = where
        self.namespace = namespace
        self.read_only = read_only
        self.refresh_s = refresh_s
        self.wait_s = wait_s
        self.rows: list[AppRow] = []
        self.loaded = False
        self.busy: dict[str, str] = {}  # app id → what runs ("syncing", …)
        self.finished: list[tuple[str, str, bool]] = []  # (app id, what, ok), oldest first

    def compose(self) -> ComposeResult:
        scope = f"namespace {self.namespace}" if self.namespace else "all namespaces"
        yield Static(f"controller mode · {self.where} · {scope}", id="where")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*self.COLUMNS)
        self.action_refresh()
        self.set_interval(self.refresh_s, self.action_refresh)

    def action_refresh(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="refresh")
    def _load(self) -> None:
        try:
            rows = self.client.rows(self.namespace)
        except Exception as exc:  # the API server away: say so, keep the last rows
            self.call_from_thread(self.notify, f"listing apps: {exc}", severity="error")
            return
        self.call_from_thread(self._show, rows)

    def _show(self, rows: list[AppRow]) -> None:
        table = self.query_one(DataTable)
        selected = self.selected()
        self.rows = rows
        table.clear()
        for row in rows:
            operation = self.busy.get(row.app_id) or row.operation or "-"
            table.add_row(
                row.name,
                row.namespace,
                row.kind,
                row.sync or "-",
                row.health or "-",
                revision_text(row.revision) if row.revision else "-",
                _policy(row),
                operation,
                key=row.app_id,
            )
        if selected is not None:
            ids = [row.app_id for row in rows]
            if selected.app_id in ids:
                table.move_cursor(row=ids.index(selected.app_id))
        self.loaded = True

    def selected(self) -> AppRow | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _start(self, what: str) -> AppRow | None:
        if self.read_only:
            self.notify(READ_ONLY, severity="warning")
            return None
        row = self.selected()
        if row is None:
            return None
        if row.app_id in self.busy:
            self.notify(f"{row.name}: {self.busy[row.app_id]} already", severity="warning")
            return None
        return row

    def _confirm(self, question: str, body: str, then: Callable[[], None]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.push_screen(ConfirmScreen(question, body, compact=True), answered)

    def action_sync(self) -> None:
        row = self._start("sync")
        if row is None:
            return
        body = (
            f"The controller holding {row.app_id} syncs it from Git;\n"
            "nothing is applied from this machine.\n"
        )
        self._confirm(
            f"Sync {row.name}?", body, lambda: self._ask(row, "sync", self.client.sync_ask)
        )

    def action_pause(self) -> None:
        row = self._start("pause")
        if row is None:
            return
        suspended = not row.suspended
        verb = "Suspend" if suspended else "Resume"
        body = (
            "The controller leaves it alone until resumed.\n"
            if suspended
            else "The controller reconciles it again.\n"
        )
        self._confirm(
            f"{verb} {row.name}?",
            body,
            lambda: self._ask(
                row,
                verb.lower(),
                lambda obj: self.client.suspend_ask(obj, suspended=suspended),
            ),
        )

    def action_rollback(self) -> None:
        row = self._start("rollback")
        if row is None:
            return
        self._rollback_plan(row)

    @work(thread=True, group="operations")
    def _rollback_plan(self, row: AppRow) -> None:
        try:
            obj = self.client.find(f"{row.kind}/{row.namespace}/{row.name}")
            ask = self.client.rollback_ask(obj, None)
        except Exception as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=15)
            return
        entries = history_rows(obj)
        target = entries[-2] if len(entries) >= 2 else None
        where = f"#{target.id} ({revision_text(target.revision)})" if target else "?"
        body = "\n".join(
            f"#{h.id}  {h.deployed_at}  {revision_text(h.revision)}  {h.initiated_by}"
            for h in entries
        )
        self.call_from_thread(
            self._confirm,
            f"Roll {row.name} back to history entry {where}?",
            body + "\n",
            lambda: self._ask(row, "rollback", lambda _obj: ask),
        )

    def _ask(self, row: AppRow, what: str, make: Callable[[AppObject], Ask]) -> None:
        self.busy[row.app_id] = what
        self._run(row, what, make)

    @work(thread=True, group="operations")
    def _run(self, row: AppRow, what: str, make: Callable[[AppObject], Ask]) -> None:
        ok = False
        try:
            obj = self.client.find(f"{row.kind}/{row.namespace}/{row.name}")
            ask = make(obj)
            self.client.send(obj, ask)
            if ask.token or what in ("sync", "rollback"):
                obj = self.client.wait(obj, ask, timeout_s=self.wait_s, what=what)
                ok = self.client.succeeded(obj)
            else:
                ok = True
            message = f"{row.name}: {what} " + ("done" if ok else "did not succeed")
        except Exception as exc:
            message = f"{row.name}: {what}: {exc}"
        self.call_from_thread(self._done, row, what, ok, message)

    def _done(self, row: AppRow, what: str, ok: bool, message: str) -> None:
        self.busy.pop(row.app_id, None)
        self.finished.append((row.app_id, what, ok))
        self.notify(message, severity="information" if ok else "error", timeout=8)
        self.action_refresh()


__all__ = ["ControllerApp"]

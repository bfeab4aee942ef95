"""The Application screen: one app's live resource tree, its waves, and what a
running sync is waiting for. The tree's rows are built in ``application_rows``,
the summary and activity lines above it in ``application_lines``."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from gitwave.engine import rollouts
from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import Health, HealthCode, ResourceKey
from gitwave.tui.controller import AppView
from gitwave.tui.screens import rollout_actions
from gitwave.tui.screens.application_lines import activity_text, summary_text
from gitwave.tui.screens.application_rows import (
    APP_ROW,
    parse_health,
    tree_rows,
    wave_rows,
)
from gitwave.tui.screens.base import FILTER_BINDING, GitwaveScreen, filter_input
from gitwave.tui.screens.git_change import promote_flow, triage_flow
from gitwave.tui.screens.messages import PauseRequested, SyncRequested
from gitwave.tui.screens.object_text import (
    DescribeScreen,
    LogsScreen,
    ObjectTextScreen,
    YamlScreen,
)
from gitwave.tui.screens.rollout_actions import RolloutAction
from gitwave.tui.screens.why import why_lines
from gitwave.tui.widgets.resource_tree import ResourceTree, TreeRow
from gitwave.tui.widgets.title_bar import TitleBar
from gitwave.tui.widgets.tree_rows import filter_rows


class ApplicationScreen(GitwaveScreen):
    """One app: summary, what a running sync waits for, and the live tree or waves."""

    BINDINGS = [
        Binding("d", "describe", "describe"),
        Binding("y", "yaml", "yaml"),
        Binding("l", "logs", "logs"),
        Binding("S", "sync", "sync"),
        Binding("s", "sync_resource", "sync object"),
        Binding("h", "history", "history"),
        Binding("e", "events", "events"),
        Binding("w", "waves", "tree/waves"),
        Binding("D", "app_diff", "app diff"),
        Binding("r", "refresh", "refresh"),
        Binding("p", "pause", "pause/resume"),
        # P on a Rollout row promotes the Rollout; anywhere else it promotes the
        # app's release to another environment. The confirmation names which.
        Binding("P", "promote", "promote", show=False),
        Binding("t", "triage", "drift triage", show=False),
        Binding("A", "rollout_abort", "abort rollout", show=False),
        Binding("b", "why", "why blocked", show=False),
        FILTER_BINDING,
        Binding("escape", "back", "back"),
    ]

    def __init__(self, app_name: str) -> None:
        super().__init__(name=f"app:{app_name}")
        self.app_name = app_name
        self.view: AppView | None = None
        self.mode = "tree"
        self.running_wave: str | None = None
        self.done_waves: set[str] = set()
        self.blocked = ""
        self.health_now: dict[ResourceKey, Health] = {}
        self.loads = 0
        self._loading = False
        self._dirty = False
        self._next_refresh = 0.0
        self._load_seconds = 0.0
        self._rows: list[TreeRow] | None = None  # the rows last made (before the filter)

    def compose(self) -> ComposeResult:
        gw = self.gw
        right = gw.controller.target_name + (" [read-only]" if gw.read_only else "")
        yield TitleBar(("gitwave", self.app_name), right, id="title")
        yield Static(id="summary")
        yield Static(id="activity")
        yield ResourceTree(glyphs=gw.glyphs, id="tree")
        yield Static(id="detail")
        yield filter_input("filter objects")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#summary", Static).update(f"{self.gw.glyphs.ellipsis} planning")
        self.gw.events_signal.subscribe(self, self._on_engine_event)
        self.gw.changed_signal.subscribe(self, self._app_changed)
        if self.gw.refresh_seconds > 0:
            self.set_interval(1.0, self._tick_refresh)
        tree = self.query_one("#tree", ResourceTree)
        tree.focus()
        # The detail line follows the cursor in the same frame as the tree's
        # lines: a watcher runs as the cursor is set, where the Highlighted
        # message would arrive after the tree's frame and paint a second one.
        self.watch(tree, "cursor", self._cursor_moved, init=False)
        # Show what the app list planned a moment ago at once; the fresh plan follows.
        cached = self.gw.controller.last_view(self.app_name)
        if cached is not None:
            self._show(cached, 0.0)
            # Plan afresh once that is painted, not while it is being painted.
            self.call_after_refresh(self.load)
        else:
            self.load()

    # -- loading ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="view")
    def load(self) -> None:
        """Plan the app and build its live tree off the event loop."""
        self._loading = True
        started = time.perf_counter()
        try:
            view = self.gw.controller.view(self.app_name)
        except GitwaveError as exc:
            self._loading = False
            self.app.call_from_thread(self.engine_failed, exc)
            return
        took = time.perf_counter() - started
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, view, took)

    def _show(self, view: AppView, took: float) -> None:
        self._loading = False
        if len(self.query("#summary, #activity, #tree, #detail")) < 4:
            # Being taken down while the plan ran (the app exits or the screen
            # is closed): its widgets are going, there is nothing to draw.
            return
        self._load_seconds = took
        # A big app is planned less often: at most a fifth of the time goes to it.
        every = self.gw.refresh_seconds
        if view.summary.health.code is HealthCode.PROGRESSING:
            # A sync ends before its last wave is healthy (as in Argo CD): follow
            # the rollout closely until it settles.
            every = min(every, 1.0)
        self._next_refresh = time.monotonic() + max(every, 5 * took)
        self.view = view
        self.gw.heap.settled()  # before the rows are built: see HeapPolicy
        self.health_now = {}
        self.loads += 1
        self._redraw()

    def _tick_refresh(self) -> None:
        if self._loading or self.app_name in self.gw.busy:
            return
        if time.monotonic() >= self._next_refresh:
            self.load()

    def _app_changed(self, name: str) -> None:
        if name == self.app_name:
            self._draw_activity()
            if name not in self.gw.busy:
                self.load()

    def _on_engine_event(self, event: Event) -> None:
        if event.app != self.app_name:
            return
        kind = event.kind
        if kind is EventKind.SYNC_STARTED:
            self.running_wave = None
            self.done_waves = set()
            self.blocked = ""
        elif kind is EventKind.WAVE_STARTED:
            self.running_wave = event.wave
            self.blocked = ""
        elif kind is EventKind.WAVE_FINISHED:
            self.done_waves.add(event.wave)
            self.running_wave = None
            self.blocked = ""
        elif kind is EventKind.WAITING:
            self.blocked = f"{event.wave}: {event.message}" if event.wave else event.message
        elif kind is EventKind.HEALTH_CHANGED and event.resource is not None:
            self.health_now[event.resource] = parse_health(event.message)
        elif kind is EventKind.SYNC_FINISHED:
            self.running_wave = None
            self.blocked = ""
        else:
            return
        self._draw_activity()
        if not self._dirty:
            # Many events arrive in a burst on a big app: redraw the tree once for all.
            self._dirty = True
            self.set_timer(0.2, self._flush)

    def _flush(self) -> None:
        self._dirty = False
        self._redraw()

    # -- drawing ----------------------------------------------------------------------

    def _redraw(self) -> None:
        self._draw_summary()
        self._draw_activity()
        self._draw_tree()

    def _draw_summary(self) -> None:
        view = self.view
        widget = self.query_one("#summary", Static)
        if view is None:
            return
        widget.update(summary_text(view, self.gw.glyphs, now=self.gw.controller.clock()))

    def _draw_activity(self) -> None:
        widget = self.query_one("#activity", Static)
        widget.update(
            activity_text(
                self.view,
                self.gw.glyphs,
                busy=self.gw.busy.get(self.app_name),
                blocked=self.blocked,
                running_wave=self.running_wave,
                mode=self.mode,
                filter_text=self.filter_text,
            )
        )

    def _draw_tree(self, *, rebuild: bool = True) -> None:
        """Show the tree (or the waves) of the view, through the ``/`` filter.
        ``rebuild=False`` (a filter key) filters the rows made last time, so
        their search texts are made once, not at every key."""
        view = self.view
        tree = self.query_one("#tree", ResourceTree)
        if view is None:
            return
        rows = self._rows
        if rebuild or rows is None:
            rows = self._rows = self._make_rows(view, tree)
        if self.filter_text:
            tree.set_roots(filter_rows(rows, self.filter_text))
            tree.expand_all()
        else:
            tree.set_roots(rows)
        self._draw_detail(tree.cursor_row)

    def _make_rows(self, view: AppView, tree: ResourceTree) -> list[TreeRow]:
        g = self.gw.glyphs
        now = self.gw.controller.clock()
        if self.mode == "waves":
            tree.columns = ("WAVE", "NAMESPACE", "STATE", "HEALTH", "", "AGE")
            return wave_rows(
                view,
                g,
                self.health_now,
                running=self.running_wave,
                done=frozenset(self.done_waves),
                now=now,
            )
        tree.columns = ("NAME", "NAMESPACE", "SYNC", "HEALTH", "WAVE", "AGE")
        return tree_rows(view, g, self.health_now, now=now)

    def _draw_detail(self, row: TreeRow | None) -> None:
        detail = self.query_one("#detail", Static)
        text = row.detail if row is not None else ""
        # The detail line is one line high (gitwave.tcss) whatever it says: no
        # layout. A layout pass repaints every widget on screen, at every key.
        detail.update(Text(text, no_wrap=True, overflow="ellipsis"), layout=False)

    def _cursor_moved(self) -> None:
        self._draw_detail(self.query_one("#tree", ResourceTree).cursor_row)

    @on(ResourceTree.Selected, "#tree")
    def _selected(self, event: ResourceTree.Selected) -> None:
        row = event.row
        if isinstance(row.ref, ResourceKey) or row.id == APP_ROW:
            self.action_diff()
        else:
            event.tree.action_toggle_node()

    # -- actions ----------------------------------------------------------------------

    @property
    def selected_key(self) -> ResourceKey | None:
        row = self.query_one("#tree", ResourceTree).cursor_row
        return row.ref if row is not None and isinstance(row.ref, ResourceKey) else None

    def action_diff(self) -> None:
        self.gw.open_diff(self.app_name, self.selected_key, self.view)

    def _object_page(self, page: type[ObjectTextScreen], what: str) -> None:
        key = self.selected_key
        if key is None:
            self.notify(f"select an object to see its {what}", severity="warning")
            return
        self.app.push_screen(page(self.app_name, key, self.view))

    def action_describe(self) -> None:
        self._object_page(DescribeScreen, "details")

    def action_yaml(self) -> None:
        self._object_page(YamlScreen, "YAML")

    def action_logs(self) -> None:
        self._object_page(LogsScreen, "logs")

    def action_why(self) -> None:
        """The chain the highlighted object is on, down to what holds it (on
        the app's row: every chain of the app), as ``gitwave why`` says it."""
        view = self.view
        if view is None:
            return
        key = self.selected_key
        lines = why_lines(view, key, self.health_now, now=self.gw.controller.clock())
        title = f"why {key.display}" if key is not None else f"why {self.app_name}"
        self.notify("\n".join(lines), title=title, timeout=30)

    def action_app_diff(self) -> None:
        self.gw.open_diff(self.app_name, None, self.view)

    def action_history(self) -> None:
        self.gw.open_history(self.app_name)

    def action_events(self) -> None:
        self.gw.open_events(self.app_name)

    def action_waves(self) -> None:
        self.mode = "tree" if self.mode == "waves" else "waves"
        self._draw_activity()
        self._draw_tree()

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        if not self.clear_filter():
            self.dismiss()

    def filter_changed(self) -> None:
        self._draw_activity()
        self._draw_tree(rebuild=False)

    def filter_home(self) -> ResourceTree:
        return self.query_one("#tree", ResourceTree)

    def action_sync(self) -> None:
        self.post_message(SyncRequested(self.app_name))

    def action_sync_resource(self) -> None:
        key = self.selected_key
        if key is None:
            self.notify("select an object to sync (S syncs the whole app)", severity="warning")
            return
        node = self.view.node(key) if self.view is not None else None
        if node is not None and node.action is None:
            owner = self.view.owner_of(key) if self.view is not None else None
            hint = f"; sync its owner {owner.key.display}" if owner is not None else ""
            self.notify(f"{key.display} is not in Git{hint}", severity="warning")
            return
        self.post_message(SyncRequested(self.app_name, key))

    def action_pause(self) -> None:
        self.post_message(PauseRequested(self.app_name))

    def action_promote(self) -> None:
        key = self.selected_key
        if key is not None and rollouts.is_rollout(key):
            rollout_actions.start(self, self.app_name, key, RolloutAction.PROMOTE)
            return
        self.gw.run_worker(promote_flow(self.gw, self.app_name), group="operations")

    def action_triage(self) -> None:
        self.gw.run_worker(
            triage_flow(self.gw, self.app_name, self.selected_key), group="operations"
        )

    def action_rollout_abort(self) -> None:
        rollout_actions.start(self, self.app_name, self.selected_key, RolloutAction.ABORT)

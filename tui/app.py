"""The gitwave terminal UI (``gitwave tui``): k9s-style screens over the engine.

The app renders engine values and runs engine calls in thread workers (see
``controller``), so the screen never freezes, even while a sync of thousands
of objects waits on a wave. Screens post messages for anything that changes
the target; the app shows the plan, asks for confirmation, runs the operation
and broadcasts the engine's events to whichever screens are listening.

Keys: arrows or j/k move, enter opens (an object: its diff), esc goes back,
``d`` describe, ``y`` YAML, ``l`` logs (``d`` is diff on the app list), ``h``
history, ``e`` events, ``S`` sync, ``?`` every key, ``:`` the command palette
(every verb for every app, ``palette.AppCommands``), ``q`` quits.
``--read-only`` hides and refuses every control.

This module is a little over 400 lines because it is one job, the App itself:
its navigation, help and command palette, and the sync, rollback and pause
flows share the App's workers, busy set and notifications, so they stay on it
(the garbage-collection policy is apart, in ``heap``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import WorkerFailed

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ResourceKey
from gitwave.engine.plan_report import format_plan
from gitwave.engine.sync import SyncResult
from gitwave.tui.controller import AppView, AutoSync, Controller, SyncRequest
from gitwave.tui.formatting import revision_text
from gitwave.tui.heap import HeapPolicy
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.diff import DiffScreen
from gitwave.tui.screens.events import EventsScreen
from gitwave.tui.screens.help import HelpScreen, Section, key_section
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.screens.messages import (
    EngineEvent,
    PauseRequested,
    RollbackRequested,
    SyncRequested,
)
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from gitwave.tui.screens.palette import AppCommands
from gitwave.tui.screens.typed_confirm import TypedConfirmScreen
from gitwave.tui.widgets.resource_tree import ResourceTree
from gitwave.tui.widgets.status import Glyphs

T = TypeVar("T")


READ_ONLY_MESSAGE = "read-only mode: this control is disabled (started with --read-only)"


def result_message(result: SyncResult) -> str:
    counts = result.changeset.counts()
    done = ", ".join(f"{n} {action.value}" for action, n in counts.items() if n)
    took = result.finished - result.started
    text = f"{result.app}: {result.phase.value} in {took:.1f}s"
    if done:
        text += f" ({done})"
    text += f"; health {result.health.code.value}"
    if result.dry_run:
        text += " (dry run)"
    if not result.ok:
        text += f"\n{result.message}"
    return text


class GitwaveApp(App[None]):
    """The TUI. ``controller`` is the engine door; ``open_app`` opens one app at start."""

    CSS_PATH = "gitwave.tcss"
    TITLE = "gitwave"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {AppCommands}

    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("colon", "command_palette", "palette", key_display=":"),
        Binding("ctrl+p", "command_palette", "palette", show=False),
        # Controls fall through to here when a screen disables them (read-only).
        Binding("S,s,R,p", "refused", "read-only", show=False),
    ]

    def __init__(
        self,
        controller: Controller,
        *,
        read_only: bool = False,
        open_app: str | None = None,
        refresh_seconds: float = 5.0,
        glyphs: Glyphs | None = None,
        watch_path: str | None = None,
    ) -> None:
        super().__init__()
        # `gitwave tui --watch`: the watch-mode cycles run in a worker and show here.
        self.watch_path = watch_path
        self.watch_lines: list[str] = []
        self._watch_stop = threading.Event()
        self.controller = controller
        self.read_only = read_only
        self.open_app_name = open_app
        self.refresh_seconds = refresh_seconds
        self.glyphs = glyphs or Glyphs.detect()
        # App name → what is running on it ("syncing", "rolling back").
        self.busy: dict[str, str] = {}
        self.events_signal: Signal[Event] = Signal(self, "engine-events")
        self.changed_signal: Signal[str] = Signal(self, "app-changed")
        self.results: list[SyncResult] = []
        self.heap = HeapPolicy()

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run in the terminal (``gitwave tui``), with the heap policy on."""
        self.heap.start()
        return super().run(*args, **kwargs)

    def on_mount(self) -> None:
        self.push_screen(AppsScreen())
        if self.open_app_name:
            self.open_app(self.open_app_name)
        if self.watch_path is not None:
            self.watch_cycles()

    def on_unmount(self) -> None:
        self._watch_stop.set()

    @work(thread=True, group="watch", exit_on_error=False)
    def watch_cycles(self) -> None:
        """Watch mode in a worker thread: every save is a cycle, shown as it happens."""
        assert self.watch_path is not None
        try:
            self.controller.watch(self.watch_path, sink=self.forward, stop=self._watch_stop)
        except GitwaveError as exc:
            self.call_from_thread(self._report, exc, "watch")

    def _show_cycle(self, event: Event) -> None:
        line = f"{event.app}: {event.message}" if event.app else event.message
        self.watch_lines.append(line)
        self.sub_title = line
        self.notify(line, title="watch", timeout=6)
        if event.app:
            self.changed_signal.publish(event.app)

    # -- navigation -------------------------------------------------------------------

    def open_app(self, name: str) -> None:
        self.push_screen(ApplicationScreen(name))

    def open_diff(
        self, name: str, key: ResourceKey | None = None, view: AppView | None = None
    ) -> None:
        self.push_screen(DiffScreen(name, key, view))

    def open_history(self, name: str) -> None:
        self.push_screen(HistoryScreen(name))

    def open_events(self, name: str) -> None:
        self.push_screen(EventsScreen(name))

    def key_sections(self) -> list[Section]:
        ro = self.read_only
        return [
            key_section("Everywhere", self.BINDINGS, read_only=ro, skip=("refused",)),
            key_section("Applications", AppsScreen.BINDINGS, read_only=ro),
            key_section(
                "Application",
                [*ResourceTree.BINDINGS, *ApplicationScreen.BINDINGS],
                read_only=ro,
            ),
            key_section("Diff", DiffScreen.BINDINGS, read_only=ro),
            key_section("History", HistoryScreen.BINDINGS, read_only=ro),
            key_section("Events", EventsScreen.BINDINGS, read_only=ro),
            key_section("Sync options", SyncOptionsScreen.BINDINGS, read_only=ro),
            key_section("Confirmation", ConfirmScreen.BINDINGS, read_only=ro),
        ]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_sections(), read_only=self.read_only))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "refused":
            return self.read_only
        return True

    def action_refused(self) -> None:
        self.notify(READ_ONLY_MESSAGE, severity="warning")

    def current_app_name(self, screen: Screen[Any]) -> str | None:
        """The app ``screen`` is about (the highlighted one on the list); None when none."""
        name = getattr(screen, "app_name", None)
        if isinstance(name, str):
            return name
        if isinstance(screen, AppsScreen):
            return screen.selected_name
        return None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """None of Textual's own (theme, screenshot, keys): the palette is
        ``AppCommands``, every verb for every app."""
        return ()

    # -- engine plumbing --------------------------------------------------------------

    async def _engine(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run an engine call in a thread worker and await its result (its exception)."""
        worker = self.run_worker(
            partial(fn, *args, **kwargs),
            name=getattr(fn, "__name__", "engine"),
            group="engine",
            thread=True,
            exit_on_error=False,
        )
        try:
            result: T = await worker.wait()
        except WorkerFailed as failed:
            raise failed.error from None
        return result

    def forward(self, event: Event) -> None:
        """EventSink for the engine: called on a worker thread, delivered on the app's."""
        self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        if message.event.kind is EventKind.CYCLE:
            self._show_cycle(message.event)
        self.events_signal.publish(message.event)

    def _report(self, exc: BaseException, what: str) -> None:
        if isinstance(exc, GitwaveError):
            text = str(exc) + (f"\nhint: {exc.hint}" if exc.hint else "")
        else:
            text = f"{type(exc).__name__}: {exc}"
        self.notify(text, title=f"{what} failed", severity="error", timeout=15)

    def _start(self, name: str, what: str) -> bool:
        if self.read_only:
            self.notify(READ_ONLY_MESSAGE, severity="warning")
            return False
        if name in self.busy:
            self.notify(f"{name}: {self.busy[name]} already", severity="warning")
            return False
        return True

    def _set_busy(self, name: str, what: str | None) -> None:
        if what is None:
            self.busy.pop(name, None)
        else:
            self.busy[name] = what
        self.changed_signal.publish(name)

    # -- operations ---------------------------------------------------------------------

    def on_sync_requested(self, message: SyncRequested) -> None:
        self.sync_flow(message.app_name, message.resource)

    def on_rollback_requested(self, message: RollbackRequested) -> None:
        self.rollback_flow(message.app_name, message.sync_id)

    def on_pause_requested(self, message: PauseRequested) -> None:
        self.pause_flow(message.app_name)

    @work(group="operations")
    async def sync_flow(self, name: str, resource: ResourceKey | None = None) -> None:
        """Options (whole app), the plan, confirmation, then the sync."""
        if not self._start(name, "sync"):
            return
        request = SyncRequest(resource=resource)
        if resource is None:
            try:
                spec = await self._engine(self.controller.app, name)
            except Exception as exc:
                self._report(exc, "sync")
                return
            chosen = await self.push_screen_wait(SyncOptionsScreen(name, prune=spec.policy.prune))
            if chosen is None:
                return
            request = chosen
        try:
            plan, blast = await self._engine(self.controller.preview_guarded, name, request)
        except Exception as exc:
            self._report(exc, "planning the sync")
            return
        if not request.dry_run and blast.stops:
            # The prune guard: the operator types the app's name, as GitHub asks
            # for a repository's before deleting it; a stray key confirms nothing.
            body = format_plan(plan).rstrip() + "\n\n" + "\n".join(blast.lines())
            typed = TypedConfirmScreen(
                f"Sync app {name} to {self.controller.target_name}? The prune guard stops it.",
                blast.reason,
                body,
                expected=name,
            )
            if not await self.push_screen_wait(typed):
                self.notify(f"{name}: sync cancelled; nothing was applied or deleted")
                return
            request = dataclasses.replace(request, confirm_prune=True)
        elif not request.dry_run:
            what = resource.display if resource is not None else f"app {name}"
            options = [o for o, on in (("prune", request.prune), ("force", request.force)) if on]
            question = f"Sync {what} to {self.controller.target_name}?"
            if options:
                question += f" ({', '.join(options)})"
            body = format_plan(plan, verbose=request.force)
            summary = body.rstrip().rsplit("\n", 1)[-1]
            confirm = ConfirmScreen(question, body, summary=summary, yes="Sync")
            if not await self.push_screen_wait(confirm):
                self.notify(f"{name}: sync cancelled; nothing was applied")
                return
        if name in self.busy:  # another operation started while the dialog was open
            self.notify(f"{name}: {self.busy[name]} already", severity="warning")
            return
        self._set_busy(name, "dry run" if request.dry_run else "syncing")
        try:
            result = await self._engine(
                self.controller.sync,
                name,
                request,
                confirmed=None if request.dry_run else plan,
                sink=self.forward,
            )
        except Exception as exc:
            self._report(exc, "sync")
            return
        finally:
            self._set_busy(name, None)
        self.results.append(result)
        self.notify(
            result_message(result),
            title="sync",
            severity="information" if result.ok else "error",
            timeout=8 if result.ok else 20,
        )

    @work(group="operations")
    async def rollback_flow(self, name: str, sync_id: int) -> None:
        """The rollback's plan (a dry run), confirmation, then the rollback."""
        if not self._start(name, "rollback"):
            return
        try:
            plan = await self._engine(self.controller.rollback_preview, name, sync_id)
        except Exception as exc:
            self._report(exc, "planning the rollback")
            return
        question = f"Roll {name} back to history entry #{sync_id} ({revision_text(plan.revision)})?"
        body = format_plan(plan)
        summary = body.rstrip().rsplit("\n", 1)[-1]
        body += "\nSecrets keep their live contents (secret values are never recorded).\n"
        confirm = ConfirmScreen(question, body, summary=summary, yes="Roll back")
        if not await self.push_screen_wait(confirm):
            self.notify(f"{name}: rollback cancelled; nothing was applied")
            return
        if name in self.busy:
            self.notify(f"{name}: {self.busy[name]} already", severity="warning")
            return
        self._set_busy(name, "rolling back")
        try:
            result = await self._engine(self.controller.rollback, name, sync_id, sink=self.forward)
        except Exception as exc:
            self._report(exc, "rollback")
            return
        finally:
            self._set_busy(name, None)
        self.results.append(result)
        self.notify(
            result_message(result),
            title=f"rollback to #{sync_id}",
            severity="information" if result.ok else "error",
        )

    @work(group="operations")
    async def pause_flow(self, name: str) -> None:
        """Pause auto-sync of an automated app, or resume it."""
        if self.read_only:
            self.notify(READ_ONLY_MESSAGE, severity="warning")
            return
        try:
            spec = await self._engine(self.controller.app, name)
            current = await self._engine(self.controller.auto_sync, spec)
            if current is AutoSync.OFF:
                self.notify(
                    f"{name} has no automated sync policy; there is nothing to pause",
                    severity="warning",
                )
                return
            paused = current is AutoSync.ON
        except Exception as exc:
            self._report(exc, "pause/resume")
            return
        # It changes what gitwave does to the target from now on: ask first, as
        # `argocd app set --sync-policy none` is a deliberate act, not a stray key.
        if paused:
            question = f"Pause auto-sync of {name}?"
            body = (
                f"gitwave stops syncing {name} when Git changes or the target drifts,\n"
                "until you resume it. A sync you start yourself (S) still runs.\n"
            )
        else:
            question = f"Resume auto-sync of {name}?"
            body = f"gitwave syncs {name} again by itself when Git changes or the target drifts.\n"
        verb = "Pause" if paused else "Resume"
        confirm = ConfirmScreen(question, body, yes=verb, enter_says_yes=True, compact=True)
        if not await self.push_screen_wait(confirm):
            self.notify(f"{name}: {verb.lower()} cancelled; auto-sync unchanged")
            return
        try:
            state = await self._engine(self.controller.set_paused, name, paused=paused)
        except Exception as exc:
            self._report(exc, "pause/resume")
            return
        self.changed_signal.publish(name)
        self.notify(f"{name}: auto-sync {state.value}")

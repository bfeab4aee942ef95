"""The TUI's operations: sync, rollback and pause flows (plan, confirmation,
the engine call in a worker, the result as a notification), and the engine
plumbing they share. ``GitwaveApp`` is built on this class."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textual import work
from textual.app import App
from textual.signal import Signal
from textual.worker import WorkerFailed

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ResourceKey
from gitwave.engine.plan_report import format_plan
from gitwave.engine.sync import SyncResult
from gitwave.tui.controller import AutoSync, Controller, SyncRequest
from gitwave.tui.formatting import revision_text
from gitwave.tui.screens.messages import (
    EngineEvent,
    PauseRequested,
    RollbackRequested,
    SyncRequested,
)
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from gitwave.tui.screens.typed_confirm import TypedConfirmScreen

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


class OperationFlows(App[None]):
    """The App's operations and engine plumbing; ``GitwaveApp`` adds the screens."""

    if TYPE_CHECKING:
        controller: Controller
        read_only: bool
        busy: dict[str, str]
        events_signal: Signal[Event]
        changed_signal: Signal[str]
        results: list[SyncResult]

        def _show_cycle(self, event: Event) -> None: ...

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

    async def _run_operation(
        self,
        name: str,
        fn: Callable[..., SyncResult],
        *args: Any,
        what: str,
        title: str,
        timeouts: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Run a confirmed sync or rollback of app ``name`` (busy meanwhile, set
        by the caller) and notify its result; ``timeouts`` (ok, failed) for the
        notification, else Textual's default. The worker is named after ``fn``."""
        try:
            result = await self._engine(fn, *args, **kwargs)
        except Exception as exc:
            self._report(exc, what)
            return
        finally:
            self._set_busy(name, None)
        self.results.append(result)
        timeout = None if timeouts is None else timeouts[0] if result.ok else timeouts[1]
        self.notify(
            result_message(result),
            title=title,
            severity="information" if result.ok else "error",
            timeout=timeout,
        )

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
        await self._run_operation(
            name,
            self.controller.sync,
            name,
            request,
            confirmed=None if request.dry_run else plan,
            sink=self.forward,
            what="sync",
            title="sync",
            timeouts=(8, 20),
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
        await self._run_operation(
            name,
            self.controller.rollback,
            name,
            sync_id,
            sink=self.forward,
            what="rollback",
            title=f"rollback to #{sync_id}",
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

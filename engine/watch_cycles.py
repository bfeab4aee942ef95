"""One watch cycle of one app: render, plan and apply it, the outcome as a
``Cycle`` line; and the apps of one burst cycled in sync order (see
``engine.watch``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError, RenderError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.fleet_run import Finished, Outcome, run_fleet
from gitwave.engine.operations import plan_summary
from gitwave.engine.plan_filters import without_done_hooks
from gitwave.engine.prune_guard import PruneGuardError
from gitwave.engine.render import KUSTOMIZATION_FILES
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_windows import utc_now
from gitwave.engine.watch_apps import WatchedApps, is_under
from gitwave.engine.watch_values import Cycle


class WatchSession(WatchedApps):
    """The apps of one ``watch`` and the cycles run on them."""

    def cycle(self, name: str, paths: Sequence[Path]) -> Cycle:
        """Render, plan and apply one app; the outcome as a Cycle (never raises
        for bad input: the error is on the line)."""
        item = self.watched[name]
        app = item.app
        started = time.time()
        changed = self.shown(item, paths)
        request = self.options.request
        prune = operations.effective_prune(app, request)
        revision = ""
        self._emit(
            Event(
                EventKind.SOURCE_CHANGED,
                app.name,
                "changed: " + (", ".join(changed) if changed else "watch started"),
            )
        )
        try:
            if prune:
                _refuse_emptied_files(paths, self.top)
            rendered = None if item.removed else render_for(app, self.targets)
            revision = rendered.revision if rendered is not None else ""
            state = operations.plan(app, request, targets=self.targets_for(app), rendered=rendered)
        except GitwaveError as exc:
            took = time.time() - started
            return self._emit_cycle(
                Cycle(
                    app.name,
                    started,
                    changed,
                    "",
                    f"error: {exc} (fix it and save to retry; {took:.2f}s)",
                    False,
                    revision,
                )
            )
        plan = state.plan
        if self.ledger is not None:
            plan, _ = without_done_hooks(plan, self.ledger.hooks_done(app.name, plan.revision))
        if not any(task.action.changes_target for task in plan.tasks()):
            took = time.time() - started
            return self._emit_cycle(
                Cycle(
                    app.name,
                    started,
                    changed,
                    "no changes",
                    f"in sync in {took:.2f}s",
                    True,
                    revision,
                )
            )
        held = operations.window_verdict(app, utc_now())
        if not held.auto_allowed:
            # Saving a file is no manual sync: the windows hold it as they hold auto-sync.
            return self._emit_cycle(
                Cycle(
                    app.name,
                    started,
                    changed,
                    plan_summary(plan),
                    f"auto-sync held: {held.blocked_by}",
                    False,
                    revision,
                )
            )
        try:
            synced = operations.sync(
                state,
                targets=self.targets_for(app),
                store=self.store,
                request=request,
                ledger=self.ledger,
                sink=self.sink,
                source=(
                    f"removed from {app.removed_from} (watch)"
                    if item.removed
                    else f"{app.source.describe} (watch)"
                ),
            )
        except PruneGuardError as exc:
            # Like the loop, watch never confirms a guarded prune: the line says why.
            return self._emit_cycle(
                Cycle(
                    app.name,
                    started,
                    changed,
                    plan_summary(plan),
                    f"error: {exc} (run `gitwave sync --prune --confirm-prune`)",
                    False,
                    revision,
                )
            )
        ran, result = synced.plan, synced.result
        took = time.time() - started
        outcome = (
            f"Synced in {took:.2f}s"
            if result.ok
            else f"{result.phase.value} in {took:.2f}s: {result.message}"
        )
        return self._emit_cycle(
            Cycle(app.name, started, changed, plan_summary(ran), outcome, result.ok, revision)
        )

    def targets_for(self, app: AppSpec) -> ProviderRouter:
        """The router ``app`` is reconciled through (its destination cluster's):
        asked for here, in one place."""
        return self.fleet.targets_for(app)

    def follows(self, name: str) -> tuple[str, ...]:
        """The followed apps ``name`` cycles after: its dependsOn, and its
        app-of-apps siblings of lower sync waves."""
        app = self.watched[name].app
        earlier = tuple(
            other.app.name
            for other in self.watched.values()
            if other.app.parent and other.app.parent == app.parent and other.app.wave < app.wave
        )
        return app.depends_on + earlier

    def cycles(self, todo: dict[str, Sequence[Path]], stop: threading.Event) -> None:
        """Cycle the apps of ``todo`` (in sync order), ``options.concurrent`` at
        a time, each after the apps it follows; one whose followed app failed is
        not cycled (its line says which). None starts once ``stop`` is set."""
        names = [name for name in self.watched if name in todo]

        def cycle(name: str) -> Cycle | None:
            return None if stop.is_set() else self.cycle(name, todo[name])

        def skipped(done: Finished[Cycle | None]) -> None:
            if done.outcome is Outcome.SKIPPED:
                self._emit_cycle(
                    Cycle(
                        done.name,
                        time.time(),
                        self.shown(self.watched[done.name], todo[done.name]),
                        "",
                        f"skipped: it follows {done.blocked_by}, which failed",
                        False,
                    )
                )

        if self.options.concurrent == 1 or len(names) <= 1:
            for name in names:
                if cycle(name) is None:
                    return
            return
        run_fleet(
            names,
            cycle,
            name_of=lambda name: name,
            follows_of=self.follows,
            ok=lambda done: done is None or done.ok,
            concurrent=self.options.concurrent,
            on_finish=skipped,
        )

    def reload_error(self, paths: Sequence[Path], error: GitwaveError) -> None:
        names = ", ".join(
            p.relative_to(self.top).as_posix() for p in paths if is_under(p, self.top)
        )
        self._emit_cycle(
            Cycle(
                self.label,
                time.time(),
                (names,) if names else (),
                "",
                f"error: {error} (fix it and save to retry)",
                False,
            )
        )


def _relative(path: Path, anchor: Path) -> str:
    return path.relative_to(anchor).as_posix() if is_under(path, anchor) else str(path)


def _refuse_emptied_files(paths: Sequence[Path], top: Path) -> None:
    """RenderError for a changed manifest that exists but is empty: with prune
    on, a half-written file must not delete the objects it held."""
    for path in paths:
        if path.suffix not in (".yaml", ".yml", ".json") or path.name in KUSTOMIZATION_FILES:
            continue
        try:
            empty = path.is_file() and not path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if empty:
            raise RenderError(
                _relative(path, top),
                "the file is empty; with prune on, gitwave does not prune on what may be a "
                "half-written file",
                hint="save it again with its objects, or delete the file to prune them",
            )

"""Watch mode: follow a working tree and apply every save (``gitwave watch``).

Uncommitted edits count: apps render from the work tree as it is (the render
cache never serves a dirty tree). A burst of saves becomes one cycle:
watchfiles gathers changes until ``step_ms`` pass without a new one (at most
``debounce_ms``). Each cycle re-renders only the apps whose files changed:

- a file under an app's path belongs to that app;
- a Kustomize or Helm app may use files outside its path (a shared base, a
  values file), so a changed file under no app's path goes to those apps;
- a change to the file that defines the apps (an Application, a Flux
  Kustomization) or to an app-of-apps' path reloads the app definitions, then
  cycles the apps that are new or whose definition changed.

The plan is applied to the targets and each cycle is one Event of kind
``CYCLE`` whose message reads ``deployment.yaml → 1 to update → Synced in
0.21s``. A file that does not render (half-written YAML) shows its error on
that line; nothing is applied for that app, so nothing is pruned, and the next
save tries again. With prune on, an emptied manifest file is taken as
half-written too (editors truncate before they write): delete the file to
prune its objects. Watching ends, between cycles, when ``stop`` is set.

Hooks run once per commit and hook content (see ``engine.hooks.hook_id``): an
edit to a Deployment does not re-run a PreSync migration, an edit to the
migration Job does.

Why one module over 400 lines: it is one job, a watch session. Which app a
changed file belongs to, when the app definitions reload, and what one cycle
does all read the same session state; split apart, no half reads on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import watchfiles

from gitwave.engine import operations
from gitwave.engine.app_choice import no_match_error, removed_apps
from gitwave.engine.apps import AppKind, AppSpec, flatten_apps, load_app_set
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError, RenderError, ValidationError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.fleet import Fleet
from gitwave.engine.fleet_run import DEFAULT_CONCURRENT, Finished, Outcome, run_fleet
from gitwave.engine.label_selector import LabelSelector
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.operations import SyncRequest, plan_summary
from gitwave.engine.plan_filters import without_done_hooks
from gitwave.engine.prune_guard import PruneGuardError
from gitwave.engine.render import KUSTOMIZATION_FILES, RenderTool
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import find_repo_root, is_remote
from gitwave.engine.store import Store
from gitwave.engine.sync_windows import utc_now

_APP_FILE_SUFFIXES = (".yaml", ".yml")
_MAX_FILES_SHOWN = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchOptions:
    """How ``watch`` runs. ``only`` names apps (default: all, app-of-apps
    parents left out); ``ignore_paths`` are never watched (the state directory
    when it lies inside the tree: the sandbox writes there on every sync)."""

    request: SyncRequest = field(default_factory=SyncRequest)
    only: tuple[str, ...] = ()
    step_ms: int = 50
    debounce_ms: int = 1600
    ignore_paths: tuple[Path, ...] = ()
    allow_local_repos: tuple[str, ...] = ()  # see load_apps
    concurrent: int = DEFAULT_CONCURRENT  # apps cycled at once (engine.fleet_run)
    # ``-l``: only the apps whose labels match (read again with the definitions).
    selector: LabelSelector | None = None
    # Told the names of the apps watched after each (re)load of the definitions:
    # the CLI records where they were found, as sync and run do (app_locations).
    on_load: Callable[[tuple[str, ...]], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Cycle:
    """One watch cycle of one app: what changed, the plan, what happened."""

    app: str
    started: float
    changed: tuple[str, ...]  # shown names: relative to the app's path where possible
    summary: str  # plan_summary; "" when there is no plan (an error)
    result: str  # "Synced in 0.21s", "in sync in 0.05s", "error: file:line: …"
    ok: bool
    revision: str = ""

    @property
    def files(self) -> str:
        if not self.changed:
            return "start"
        shown = ", ".join(self.changed[:_MAX_FILES_SHOWN])
        more = len(self.changed) - _MAX_FILES_SHOWN
        return f"{shown} (+{more} more)" if more > 0 else shown

    @property
    def message(self) -> str:
        """``deployment.yaml → 1 to update → Synced in 0.21s``; an error has no plan:
        ``deployment.yaml → error: deployment.yaml:5: malformed YAML …``."""
        if not self.summary:
            return f"{self.files} → {self.result}"
        return f"{self.files} → {self.summary} → {self.result}"

    @property
    def line(self) -> str:
        """``guestbook: deployment.yaml → 1 to update → Synced in 0.21s``."""
        return f"{self.app}: {self.message}"


def _is_under(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _relative(path: Path, anchor: Path) -> str:
    return path.relative_to(anchor).as_posix() if _is_under(path, anchor) else str(path)


@dataclass(frozen=True, slots=True)
class _Watched:
    """An app followed in the work tree: where its files are, how it renders."""

    app: AppSpec
    directory: Path  # the app's path in the work tree (a directory or one file)
    uses_outside_files: bool  # Kustomize/Helm: bases and values may live elsewhere
    removed: bool = False  # gone from its parent: no files, one cycle prunes what it left


class _Session:
    """The apps of one ``watch`` and the cycles run on them."""

    def __init__(
        self,
        path: str,
        *,
        targets: ProviderRouter,
        store: Store | None,
        sink: EventSink,
        options: WatchOptions,
        fleet: Fleet | None = None,
    ) -> None:
        if is_remote(path):
            raise ValidationError(
                path,
                "watch follows a local working tree, not a repository URL",
                hint="clone it and watch the clone, or use `gitwave run URL`",
            )
        given = Path(path).resolve()
        if not given.exists():
            raise ValidationError(path, "no such file or directory")
        self.path = path
        self.given = given
        self.definitions = given if given.is_dir() else given.parent
        self.top = find_repo_root(self.definitions) or self.definitions
        self.label = given.stem if given.is_file() else given.name
        self.targets = targets
        self.fleet = fleet or Fleet.single(targets)
        self.store = store
        self.ledger = LoopStore.beside(store) if store is not None else None
        self.sink = sink
        self.options = options
        self.watched: dict[str, _Watched] = {}
        self.parents: list[Path] = []  # app-of-apps paths: a change there reloads
        self.generator_dirs: list[Path] = []  # git generators' directories: likewise
        self.definition_files: set[Path] = set()

    # -- apps ----------------------------------------------------------------------

    def load(self) -> list[AppSpec]:
        """(Re)load the app definitions; returns the apps that are new or changed.
        Raises GitwaveError for a malformed definition."""
        app_set = load_app_set(
            self.path, allow_local_repos=self.options.allow_local_repos, clusters=self.fleet
        )
        error = app_set.first_error()
        if error is not None:
            raise error
        flat = flatten_apps(app_set.apps)
        chosen = operations.choose_apps(flat, only=self.options.only, location=self.path)
        # Apps of an ApplicationSet (or app of apps) that no longer holds them: one
        # cycle prunes what they left, as ``sync`` does.
        removed = removed_apps(app_set, self.store, only=self.options.only) if self.store else []
        selector = self.options.selector
        if selector is not None and not selector.empty:
            kept = [app for app in chosen if selector.matches(app.label_map)]
            if not kept:
                raise no_match_error(self.path, selector, chosen)
            # A removed child has no labels left: only a negative selector keeps it.
            chosen = kept
            removed = [app for app in removed if selector.matches(app.label_map)]
        # An app whose destination is unknown is not watched: its line says why.
        chosen = [app for app in chosen if self._destination_known(app)]
        self.parents = [self._directory_of(a) for a in flat if a.children and self._follows(a)]
        # What an ApplicationSet's git generators list or read in this work tree: a
        # directory added there is a new app (Argo CD re-runs its generators).
        self.generator_dirs = sorted(
            {
                Path(read)
                for a in flat
                if a.kind is AppKind.APPSET
                for read in a.reads
                if _is_under(Path(read), self.top)
            }
        )
        self.definition_files = {
            (self.top / a.origin.file).resolve()
            for a in flat
            if a.origin is not None and a.origin.file and a.kind is not AppKind.IMPLICIT
        }
        changed: list[AppSpec] = []
        watched: dict[str, _Watched] = {}
        for app in chosen:
            if not self._follows(app):
                self._emit_cycle(
                    Cycle(
                        app.name,
                        time.time(),
                        (),
                        "not watched",
                        f"renders from {app.source.describe}, not from this work tree",
                        True,
                    )
                )
                continue
            directory = self._directory_of(app)
            tool = RenderTool.detect(directory) if directory.is_dir() else RenderTool.DIRECTORY
            watched[app.name] = _Watched(app, directory, tool is not RenderTool.DIRECTORY)
            previous = self.watched.get(app.name)
            # Where the definition sits (its line) may move when another one is edited.
            if previous is None or replace(previous.app, origin=None) != replace(app, origin=None):
                changed.append(app)
        for app in removed:
            # Not in the tree any more: no directory of its own to follow.
            watched[app.name] = _Watched(app, self.definitions, False, removed=True)
            previous = self.watched.get(app.name)
            if previous is None or not previous.removed:
                changed.append(app)
        self.watched = watched
        if self.options.on_load is not None:
            self.options.on_load(tuple(n for n, w in watched.items() if not w.removed))
        return changed

    def _destination_known(self, app: AppSpec) -> bool:
        try:
            self.fleet.check([app])
        except GitwaveError as exc:
            self._emit_cycle(Cycle(app.name, time.time(), (), "", f"error: {exc}", False))
            return False
        return True

    def _follows(self, app: AppSpec) -> bool:
        """True when the app renders from this work tree as it is."""
        source = app.source
        return (
            source.fetch_revision is None
            and not is_remote(source.fetch_from)
            and Path(source.fetch_from).resolve() == self.top
        )

    def _directory_of(self, app: AppSpec) -> Path:
        return (Path(app.source.fetch_from) / app.source.path).resolve()

    def roots(self) -> list[Path]:
        """The directories to watch: the definitions, the directories git
        generators read, and every app's path, without ones nested in another."""
        candidates = {self.definitions}
        for read in self.generator_dirs:
            # Not there yet (``apps/`` before its first app): watch where it will appear.
            while not read.is_dir() and read != self.top and self.top in read.parents:
                read = read.parent
            candidates.add(read)
        for item in self.watched.values():
            if item.removed:
                continue
            candidates.add(item.directory if item.directory.is_dir() else item.directory.parent)
        ordered = sorted(candidates, key=lambda p: len(p.parts))
        roots: list[Path] = []
        for candidate in ordered:
            if not any(_is_under(candidate, root) for root in roots):
                roots.append(candidate)
        return roots

    # -- mapping changes -------------------------------------------------------------

    def needs_reload(self, changed: Iterable[Path]) -> bool:
        for path in changed:
            if path in self.definition_files:
                return True
            beside = path.parent == self.definitions and path.suffix in _APP_FILE_SUFFIXES
            if beside and (self.definition_files or self.given.is_file()):
                return True  # a new file beside the definitions may define an app
            if any(_is_under(path, parent) for parent in self.parents):
                return True
            if any(_is_under(path, read) for read in self.generator_dirs):
                return True
        return False

    def affected(self, changed: Iterable[Path]) -> dict[str, list[Path]]:
        """The followed apps each changed path belongs to, in sync order."""
        result: dict[str, list[Path]] = {}
        paths = sorted(set(changed))
        outside = [
            p
            for p in paths
            if not any(_is_under(p, w.directory) for w in self.watched.values())
            and p not in self.definition_files
        ]
        for name, item in self.watched.items():
            if item.removed:
                continue
            mine = [p for p in paths if _is_under(p, item.directory)]
            if item.uses_outside_files:
                mine += outside
            if mine:
                result[name] = mine
        return result

    def shown(self, item: _Watched, paths: Sequence[Path]) -> tuple[str, ...]:
        names = []
        for path in paths:
            base = item.directory if item.directory.is_dir() else item.directory.parent
            anchor = base if _is_under(path, base) else self.top
            names.append(
                path.relative_to(anchor).as_posix() if _is_under(path, anchor) else str(path)
            )
        return tuple(names)

    # -- cycles --------------------------------------------------------------------

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

    def _emit(self, event: Event) -> None:
        self.sink(event)

    def _emit_cycle(self, cycle: Cycle) -> Cycle:
        self.sink(
            Event(
                EventKind.CYCLE,
                cycle.app,
                cycle.message,
                revision=cycle.revision,
                time=cycle.started,
            )
        )
        return cycle

    def reload_error(self, paths: Sequence[Path], error: GitwaveError) -> None:
        names = ", ".join(
            p.relative_to(self.top).as_posix() for p in paths if _is_under(p, self.top)
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


def watch(
    path: str,
    *,
    targets: ProviderRouter,
    store: Store | None,
    sink: EventSink = discard,
    stop: threading.Event,
    options: WatchOptions = WatchOptions(),
    ready: threading.Event | None = None,
    fleet: Fleet | None = None,
) -> None:
    """Follow the working tree at ``path`` until ``stop`` is set (``gitwave watch``).

    The first cycle syncs every app once the watcher runs (``ready`` is set
    then), so no save is lost in between. Each later burst of saves is one
    cycle per affected app. Every cycle is an Event of kind CYCLE on ``sink``
    (with the sync's own events); ``store`` (None: nothing recorded) gets the
    syncs. Raises GitwaveError only when the apps cannot be loaded at the start.
    Meant for the main thread or a worker thread (it installs no signal handler).
    """
    session = _Session(path, targets=targets, store=store, sink=sink, options=options, fleet=fleet)
    session.load()
    ignore = [str(p) for p in options.ignore_paths]
    started = False
    while not stop.is_set():
        roots = session.roots()
        changes_seen = watchfiles.watch(
            *roots,
            watch_filter=watchfiles.DefaultFilter(ignore_paths=ignore),
            debounce=options.debounce_ms,
            step=options.step_ms,
            stop_event=stop,
            # Wakes the loop when idle: the first wake-up says the watcher runs.
            rust_timeout=100,
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        for changes in changes_seen:
            if stop.is_set():
                return
            if not started:
                # The watcher runs from here on: sync everything now, so an edit
                # made while starting is in this cycle or the next.
                started = True
                if ready is not None:
                    ready.set()
                session.cycles(dict.fromkeys(session.watched, ()), stop)
                if stop.is_set():
                    return
                continue
            paths = {Path(p) for _, p in changes if _relevant(Path(p))}
            if paths:
                _run_cycles(session, paths, stop)
                if session.roots() != roots:
                    break  # a reloaded app lives elsewhere: watch the new set of directories


def _relevant(path: Path) -> bool:
    """A path that exists, or a manifest that was deleted; an editor's or sed's
    temporary file, made and gone within one burst, is neither."""
    return path.exists() or path.suffix in (".yaml", ".yml", ".json")


def _run_cycles(session: _Session, paths: set[Path], stop: threading.Event) -> None:
    fresh: list[AppSpec] = []
    # Before a reload: a deleted definition file is no longer one after it.
    known = set(session.definition_files)
    if session.needs_reload(paths):
        try:
            fresh = session.load()
        except GitwaveError as exc:
            session.reload_error(sorted(paths), exc)
            return
    todo = session.affected(paths)
    definitions = sorted(p for p in paths if p in session.definition_files or p in known)
    for app in fresh:
        todo.setdefault(app.name, definitions)
    session.cycles(dict(todo), stop)

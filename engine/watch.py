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

The parts: ``watch_values`` (the options, one cycle's line), ``watch_apps``
(which apps are followed and which changed file goes to which), ``watch_cycles``
(one app's cycle, the apps of a burst in sync order); this module batches the
file events and drives them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import watchfiles

from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventSink, discard
from gitwave.engine.fleet import Fleet
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.watch_cycles import WatchSession
from gitwave.engine.watch_values import Cycle, WatchOptions

__all__ = ["Cycle", "WatchOptions", "watch"]

_DEFAULT_OPTIONS = WatchOptions()


def watch(
    path: str,
    *,
    targets: ProviderRouter,
    store: Store | None,
    sink: EventSink = discard,
    stop: threading.Event,
    options: WatchOptions = _DEFAULT_OPTIONS,
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
    session = WatchSession(
        path, targets=targets, store=store, sink=sink, options=options, fleet=fleet
    )
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


def _run_cycles(session: WatchSession, paths: set[Path], stop: threading.Event) -> None:
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

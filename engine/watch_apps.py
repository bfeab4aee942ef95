"""Which apps one ``watch`` follows and which changed file belongs to which
app (see ``engine.watch``): the app definitions (re)loaded, the directories
to watch, a reload needed or not, the apps a burst of changes affects."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gitwave.engine import operations
from gitwave.engine.app_choice import no_match_error, removed_apps
from gitwave.engine.apps import AppKind, AppSpec, flatten_apps, load_app_set
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.fleet import Fleet
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.render import RenderTool
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import find_repo_root, is_remote
from gitwave.engine.store import Store
from gitwave.engine.watch_values import Cycle, WatchOptions

_APP_FILE_SUFFIXES = (".yaml", ".yml")


def is_under(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


@dataclass(frozen=True, slots=True)
class Watched:
    """An app followed in the work tree: where its files are, how it renders."""

    app: AppSpec
    directory: Path  # the app's path in the work tree (a directory or one file)
    uses_outside_files: bool  # Kustomize/Helm: bases and values may live elsewhere
    removed: bool = False  # gone from its parent: no files, one cycle prunes what it left


class WatchedApps:
    """The apps of one ``watch``, where their files are, and the lines it
    emits; ``WatchSession`` (``engine.watch_cycles``) runs the cycles on them."""

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
        self.watched: dict[str, Watched] = {}
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
                if is_under(Path(read), self.top)
            }
        )
        self.definition_files = {
            (self.top / a.origin.file).resolve()
            for a in flat
            if a.origin is not None and a.origin.file and a.kind is not AppKind.IMPLICIT
        }
        changed: list[AppSpec] = []
        watched: dict[str, Watched] = {}
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
            watched[app.name] = Watched(app, directory, tool is not RenderTool.DIRECTORY)
            previous = self.watched.get(app.name)
            # Where the definition sits (its line) may move when another one is edited.
            if previous is None or replace(previous.app, origin=None) != replace(app, origin=None):
                changed.append(app)
        for app in removed:
            # Not in the tree any more: no directory of its own to follow.
            watched[app.name] = Watched(app, self.definitions, False, removed=True)
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
            if not any(is_under(candidate, root) for root in roots):
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
            if any(is_under(path, parent) for parent in self.parents):
                return True
            if any(is_under(path, read) for read in self.generator_dirs):
                return True
        return False

    def affected(self, changed: Iterable[Path]) -> dict[str, list[Path]]:
        """The followed apps each changed path belongs to, in sync order."""
        result: dict[str, list[Path]] = {}
        paths = sorted(set(changed))
        outside = [
            p
            for p in paths
            if not any(is_under(p, w.directory) for w in self.watched.values())
            and p not in self.definition_files
        ]
        for name, item in self.watched.items():
            if item.removed:
                continue
            mine = [p for p in paths if is_under(p, item.directory)]
            if item.uses_outside_files:
                mine += outside
            if mine:
                result[name] = mine
        return result

    def shown(self, item: Watched, paths: Sequence[Path]) -> tuple[str, ...]:
        names = []
        for path in paths:
            base = item.directory if item.directory.is_dir() else item.directory.parent
            anchor = base if is_under(path, base) else self.top
            names.append(
                path.relative_to(anchor).as_posix() if is_under(path, anchor) else str(path)
            )
        return tuple(names)

    # -- lines ---------------------------------------------------------------------

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

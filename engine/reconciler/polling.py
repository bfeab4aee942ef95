"""The loop's polling (see ``Reconciler``): the app definitions and each app's
source at its interval, the targets' change feeds for drift, and how long the
loop may sleep before the next pass."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from gitwave.engine import operations
from gitwave.engine.app_choice import ChosenApp, no_match_error
from gitwave.engine.apps import AppSpec
from gitwave.engine.apps.chart_poll import pin_chart_version
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError, ProviderError
from gitwave.engine.events import EventKind
from gitwave.engine.model import SyncStatus
from gitwave.engine.provider import ChangeFeed
from gitwave.engine.reconciler.feeds import open_feeds
from gitwave.engine.reconciler.state import DEFAULT_INTERVAL_S, AppRun, LoopCore, short
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import is_remote, open_source

_FULL_SHA = re.compile(r"[0-9a-f]{40}")


class Polling(LoopCore):
    """When the loop looks at Git and at the targets (see ``Reconciler``)."""

    _only: frozenset[str]
    _follows: dict[str, tuple[str, ...]]  # the apps each one steps after
    _feeds: list[tuple[ChangeFeed, str]]
    _fed: set[int]  # the routers whose feeds are open
    _root_revision: str | None
    _root_next: float

    def _open_feeds(self, router: ProviderRouter) -> None:
        self._feeds += open_feeds(router, self._fed)

    def _interval(self, app: AppSpec) -> float:
        return self.options.interval_s or app.interval_s or DEFAULT_INTERVAL_S

    def _next_wait(self) -> float:
        now = self._clock()
        due = [self._root_next]
        for run in self._runs.values():
            due.append(run.next_poll)
            retry = run.retry
            if retry is not None and retry.armed and retry.next_at is not None:
                due.append(retry.next_at)
        wait = max(0.0, min(due) - now)
        return min(wait, self.options.drift_poll_s if self._feeds else 1.0)

    def _read_root(self) -> str:
        """The commit the app definitions are read at ("" for a plain directory)."""
        if is_remote(self.location):
            return open_source(self.location).revision
        path = Path(self.location)
        directory = path if path.is_dir() else path.parent
        return open_source(str(directory)).revision

    def _labelled(self, chosen: list[ChosenApp], *, first: bool) -> list[ChosenApp]:
        """``chosen`` narrowed by ``options.selector``; none left at the start is
        argocd's "No matching apps found" (later, a relabelled app just leaves)."""
        selector = self.options.selector
        if selector is None or selector.empty:
            return chosen
        kept = operations.select_labelled(chosen, selector)
        if first and not kept:
            apps = [e.spec for e in chosen if e.spec is not None]
            raise no_match_error(self.location, selector, apps)
        return kept

    def _poll_root(self, now: float, *, first: bool = False) -> None:
        if now < self._root_next and not first:
            return
        intervals = [self._interval(run.spec) for run in self._runs.values()]
        self._root_next = now + (min(intervals) if intervals else self._interval_default())
        try:
            revision = self._read_root()
            # A broken app may be fixed, a removed child forgotten: read them again.
            removed = any(r.spec.removed_from for r in self._runs.values())
            if revision and revision == self._root_revision and not (self._broken or removed):
                return
            chosen = operations.select_app_set(
                self.location,
                revision=revision or None,
                only=self._only,
                allow_local_repos=self.options.allow_local_repos,
                store=self.store,
                clusters=self.fleet,
            )
            chosen = self._labelled(chosen, first=first)
            if first and chosen and all(e.error is not None for e in chosen):
                raise next(e.error for e in chosen if e.error is not None)  # nothing to run
        except GitwaveError as exc:
            if first:
                raise
            for run in self._runs.values():
                self._report(run, f"apps:{exc}", f"app definitions: error: {exc}")
            return
        # An unknown destination stops that app alone (reported, never planned).
        chosen = self.fleet.with_destination_errors(chosen)
        self._root_revision = revision
        self._follows = {entry.name: entry.follows for entry in chosen}
        self._set_apps([e.spec for e in chosen if e.error is None and e.spec is not None])
        self._set_broken([e for e in chosen if e.error is not None])
        intervals = [self._interval(run.spec) for run in self._runs.values()]
        if intervals:
            self._root_next = now + min(intervals)

    def _interval_default(self) -> float:
        return self.options.interval_s or DEFAULT_INTERVAL_S

    def _set_apps(self, apps: Sequence[AppSpec]) -> None:
        runs: dict[str, AppRun] = {}
        for app in apps:
            run = self._runs.get(app.name)
            if run is None:
                run = AppRun(spec=app, pinned=app)
            elif run.spec != app:
                run.spec = app
                run.next_poll = 0.0  # resolve the new definition now
            runs[app.name] = run
        with self._lock:
            self._runs = runs

    def _poll_feeds(self) -> None:
        for router in self.fleet.routers():  # clusters first used since the last poll
            self._open_feeds(router)
        for index, (feed, cursor) in enumerate(self._feeds):
            try:
                new_cursor, keys = feed.changes(cursor)
            except ProviderError:
                continue  # unreachable for now: the next poll asks again
            self._feeds[index] = (feed, new_cursor)
            if keys is not None and not keys:
                continue
            for run in self._runs.values():
                if keys is None or run.keys & keys:
                    run.assess = True

    def _poll_app(self, run: AppRun, now: float) -> None:
        run.next_poll = now + self._interval(run.spec)
        run.assess = True  # polling also catches drift on targets without a change feed
        source = run.spec.source
        try:
            if source.render.chart is not None:
                # A chart from a Helm repository: polled for the version its range picks.
                revision, pinned = pin_chart_version(run.spec)
            else:
                if source.fetch_revision and _FULL_SHA.fullmatch(source.fetch_revision):
                    revision = source.fetch_revision
                else:
                    # Shallow for a URL; a local work tree counts at its HEAD commit
                    # (uncommitted edits are watch mode's business).
                    revision = open_source(
                        source.fetch_from, revision=source.fetch_revision
                    ).revision
                pinned = (
                    replace(run.spec, source=replace(source, fetch_revision=revision))
                    if revision
                    else run.spec
                )
        except GitwaveError as exc:
            self._report(run, f"source:{exc}", f"source: error: {exc}")
            self._set_status(run, SyncStatus.UNKNOWN, message=str(exc))
            return
        if revision == run.revision and pinned == run.pinned and (revision or run.rendered):
            return
        previous = run.revision
        run.revision, run.pinned = revision, pinned
        if previous is not None and revision != previous:
            run.moved_from = previous
            self._emit(
                run,
                EventKind.SOURCE_CHANGED,
                f"new commit {short(revision)} (was {short(previous)})",
            )
            self._guard.reset(run.spec.name)  # Git may have settled a fight
            run.loops_seen = frozenset()
        elif previous is None:
            self._emit(run, EventKind.SOURCE_CHANGED, f"at commit {short(revision)}")
        run.desired = None
        try:
            run.rendered = render_for(pinned, self.targets)
        except GitwaveError as exc:
            run.rendered = None
            self._report(run, f"render:{revision}:{exc}", f"{short(revision)} → error: {exc}")
            self._set_status(run, SyncStatus.UNKNOWN, message=str(exc))

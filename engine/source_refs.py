"""A remote's refs (``git ls-remote``), asked once per URL per interval and shared.

A controller syncing a thousand apps of one GitRepository asked the server
for its refs a thousand times, once per sync, to learn the same branch head.
Flux's source-controller resolves a GitRepository once per ``spec.interval``
and every Kustomization of it uses that artifact; Argo CD's repo-server keeps
the branch → commit answer for ``--revision-cache-expiration`` (by default the
reconciliation timeout, 3 minutes). ``RemoteRefs`` does the same for the apps
a process reconciles: within ``shared_refs(refs)`` (a controller's worker, for
one app), ``refs_of(url)`` asks the server only when the URL's last answer is
older than ``max_age_s``, and every app in the meantime (any thread) uses it.
Apps asking for a URL while it is being listed wait for that one listing
instead of starting their own. ``shared_refs(refs, fresh=True)`` (an explicit
sync or reconcile request, a refresh) lists anew, and the answer is shared
from then on. A failed listing is not kept: the next app asks again.

The same holds for the cached checkout of a commit (``checkout_whole``): the
first app to open it checks it for tampering, and the others trust that for
``max_age_s`` instead of walking the whole tree each (a refresh checks again).

Outside ``shared_refs`` (the CLI: one command, ``source.opened_once``) every
``refs_of`` is a listing, as before.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.source_git import ls_remote

ListRefs = Callable[[str], dict[str, str]]


@dataclass(frozen=True)
class _Listed:
    refs: Mapping[str, str]
    at: float  # the clock when the listing started: a push after it is not in it


class RemoteRefs:
    """``git ls-remote`` answers by URL, each reused for ``max_age_s`` (thread-safe)."""

    def __init__(
        self,
        *,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
        list_refs: ListRefs = ls_remote,
    ) -> None:
        self._max_age_s = max_age_s
        self._clock = clock
        self._list_refs = list_refs
        self._lock = threading.Lock()
        self._listed: dict[str, _Listed] = {}
        self._listing: dict[str, threading.Lock] = {}
        self.listings = 0  # how often a server was asked (tests, operators)
        # (checkout directory, commit) → when it was last found whole.
        self._whole: dict[tuple[str, str], float] = {}
        self.verifications = 0  # how often a checkout was walked (tests)

    def refs(self, url: str, *, fresh: bool = False) -> dict[str, str]:
        """The refs of ``url`` (name → commit), listed at most ``max_age_s`` ago;
        ``fresh``: listed after this call began. Raises what ``ls_remote`` raises."""
        asked = self._clock()
        with self._lock:
            listing = self._listing.setdefault(url, threading.Lock())
        with listing:  # one listing of a URL at a time; the others wait for it
            with self._lock:
                found = self._listed.get(url)
            if found is not None and self._usable(found, asked, fresh=fresh):
                return dict(found.refs)
            started = self._clock()
            with self._lock:
                self.listings += 1
            refs = self._list_refs(url)  # an error is not kept: the next app asks again
            with self._lock:
                self._listed[url] = _Listed(refs=dict(refs), at=started)
            return dict(refs)

    def _usable(self, found: _Listed, asked: float, *, fresh: bool) -> bool:
        if fresh:
            # Listed after the request was made (another app's fresh listing
            # that this one waited for) answers it too.
            return found.at >= asked
        return asked - found.at < self._max_age_s

    def checkout_whole(
        self, dest: Path, sha: str, check: Callable[[], bool], *, fresh: bool = False
    ) -> bool:
        """Whether the cached checkout ``dest`` holds exactly ``sha``: ``check()``
        (the tamper check, a walk of the whole tree), or True when it answered
        so less than ``max_age_s`` ago and ``dest`` is still there (``fresh``:
        ``check()`` now)."""
        if not dest.is_dir():
            return False  # not made yet (or removed): nothing to walk
        key = (os.fspath(dest), sha)
        now = self._clock()
        with self._lock:
            at = self._whole.get(key)
        if not fresh and at is not None and now - at < self._max_age_s:
            return True
        with self._lock:
            self.verifications += 1
        whole = check()
        with self._lock:
            if whole:
                self._whole[key] = now
            else:
                self._whole.pop(key, None)
        return whole

    def forget(self) -> None:
        """Drop every answer kept (the next ask of each URL lists it)."""
        with self._lock:
            self._listed.clear()
            self._whole.clear()


@dataclass(frozen=True)
class _Sharing:
    refs: RemoteRefs
    fresh: bool
    listed_fresh: set[str]  # the URLs this block has listed anew already


_SHARED: ContextVar[_Sharing | None] = ContextVar("gitwave_remote_refs", default=None)


@contextmanager
def shared_refs(refs: RemoteRefs, *, fresh: bool = False) -> Iterator[None]:
    """Within the block, ``refs_of`` answers from ``refs``; ``fresh`` lists every
    URL asked in the block anew (once each, however often it is asked)."""
    token = _SHARED.set(_Sharing(refs=refs, fresh=fresh, listed_fresh=set()))
    try:
        yield
    finally:
        _SHARED.reset(token)


def refs_of(url: str) -> dict[str, str]:
    """The refs of ``url``: from the ``RemoteRefs`` of the enclosing
    ``shared_refs``, else ``git ls-remote`` now. Raises SourceError when the
    remote cannot be listed."""
    sharing = _SHARED.get()
    if sharing is None:
        return ls_remote(url)
    # Fresh once per URL per block: an app's render opens its source more than
    # once (the app, its Helm values, its chart), and one sync reads one answer.
    fresh = sharing.fresh and url not in sharing.listed_fresh
    listed = sharing.refs.refs(url, fresh=fresh)
    if fresh:
        sharing.listed_fresh.add(url)
    return listed


def checkout_whole(dest: Path, sha: str, check: Callable[[], bool]) -> bool:
    """``check()`` (is the cached checkout ``dest`` exactly commit ``sha``?),
    answered from the enclosing ``shared_refs`` while its last answer is
    recent: the apps of one commit share one checkout, and walking all of it
    for each app cost O(apps) per app (a 1000-app fleet: a quarter of a
    replica's CPU). Outside ``shared_refs``, ``check()`` every time."""
    sharing = _SHARED.get()
    if sharing is None:
        return check()
    return sharing.refs.checkout_whole(dest, sha, check, fresh=sharing.fresh)


__all__ = ["ListRefs", "RemoteRefs", "checkout_whole", "refs_of", "shared_refs"]

"""Sleeping on a target's change feed instead of polling it.

A wait that has just read its objects takes each target's feed cursor
(``feeds_of``, before the read, so an event arriving between the read and the
sleep still wakes it), then sleeps (``sleep_until_changed``) until a feed
names one of the objects it waits for. A Kubernetes provider answers from its
list+watch caches, one per cluster and type, shared by every app; the
sandbox from its resource versions. Used by a sync's health, deletion and
prune waits (``engine.sync_waits``) and by ``gitwave wait`` (``engine.app_wait``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from gitwave.engine.errors import UnreachableError
from gitwave.engine.interrupts import check
from gitwave.engine.model import ResourceKey
from gitwave.engine.provider import ChangeFeed, ChangeWaiter, Provider

__all__ = ["RESYNC_S", "Feed", "feeds_of", "sleep_until_changed"]

# A sleeping wait reads its objects again at least this often, as client-go's
# informers resync: a health rule that looks at something no event announces
# still settles, late.
RESYNC_S = 10.0
# How often a sleeping wait looks for Ctrl-C (``engine.interrupts``).
_INTERRUPT_CHECK_S = 0.25

Feed = tuple[ChangeWaiter, ChangeFeed, str]


def feeds_of(targets: Iterable[Provider]) -> list[Feed] | None:
    """Each of ``targets`` with its feed's current cursor; None when one of
    them cannot sleep on a feed (or the feed cannot answer: a watch is down,
    reads go to the server), and the wait polls."""
    providers: dict[int, Provider] = {}
    for provider in targets:
        providers.setdefault(id(provider), provider)
    feeds: list[Feed] = []
    for provider in providers.values():
        if not isinstance(provider, ChangeWaiter) or not isinstance(provider, ChangeFeed):
            return None
        try:
            cursor, _ = provider.changes("")
        except UnreachableError:
            return None
        feeds.append((provider, provider, cursor))
    return feeds


def sleep_until_changed(feeds: list[Feed], keys: frozenset[ResourceKey], deadline: float) -> bool:
    """Sleep until a feed reports a change to one of ``keys`` (or lost track:
    anything may have changed), the deadline (``time.monotonic``), or
    ``RESYNC_S``. True when woken by a change, False when the time ran out."""
    cursors = [cursor for _, _, cursor in feeds]
    until = min(deadline, time.monotonic() + RESYNC_S)
    while (left := until - time.monotonic()) > 0:
        check()
        slice_s = min(left, _INTERRUPT_CHECK_S)
        if len(feeds) > 1:
            slice_s /= len(feeds)
        for index, (waiter, feed, _) in enumerate(feeds):
            if not waiter.wait_for_change(cursors[index], slice_s):
                continue
            try:
                cursors[index], changed = feed.changes(cursors[index])
            except UnreachableError:
                return True  # the next read goes to the server and says so
            if changed is None or not changed.isdisjoint(keys):
                return True
    return False

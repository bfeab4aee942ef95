"""Ctrl-C for operations running on worker threads.

Python delivers KeyboardInterrupt to the main thread only, and at any bytecode:
inside a history write, a lock release, a pool shutdown. When apps run on
worker threads (``engine.fleet_run``), the front end's signal handler sets an
Event instead, and each worker stops at its next safe point: a wait (a wave's
health, a hook, another operation's lock, a retry's backoff) or the start of
a wave. There it raises ``Interrupted``, a KeyboardInterrupt, so the history
row ends Interrupted and the app's lock is let go exactly as a Ctrl-C on the
main thread does. An object being applied is applied first: that is the
"current step" a running app finishes.

The Event travels in a context variable set per worker (``interruptible``), so
the waits deep in a sync need no extra argument; outside one, ``pause`` is
``time.sleep``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[threading.Event | None] = ContextVar("gitwave_interrupt", default=None)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C reached a worker at a safe point (see the module docstring)."""


@contextmanager
def interruptible(event: threading.Event | None) -> Iterator[None]:
    """Within the block (on this thread), ``pause`` and ``check`` raise
    ``Interrupted`` once ``event`` is set."""
    token = _CURRENT.set(event)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def check() -> None:
    """Raise ``Interrupted`` when this thread's operation was asked to stop."""
    event = _CURRENT.get()
    if event is not None and event.is_set():
        raise Interrupted


def pause(seconds: float) -> None:
    """Sleep ``seconds``; raise ``Interrupted`` as soon as this thread's
    operation is asked to stop (at once if it already was)."""
    event = _CURRENT.get()
    if event is None:
        time.sleep(seconds)
        return
    if event.wait(max(seconds, 0.0)):
        raise Interrupted


__all__ = ["Interrupted", "check", "interruptible", "pause"]

"""Signals for the one-shot verbs: Ctrl-C while many apps run on worker threads."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupt_on_signals(interrupt: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) sets ``interrupt``: no app starts any more and running
    ones stop at their next safe point, each history row ending Interrupted.
    A second Ctrl-C raises KeyboardInterrupt (``run_fleet`` still waits for
    its workers). Off the main thread, signals are not ours to take."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if interrupt.is_set():
            raise KeyboardInterrupt
        interrupt.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

"""Signals for the one-shot verbs: Ctrl-C while many apps run on worker threads."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupt_on_signals(interrupt: threading.Event) -> Iterator[None]:
    """Ctrl-C (SIGINT) or SIGTERM (a CI runner cancelling the job, ``kill``)
    sets ``interrupt``: no app starts any more and running ones stop at their
    next safe point, each history row ending Interrupted. A second signal
    raises KeyboardInterrupt (``run_fleet`` still waits for its workers).

    Both are taken even when the process started with SIGINT ignored (a
    shell's background job, many CI steps), as Go's signal.Notify does for
    kubectl, argocd and flux: a SIGINT sent to gitwave on purpose (``kill
    -INT``, a runner's cancel) stops it between steps. Off the main thread,
    signals are not ours to take."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if interrupt.is_set():
            raise KeyboardInterrupt
        interrupt.set()

    previous: dict[signal.Signals, object] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]

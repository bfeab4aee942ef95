"""The reconcile loop (``gitwave run``, the TUI's live view): keeps every app at
what Git says until stopped. ``loop.Reconciler`` is the entry; ``decide`` holds
what it does with a planned app, ``polling`` when it looks at Git and the
targets, ``pins`` rollback pins and auto-rollback,
``feeds`` the targets' change feeds, ``state`` its values, ``metrics`` its
Prometheus metrics."""

from gitwave.engine.reconciler.feeds import change_feed
from gitwave.engine.reconciler.loop import Reconciler, run_loop
from gitwave.engine.reconciler.state import DEFAULT_INTERVAL_S, AppStatus, LoopOptions

__all__ = [
    "DEFAULT_INTERVAL_S",
    "AppStatus",
    "LoopOptions",
    "Reconciler",
    "change_feed",
    "run_loop",
]

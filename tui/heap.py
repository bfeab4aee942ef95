"""The TUI's garbage-collection policy: big plans are frozen out of the cyclic
collector's walks (see :class:`HeapPolicy`)."""

from __future__ import annotations

import gc

__all__ = ["HeapPolicy"]


class HeapPolicy:
    """Keeps Python's cyclic garbage collector from walking every planned object.

    A plan of 10,000 objects keeps about half a million Python objects alive;
    each full collection walks them all (0.5-1 s on 2 cores), and a refresh
    allocates enough to set off several. Frozen after each load (``settled``),
    the plans already held are left out of collections; they are still freed
    by reference counting when dropped (they hold no cycles). Cyclic garbage
    frozen with them is reclaimed by a full collection every ``every`` loads.

    Off unless ``enabled`` (``GitwaveApp.run`` turns it on): a test process
    running many apps must not freeze the garbage of earlier tests.
    """

    def __init__(self, *, enabled: bool = False, every: int = 20) -> None:
        self.enabled = enabled
        self.every = every
        self.loads = 0

    def start(self) -> None:
        """Turn the policy on; what is loaded so far (the modules) is frozen at once."""
        self.enabled = True
        gc.freeze()

    def settled(self) -> None:
        """Call on the app's thread after a big value (an app's plan) was stored."""
        if not self.enabled:
            return
        self.loads += 1
        if self.loads % self.every == 0:
            gc.unfreeze()
            gc.collect()
        gc.freeze()

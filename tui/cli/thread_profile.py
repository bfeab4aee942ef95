"""``GITWAVE_CPROFILE=FILE``: a cProfile of every thread of a long-running verb.

For finding where a ``gitwave controller`` replica's CPU goes (benchmarks,
docs/benchmarks.md), where py-spy is not at hand. cProfile sees only the
thread that enabled it, and a replica's work is on its worker, watch and
Lease threads: each thread started inside ``profiled_threads`` gets a
profiler of its own, and at the end all are merged into one pstats file
(``python -m pstats FILE``), timed by each thread's CPU clock (waiting
for the API server costs nothing). Off unless the variable is set.
"""

from __future__ import annotations

import cProfile
import marshal
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

PROFILE_ENV = "GITWAVE_CPROFILE"


@contextmanager
def profiled_threads() -> Iterator[None]:
    """Profile this thread and every thread started in the block when
    ``$GITWAVE_CPROFILE`` names a file; write the merged stats there at the end."""
    target = os.environ.get(PROFILE_ENV)
    if not target:
        yield
        return
    profiles: list[cProfile.Profile] = []
    guard = threading.Lock()

    def start_in_thread(frame: FrameType, event: str, arg: Any) -> None:
        # threading calls this once, as the new thread's first profile event:
        # swap it for a profiler of the thread's own.
        sys.setprofile(None)
        profile = cProfile.Profile(time.thread_time)
        with guard:
            profiles.append(profile)
        profile.enable()

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.setprofile(None)
        merged: dict[Any, Any] = {}
        with guard:
            for profile in profiles:
                profile.snapshot_stats()
                for func, (cc, nc, tt, ct, callers) in profile.stats.items():
                    if func in merged:
                        pcc, pnc, ptt, pct, pcallers = merged[func]
                        for caller, value in callers.items():
                            old = pcallers.get(caller)
                            pcallers[caller] = value if old is None else _add(old, value)
                        merged[func] = (pcc + cc, pnc + nc, ptt + tt, pct + ct, pcallers)
                    else:
                        merged[func] = (cc, nc, tt, ct, dict(callers))
        with open(target, "wb") as out:
            marshal.dump(merged, out)
        print(f"gitwave: cProfile of {len(profiles)} threads written to {target}", file=sys.stderr)


def _add(old: Any, new: Any) -> Any:
    if isinstance(old, tuple):
        return tuple(a + b for a, b in zip(old, new, strict=True))
    return old + new


__all__ = ["PROFILE_ENV", "profiled_threads"]

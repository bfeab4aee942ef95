"""Run the ``gitwave`` command line under tracemalloc and print where memory is
held when it ends (the fleet benchmark's ``--tracemalloc``).

    python -X tracemalloc=1 benchmarks/tracemalloc_main.py OUT sync URL ...

Writes the 30 largest allocation sites (by line) still held at exit, and the
traced peak, to OUT. Not a test: a tool to find what to shrink.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path


def main() -> int:
    out = Path(sys.argv[1])
    from gitwave.tui.cli import main as gitwave_main

    if not tracemalloc.is_tracing():
        tracemalloc.start()
    code = 1
    try:
        code = gitwave_main(sys.argv[2:])
    finally:
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        stats = tracemalloc.take_snapshot().statistics("lineno")
        lines = [f"traced now {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB"]
        lines += [str(stat) for stat in stats[:30]]
        out.write_text("\n".join(lines) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())

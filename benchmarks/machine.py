"""What a benchmark ran on, for the figures written into docs/."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """``Linux x86_64, 2 cores, AMD EPYC …, Python 3.11.7``."""
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"

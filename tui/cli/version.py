"""gitwave's own version, apart from the verbs so ``--version`` imports nothing else."""

from __future__ import annotations

import importlib.metadata


def gitwave_version() -> str:
    """The installed gitwave's version ("unknown" when run from a bare checkout)."""
    try:
        return importlib.metadata.version("gitwave")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"

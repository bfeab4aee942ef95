"""gitwave's own version, apart from the verbs so ``--version`` imports nothing else."""

from __future__ import annotations

import importlib.metadata


def gitwave_version() -> str:
    """The installed gitwave's version ("unknown" when run from a bare checkout)."""
    try:
        return importlib.metadata.version("gitwave")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def version_line() -> str:
    """The first line ``gitwave version`` and ``gitwave --version`` print, as
    ``argocd version --client`` prints its own: ``gitwave: v0.1.0``."""
    version = gitwave_version()
    return f"gitwave: {version if version == 'unknown' else 'v' + version}"

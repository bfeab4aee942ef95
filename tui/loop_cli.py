"""CLI verbs of the long-running modes: watch, run, events, unpin."""

from __future__ import annotations

import argparse
from typing import Any


def register_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """Add this module's verbs to the `gitwave` parser (none yet)."""

"""The values of watch mode (``engine.watch``): how it runs, and one cycle's
line (``deployment.yaml → 1 to update → Synced in 0.21s``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gitwave.engine.fleet_run import DEFAULT_CONCURRENT
from gitwave.engine.label_selector import LabelSelector
from gitwave.engine.operations import SyncRequest

_MAX_FILES_SHOWN = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchOptions:
    """How ``watch`` runs. ``only`` names apps (default: all, app-of-apps
    parents left out); ``ignore_paths`` are never watched (the state directory
    when it lies inside the tree: the sandbox writes there on every sync)."""

    request: SyncRequest = field(default_factory=SyncRequest)
    only: tuple[str, ...] = ()
    step_ms: int = 50
    debounce_ms: int = 1600
    ignore_paths: tuple[Path, ...] = ()
    allow_local_repos: tuple[str, ...] = ()  # see load_apps
    concurrent: int = DEFAULT_CONCURRENT  # apps cycled at once (engine.fleet_run)
    # ``-l``: only the apps whose labels match (read again with the definitions).
    selector: LabelSelector | None = None
    # Told the names of the apps watched after each (re)load of the definitions:
    # the CLI records where they were found, as sync and run do (app_locations).
    on_load: Callable[[tuple[str, ...]], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Cycle:
    """One watch cycle of one app: what changed, the plan, what happened."""

    app: str
    started: float
    changed: tuple[str, ...]  # shown names: relative to the app's path where possible
    summary: str  # plan_summary; "" when there is no plan (an error)
    result: str  # "Synced in 0.21s", "in sync in 0.05s", "error: file:line: …"
    ok: bool
    revision: str = ""

    @property
    def files(self) -> str:
        if not self.changed:
            return "start"
        shown = ", ".join(self.changed[:_MAX_FILES_SHOWN])
        more = len(self.changed) - _MAX_FILES_SHOWN
        return f"{shown} (+{more} more)" if more > 0 else shown

    @property
    def message(self) -> str:
        """``deployment.yaml → 1 to update → Synced in 0.21s``; an error has no plan:
        ``deployment.yaml → error: deployment.yaml:5: malformed YAML …``."""
        if not self.summary:
            return f"{self.files} → {self.result}"
        return f"{self.files} → {self.summary} → {self.result}"

    @property
    def line(self) -> str:
        """``guestbook: deployment.yaml → 1 to update → Synced in 0.21s``."""
        return f"{self.app}: {self.message}"

"""Shared setup of the TUI tests: a real Git repository of samples, a real
SandboxProvider and history store in tmp_path, and helpers that wait on the
app the way a user waits on the screen.

(No tests here; the other test_app_*.py modules import these.)
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
from textual.pilot import Pilot
from textual.screen import Screen

from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.app import GitwaveApp
from gitwave.tui.controller import Controller
from gitwave.tui.widgets.status import UNICODE

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
SIZE = (80, 24)
WHEN = "1714564800 +0000"  # 2024-05-01 12:00 UTC, git's internal date format
AUTHOR = git.Actor("Ops", "ops@example.com")


def commit(root: Path, message: str, *, when: str = WHEN) -> str:
    """Commit everything under ``root`` (a new repository if needed); returns the SHA.

    Fixed author and dates: the same files give the same SHA on every machine."""
    repo = git.Repo(root) if (root / ".git").exists() else git.Repo.init(root)
    repo.git.add(A=True)
    return str(
        repo.index.commit(
            message,
            author=AUTHOR,
            committer=AUTHOR,
            author_date=when,
            commit_date=when,
        ).hexsha
    )


def fleet(tmp_path: Path, samples: Sequence[str] = ("guestbook", "waves", "app-of-apps")) -> Path:
    """A Git repository holding ``samples/<name>`` for each sample, committed."""
    root = tmp_path / "fleet"
    for name in samples:
        shutil.copytree(SAMPLES / name, root / "samples" / name)
    commit(root, "Add the samples")
    return root


@dataclass
class Env:
    """One location, one sandbox, one history: what `gitwave tui` builds from its flags."""

    location: Path
    state: Path
    sandbox: SandboxProvider
    store: Store
    controller: Controller
    apps: list[GitwaveApp] = field(default_factory=list)

    def app(
        self, *, read_only: bool = False, open_app: str | None = None, refresh: float = 0
    ) -> GitwaveApp:
        app = GitwaveApp(
            self.controller,
            read_only=read_only,
            open_app=open_app,
            refresh_seconds=refresh,
            glyphs=UNICODE,
        )
        self.apps.append(app)
        return app

    def close(self) -> None:
        self.store.close()
        self.sandbox.close()


def make_env(
    tmp_path: Path,
    location: Path,
    *,
    rollout: float = 0.05,
    clock: Callable[[], float] = time.time,
    sandbox_clock: Callable[[], float] = time.time,
) -> Env:
    state = tmp_path / "state"
    sandbox = SandboxProvider(state, rollout_seconds=rollout, clock=sandbox_clock)
    store = Store(state / "gitwave.db")
    controller = Controller(
        str(location), targets=ProviderRouter([sandbox]), store=store, state_dir=state, clock=clock
    )
    return Env(location, state, sandbox, store, controller)


async def until(
    pilot: Pilot[None], predicate: Callable[[], object], *, timeout: float = 45.0, what: str = ""
) -> None:
    """Let the app run until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what or predicate}\n--- screen ---\n"
                + screen_text(pilot.app)
            )
        await pilot.pause(0.05)


def screen_text(app: GitwaveApp) -> str:
    """What the terminal shows, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def drawn(app: GitwaveApp, screen: type[Screen[Any]]) -> bool:
    """The top screen is a ``screen`` and has been drawn: a screen is pushed before
    its first layout, so its text can still be empty (seen on a loaded machine)."""
    return isinstance(app.screen, screen) and bool(screen_text(app).strip())


def notified(app: GitwaveApp, text: str) -> bool:
    """True when a notification (toast) showing ``text`` is up."""
    return any(text in n.message for n in app._notifications)


async def settle(pilot: Pilot[None]) -> None:
    """Let pending messages and refreshes run."""
    await pilot.pause()
    await asyncio.sleep(0)

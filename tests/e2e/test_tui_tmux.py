"""`gitwave tui` end to end: the real console script in a real terminal (tmux),
driven by keys and read back with `tmux capture-pane`, on the embedded sandbox.

Needs tmux, not the Kubernetes cluster (no `kube_cluster` fixture here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GITWAVE = Path(sys.executable).parent / "gitwave"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@dataclass
class Terminal:
    """One tmux server (a private socket) running one command at 80x24."""

    socket: str
    env: dict[str, str]

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            env=self.env,
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "tui")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "tui", key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        """Send ``text`` in one ``send-keys`` call: the app reads all of it at
        once, as from a fast typist over SSH (``press`` waits between keys)."""
        self.tmux("send-keys", "-t", "tui", "-l", text)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            try:
                text = self.screen()
            except subprocess.CalledProcessError:
                text = "(no pane)"
            if check(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{text}")

    def running(self) -> bool:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "has-session", "-t", "tui"],
            capture_output=True,
            env=self.env,
        )
        return done.returncode == 0


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_SANDBOX_ROLLOUT": "0.3",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
    }
    env.pop("NO_COLOR", None)
    env.pop("TMUX", None)
    term = Terminal(socket=f"gitwave-test-{uuid.uuid4().hex[:8]}", env=env)
    command = f"cd {REPO} && exec {GITWAVE} tui samples/guestbook"
    term.tmux("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command)
    try:
        yield term
    finally:
        subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True, env=env)


def line_of(screen: str, needle: str) -> str:
    return next((line for line in screen.splitlines() if needle in line), "")


def test_open_sync_confirm_and_diff_in_a_real_terminal(terminal: Terminal) -> None:
    screen = terminal.wait_for(
        lambda s: "guestbook" in s and "OutOfSync" in s and "Missing" in s, "the app list"
    )
    assert "sandbox" in screen.splitlines()[0]

    terminal.press("Enter")
    terminal.wait_for(lambda s: "app guestbook" in s and "Deployment guestbook-ui" in s, "the app")

    terminal.press("S")
    terminal.wait_for(lambda s: "Sync guestbook" in s and "Prune" in s, "the sync options")
    terminal.press("Enter")
    screen = terminal.wait_for(lambda s: "Sync app guestbook to sandbox?" in s, "the plan")
    assert "+ Deployment/guestbook/guestbook-ui (create)" in screen
    terminal.press("y")

    def deployment_healthy(s: str) -> bool:
        row = line_of(s, "Deployment guestbook-ui")
        return "Synced" in row and "Healthy" in row

    screen = terminal.wait_for(deployment_healthy, "the Deployment synced and healthy")
    assert "Synced" in line_of(screen, "app guestbook")
    assert "Pod guestbook-ui-" in screen  # the live tree shows what it owns

    # Someone scales it by hand; refresh, then the diff names the field.
    subprocess.run(
        [
            str(GITWAVE),
            "sandbox",
            "scale",
            "deployment/guestbook-ui",
            "-n",
            "guestbook",
            "--replicas",
            "5",
        ],
        check=True,
        env=terminal.env,
        capture_output=True,
    )
    terminal.press("r")
    terminal.wait_for(
        lambda s: "OutOfSync" in line_of(s, "Deployment guestbook-ui"), "the drift to show"
    )
    terminal.press("D")
    screen = terminal.wait_for(lambda s: "spec.replicas" in s, "the diff")
    assert "~ Deployment/guestbook/guestbook-ui" in screen
    assert "spec.replicas: 5 → 3" in screen

    terminal.press("Escape", "Escape", "q")
    terminal.wait_for(lambda s: not terminal.running() or "(no pane)" in s, "gitwave to quit", 10)


def test_slash_and_a_burst_of_letters_filter_the_list(terminal: Terminal, tmp_path: Path) -> None:
    terminal.wait_for(lambda s: "guestbook" in s and "OutOfSync" in s, "the app list")
    # One send-keys call, no wait for the filter line: "p" (twice) would toggle
    # the auto-sync pause of the selected app if it reached the list.
    terminal.type("/app-42")
    screen = terminal.wait_for(lambda s: "filter: app-42" in s, "the filter")
    assert "OutOfSync" not in screen  # guestbook does not match
    assert not (tmp_path / "state" / "autosync.json").exists()
    terminal.press("Escape")
    screen = terminal.wait_for(lambda s: "OutOfSync" in s, "the list back")
    assert "filter:" not in screen
    assert not (tmp_path / "state" / "autosync.json").exists()
    terminal.press("q")
    terminal.wait_for(lambda s: not terminal.running() or "(no pane)" in s, "gitwave to quit", 10)

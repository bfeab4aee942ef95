"""`gitwave tui` in a real terminal (tmux): the k9s object views by their keys
— `y` YAML, `d` describe, `l` logs — on an app synced by `gitwave sync`.

Needs tmux, not the Kubernetes cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_tui_tmux import GITWAVE, REPO, Terminal, line_of

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[Terminal]:
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "xterm-256color",
    }
    env.pop("NO_COLOR", None)
    env.pop("TMUX", None)
    subprocess.run(
        [str(GITWAVE), "sync", "samples/guestbook"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    term = Terminal(socket=f"gitwave-test-{uuid.uuid4().hex[:8]}", env=env)
    command = f"cd {REPO} && exec {GITWAVE} tui samples/guestbook --app guestbook"
    term.tmux("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command)
    try:
        yield term
    finally:
        subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True, env=env)


def test_y_d_and_l_on_the_deployment(synced: Terminal) -> None:
    terminal = synced
    screen = terminal.wait_for(
        lambda s: "Healthy" in line_of(s, "Deployment guestbook-ui"), "the synced app"
    )
    assert "NAMESPACE" in screen and "AGE" in screen
    assert "guestbook" in line_of(screen, "Deployment guestbook-ui").split("guestbook-ui", 1)[1]

    # "/" and the text in one send-keys call: every letter after "/" goes to
    # the filter, none to the tree's keys ("y" yaml, "e" events, "l" logs).
    terminal.type("/Deployment")
    terminal.wait_for(lambda s: "filter: Deployment" in s, "the filter")
    terminal.press("Enter", "j")
    terminal.wait_for(
        lambda s: line_of(s, "Deployment guestbook-ui").startswith("▌"), "the cursor on it"
    )
    terminal.press("y")
    screen = terminal.wait_for(lambda s: "kind: Deployment" in s, "the YAML")
    assert "yaml Deployment/guestbook/guestbook-ui" in screen
    terminal.press("Escape")
    terminal.wait_for(lambda s: "kind: Deployment" not in s, "back")
    terminal.press("d")
    screen = terminal.wait_for(lambda s: "Conditions:" in s, "the describe page")
    assert "Kind:         Deployment (apps/v1)" in screen
    assert "Available" in screen
    terminal.press("Escape")
    terminal.wait_for(lambda s: "Conditions:" not in s, "back")
    terminal.press("l")
    terminal.wait_for(
        lambda s: "logs are not available on the sandbox target" in s, "the logs answer"
    )
    terminal.press("Escape", "Escape", "Escape", "q")
    terminal.wait_for(lambda s: not terminal.running() or "(no pane)" in s, "gitwave to quit", 10)

"""``gitwave suspend|resume APP`` (Flux's verbs) share the TUI's pause, and
``gitwave events APP --follow`` streams (issue 13, "Verbs and flags"). The real
CLI on the sandbox; --follow as a real process whose output is read as it comes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.controller import Controller
from gitwave.tui.views import AutoSync
from tests.tui.test_cli import SAMPLES, copy_sample, run, sandbox_env  # noqa: F401


def test_suspend_and_resume_set_the_pause_the_tui_shows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    state = Path(os.environ["GITWAVE_STATE"])  # set by sandbox_env
    flux = SAMPLES / "flux"
    assert run(capsys, "sync", str(flux))[0] == 0
    code, out, err = run(capsys, "suspend", "apps")
    assert code == 0, err
    assert "apps: suspended" in out

    with closing(Store(state / "gitwave.db")) as store, SandboxProvider(state) as sandbox:
        controller = Controller(
            str(flux), targets=ProviderRouter([sandbox]), store=store, state_dir=state
        )
        assert controller.auto_sync(controller.app("apps")) is AutoSync.PAUSED
        assert controller.auto_sync(controller.app("infra")) is AutoSync.ON
        code, out, _ = run(capsys, "suspend", "apps", "-o", "json")
        doc = json.loads(out)
        assert (doc["app"], doc["suspended"]) == ("apps", True) and doc["since"].endswith("Z")

        code, out, _ = run(capsys, "resume", "apps")
        assert (code, out.strip()) == (0, "apps: resumed: a running `gitwave run` syncs it again")
        assert controller.auto_sync(controller.app("apps")) is AutoSync.ON

        # Paused in the TUI: the CLI sees it, and resumes it.
        controller.set_paused("infra", paused=True)
        code, out, _ = run(capsys, "suspend", "infra")
        assert out.startswith("infra: already suspended (by ")
        assert run(capsys, "resume", "infra")[0] == 0
        assert controller.auto_sync(controller.app("infra")) is AutoSync.ON
        code, out, _ = run(capsys, "resume", "infra")
        assert out.strip() == "infra: not suspended"


def test_suspend_of_an_unknown_app_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "suspend", "nosuchapp")
    assert (code, out) == (1, "")
    assert "error: nosuchapp: no syncs recorded" in err


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def _until(lines: queue.Queue[str], wanted: str, seen: list[str]) -> None:
    """Read lines until one holds ``wanted`` (a minute at most: a slow machine)."""
    while not any(wanted in line for line in seen):
        seen.append(lines.get(timeout=60))


@pytest.mark.slow  # a fresh `gitwave` process
def test_events_follow_streams_new_events_until_ctrl_c(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = copy_sample("guestbook", tmp_path)
    assert run(capsys, "sync", str(app))[0] == 0
    follow = subprocess.Popen(
        [sys.executable, "-m", "gitwave.tui.cli", "events", "guestbook", "--follow", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(follow.stdout, lines), daemon=True).start()
    try:
        seen: list[str] = []
        _until(lines, '"SyncFinished"', seen)  # the events so far
        before = len(seen)
        assert (
            run(
                capsys,
                "sandbox",
                "scale",
                "deploy/guestbook-ui",
                "-n",
                "guestbook",
                "--replicas",
                "5",
            )[0]
            == 0
        )
        assert run(capsys, "sync", str(app))[0] == 0
        seen_new: list[str] = []
        _until(lines, '"SyncFinished"', seen_new)  # the new sync, as it was recorded
        events = [json.loads(line) for line in seen[:before] + seen_new]
        assert [e["kind"] for e in events].count("SyncFinished") == 2
        # The heal of the scaled Deployment, among the new events.
        new = [json.loads(line) for line in seen_new]
        assert "apps/Deployment/guestbook/guestbook-ui" in {e["resource"] for e in new}
        assert all(e["app"] == "guestbook" for e in events)
    finally:
        follow.send_signal(signal.SIGINT)
        code = follow.wait(timeout=60)
    assert code == 0  # Ctrl-C is how a follow ends
    assert "Traceback" not in (follow.stderr.read() if follow.stderr else "")

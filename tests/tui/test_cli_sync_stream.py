"""`gitwave sync` prints a sync as it happens (issue 13, "sync output streams").

Real `gitwave` processes on the sandbox, their stdout a pipe read line by line:
each line is stamped with whether the process was still running when it
arrived, which is what a CI log sees. Python is not asked to be unbuffered
(no PYTHONUNBUFFERED): gitwave itself must flush each line. Ctrl-C and
SIGTERM are sent to a real process, whose history row is then read.
"""

from __future__ import annotations

import os
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gitwave.engine.model import ChangeAction, ResourceKey
from gitwave.engine.store import Store
from tests.tui.cli_support import sandbox_state

pytestmark = pytest.mark.slow  # `gitwave` in subprocesses

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@dataclass(frozen=True)
class Line:
    text: str
    running: bool  # the process had not exited when the line was read
    at: float


class Gitwave:
    """`gitwave ARGV` in its own session, SIGINT at its default (a shell's
    foreground job), stdout a pipe read as lines come."""

    def __init__(self, cwd: Path, *argv: str, rollout: float, progress: float = 0.2) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        env |= {
            "GITWAVE_SANDBOX_ROLLOUT": str(rollout),
            "GITWAVE_PROGRESS_INTERVAL": str(progress),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gitwave.tui.cli", *argv],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            # pytest-xdist workers may run with SIGINT ignored; a terminal's job does not.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: list[Line] = []
        self._queue: queue.Queue[Line] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self._queue.put(Line(text.rstrip("\n"), self.proc.poll() is None, time.monotonic()))

    def wait_line(self, what: str, match: Callable[[str], bool], *, timeout: float = 60) -> Line:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._queue.empty():
                    break
                continue
            self.lines.append(line)
            if match(line.text):
                return line
        raise AssertionError(f"no line {what}: {[x.text for x in self.lines]}")

    def finish(self, timeout: float = 60) -> tuple[int, list[str], str]:
        code = self.proc.wait(timeout)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        time.sleep(0)  # let the reader thread drain what is left
        while True:
            try:
                self.lines.append(self._queue.get(timeout=2))
            except queue.Empty:
                break
        return code, [line.text for line in self.lines], err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def processes() -> Iterator[list[Gitwave]]:
    started: list[Gitwave] = []
    yield started
    for process in started:
        process.kill()


def plain_app(root: Path) -> Path:
    """A ConfigMap (wave 0), a Deployment (wave 1, waited for: a later wave
    follows) and a Service (wave 2), naming no namespace."""
    root.mkdir()
    meta = {"name": "settings", "annotations": {"argocd.argoproj.io/sync-wave": "0"}}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"argocd.argoproj.io/sync-wave": "1"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "1"}}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "annotations": {"argocd.argoproj.io/sync-wave": "2"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    (root / "all.yaml").write_text(yaml.safe_dump_all([config, deployment, service]))
    return root


def test_piped_lines_arrive_as_they_happen_and_a_wait_is_never_silent(
    tmp_path: Path, processes: list[Gitwave]
) -> None:
    """The namespace CreateNamespace made comes first, each wave's objects as
    it runs, and while the Deployment rolls out (3 s) a line naming it comes
    every progress interval; all of it before the process ends."""
    app = plain_app(tmp_path / "shop")
    sync = Gitwave(tmp_path, "sync", str(app), "-n", "shop", "--create-namespace", rollout=3.0)
    processes.append(sync)
    waits = [
        sync.wait_line("waiting for the Deployment", lambda t: "waiting for Deployment" in t)
        for _ in range(3)
    ]
    code, lines, err = sync.finish()

    assert code == 0, err
    assert all(w.running for w in waits), "the waits were printed while the sync ran"
    assert "Sync wave 1: waiting for Deployment/shop/web: Progressing" in waits[0].text
    steps = [t for t in lines if not t.lstrip().startswith("Sync wave 1: waiting")]
    assert steps == [
        "shop @ - -> sandbox",
        "CreateNamespace",
        "  created    Namespace/shop",
        "Sync wave 0",
        "  created    ConfigMap/shop/settings",
        "Sync wave 1",
        "  created    Deployment/shop/web",
        "Sync wave 2",
        "  created    Service/shop/web",
        "shop: Succeeded in " + steps[-1].split(" in ", 1)[1],
    ]
    assert steps[-1].endswith(
        "(4 created, 0 configured, 0 unchanged, 0 deleted, 0 failed); health Healthy"
    )
    first = next(x for x in sync.lines if x.text == "  created    Deployment/shop/web")
    assert first.running, "an applied object is printed as it is applied"


def test_hooks_are_printed_in_their_phase(tmp_path: Path, processes: list[Gitwave]) -> None:
    sync = Gitwave(tmp_path, "sync", str(SAMPLES / "waves"), rollout=0.05)
    processes.append(sync)
    code, lines, err = sync.finish()

    assert code == 0, err
    assert "hooks" not in lines, "no trailing hooks heading"
    at = lines.index
    assert at("PreSync wave 0") < at("  created    Job/shop/db-migrate")
    assert at("  succeeded  Job/shop/db-migrate") < at("Sync wave 0")
    assert at("PostSync wave 0") < at("  created    Job/shop/smoke-test")
    assert lines[-1].startswith("waves: Succeeded in ")


@dataclass(frozen=True)
class StopCase:
    reason: str
    sig: signal.Signals


@pytest.mark.parametrize(
    "case",
    [
        StopCase("Ctrl-C at the terminal", signal.SIGINT),
        StopCase("SIGTERM, as a CI runner cancelling a job sends", signal.SIGTERM),
    ],
    ids=lambda c: c.reason,
)
def test_a_stopped_sync_says_what_it_applied_and_records_it(
    tmp_path: Path, processes: list[Gitwave], state: Path, case: StopCase
) -> None:
    """Stopped while wave 1 waits for an hour-long rollout: it stops at that
    safe point, prints what was applied, exits 130, and the history row is
    Interrupted with the objects it applied."""
    app = plain_app(tmp_path / "shop")
    sync = Gitwave(tmp_path, "sync", str(app), "-n", "shop", "--create-namespace", rollout=3600.0)
    processes.append(sync)
    sync.wait_line("waiting", lambda t: "waiting for Deployment/shop/web" in t)
    sync.proc.send_signal(case.sig)
    code, lines, err = sync.finish(timeout=30)

    assert code == 130, err
    assert "interrupted" in err
    summary = [t for t in lines if t.startswith("shop: ")]
    assert len(summary) == 1 and summary[0].startswith("shop: Interrupted in "), lines
    assert "(3 created," in summary[0]
    assert "health Healthy" not in summary[0]
    store = Store(state / "gitwave.db")
    try:
        (row,) = store.history("shop", running=True)
        record = store.get(row.id)
    finally:
        store.close()
    assert (record.result, record.message) == ("Interrupted", "interrupted (Ctrl-C)")
    assert {(o.key, o.action) for o in record.outcomes} == {
        (ResourceKey("", "Namespace", "", "shop"), ChangeAction.CREATED),
        (ResourceKey("", "ConfigMap", "shop", "settings"), ChangeAction.CREATED),
        (ResourceKey("apps", "Deployment", "shop", "web"), ChangeAction.CREATED),
    }


def test_on_a_terminal_a_live_board_counts_each_wave(tmp_path: Path) -> None:
    """stdout a terminal (a pty): while wave 1 waits, the board at the bottom
    names the wave, its counts and what it waits on; it is erased at the end,
    and the lines and the summary stay."""
    import pty

    app = plain_app(tmp_path / "shop")
    controller, terminal = pty.openpty()
    env = {**os.environ, "GITWAVE_SANDBOX_ROLLOUT": "2", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    argv = ["sync", str(app), "-n", "shop", "--create-namespace"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitwave.tui.cli", *argv],
        cwd=tmp_path,
        env=env,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert proc.wait(60) == 0
    screen = b"".join(chunks).decode()
    assert "shop: Sync wave 1 (2/3)  1/1 applied, 0/1 healthy" in screen
    assert "waiting for Deployment/shop/web: Progressing" in screen
    assert "Deployment/shop/web" in screen
    assert "health Healthy" in screen.splitlines()[-1]


def test_a_piped_wait_names_the_whole_chain_down_to_what_holds_it(
    tmp_path: Path, processes: list[Gitwave]
) -> None:
    """The database (a StatefulSet whose rollout takes an hour) holds the
    Secret it writes, which the Deployment mounts: while the sync waits on
    the database, the piped line names the chain from the Deployment the
    operator waits for down to the database, and how long it has waited."""
    from tests.tui.test_app_why import shop_repo

    app = shop_repo(tmp_path / "shop")
    sync = Gitwave(tmp_path, "sync", str(app), rollout=3600.0)
    processes.append(sync)
    chain = "Deployment/shop/api ← Secret/shop/db-conn ← StatefulSet/shop/db: Progressing"
    line = sync.wait_line("naming the chain", lambda t: chain in t)
    assert line.running, "said while the sync waits, not at the end"
    assert line.text.lstrip().startswith("Sync wave 0"), line.text
    assert f": waiting for {chain}" in line.text
    assert line.text.endswith("s"), "how long it has waited (0s, 1s, …)"
    sync.proc.send_signal(signal.SIGINT)
    code, lines, err = sync.finish(timeout=30)
    assert code == 130, err
    assert "  created    StatefulSet/shop/db" in lines
    assert "  created    Deployment/shop/api" not in lines


def test_on_a_terminal_the_board_names_the_whole_chain(tmp_path: Path) -> None:
    """The live board, at 80 columns: the chain is on a line of its own under
    the app's counts, wrapped rather than cut, while the wave waits; Ctrl-C
    (sent once it is seen) then stops the sync."""
    import pty

    from tests.tui.test_app_why import shop_repo

    app = shop_repo(tmp_path / "shop")
    controller, terminal = pty.openpty()
    env = {**os.environ, "GITWAVE_SANDBOX_ROLLOUT": "3600", "COLUMNS": "80"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitwave.tui.cli", "sync", str(app)],
        cwd=tmp_path,
        env=env,
        stdout=terminal,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(terminal)
    chunks: list[bytes] = []
    chain = "Deployment/shop/api ← Secret/shop/db-conn ← StatefulSet/shop/db:"
    deadline = time.monotonic() + 120  # a safety net only: the test waits for the text
    stopped = False
    # poll, not select: select() refuses a descriptor above 1023 (a long test session).
    waiting = select.poll()
    waiting.register(controller, select.POLLIN)
    try:
        while time.monotonic() < deadline:
            ready = waiting.poll(500)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not stopped and chain in b"".join(chunks).decode(errors="replace"):
                proc.send_signal(signal.SIGINT)  # once: a second Ctrl-C forces the exit
                stopped = True
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    assert proc.wait(60) == 130
    screen = b"".join(chunks).decode(errors="replace")
    assert "shop: Sync wave 0 step 1 (2/4)  1/1 applied, 0/1 healthy" in screen
    # The board's own line: dim, after the counts, wrapped at 80 columns (the
    # health goes on the next line), never cut with an ellipsis.
    under_counts = r"healthy  \d+s\r\n\x1b\[2m  waiting for " + re.escape(chain)
    assert re.search(under_counts, screen), screen[-2000:]
    assert "Progressing: Waiting for rollout" in screen

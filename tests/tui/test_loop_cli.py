"""`gitwave watch`, `run`, `events` and `unpin` as a user runs them: the real CLI,
in-process for the short verbs and in a subprocess for the long-running ones
(Ctrl-C, SIGTERM and SIGKILL are sent to a real process)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.events import Event, EventKind
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import ResourceKey
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.cli_support import run, sandbox_state

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
MIGRATE = ResourceKey("batch", "Job", "shop", "db-migrate")
SCALE_ARGS = ("deployment/guestbook-ui", "-n", "guestbook", "--replicas", "7")


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def git_app(tmp_path: Path, sample: str, policy: dict[str, Any], name: str, namespace: str) -> Path:
    """A Git repository holding an Application (``app.yaml``) and the sample's manifests."""
    root = tmp_path / "repo"
    shutil.copytree(SAMPLES / sample, root / "manifests")
    for readme in (root / "manifests").glob("*.md"):
        readme.unlink()
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "source": {"repoURL": ".", "path": "manifests"},
            "destination": {"namespace": namespace},
            "syncPolicy": policy,
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(application, sort_keys=False))
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    repo = git.Repo.init(root)
    repo.index.add(files)
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("init", author=author, committer=author)
    repo.close()
    return root


class Process:
    """`gitwave ...` in a subprocess, its stdout read line by line as it comes."""

    def __init__(self, tmp_path: Path, *argv: str, rollout: float = 0.05) -> None:
        env = {
            **os.environ,
            "GITWAVE_SANDBOX_ROLLOUT": str(rollout),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gitwave.tui.cli", *argv],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_line(self, what: str, match: Callable[[str], bool], *, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.proc.poll() is not None and self._queue.empty()):
                stderr = self.proc.stderr.read() if self.proc.poll() is not None else ""
                raise AssertionError(f"no line {what}: {self.lines} {stderr}")
            try:
                line = self._queue.get(timeout=min(remaining, 0.1))
            except queue.Empty:
                continue
            self.lines.append(line)
            if match(line):
                return line

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def exit_code(self, timeout: float = 10) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def wait_for(what: str, check: Callable[[], Any], *, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# --- watch ------------------------------------------------------------------------------


@pytest.mark.slow  # `gitwave` in subprocesses
def test_watch_prints_one_line_per_save_and_ctrl_c_exits_0(
    tmp_path: Path, processes: list[Process]
) -> None:
    app = tmp_path / "guestbook"
    shutil.copytree(SAMPLES / "guestbook", app)
    watch = Process(tmp_path, "watch", "guestbook")
    processes.append(watch)
    first = watch.wait_line("for the start", lambda line: "start →" in line)

    deployment = app / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("replicas: 3", "replicas: 2"))
    saved = watch.wait_line("for the save", lambda line: "deployment.yaml" in line)
    watch.signal(signal.SIGINT)

    assert watch.exit_code() == 0
    assert first[8:].startswith(" guestbook: start → 4 to create → Synced in ")
    clock, rest = saved.split(" ", 1)
    assert time.strptime(clock, "%H:%M:%S")
    assert rest.startswith("guestbook: deployment.yaml → 1 to update → Synced in ")
    assert rest.endswith("s")


@pytest.mark.slow  # `gitwave` in a subprocess
def test_an_app_watched_once_is_found_by_name_from_anywhere(
    tmp_path: Path, processes: list[Process], capsys: pytest.CaptureFixture[str]
) -> None:
    # As after `gitwave sync PATH` or `gitwave run PATH`: `status APP` reads the
    # app where the watch found it, from a directory where APP is no path.
    shutil.copytree(SAMPLES / "guestbook", tmp_path / "guestbook")
    watch = Process(tmp_path, "watch", "guestbook")
    processes.append(watch)
    watch.wait_line("for the start", lambda line: "start →" in line)
    watch.signal(signal.SIGINT)
    assert watch.exit_code() == 0
    assert not Path("guestbook").exists()  # this test runs elsewhere

    code, out, err = run(capsys, "status", "guestbook")

    assert (code, err) == (0, "")
    assert out.splitlines()[1].split()[:4] == [
        "guestbook",
        "in-cluster/default",
        "Synced",
        "Healthy",
    ]


# --- run: drift from another process ------------------------------------------------------


@pytest.mark.slow  # `gitwave` in subprocesses
def test_run_reports_an_out_of_band_scale_from_another_process(
    tmp_path: Path, processes: list[Process], capsys: pytest.CaptureFixture[str]
) -> None:
    git_app(tmp_path, "guestbook", {"automated": {}}, "guestbook", "guestbook")
    loop = Process(tmp_path, "run", "repo", "--interval", "1m")
    processes.append(loop)
    loop.wait_line("for the first sync", lambda line: "4 to create → Synced" in line)

    # This test's process is the other process: `gitwave sandbox scale` runs in it.
    code, scaled_out, _ = run(capsys, "sandbox", "scale", *SCALE_ARGS)
    scaled = time.monotonic()
    drift = loop.wait_line("for the drift", lambda line: "drift:" in line)
    seen_in = time.monotonic() - scaled
    loop.signal(signal.SIGTERM)

    assert (code, scaled_out.strip()) == (0, "deployment.apps/guestbook-ui scaled")
    assert loop.exit_code() == 0
    assert seen_in < 2.0, seen_in
    assert drift.endswith(
        "guestbook: drift: Deployment/guestbook/guestbook-ui spec.replicas: 7 → 3 (by kubectl)"
        " → OutOfSync (selfHeal off)"
    )
    code, out, _ = run(capsys, "events", "guestbook", "-o", "json")
    assert code == 0
    drifts = [e for e in json.loads(out) if e["kind"] == "DriftDetected"]
    assert [(e["resource"], e["message"]) for e in drifts] == [
        ("apps/Deployment/guestbook/guestbook-ui", "spec.replicas: 7 → 3 (by kubectl)")
    ]


# --- run: stopping and resuming -----------------------------------------------------------


def _timeline(state: Path, app: str) -> list[Event]:
    store = Store(state / "gitwave.db")
    try:
        return store.events(app, limit=100_000)
    finally:
        store.close()


def _history(state: Path, app: str) -> list[tuple[str, str]]:
    store = Store(state / "gitwave.db")
    try:
        return [(r.revision, r.result) for r in reversed(store.history(app))]
    finally:
        store.close()


def _migrate_uid(state: Path) -> str:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(MIGRATE)
        assert live is not None
        return str(live.manifest["metadata"]["uid"])


AUTOMATED = {"automated": {"selfHeal": True}}


@pytest.mark.slow  # `gitwave` in subprocesses
def test_sigterm_stops_the_running_sync_at_a_safe_point_and_records_it(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    git_app(tmp_path, "waves", AUTOMATED, "shop", "shop")
    loop = Process(tmp_path, "run", "repo", "--interval", "1m", rollout=0.15)
    processes.append(loop)
    wait_for(
        "the sync to start",
        lambda: any(e.kind is EventKind.SYNC_STARTED for e in _timeline(sandbox_env, "shop")),
    )

    loop.signal(signal.SIGTERM)
    code = loop.exit_code(timeout=20)

    assert code == 0
    events = _timeline(sandbox_env, "shop")
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.SYNC_STARTED) == kinds.count(EventKind.SYNC_FINISHED) == 1
    # Every wave that started also finished: the stop cut between waves.
    started = [e.wave for e in events if e.kind is EventKind.WAVE_STARTED]
    finished = [e.wave for e in events if e.kind is EventKind.WAVE_FINISHED]
    assert started == finished
    # Recorded whole: Terminated when the stop came before the last wave
    # (Succeeded when the sync was already in its last one).
    assert [result for _, result in _history(sandbox_env, "shop")] in (
        ["Terminated"],
        ["Succeeded"],
    )


@pytest.mark.slow  # `gitwave` in subprocesses
def test_sigkill_between_waves_then_a_restart_converges_without_running_a_hook_twice(
    tmp_path: Path,
    processes: list[Process],
    sandbox_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = git_app(tmp_path, "waves", AUTOMATED, "shop", "shop")
    sha = git.Repo(root).head.commit.hexsha
    first = Process(tmp_path, "run", "repo", "--interval", "1m", rollout=0.4)
    processes.append(first)

    def migrated_and_moved_on() -> bool:
        events = _timeline(sandbox_env, "shop")
        done = [
            i
            for i, e in enumerate(events)
            if e.kind is EventKind.HOOK_FINISHED and e.resource == MIGRATE
        ]
        return bool(done) and any(
            e.kind is EventKind.WAVE_STARTED and e.wave.startswith("Sync")
            for e in events[done[0] :]
        )

    wait_for("the PreSync hook to finish and a Sync wave to start", migrated_and_moved_on)
    first.proc.kill()  # SIGKILL: no handler runs, nothing is flushed
    first.exit_code()
    uid = _migrate_uid(sandbox_env)
    assert _history(sandbox_env, "shop") == [], "a killed sync has not ended"

    second = Process(tmp_path, "run", "repo", "--interval", "1m", rollout=0.4)
    processes.append(second)
    wait_for(
        "the resumed sync",
        lambda: (sha, "Succeeded") in _history(sandbox_env, "shop"),
        timeout=30,
    )
    second.signal(signal.SIGTERM)
    assert second.exit_code(timeout=20) == 0

    # The killed sync shows as interrupted, then the resumed one.
    assert _history(sandbox_env, "shop") == [(sha, "Interrupted"), (sha, "Succeeded")]
    started = [
        e.resource
        for e in _timeline(sandbox_env, "shop")
        if e.kind is EventKind.HOOK_STARTED and e.resource is not None
    ]
    assert started.count(MIGRATE) == 1, "the PreSync migration ran once for this commit"
    assert _migrate_uid(sandbox_env) == uid, "the migration Job was not created again"
    ran = [r.hook.split("@")[0] for r in LoopStore(sandbox_env / "gitwave.db").hook_runs("shop")]
    assert sorted(ran) == [
        "PostSync:batch/Job/shop/smoke-test",
        "PreSync:batch/Job/shop/db-migrate",
        "Sync:batch/Job/shop/cache-warmup-",
    ]
    code, out, _ = run(capsys, "plan", str(root))
    assert code == 0, out  # converged: nothing left to change
    assert "0 to create, 0 to update, 0 to prune" in out


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EventsCase:
    reason: str
    # The arguments given the test's "now": taken when the test runs, never at
    # import (minutes can pass between the two; see tests/conftest.py).
    argv: Callable[[float], tuple[str, ...]]
    messages: tuple[str, ...]


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


EVENTS_CASES = [
    EventsCase(
        "every event, oldest first, however old", lambda now: (), ("2h ago", "5m ago", "now")
    ),
    EventsCase("--since a duration", lambda now: ("--since", "10m"), ("5m ago", "now")),
    EventsCase(
        "--since an RFC 3339 time",
        lambda now: ("--since", rfc3339(now - 3 * 3600)),
        ("2h ago", "5m ago", "now"),
    ),
    EventsCase("--limit keeps the newest", lambda now: ("--limit", "1"), ("now",)),
]


@pytest.mark.parametrize("case", EVENTS_CASES, ids=lambda c: c.reason)
def test_events_replays_the_timeline(
    capsys: pytest.CaptureFixture[str], sandbox_env: Path, case: EventsCase
) -> None:
    now = time.time()  # `gitwave events --since 10m` reads the real clock too
    store = Store(sandbox_env / "gitwave.db")
    key = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
    for ago, kind in (
        (7200, EventKind.SYNC_STARTED),
        (300, EventKind.DRIFT_DETECTED),
        (0, EventKind.HEAL),
    ):
        message = (
            "now" if not ago else f"{ago // 3600}h ago" if ago >= 3600 else f"{ago // 60}m ago"
        )
        store.record_event(
            Event(kind, "guestbook", message, revision="a" * 40, resource=key, time=now - ago)
        )
    store.record_event(Event(EventKind.HEAL, "other", "not this app", time=now))
    store.close()

    argv = case.argv(now)
    code, out, _ = run(capsys, "events", "guestbook", *argv, "-o", "json")
    assert code == 0
    replayed = json.loads(out)
    code, table, _ = run(capsys, "events", "guestbook", *argv)

    assert code == 0
    assert tuple(e["message"] for e in replayed) == case.messages
    assert all(e["resource"] == "apps/Deployment/guestbook/guestbook-ui" for e in replayed)
    assert all(e["time"].endswith("Z") for e in replayed)
    assert table.splitlines()[0].split() == ["TIME", "KIND", "REVISION", "RESOURCE", "MESSAGE"]
    assert len(table.splitlines()) == 1 + len(case.messages)
    assert "aaaaaaa" in table.splitlines()[1]


def test_events_refuses_a_since_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "events", "guestbook", "--since", "yesterday")

    assert code == 2
    assert "'yesterday' is neither a duration (10m, 2h) nor an RFC 3339 time" in err


# --- unpin ------------------------------------------------------------------------------


def test_unpin_lifts_a_pin_once(capsys: pytest.CaptureFixture[str], sandbox_env: Path) -> None:
    store = Store(sandbox_env / "gitwave.db")
    LoopStore.beside(store).pin(
        "guestbook", revision="a" * 40, skipped="b" * 40, sync_id=3, reason="rolled back to #1"
    )
    store.close()

    code, out, _ = run(capsys, "unpin", "guestbook")
    again, out_again, _ = run(capsys, "unpin", "guestbook")
    code_events, events, _ = run(capsys, "events", "guestbook", "-o", "json")

    assert (code, again, code_events) == (0, 0, 0)
    assert out.startswith("guestbook: unpinned (was pinned to aaaaaaa, skipping bbbbbbb)")
    assert out_again.strip() == "guestbook: not pinned"
    assert [e["kind"] for e in json.loads(events)] == ["Pin"]
    assert LoopStore(sandbox_env / "gitwave.db").pin_of("guestbook") is None

"""One operation per app across processes, and hooks that survive ``kill -9``:
real `gitwave sync` and `gitwave run` processes sharing one state directory
(GITWAVE_STATE), on the sandbox; and the TUI's controller taking the same lock.

The kill points are deterministic: the first process runs with a sandbox
rollout of an hour, so a hook Job it creates stays running until the test
moves the sandbox's clock past it (``SandboxProvider(clock=...)``, the
simulated Job controller finishing); the test watches the hook ledger to know
the hook was created, then sends SIGKILL.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from gitwave.engine.events import Event, EventKind
from gitwave.engine.locks import AppBusyError, AppLocks
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import SyncRequest
from gitwave.engine.store import Store
from gitwave.engine.store_records import SyncRecord
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.cli import main
from tests.tui.cli_support import sandbox_state
from tests.tui.test_app_support import fleet, make_env
from tests.tui.test_loop_cli import MIGRATE, Process, git_app, wait_for

HOUR = 3600.0
WARMUP_PREFIX = "cache-warmup-"
AUTOMATED = {"automated": {"selfHeal": True}}


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def start(processes: list[Process], tmp_path: Path, *argv: str, rollout: float) -> Process:
    process = Process(tmp_path, *argv, rollout=rollout)
    processes.append(process)
    return process


def history(state: Path, app: str = "shop") -> list[SyncRecord]:
    """Every history row of ``app``, a Running one too, oldest first."""
    store = Store(state / "gitwave.db")
    try:
        return list(reversed(store.history(app, running=True)))
    finally:
        store.close()


def timeline(state: Path, app: str = "shop") -> list[Event]:
    store = Store(state / "gitwave.db")
    try:
        return store.events(app, limit=100_000)
    finally:
        store.close()


def started_hooks(state: Path, sha: str) -> dict[str, str]:
    """Hook id prefix (phase:key) → instance, for hooks started and not finished."""
    ledger = LoopStore(state / "gitwave.db")
    try:
        return {
            hook.split("@")[0]: start.instance
            for hook, start in ledger.hooks_started("shop", sha).items()
        }
    finally:
        ledger.close()


def holder_pid(state: Path, app: str = "shop") -> int | None:
    locks = AppLocks(state / "gitwave.db")
    try:
        holder = locks.holder_of(app)
        return holder.pid if holder is not None else None
    finally:
        locks.close()


def live(state: Path, key: ResourceKey) -> bool:
    with SandboxProvider(state) as sandbox:
        return sandbox.observe(key) is not None


def stderr_of(process: Process) -> str:
    assert process.proc.stderr is not None
    return process.proc.stderr.read()


def finish_running_jobs(state: Path) -> None:
    """What the sandbox's Job controller does an hour later: every Job completes."""
    with SandboxProvider(state, clock=lambda: time.time() + 2 * HOUR) as later:
        later.list(kind="Job")  # a list settles every object whose time has come


def created(events: list[Event], match: str) -> list[ResourceKey]:
    """The hook objects the syncs created (not adopted) whose name starts with ``match``."""
    return [
        e.resource
        for e in events
        if e.kind is EventKind.HOOK_STARTED
        and e.resource is not None
        and e.resource.name.startswith(match)
        and e.message == "created"
    ]


def jobs_ever(state: Path, prefix: str) -> set[ResourceKey]:
    """Every Job named ``prefix…`` the sandbox held, deleted ones too."""
    with SandboxProvider(state) as sandbox:
        _, living = sandbox.changes_since("0")
        _, deleted = sandbox.deletions_since("0")
    keys = {live.key for live in living} | set(deleted)
    return {k for k in keys if k.kind == "Job" and k.name.startswith(prefix)}


def migrate_uid(state: Path) -> str:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(MIGRATE)
        assert live is not None
        return str(live.manifest["metadata"]["uid"])


# --- item 13: one operation per app --------------------------------------------------


@pytest.mark.slow  # fresh `gitwave` processes
def test_a_second_sync_waits_for_the_first_and_the_presync_hook_runs_once(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    root = git_app(tmp_path, "waves", {}, "shop", "shop")
    sha = git.Repo(root).head.commit.hexsha
    # Each wave takes 1.5 s to settle: the second starts while the first runs.
    first = start(processes, tmp_path, "sync", "repo", rollout=1.5)
    wait_for("the first sync to hold the app", lambda: holder_pid(sandbox_env) == first.proc.pid)
    second = start(processes, tmp_path, "sync", "repo", rollout=1.5)

    assert first.exit_code(timeout=60) == 0
    assert second.exit_code(timeout=60) == 0
    err = stderr_of(second)
    assert f"waiting for app shop: held by pid {first.proc.pid} (gitwave sync, started " in err
    assert [(r.revision, r.result) for r in history(sandbox_env)] == [
        (sha, "Succeeded"),
        (sha, "Succeeded"),
    ]
    events = timeline(sandbox_env)
    assert created(events, MIGRATE.name) == [MIGRATE], "the PreSync hook ran once"
    assert len(created(events, WARMUP_PREFIX)) == 1, "the generateName Sync hook ran once"
    assert holder_pid(sandbox_env) is None, "both let go of the app"


@pytest.mark.slow  # fresh `gitwave` processes
def test_no_wait_reports_the_holder_and_applies_nothing(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    git_app(tmp_path, "waves", {}, "shop", "shop")
    first = start(processes, tmp_path, "sync", "repo", rollout=HOUR)
    wait_for("the first sync's PreSync hook", lambda: live(sandbox_env, MIGRATE))
    uid = migrate_uid(sandbox_env)

    second = start(processes, tmp_path, "sync", "repo", "--no-wait", rollout=0.05)
    assert second.exit_code(timeout=60) == 2
    err = stderr_of(second)
    held = f"held by pid {first.proc.pid} (gitwave sync, started "
    assert f"error: shop: app shop is busy: {held}" in err
    assert "hint: let that operation finish, or wait longer with --lock-timeout" in err
    assert [r.result for r in history(sandbox_env)] == ["Running"], "the second recorded nothing"
    assert migrate_uid(sandbox_env) == uid, "the second did not touch the running hook"


def _sha(tmp_path: Path) -> str:
    return str(git.Repo(tmp_path / "repo").head.commit.hexsha)


# --- item 14: crash-safe hooks -------------------------------------------------------


@pytest.mark.slow  # fresh `gitwave` processes
def test_after_kill_9_during_the_presync_hook_the_next_sync_adopts_it_and_waits(
    tmp_path: Path,
    processes: list[Process],
    sandbox_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    git_app(tmp_path, "waves", {}, "shop", "shop")
    sha = _sha(tmp_path)
    first = start(processes, tmp_path, "sync", "repo", rollout=HOUR)
    wait_for(
        "the PreSync hook to be recorded and created",
        lambda: (
            "PreSync:batch/Job/shop/db-migrate" in started_hooks(sandbox_env, sha)
            and live(sandbox_env, MIGRATE)
        ),
    )
    first.proc.kill()  # SIGKILL: no handler runs, nothing is flushed
    first.exit_code()
    uid = migrate_uid(sandbox_env)
    assert [r.result for r in history(sandbox_env)] == ["Running"]
    assert holder_pid(sandbox_env) == first.proc.pid, "a dead holder's lock stays behind"

    # --no-wait: the dead holder's lock is taken over at once, not waited out.
    second = start(processes, tmp_path, "sync", "repo", "--no-wait", rollout=0.05)
    wait_for(
        "the second sync to adopt the running hook",
        lambda: any(
            e.kind is EventKind.HOOK_STARTED and e.message.startswith("adopted")
            for e in timeline(sandbox_env)
        ),
        timeout=30,
    )
    wait_for(
        "the second sync to wait for it",
        lambda: any(
            e.kind is EventKind.WAITING and "(started by an interrupted sync)" in e.message
            for e in timeline(sandbox_env)
        ),
    )
    assert second.proc.poll() is None, "the second sync waits for the adopted hook"
    finish_running_jobs(sandbox_env)
    assert second.exit_code(timeout=60) == 0

    assert [(r.revision, r.result) for r in history(sandbox_env)] == [
        (sha, "Interrupted"),
        (sha, "Succeeded"),
    ]
    assert migrate_uid(sandbox_env) == uid, "the migration Job was not created again"
    assert jobs_ever(sandbox_env, MIGRATE.name) == {MIGRATE}
    assert set(created(timeline(sandbox_env), MIGRATE.name)) <= {MIGRATE}
    assert started_hooks(sandbox_env, sha) == {}, "no hook left marked as running"
    assert main(["history", "shop", "-o", "json"]) == 0
    interrupted, _ = json.loads(capsys.readouterr().out)[::-1]
    assert interrupted["result"] == "Interrupted"
    assert f"pid {first.proc.pid} (gitwave sync, started" in interrupted["message"]


@pytest.mark.slow  # fresh `gitwave` processes
def test_after_kill_9_during_a_generate_name_hook_run_neither_repeats_nor_orphans(
    tmp_path: Path,
    processes: list[Process],
    sandbox_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = git_app(tmp_path, "waves", AUTOMATED, "shop", "shop")
    sha = git.Repo(root).head.commit.hexsha
    first = start(processes, tmp_path, "sync", "repo", rollout=HOUR)
    wait_for(
        "the PreSync hook to be created",
        lambda: live(sandbox_env, MIGRATE),
    )
    finish_running_jobs(sandbox_env)  # the migration succeeds; the sync moves on
    wait_for(
        "the generateName Sync hook to be recorded",
        lambda: any(
            hook.startswith(f"Sync:batch/Job/shop/{WARMUP_PREFIX}")
            for hook in started_hooks(sandbox_env, sha)
        ),
    )
    (instance,) = [i for h, i in started_hooks(sandbox_env, sha).items() if WARMUP_PREFIX in h]
    warmup = ResourceKey.parse(instance)
    assert warmup.name.startswith(WARMUP_PREFIX) and warmup.name != WARMUP_PREFIX
    wait_for("the hook object", lambda: live(sandbox_env, warmup))
    first.proc.kill()
    first.exit_code()
    uid = migrate_uid(sandbox_env)

    # `gitwave history` shows the killed sync as interrupted, naming the process.
    assert main(["history", "shop"]) == 0
    out = capsys.readouterr().out
    assert f"{sha[:7]}" in out and "Interrupted" in out

    # The loop picks the commit up: it must not run the migration again nor
    # start a second cache-warmup Job beside the one still running.
    loop = start(processes, tmp_path, "run", "repo", "--interval", "1m", rollout=0.05)
    wait_for(
        "the loop to adopt the running hook",
        lambda: any(
            e.kind is EventKind.HOOK_STARTED
            and e.resource == warmup
            and e.message.startswith("adopted")
            for e in timeline(sandbox_env)
        ),
        timeout=30,
    )
    finish_running_jobs(sandbox_env)
    wait_for(
        "the loop's sync to succeed",
        lambda: [r.result for r in history(sandbox_env)] == ["Interrupted", "Succeeded"],
        timeout=30,
    )
    loop.signal(signal.SIGTERM)
    assert loop.exit_code(timeout=20) == 0

    # The killed process's last events may be lost (the timeline is written in
    # batches): the sandbox knows every Job that ever existed.
    events = timeline(sandbox_env)
    assert set(created(events, MIGRATE.name)) <= {MIGRATE}
    assert migrate_uid(sandbox_env) == uid, "the finished PreSync hook was not run again"
    assert set(created(events, WARMUP_PREFIX)) <= {warmup}
    assert jobs_ever(sandbox_env, WARMUP_PREFIX) == {warmup}, "the running hook was adopted"
    ledger = LoopStore(sandbox_env / "gitwave.db")
    done = {run.hook.split("@")[0]: run.instance for run in ledger.hook_runs("shop")}
    ledger.close()
    assert done[f"Sync:batch/Job/shop/{WARMUP_PREFIX}"] == str(warmup)
    # HookSucceeded: the adopted hook is deleted once it succeeded, as a run's own.
    assert not live(sandbox_env, warmup)


def test_the_cli_runs_a_hook_once_per_revision_and_again_when_forced(
    tmp_path: Path, sandbox_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = git_app(tmp_path, "waves", {}, "shop", "shop")
    assert main(["sync", str(root)]) == 0
    uid = migrate_uid(sandbox_env)

    assert main(["sync", str(root)]) == 0
    assert migrate_uid(sandbox_env) == uid, "the PreSync hook did not run again"

    assert main(["sync", str(root), "--force"]) == 0
    assert migrate_uid(sandbox_env) != uid, "--force ran it again (BeforeHookCreation)"
    capsys.readouterr()


@pytest.mark.slow  # fresh `gitwave` processes
def test_ctrl_c_records_the_sync_as_interrupted_and_lets_go_of_the_app(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    git_app(tmp_path, "waves", {}, "shop", "shop")
    first = start(processes, tmp_path, "sync", "repo", rollout=HOUR)
    wait_for("the PreSync hook", lambda: live(sandbox_env, MIGRATE))

    first.signal(signal.SIGINT)

    assert first.exit_code(timeout=30) == 130
    (record,) = history(sandbox_env)
    assert (record.result, record.message) == ("Interrupted", "interrupted (Ctrl-C)")
    assert holder_pid(sandbox_env) is None


def test_the_tui_waits_for_an_app_another_operation_holds(tmp_path: Path) -> None:
    root = fleet(tmp_path, ("guestbook",))
    env = make_env(tmp_path, root / "samples" / "guestbook")
    taken, release = threading.Event(), threading.Event()
    events: list[Event] = []

    def other_operation() -> None:
        with env.store.locks.hold("guestbook", command="gitwave sync"):
            taken.set()
            release.wait(20)

    def on_event(event: Event) -> None:
        events.append(event)
        if event.kind is EventKind.WAITING and not event.wave:
            release.set()

    thread = threading.Thread(target=other_operation)
    thread.start()
    try:
        assert taken.wait(10)
        with pytest.raises(AppBusyError, match="app guestbook is busy: held by pid"):
            env.controller.sync("guestbook", SyncRequest(lock_timeout_s=0))
        assert env.store.history("guestbook") == []

        result = env.controller.sync("guestbook", SyncRequest(), sink=on_event)
        assert result.ok
        assert any(
            e.message.startswith("waiting for app guestbook: held by pid") for e in events
        ), "the TUI is told whom it waits for"
    finally:
        release.set()
        thread.join()
        env.close()

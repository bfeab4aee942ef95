"""The operation lock of an app (``engine.locks``), through the operations layer
and the loop as they take it; real processes are in tests/tui/test_crash_safety.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gitwave.engine import operations
from gitwave.engine.events import Event, EventKind
from gitwave.engine.locks import AppBusyError, AppLocks, LockHolder, Taken, pid_alive
from gitwave.engine.operations import SyncRequest
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.store_records import INTERRUPTED, RUNNING
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.test_loop import GitRepo

SAMPLES = Path(__file__).parent.parent.parent / "samples"


@dataclass
class World:
    state: Path
    targets: ProviderRouter
    store: Store


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    state = tmp_path / "state"
    sandbox = SandboxProvider(state, rollout_seconds=0.0)
    store = Store(state / "gitwave.db")
    yield World(state, ProviderRouter([sandbox]), store)
    store.close()
    sandbox.close()


@dataclass
class Held:
    """An app's lock held by another thread of this process until ``let_go``."""

    release: threading.Event
    thread: threading.Thread

    def let_go(self) -> None:
        self.release.set()
        self.thread.join()


def held_in_thread(store: Store, app: str, command: str) -> Held:
    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.locks.hold(app, command=command):
            taken.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert taken.wait(10)
    return Held(release, thread)


def dead_pid() -> int:
    """The pid of a process that ran and is gone (reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def put_holder(locks: AppLocks, app: str, *, pid: int, host: str, heartbeat: float) -> None:
    """A row as another process would have left it."""
    with locks._tx() as db:
        db.execute(
            "INSERT OR REPLACE INTO app_locks (app, holder, pid, host, command, started_at,"
            " heartbeat) VALUES (?,?,?,?,?,?,?)",
            (app, "theirs", pid, host, "gitwave sync", heartbeat, heartbeat),
        )


@dataclass(frozen=True)
class StaleCase:
    reason: str
    pid: str  # "dead", "alive" (this test's parent), "elsewhere" (another host), "self"
    heartbeat_age_s: float
    stale: bool


STALE_CASES = [
    StaleCase("a live holder with a fresh heartbeat", "alive", 1.0, False),
    StaleCase("a killed holder on this host, heartbeat fresh", "dead", 1.0, True),
    StaleCase("a live pid whose heartbeat stopped (pid reused)", "alive", 60.0, True),
    StaleCase("a holder on another host, heartbeat fresh", "elsewhere", 1.0, False),
    StaleCase("a holder on another host that stopped beating", "elsewhere", 60.0, True),
    StaleCase("this pid, but no thread here wrote it (a pid come back)", "self", 1.0, True),
]


@pytest.mark.parametrize("case", STALE_CASES, ids=lambda c: c.reason)
def test_a_stale_holder_is_taken_over_and_a_live_one_is_not(
    tmp_path: Path, case: StaleCase
) -> None:
    now = 1_000_000.0
    locks = AppLocks(tmp_path / "gitwave.db", clock=lambda: now)
    pid = {"dead": dead_pid(), "alive": os.getppid(), "elsewhere": 4242, "self": os.getpid()}[
        case.pid
    ]
    host = "elsewhere.example" if case.pid == "elsewhere" else socket.gethostname()
    put_holder(locks, "shop", pid=pid, host=host, heartbeat=now - case.heartbeat_age_s)

    got = locks.try_take("shop", "mine", "gitwave sync")

    assert isinstance(got, Taken) is case.stale
    holder = locks.holder_of("shop")
    assert holder is not None
    assert holder.holder == ("mine" if case.stale else "theirs")
    if case.stale:
        assert isinstance(got, Taken) and got.replaced is not None
        assert got.replaced.pid == pid
    locks.close()


def test_pid_alive_tells_a_running_process_from_a_finished_one() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid())


def test_a_busy_app_fails_after_the_wait_naming_the_holder(tmp_path: Path) -> None:
    locks = AppLocks(tmp_path / "gitwave.db")
    put_holder(locks, "shop", pid=os.getppid(), host=socket.gethostname(), heartbeat=time.time())
    seen: list[LockHolder] = []

    held = locks.hold("shop", timeout_s=0.3, on_wait=seen.append, poll_s=0.05)
    with pytest.raises(AppBusyError) as caught, held:
        raise AssertionError("the block must not run")

    assert [h.pid for h in seen] == [os.getppid()], "told once per holder, not every poll"
    message = str(caught.value)
    assert message.startswith("app shop is busy after waiting 0.3s: held by pid ")
    assert "(gitwave sync, started " in message
    assert "--lock-timeout" in caught.value.hint
    assert caught.value.retriable
    locks.close()


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path: Path) -> None:
    locks = AppLocks(tmp_path / "gitwave.db")
    other: list[BaseException] = []

    def try_from_another_thread() -> None:
        try:
            with locks.hold("shop", timeout_s=0.0):
                pass
        except AppBusyError as exc:
            other.append(exc)

    with locks.hold("shop", command="gitwave tui"):
        with locks.hold("shop", timeout_s=0.0):  # the same thread: no wait for itself
            holder = locks.holder_of("shop")
            assert holder is not None and holder.command == "gitwave tui"
        thread = threading.Thread(target=try_from_another_thread)
        thread.start()
        thread.join()
        assert locks.holder_of("shop") is not None, "the inner block did not release it"
    assert len(other) == 1 and "gitwave tui" in str(other[0])
    assert locks.holder_of("shop") is None
    locks.close()


def test_a_sync_waits_for_the_holder_then_runs(world: World, tmp_path: Path) -> None:
    shutil.copytree(SAMPLES / "guestbook", tmp_path / "guestbook")
    (app,) = operations.select_apps(str(tmp_path / "guestbook"))
    events: list[Event] = []
    held = held_in_thread(world.store, app.name, "gitwave sync")

    def on_event(event: Event) -> None:
        events.append(event)
        if event.kind is EventKind.WAITING and not event.wave:
            held.release.set()  # the holder ends once the second caller said whom it waits for

    synced = operations.sync_app(app, targets=world.targets, store=world.store, sink=on_event)
    held.let_go()

    assert synced.result.ok
    (waiting,) = [e for e in events if e.kind is EventKind.WAITING and not e.wave]
    assert waiting.message.startswith(f"waiting for app guestbook: held by pid {os.getpid()} ")
    assert "(gitwave sync, started " in waiting.message
    assert [r.result for r in world.store.history("guestbook")] == ["Succeeded"]


def test_the_loop_does_not_sync_an_app_someone_holds_and_syncs_it_after(
    world: World, tmp_path: Path
) -> None:
    GitRepo(tmp_path / "repo", "guestbook", {"automated": {"selfHeal": True}})
    location = str(tmp_path / "repo")
    lines: list[Event] = []
    loop = Reconciler(
        location,
        targets=world.targets,
        store=world.store,
        sink=lines.append,
        options=LoopOptions(interval_s=60),
    )
    held = held_in_thread(world.store, "guestbook", "gitwave sync")
    loop.start()
    loop.step()
    (status,) = loop.statuses()
    assert "app guestbook is busy: held by pid" in status.message
    assert world.store.history("guestbook") == [], "nothing synced while it was held"
    assert any(e.kind is EventKind.WAITING and "busy" in e.message for e in lines)

    held.let_go()
    for run in loop._runs.values():
        run.next_poll = 0.0  # the busy retry is due (BUSY_RETRY_S) without waiting it out
    loop.step()
    assert [r.result for r in world.store.history("guestbook")] == ["Succeeded"]


def test_taking_the_lock_marks_a_dead_process_s_running_sync_interrupted(world: World) -> None:
    sync_id = world.store.begin_sync(
        app="shop", revision="abc", source="repo", started=1.0, manifests=[]
    )
    put_holder(
        world.store.locks, "shop", pid=dead_pid(), host=socket.gethostname(), heartbeat=time.time()
    )
    assert world.store.history("shop") == [], "a Running sync has not ended"

    (record,) = operations.history(world.store, "shop")

    assert record.id == sync_id and record.result == INTERRUPTED and record.interrupted
    assert (
        "(gitwave sync, started" in record.message and "stopped before it ended" in record.message
    )
    assert world.store.locks.holder_of("shop") is None, "history let go of the lock again"


def test_history_leaves_the_running_sync_of_a_live_holder_alone(world: World) -> None:
    world.store.begin_sync(app="shop", revision="abc", source="repo", started=1.0, manifests=[])
    put_holder(
        world.store.locks,
        "shop",
        pid=os.getppid(),
        host=socket.gethostname(),
        heartbeat=time.time(),
    )

    (record,) = operations.history(world.store, "shop")

    assert record.result == RUNNING


def test_a_dry_run_takes_no_lock(world: World, tmp_path: Path) -> None:
    shutil.copytree(SAMPLES / "guestbook", tmp_path / "guestbook")
    (app,) = operations.select_apps(str(tmp_path / "guestbook"))
    put_holder(
        world.store.locks,
        app.name,
        pid=os.getppid(),
        host=socket.gethostname(),
        heartbeat=time.time(),
    )

    synced = operations.sync_app(
        app, targets=world.targets, store=world.store, request=SyncRequest(dry_run=True)
    )

    assert synced.result.ok and synced.result.dry_run


def test_two_apps_of_one_name_recorded_apart_do_not_hold_each_other(
    world: World, tmp_path: Path
) -> None:
    """The controller reads apps from cluster objects, where two namespaces may
    each hold a ``guestbook``: each is recorded (history, lock) as its object,
    so one's sync does not find the other's lock busy nor its history."""
    shutil.copytree(SAMPLES / "guestbook", tmp_path / "guestbook")
    (app,) = operations.select_apps(str(tmp_path / "guestbook"))
    team_a = replace(app, store_name="Application/team-a/guestbook")
    team_b = replace(app, store_name="Application/team-b/guestbook")
    held = held_in_thread(world.store, team_a.recorded_as, "gitwave controller")
    try:
        synced = operations.sync_app(
            team_b,
            targets=world.targets,
            store=world.store,
            request=SyncRequest(lock_timeout_s=0, retry=False),
        )
    finally:
        held.let_go()

    assert synced.result.ok, synced.result.message
    assert [r.result for r in world.store.history("Application/team-b/guestbook")] == ["Succeeded"]
    assert world.store.history("Application/team-a/guestbook") == []
    # The same app as the command line knows it still shares nothing with them.
    assert world.store.history("guestbook") == []

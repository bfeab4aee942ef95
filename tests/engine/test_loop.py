"""Continuous reconcile on real parts: a Git repository in tmp_path committed to
as a user would, the Reconciler running in a thread until its stop Event is
set, a real SandboxProvider (changed out of band through a second provider on
the same state, as another process would) and a real Store."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.apps import RetrySpec, load_apps
from gitwave.engine.events import Event, EventKind
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import Resource, ResourceKey, SyncStatus
from gitwave.engine.operations import rollback, sync_app
from gitwave.engine.pauses import AUTOSYNC_FILE, AutoSyncFlags
from gitwave.engine.reconciler import LoopOptions, Reconciler, change_feed
from gitwave.engine.retry import retry_delay
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.store_records import SyncRecord
from gitwave.engine.sync_request import SyncRequest
from gitwave.providers.sandbox import FAIL_ANNOTATION, SandboxProvider
from tests.loop_harness import ReconcilerThread

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
UI = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
MIGRATE = ResourceKey("batch", "Job", "shop", "db-migrate")
SHOP_API = ResourceKey("apps", "Deployment", "shop", "shop-api")

AUTO_HEAL: dict[str, Any] = {"automated": {"selfHeal": True}}
AUTO: dict[str, Any] = {"automated": {}}
MANUAL: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))


def application(
    policy: dict[str, Any], *, name: str = "guestbook", namespace: str = "guestbook"
) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name},
            "spec": {
                "source": {"repoURL": ".", "path": "manifests"},
                "destination": {"namespace": namespace},
                "syncPolicy": policy,
            },
        },
        sort_keys=False,
    )


class GitRepo:
    """A real Git repository in tmp_path: an Application and the manifests of a sample."""

    def __init__(self, root: Path, sample: str, policy: dict[str, Any], **app: str) -> None:
        self.root = root
        shutil.copytree(SAMPLES / sample, root / "manifests")
        for readme in (root / "manifests").glob("*.md"):
            readme.unlink()
        (root / "app.yaml").write_text(application(policy, **app))
        self.repo = git.Repo.init(root)
        self.author = git.Actor("Test", "test@example.com")
        self.shas: list[str] = []
        self.commit({}, "init", add_all=True)

    def commit(self, files: dict[str, str], message: str, *, add_all: bool = False) -> str:
        for name, text in files.items():
            (self.root / name).write_text(text)
        names = [p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()]
        self.repo.index.add(
            [n for n in names if not n.startswith(".git/")] if add_all else list(files)
        )
        sha = self.repo.index.commit(message, author=self.author, committer=self.author).hexsha
        self.shas.append(sha)
        return sha

    def edited(self, name: str, old: str, new: str) -> dict[str, str]:
        text = (self.root / name).read_text()
        assert old in text
        return {name: text.replace(old, new)}


TEMPLATE = "  template:\n    metadata:\n"
FAILING_TEMPLATE = f'{TEMPLATE}      annotations:\n        {FAIL_ANNOTATION}: "true"\n'
GUESTBOOK_LABELS = "  labels:\n    app: guestbook-ui\n"


def early_wave(deployment: str) -> str:
    """The guestbook Deployment moved to wave -1: the Service's wave waits for it."""
    assert GUESTBOOK_LABELS in deployment
    wave = '  annotations:\n    argocd.argoproj.io/sync-wave: "-1"\n'
    return deployment.replace(GUESTBOOK_LABELS, GUESTBOOK_LABELS + wave, 1)


@dataclass
class Loop(ReconcilerThread):
    root: Path
    sandbox: SandboxProvider
    store: Store
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    reconciler: Reconciler | None = None
    errors: list[BaseException] = field(default_factory=list)

    def start(self, location: str = "", **options: Any) -> Reconciler:
        options.setdefault("interval_s", 0.3)
        return self.launch(
            location or str(self.root), ProviderRouter([self.sandbox]), LoopOptions(**options)
        )

    def lines(self) -> list[str]:
        return [f"{e.kind.value} {e.app}: {e.message}" for e in self.events if e.kind in _SHOWN]

    def results(self, app: str = "guestbook") -> list[tuple[str, str]]:
        """(revision, result) of every sync in the history, oldest first."""
        return [(r.revision, r.result) for r in reversed(self.store.history(app, limit=500))]

    def status(self, app: str = "guestbook") -> Any:
        assert self.reconciler is not None
        return next((s for s in self.reconciler.statuses() if s.app == app), None)

    def replicas(self, key: ResourceKey = UI) -> int:
        live = self.sandbox.observe(key)
        assert live is not None
        return int(live.manifest["spec"]["replicas"])

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(10)
            assert not self.thread.is_alive(), "the loop did not stop"


_SHOWN = {
    EventKind.CYCLE,
    EventKind.DRIFT_DETECTED,
    EventKind.HEAL,
    EventKind.DRIFT_LOOP,
    EventKind.PIN,
    EventKind.ROLLBACK,
    EventKind.ERROR,
}


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        running = Loop(tmp_path / "repo", sandbox, store)
        yield running
        running.close()
    store.close()


def other_process(tmp_path: Path) -> SandboxProvider:
    """The sandbox as another process (`gitwave sandbox scale`) sees it."""
    return SandboxProvider(tmp_path / "state", rollout_seconds=0.05)


# --- new commits --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitCase:
    reason: str
    policy: dict[str, Any]
    applied: bool
    line: str  # the CYCLE line of the new commit, after "new commit <sha7> → "
    paused: bool = False  # auto-sync paused (from the TUI) for the app


COMMIT_CASES = [
    CommitCase("an automated app syncs it", AUTO, True, "1 to update → Synced in "),
    CommitCase(
        "a manual app only reports it", MANUAL, False, "1 to update → OutOfSync (auto-sync off)"
    ),
    CommitCase(
        "an automated app whose auto-sync is paused only reports it",
        AUTO,
        False,
        "1 to update → OutOfSync (auto-sync paused)",
        paused=True,
    ),
]


@pytest.mark.parametrize("case", COMMIT_CASES, ids=lambda c: c.reason)
def test_a_new_commit_is_picked_up_within_the_interval(
    loop: Loop, tmp_path: Path, case: CommitCase
) -> None:
    repo = GitRepo(loop.root, "guestbook", case.policy)
    if not case.applied:  # a manual app is synced by hand (`gitwave sync`) first
        _, (app,) = load_apps(str(loop.root))
        sync_app(app, targets=ProviderRouter([loop.sandbox]), store=loop.store)
    if case.paused:
        flags = AutoSyncFlags(loop.store.path.parent / AUTOSYNC_FILE)
        flags.set_paused("guestbook", True, now=time.time())
    reconciler = loop.start(interval_s=0.3)
    loop.wait("Synced", lambda: loop.status() and loop.status().sync is SyncStatus.SYNCED)
    # What each poll of the app's source saw once the apps' repository was read
    # after the commit (an app defined in the repository it reads is polled at
    # the commit the definitions were read at: the root first, then the app, at
    # the interval): the first such poll must see the new commit, whatever the
    # machine's load makes of the interval's wall time.
    committed = threading.Event()
    read_after = [False]
    seen_after: list[str | None] = []
    read_root, poll = reconciler._read_root, reconciler._poll_app

    def counted_read() -> str:
        read_after[0] = read_after[0] or committed.is_set()
        return read_root()

    def counted_poll(run: Any, now: float) -> None:
        poll(run, now)
        if read_after[0] and run.spec.name == "guestbook":
            seen_after.append(run.revision)

    reconciler._read_root = counted_read  # type: ignore[method-assign]
    reconciler._poll_app = counted_poll  # type: ignore[method-assign]

    sha = repo.commit(repo.edited("manifests/deployment.yaml", "replicas: 3", "replicas: 5"), "5")
    committed.set()
    line = loop.wait(
        "the new commit's cycle",
        lambda: next((e for e in loop.of(EventKind.CYCLE) if sha[:7] in e.message), None),
    )

    # (Nothing seen after: a read between the commit and committed.set() took it.)
    assert seen_after[:1] in ([], [sha]), seen_after
    assert line.message.startswith(f"new commit {sha[:7]} → {case.line}"), line.message
    if case.applied:
        assert loop.replicas() == 5
        assert loop.results()[-1] == (sha, "Succeeded")
        assert loop.status().sync is SyncStatus.SYNCED
    else:
        assert loop.replicas() == 3
        assert [result for _, result in loop.results()] == ["Succeeded"]
        assert loop.status().sync is SyncStatus.OUT_OF_SYNC


def test_a_remote_repository_is_followed_with_shallow_fetches(loop: Loop, tmp_path: Path) -> None:
    repo = GitRepo(loop.root, "guestbook", AUTO)
    branch = repo.repo.active_branch.name
    remote = git.Repo.init(tmp_path / "remote.git", bare=True)
    remote.git.symbolic_ref("HEAD", f"refs/heads/{branch}")
    repo.repo.git.push(str(tmp_path / "remote.git"), f"HEAD:refs/heads/{branch}")
    loop.start((tmp_path / "remote.git").as_uri(), interval_s=0.3)
    loop.wait("the first sync", lambda: loop.results())

    sha = repo.commit(repo.edited("manifests/deployment.yaml", "replicas: 3", "replicas: 5"), "5")
    repo.repo.git.push(str(tmp_path / "remote.git"), f"HEAD:refs/heads/{branch}")
    loop.wait("the pushed commit synced", lambda: (sha, "Succeeded") in loop.results())

    assert loop.replicas() == 5
    fetched = []
    for shallow in (tmp_path / "cache").rglob(".git/shallow"):
        with git.Repo(shallow.parent.parent) as checkout:
            fetched.append(checkout.head.commit.hexsha)
    assert sorted(fetched) == sorted(repo.shas), "each commit fetched once, at depth 1"


def test_a_commit_that_leaves_the_app_unchanged_syncs_nothing(loop: Loop) -> None:
    repo = GitRepo(loop.root, "guestbook", AUTO)
    loop.start()
    loop.wait("the first sync", lambda: loop.results())

    sha = repo.commit({"README.md": "notes\n"}, "docs only")
    line = loop.wait(
        "the new commit's cycle",
        lambda: next((e for e in loop.of(EventKind.CYCLE) if sha[:7] in e.message), None),
    )

    assert line.message == f"new commit {sha[:7]} → no changes for this app"
    assert [result for _, result in loop.results()] == ["Succeeded"]


# --- retries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DelayCase:
    reason: str
    retry: RetrySpec | None
    failures: int
    jitter: float
    want: float | None


DELAY_CASES = [
    DelayCase("no retry spec: a commit is tried once", None, 1, 0.0, None),
    DelayCase("the first retry waits the duration", RetrySpec(3, 5, 2, 180), 1, 0.0, 5.0),
    DelayCase("then it doubles", RetrySpec(3, 5, 2, 180), 3, 0.0, 20.0),
    DelayCase("capped at maxDuration", RetrySpec(-1, 5, 2, 30), 10, 0.0, 30.0),
    DelayCase("jitter only shortens, by up to 20 %", RetrySpec(3, 5, 2, 180), 1, 0.999, 4.001),
    DelayCase("no retry past the limit", RetrySpec(2, 5, 2, 180), 3, 0.0, None),
    DelayCase("a limit below zero never runs out", RetrySpec(-1, 1, 1, 1), 1000, 0.0, 1.0),
]


@pytest.mark.parametrize("case", DELAY_CASES, ids=lambda c: c.reason)
def test_retry_delay(case: DelayCase) -> None:
    got = retry_delay(case.retry, case.failures, jitter=lambda: case.jitter)

    assert got == pytest.approx(case.want, abs=1e-3) if case.want is not None else got is None


def test_a_failing_commit_is_retried_with_backoff_until_a_newer_commit_supersedes_it(
    loop: Loop,
) -> None:
    policy = {
        "automated": {},
        "retry": {"limit": 20, "backoff": {"duration": "0.1s", "factor": 2, "maxDuration": "0.4s"}},
    }
    repo = GitRepo(loop.root, "guestbook", policy)
    loop.start(interval_s=0.3)
    loop.wait("the first sync", lambda: loop.results())

    # In a wave the Service's waits on: as in Argo CD, only a wave a later one
    # follows fails the sync (a Degraded last wave is reported, not a failure).
    broken = repo.edited("manifests/deployment.yaml", TEMPLATE, FAILING_TEMPLATE)
    bad = repo.commit({name: early_wave(text) for name, text in broken.items()}, "breaks")
    loop.wait("three failed attempts", lambda: loop.results().count((bad, "Failed")) >= 3)
    fixed = repo.edited("manifests/deployment.yaml", FAILING_TEMPLATE, TEMPLATE)
    good = repo.commit(
        {name: text.replace("replicas: 3", "replicas: 4") for name, text in fixed.items()}, "fixes"
    )
    loop.wait("the fix synced", lambda: (good, "Succeeded") in loop.results())
    time.sleep(0.6)  # longer than the capped backoff: an old retry would show by now

    history = loop.store.history("guestbook", limit=100)
    failed = sorted((r.started, r.finished) for r in history if r.revision == bad)
    gaps = [
        start - previous_end
        for (start, _), (_, previous_end) in zip(failed[1:], failed[:-1], strict=True)
    ]
    assert gaps[0] >= 0.1 * 0.8 and gaps[1] >= 0.2 * 0.8, gaps  # backoff grows
    assert gaps[1] > gaps[0]
    fixed_at = next(r.finished for r in history if r.revision == good)
    assert all(start < fixed_at for start, _ in failed), "the failed commit was tried again"
    assert loop.results()[-1] == (good, "Succeeded")
    retries = [e.message for e in loop.of(EventKind.CYCLE) if "retry" in e.message]
    assert retries[0].startswith(f"new commit {bad[:7]} → 1 to update → Failed in ")
    assert "; retry 1/20 in 0.1s" in retries[0]
    assert loop.replicas() == 4


# --- drift ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftCase:
    reason: str
    policy: dict[str, Any]
    healed: bool
    line: str  # the end of the drift's CYCLE line


DRIFT_CASES = [
    DriftCase("selfHeal heals it", AUTO_HEAL, True, "→ 1 to update → Healed in "),
    DriftCase("without selfHeal it is only reported", AUTO, False, "→ OutOfSync (selfHeal off)"),
]


@pytest.mark.parametrize("case", DRIFT_CASES, ids=lambda c: c.reason)
def test_drift_from_the_change_feed(loop: Loop, tmp_path: Path, case: DriftCase) -> None:
    GitRepo(loop.root, "guestbook", case.policy)
    # A long interval: only the change feed can see the drift in time.
    loop.start(interval_s=60)
    loop.wait("the first sync", lambda: loop.results())

    with other_process(tmp_path) as kubectl:
        kubectl.scale(UI, 9)
    scaled = time.monotonic()
    drift = loop.wait("the drift", lambda: loop.of(EventKind.DRIFT_DETECTED))
    seen_in = time.monotonic() - scaled
    cycle = loop.wait(
        "the drift's cycle",
        lambda: next((e for e in loop.of(EventKind.CYCLE) if "drift" in e.message), None),
    )

    assert seen_in < 2.0
    assert drift[0].resource == UI
    assert drift[0].message == "spec.replicas: 9 → 3 (by kubectl)"
    assert cycle.message.startswith(
        "drift: Deployment/guestbook/guestbook-ui spec.replicas: 9 → 3 (by kubectl) "
    )
    assert case.line in cycle.message, cycle.message
    if case.healed:
        assert loop.replicas() == 3
        # The HEAL event may land just after the cycle line: wait for it.
        heals = loop.wait("the heal event", lambda: loop.of(EventKind.HEAL))
        assert [e.message for e in heals] == ["healed: 1 to update"]
        loop.wait("Synced", lambda: loop.status().sync is SyncStatus.SYNCED)
    else:
        assert loop.replicas() == 9
        assert loop.of(EventKind.HEAL) == []
        assert loop.status().sync is SyncStatus.OUT_OF_SYNC


def test_a_field_fought_over_is_healed_three_times_then_left_naming_both_managers(
    loop: Loop, tmp_path: Path
) -> None:
    GitRepo(loop.root, "guestbook", AUTO_HEAL)
    loop.start(interval_s=60, heal_limit=3, heal_window_s=300)
    loop.wait("the first sync", lambda: loop.results())

    with other_process(tmp_path) as hpa:
        for heals, count in enumerate((11, 12, 13), start=1):
            hpa.scale(UI, count, manager="hpa-controller")
            loop.wait(f"heal {heals}", lambda n=heals: len(loop.of(EventKind.HEAL)) == n)
            loop.wait("healed live", lambda: loop.replicas() == 3)
        hpa.scale(UI, 14, manager="hpa-controller")
    (stuck,) = loop.wait("the drift loop", lambda: loop.of(EventKind.DRIFT_LOOP))
    time.sleep(0.3)

    assert loop.replicas() == 14, "the fourth change is left alone"
    assert len(loop.of(EventKind.HEAL)) == 3
    assert stuck.resource == UI
    assert (
        "drift loop on Deployment/guestbook/guestbook-ui spec.replicas: healed 3 times in 5m"
        in stuck.message
    )
    assert "managers gitwave vs hpa-controller" in stuck.message
    snippet = yaml.safe_load(stuck.message.split("Application:\n", 1)[1])
    assert snippet["ignoreDifferences"][0]["jsonPointers"] == ["/spec/replicas"]
    status = loop.status()
    assert status.sync is SyncStatus.OUT_OF_SYNC
    assert [(lp.path, lp.managers) for lp in status.loops] == [
        ("spec.replicas", ("gitwave", "hpa-controller"))
    ]


# --- hooks, once per revision --------------------------------------------------------------


def test_healing_at_the_same_revision_does_not_run_the_hooks_again(
    loop: Loop, tmp_path: Path
) -> None:
    GitRepo(loop.root, "waves", AUTO_HEAL, name="shop", namespace="shop")
    loop.start(interval_s=60)
    loop.wait("the first sync", lambda: loop.results("shop"))
    migrate = loop.sandbox.observe(MIGRATE)
    assert migrate is not None

    with other_process(tmp_path) as kubectl:
        kubectl.scale(SHOP_API, 5)
    loop.wait("the heal", lambda: loop.of(EventKind.HEAL))

    started = [e.resource for e in loop.of(EventKind.HOOK_STARTED)]
    assert started.count(MIGRATE) == 1
    healed = loop.sandbox.observe(MIGRATE)
    assert (
        healed is not None
        and healed.manifest["metadata"]["uid"] == migrate.manifest["metadata"]["uid"]
    )
    done = LoopStore.beside(loop.store).hook_runs("shop")
    assert sorted(run.hook.split("@")[0] for run in done) == [
        "PostSync:batch/Job/shop/smoke-test",
        "PreSync:batch/Job/shop/db-migrate",
        "Sync:batch/Job/shop/cache-warmup-",
    ]
    assert loop.replicas(SHOP_API) == 2


# --- pins and rollbacks ---------------------------------------------------------------------


@dataclass(frozen=True)
class PinCase:
    reason: str
    lift: str  # "unpin" or "commit"
    replicas_after: int


PIN_CASES = [
    PinCase("`gitwave unpin` lifts the pin: the skipped commit is synced", "unpin", 5),
    PinCase("a newer commit lifts the pin and is synced", "commit", 6),
]


@pytest.mark.parametrize("case", PIN_CASES, ids=lambda c: c.reason)
def test_a_rollback_pins_an_automated_app(loop: Loop, case: PinCase) -> None:
    repo = GitRepo(loop.root, "guestbook", AUTO)
    loop.start(interval_s=0.2)
    loop.wait("the first sync", lambda: loop.results())
    bad = repo.commit(repo.edited("manifests/deployment.yaml", "replicas: 3", "replicas: 5"), "5")
    loop.wait("the bad commit synced", lambda: (bad, "Succeeded") in loop.results())

    # What `gitwave rollback guestbook` does, from another process.
    first = loop.store.history("guestbook")[-1]
    _, (app,) = load_apps(str(loop.root))
    rollback(app, first.id, targets=ProviderRouter([loop.sandbox]), store=loop.store)
    pin = loop.wait("the pin", lambda: loop.of(EventKind.PIN))[0]
    time.sleep(0.6)  # three intervals: the loop must not put the bad commit back

    assert loop.replicas() == 3
    assert pin.message.startswith(f"pinned to {repo.shas[0][:7]} after rollback #")
    assert f"commit {bad[:7]} is skipped" in pin.message
    status = loop.status()
    assert status.pinned is not None and status.pinned.skipped == bad
    assert any(f"{bad[:7]} → pinned to" in e.message for e in loop.of(EventKind.CYCLE))

    if case.lift == "unpin":
        LoopStore.beside(loop.store).unpin("guestbook", reason="test")
    else:
        repo.commit(repo.edited("manifests/deployment.yaml", "replicas: 5", "replicas: 6"), "6")
    loop.wait(
        "the sync after the pin",
        lambda: loop.status().pinned is None and loop.status().sync is SyncStatus.SYNCED,
    )

    assert loop.replicas() == case.replicas_after
    assert LoopStore.beside(loop.store).pin_of("guestbook") is None
    assert loop.of(EventKind.PIN)[-1].message.startswith("unpinned") or case.lift == "unpin"


class RacingStore(Store):
    """The real store, with another process's `gitwave rollback` finishing at
    the worst moment for the loop: just after the loop looked for a rollback
    to pin (and found none) and before it read the last sync to decide whether
    its commit is new."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.race: Callable[[], None] | None = None

    def last(self, app: str, *, succeeded_only: bool = False) -> SyncRecord | None:
        seen = super().last(app, succeeded_only=succeeded_only)
        race, self.race = (None, self.race) if succeeded_only else (self.race, None)
        if race is not None:
            race()
        return seen


def test_a_rollback_racing_the_loops_decision_is_not_undone(tmp_path: Path) -> None:
    store = RacingStore(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        loop = Loop(tmp_path / "repo", sandbox, store)
        try:
            repo = GitRepo(loop.root, "guestbook", AUTO)
            loop.start(interval_s=0.2)
            loop.wait("the first sync", lambda: loop.results())
            bad = repo.commit(
                repo.edited("manifests/deployment.yaml", "replicas: 3", "replicas: 5"), "5"
            )
            loop.wait("the bad commit synced", lambda: (bad, "Succeeded") in loop.results())
            # Live differs from Git (selfHeal is off), so the loop's plan has changes.
            with other_process(tmp_path) as kubectl:
                kubectl.scale(UI, 4)
            loop.wait("the drift", lambda: loop.of(EventKind.DRIFT_DETECTED))
            first = store.history("guestbook")[-1]
            _, (app,) = load_apps(str(loop.root))
            store.race = lambda: rollback(
                app, first.id, targets=ProviderRouter([sandbox]), store=store
            )

            loop.wait("the pin", lambda: loop.of(EventKind.PIN))
            time.sleep(0.6)  # three intervals

            assert store.race is None, "the rollback ran"
            assert loop.replicas() == 3
            assert [rev for rev, _ in loop.results()].count(bad) == 1, loop.lines()
        finally:
            loop.close()
    store.close()


def test_auto_rollback_when_health_turns_degraded_after_a_sync(loop: Loop) -> None:
    repo = GitRepo(loop.root, "guestbook", AUTO)
    loop.start(interval_s=0.2, auto_rollback=True, rollback_window_s=30)
    loop.wait("the first sync", lambda: loop.results())
    bad = repo.commit(
        repo.edited("manifests/deployment.yaml", TEMPLATE, FAILING_TEMPLATE), "breaks"
    )

    (rolled,) = loop.wait(
        "the rollback",
        lambda: [e for e in loop.of(EventKind.ROLLBACK) if e.message.startswith("auto-rollback")],
    )
    time.sleep(0.5)  # two intervals: the bad commit is not synced again

    assert "Degraded" in rolled.message and f"after syncing {bad[:7]}" in rolled.message
    assert f"rolled back to #1 @ {repo.shas[0][:7]} → Synced" in rolled.message
    live = loop.sandbox.observe(UI)
    assert live is not None
    assert FAIL_ANNOTATION not in (
        live.manifest["spec"]["template"]["metadata"].get("annotations") or {}
    )
    # As Argo CD, the sync itself succeeded (its last wave is not waited for);
    # the Degraded health after it is what rolled it back.
    assert [result for rev, result in loop.results() if rev == bad] == ["Succeeded"]
    status = loop.status()
    assert status.pinned is not None and status.pinned.skipped == bad


# --- the change feed -------------------------------------------------------------------------


def test_the_sandbox_change_feed_names_changed_and_deleted_objects(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path / "state") as sandbox:
        feed = change_feed(sandbox)
        assert feed is not None
        key = ResourceKey("", "ConfigMap", "default", "settings")
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"},
        }

        start, none = feed.changes("")
        sandbox.apply(Resource(key, "v1", manifest))
        after_apply, applied = feed.changes(start)
        sandbox.delete(key)
        _, deleted = feed.changes(after_apply)
        _, quiet = feed.changes(_)

    assert none == frozenset()
    assert applied == frozenset({key})
    assert deleted == frozenset({key})
    assert quiet == frozenset()


# --- a self-healing app without a retry spec --------------------------------------------------

CONFIG = ResourceKey("", "ConfigMap", "guestbook", "guestbook-ui-config")
GREETING = "Welcome to the guestbook"


def other_applier(tmp_path: Path, greeting: str | None, *, force: bool = False) -> None:
    """Another tool applying the ConfigMap server-side (as `other-tool`); without
    a greeting it gives the field up."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIG.name, "namespace": CONFIG.namespace},
    }
    if greeting is not None:
        manifest["data"] = {"greeting": greeting}
    with other_process(tmp_path) as other:
        other.server_side_apply(Resource(CONFIG, "v1", manifest), manager="other-tool", force=force)


def greeting(loop: Loop) -> str | None:
    live = loop.sandbox.observe(CONFIG)
    return None if live is None else live.manifest.get("data", {}).get("greeting")


@dataclass(frozen=True)
class HealRetryCase:
    reason: str
    failing: str  # "heal": the heal of a drift fails; "commit": the commit's first sync does


HEAL_RETRY_CASES = [
    HealRetryCase("a failed heal of drift", "heal"),
    HealRetryCase("a failed first sync of the commit", "commit"),
]


@pytest.mark.parametrize("case", HEAL_RETRY_CASES, ids=lambda c: c.reason)
def test_a_self_healing_app_without_a_retry_spec_retries_with_backoff_and_heals(
    loop: Loop, tmp_path: Path, case: HealRetryCase
) -> None:
    """Argo CD retries self-heal with backoff: a transient failure (another
    applier holding a field, until it lets go) does not leave the app failed."""
    GitRepo(loop.root, "guestbook", AUTO_HEAL)  # no retry spec
    backoff = RetrySpec(limit=-1, duration_s=0.2, factor=2, max_duration_s=0.8)
    if case.failing == "commit":
        with other_process(tmp_path) as ns:
            ns.apply(
                Resource(
                    ResourceKey("", "Namespace", "", "guestbook"),
                    "v1",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "guestbook"}},
                )
            )
        other_applier(tmp_path, "hello from other-tool")
    loop.start(interval_s=60, heal_backoff=backoff)
    if case.failing == "heal":
        loop.wait("the first sync", lambda: loop.results())
        other_applier(tmp_path, "hello from other-tool", force=True)  # takes the field over
    loop.wait("two failed attempts", lambda: [r for _, r in loop.results()].count("Failed") >= 2)

    assert greeting(loop) == "hello from other-tool", "a conflict is not forced"
    other_applier(tmp_path, None)  # the other tool lets go of the field
    loop.wait("healed", lambda: greeting(loop) == GREETING)
    loop.wait("Synced", lambda: loop.status().sync is SyncStatus.SYNCED)

    history = sorted(loop.store.history("guestbook", limit=100), key=lambda r: r.started)
    failed = [r for r in history if r.result == "Failed"]
    assert "apply conflicts with field manager 'other-tool'" in failed[0].message
    gaps = [b.started - a.finished for a, b in itertools.pairwise(failed)]
    assert gaps[0] >= 0.2 * 0.8, gaps  # the backoff, not a busy loop
    assert history[-1].result == "Succeeded"
    lines = [e.message for e in loop.of(EventKind.CYCLE) if "self-heal retry" in e.message]
    assert "; self-heal retry 1 in 0." in lines[0], lines


# --- an app of apps -----------------------------------------------------------------------


def test_the_loop_prunes_a_child_app_removed_from_its_app_of_apps(loop: Loop) -> None:
    # samples/app-of-apps prunes automatically and its guestbook child carries
    # Argo CD's resources-finalizer: removing the child from Git removes what it ran.
    for name in ("app-of-apps", "guestbook", "waves"):
        shutil.copytree(SAMPLES / name, loop.root / "samples" / name)
    repo = git.Repo.init(loop.root)
    author = git.Actor("Test", "test@example.com")
    repo.index.add([p.relative_to(loop.root).as_posix() for p in loop.root.rglob("*.yaml")])
    repo.index.commit("init", author=author, committer=author)
    # Every object of the child goes: past the prune guard's default limit, so the
    # loop would only report it (test_loop_prune_guard); this loop allows 100 %.
    loop.start(
        str(loop.root / "samples" / "app-of-apps"),
        interval_s=0.3,
        request=SyncRequest(prune_limit=100.0),
    )
    loop.wait("guestbook synced", lambda: loop.sandbox.observe(UI) is not None, timeout=60)

    repo.index.remove(["samples/app-of-apps/apps/guestbook.yaml"], working_tree=True)
    repo.index.commit("remove guestbook", author=author, committer=author)

    loop.wait("guestbook's Deployment pruned", lambda: loop.sandbox.observe(UI) is None, timeout=60)
    assert loop.status("waves") is not None, "the other child is still followed"
    assert loop.sandbox.observe(ResourceKey("", "Namespace", "", "guestbook")) is not None, (
        "Namespaces are not pruned implicitly"
    )
    loop.wait(
        "the removed child forgotten",
        lambda: (
            all(s.app != "guestbook" for s in loop.reconciler.statuses())  # type: ignore[union-attr]
            if loop.reconciler
            else False
        ),
        timeout=30,
    )

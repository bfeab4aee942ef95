"""Watch mode on real files: watchfiles on a tmp Git work tree, the real render,
plan and sync into a real SandboxProvider, the watcher running in a thread
stopped by its Event."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import git
import pytest

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import SyncRequest
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.watch import WatchOptions, watch
from gitwave.providers.sandbox import SandboxProvider

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
UI = ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")
SERVICE = ResourceKey("", "Service", "guestbook", "guestbook-ui")
CONFIG = ResourceKey("", "ConfigMap", "guestbook", "guestbook-ui-config")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))


def work_tree(tmp_path: Path, sample: str, *, under: str = "") -> Path:
    """The sample copied into a fresh Git repository (at ``under`` inside it), committed."""
    top = tmp_path / "repo"
    target = top / under if under else top
    shutil.copytree(SAMPLES / sample, target)
    files = [p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file()]
    repo = git.Repo.init(top)
    repo.index.add(files)
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("sample", author=author, committer=author)
    repo.close()
    return target


@dataclass
class Watcher:
    sandbox: SandboxProvider
    store: Store
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def start(self, path: Path, **options: object) -> None:
        ready = threading.Event()
        opts = WatchOptions(**options)  # type: ignore[arg-type]

        def target() -> None:
            try:
                watch(
                    str(path),
                    targets=ProviderRouter([self.sandbox]),
                    store=self.store,
                    sink=self.events.append,
                    stop=self.stop,
                    options=opts,
                    ready=ready,
                )
            except BaseException as exc:  # surfaced by the test, not lost in the thread
                self.errors.append(exc)
                ready.set()

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()
        assert ready.wait(10), "the watcher did not start"

    def cycles(self) -> list[Event]:
        return [e for e in self.events if e.kind is EventKind.CYCLE]

    def wait_cycles(self, count: int, *, timeout: float = 10.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        while len(self.cycles()) < count:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"want {count} cycles, got {self.lines()}"
            time.sleep(0.02)
        return self.cycles()

    def quiet(self, seconds: float = 0.3) -> list[Event]:
        """The cycles once none came for ``seconds``."""
        seen = -1
        while seen != len(self.cycles()):
            seen = len(self.cycles())
            time.sleep(seconds)
        return self.cycles()

    def lines(self) -> list[str]:
        return [f"{e.app}: {e.message}" for e in self.cycles()]

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)
            assert not self.thread.is_alive(), "the watcher did not stop"


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[Watcher]:
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        running = Watcher(sandbox, store)
        yield running
        running.close()
    store.close()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def replicas(sandbox: SandboxProvider) -> int:
    live = sandbox.observe(UI)
    assert live is not None
    return int(live.manifest["spec"]["replicas"])


def test_a_save_is_applied_uncommitted(watcher: Watcher, tmp_path: Path) -> None:
    app = work_tree(tmp_path, "guestbook")
    watcher.start(app)
    assert watcher.wait_cycles(1)[0].message.startswith("start → 4 to create → Synced in ")

    edit(app / "deployment.yaml", "replicas: 3", "replicas: 5")
    cycle = watcher.wait_cycles(2)[1]

    assert cycle.app == "repo"
    assert cycle.message.startswith("deployment.yaml → 1 to update → Synced in ")
    assert replicas(watcher.sandbox) == 5
    latest = watcher.store.history("repo")[0]
    assert (latest.result, latest.source.endswith("(watch)")) == ("Succeeded", True)
    assert git.Repo(tmp_path / "repo").is_dirty(), "nothing was committed"


def test_a_burst_of_saves_is_one_cycle_with_the_last_content(
    watcher: Watcher, tmp_path: Path
) -> None:
    app = work_tree(tmp_path, "guestbook")
    # A 500 ms step rather than the default 50 ms: a loaded machine once split
    # saves 10 ms apart in two (a sleep stretched past the step).
    watcher.start(app, step_ms=500, debounce_ms=3000)
    watcher.wait_cycles(1)

    deployment = app / "deployment.yaml"
    original = deployment.read_text()
    for count in range(4, 9):  # five saves, 10 ms apart: well inside the step
        deployment.write_text(original.replace("replicas: 3", f"replicas: {count}"))
        time.sleep(0.01)
    watcher.wait_cycles(2)
    cycles = watcher.quiet(seconds=1.0)  # longer than the step: no third cycle

    assert len(cycles) == 2, watcher.lines()
    assert cycles[1].message.startswith("deployment.yaml → 1 to update → Synced")
    assert replicas(watcher.sandbox) == 8


@dataclass(frozen=True)
class BadSaveCase:
    reason: str
    content: str  # what deployment.yaml holds after the bad save
    error: str  # in the cycle's line


BAD_SAVES = [
    BadSaveCase(
        "a half-written YAML file",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: [guestbook-ui\n",
        "→ error: deployment.yaml:5: malformed YAML",
    ),
    BadSaveCase(
        "an emptied file (an editor truncates before it writes)",
        "",
        "→ error: deployment.yaml: the file is empty; with prune on, gitwave does not prune",
    ),
]


@pytest.mark.parametrize("case", BAD_SAVES, ids=lambda c: c.reason)
def test_a_bad_save_prunes_nothing_and_the_next_save_retries(
    watcher: Watcher, tmp_path: Path, case: BadSaveCase
) -> None:
    app = work_tree(tmp_path, "guestbook")
    watcher.start(app, request=SyncRequest(prune=True))
    watcher.wait_cycles(1)
    deployment = app / "deployment.yaml"
    good = deployment.read_text()

    deployment.write_text(case.content)
    bad = watcher.wait_cycles(2)[1]
    live_after_bad = {live.key for live in watcher.sandbox.list(namespace="guestbook")}
    deployment.write_text(good.replace("replicas: 3", "replicas: 6"))
    fixed = watcher.wait_cycles(3)[2]

    assert case.error in bad.message, bad.message
    assert "save to retry" in bad.message
    assert {UI, SERVICE, CONFIG} <= live_after_bad, "nothing was pruned"
    assert fixed.message.startswith("deployment.yaml → 1 to update → Synced")
    assert replicas(watcher.sandbox) == 6
    assert watcher.thread is not None and watcher.thread.is_alive()


def test_a_deleted_file_is_pruned_with_prune_on(watcher: Watcher, tmp_path: Path) -> None:
    app = work_tree(tmp_path, "guestbook")
    watcher.start(app, request=SyncRequest(prune=True))
    watcher.wait_cycles(1)

    (app / "service.yaml").unlink()
    cycle = watcher.wait_cycles(2)[1]

    assert cycle.message.startswith("service.yaml → 1 to prune → Synced"), cycle.message
    assert watcher.sandbox.observe(SERVICE) is None


def _set_label(label: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        edit(path, "kind: Namespace\n", f"kind: Namespace\n# {label}\n")
        text = path.read_text()
        path.write_text(
            text.replace("metadata:\n", f"metadata:\n  labels:\n    edit: {label}\n", 1)
        )

    return change


@dataclass(frozen=True)
class MapCase:
    reason: str
    file: str  # relative to samples/kustomize
    change: Callable[[Path], None]
    cycled: tuple[str, ...]  # the apps the change cycles, in sync order
    shown: str  # the file as the cycle's line names it


def _bump_base_port(path: Path) -> None:
    edit(path, "containerPort: 80", "containerPort: 8080")


def _staging_image(path: Path) -> None:
    edit(
        path,
        "path: samples/kustomize/overlays/staging\n",
        "path: samples/kustomize/overlays/staging\n    kustomize:\n      images:\n"
        "        - nginx:1.27.9\n",
    )


MAP_CASES = [
    MapCase(
        "a file in one overlay cycles that app only",
        "overlays/dev/namespace.yaml",
        _set_label("dev"),
        ("web-dev",),
        "namespace.yaml",
    ),
    MapCase(
        "a shared base outside every app's path cycles every Kustomize app using it",
        "base/deployment.yaml",
        _bump_base_port,
        ("web-dev", "web-production", "web-staging"),
        "samples/kustomize/base/deployment.yaml",
    ),
    MapCase(
        "the Application file reloads the apps and cycles the one whose definition changed",
        "apps.yaml",
        _staging_image,
        ("web-staging",),
        "samples/kustomize/apps.yaml",
    ),
]


@pytest.mark.parametrize("case", MAP_CASES, ids=lambda c: c.reason)
def test_only_the_apps_whose_files_changed_are_cycled(
    watcher: Watcher, tmp_path: Path, case: MapCase
) -> None:
    definitions = work_tree(tmp_path, "kustomize", under="samples/kustomize")
    watcher.start(definitions)
    first = watcher.wait_cycles(3)
    # The apps cycle at once (--concurrent): each line as its cycle ends.
    assert sorted(e.app for e in first) == ["web-dev", "web-production", "web-staging"]
    assert all("Synced" in e.message for e in first), watcher.lines()

    case.change(definitions / case.file)
    watcher.wait_cycles(3 + len(case.cycled))
    later = watcher.quiet()[3:]

    assert tuple(sorted(e.app for e in later)) == tuple(sorted(case.cycled)), watcher.lines()
    assert all(e.message.startswith(f"{case.shown} → ") for e in later), watcher.lines()
    assert all("Synced" in e.message for e in later), watcher.lines()


def test_an_app_rendered_from_elsewhere_is_not_watched(watcher: Watcher, tmp_path: Path) -> None:
    app = work_tree(tmp_path, "guestbook")
    top = tmp_path / "repo"
    repo = git.Repo(top)
    sha = repo.head.commit.hexsha
    (top / "pinned.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: pinned\n"
        f"spec:\n  source:\n    repoURL: .\n    path: .\n    targetRevision: {sha}\n"
        "  destination:\n    namespace: guestbook\n"
    )
    watcher.start(app)

    (line,) = watcher.quiet()

    assert line.app == "pinned"
    assert line.message == f"start → not watched → renders from . .@{sha}, not from this work tree"


def test_stop_ends_watching_between_cycles(watcher: Watcher, tmp_path: Path) -> None:
    app = work_tree(tmp_path, "guestbook")
    watcher.start(app)
    watcher.wait_cycles(1)

    started = time.monotonic()
    watcher.close()

    assert time.monotonic() - started < 2.0

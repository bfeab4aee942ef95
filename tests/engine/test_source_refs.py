"""A remote's refs listed once per interval and shared by the apps that read it.

Real bare repositories served over ``file://`` (a real Git transport: ``git
ls-remote`` runs); the listings are counted by wrapping the real
``ls_remote``, and time is a passed clock, never wall time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import git
import pytest

from gitwave.engine.errors import SourceError
from gitwave.engine.source import open_source
from gitwave.engine.source_git import ls_remote
from gitwave.engine.source_refs import RemoteRefs, refs_of, shared_refs


@dataclass
class Listings:
    """The real ``ls_remote``, counting the URLs it was asked for."""

    urls: list[str] = field(default_factory=list)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, url: str) -> dict[str, str]:
        with self.guard:
            self.urls.append(url)
        return ls_remote(url)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Remote:
    """A bare repository (what the apps fetch) and a work tree that pushes to it."""

    bare: Path
    work: git.Repo

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def push(self, text: str) -> str:
        root = Path(str(self.work.working_tree_dir))
        (root / "app").mkdir(exist_ok=True)
        (root / "app" / "cm.yaml").write_text(text, encoding="utf-8")
        self.work.index.add(["app/cm.yaml"])
        actor = git.Actor("Test", "test@example.com")
        sha = self.work.index.commit(text, author=actor, committer=actor).hexsha
        self.work.git.push("--quiet", str(self.bare), "HEAD:refs/heads/main")
        return sha


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    bare = tmp_path / "fleet.git"
    git.Repo.init(bare, bare=True, initial_branch="main").close()
    work = git.Repo.init(tmp_path / "work", initial_branch="main")
    made = Remote(bare, work)
    made.push("version: 1\n")
    yield made
    work.close()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def open_main(remote: Remote, refs: RemoteRefs, *, fresh: bool = False) -> str:
    """One app's open of the branch, as a controller's worker does it."""
    with shared_refs(refs, fresh=fresh):
        return open_source(remote.url, revision="main").revision


def test_many_apps_of_one_repository_list_its_refs_once_per_interval(remote: Remote) -> None:
    listings, clock = Listings(), Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock, list_refs=listings)
    first = remote.push("version: 2\n")
    # Twelve apps on four threads, all at once: one listing between them.
    gate = threading.Barrier(4)

    def app(index: int) -> str:
        if index < 4:  # the first four start together
            gate.wait(timeout=30)
        return open_main(remote, refs)

    with ThreadPoolExecutor(max_workers=4) as pool:
        revisions = list(pool.map(app, range(12)))
    assert revisions == [first] * 12
    assert listings.urls == [remote.url]
    # Later in the same interval: still that answer, no new listing.
    clock.now += 59
    assert open_main(remote, refs) == first
    assert len(listings.urls) == 1


def test_a_push_is_seen_once_the_interval_has_passed(remote: Remote) -> None:
    listings, clock = Listings(), Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock, list_refs=listings)
    before = open_main(remote, refs)
    after = remote.push("version: 2\n")
    clock.now += 30
    assert open_main(remote, refs) == before  # within the interval: the shared answer
    clock.now += 30
    assert open_main(remote, refs) == after
    assert open_main(remote, refs) == after
    assert len(listings.urls) == 2


def test_a_refresh_lists_anew_at_once_and_the_others_then_share_it(remote: Remote) -> None:
    listings, clock = Listings(), Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock, list_refs=listings)
    before = open_main(remote, refs)
    after = remote.push("version: 2\n")
    clock.now += 1
    assert open_main(remote, refs) == before
    # A sync request (argocd app sync, flux reconcile, a refresh annotation).
    assert open_main(remote, refs, fresh=True) == after
    assert open_main(remote, refs) == after  # the next app without asking: the new answer
    assert len(listings.urls) == 2


def test_a_refresh_lists_each_url_once_however_often_one_sync_opens_it(
    remote: Remote,
) -> None:
    listings, clock = Listings(), Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock, list_refs=listings)
    open_main(remote, refs)
    clock.now += 1
    with shared_refs(refs, fresh=True):
        for _ in range(3):  # the app, its values, its chart: one sync, one answer
            refs_of(remote.url)
    assert len(listings.urls) == 2


def test_a_failed_listing_is_not_kept(tmp_path: Path, remote: Remote) -> None:
    listings, clock = Listings(), Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock, list_refs=listings)
    gone = (tmp_path / "gone.git").as_uri()
    for _ in range(2):
        with shared_refs(refs), pytest.raises(SourceError, match=r"gone\.git"):
            open_source(gone, revision="main")
    assert listings.urls == [gone, gone]  # asked again, not answered with the error
    # And the URL that works is unaffected.
    assert open_main(remote, refs)
    assert len(listings.urls) == 3


def test_without_sharing_every_open_lists_the_remote(remote: Remote) -> None:
    """The CLI: one command, its own snapshot (``opened_once``), no shared answers."""
    first = open_source(remote.url, revision="main").revision
    after = remote.push("version: 2\n")
    assert first != after
    assert open_source(remote.url, revision="main").revision == after


def test_the_apps_of_one_commit_walk_its_checkout_once_per_interval(remote: Remote) -> None:
    clock = Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock)
    for _ in range(10):
        open_main(remote, refs)
    # The first app fetched it, the second found it whole, the others trust that.
    assert refs.verifications == 1
    clock.now += 60
    open_main(remote, refs)
    assert refs.verifications == 2


def test_an_edited_checkout_is_caught_at_the_next_interval_or_a_refresh(remote: Remote) -> None:
    clock = Clock()
    refs = RemoteRefs(max_age_s=60, clock=clock)
    with shared_refs(refs):
        root = open_source(remote.url, revision="main").root
    (root / "app" / "cm.yaml").write_text("version: edited\n", encoding="utf-8")
    # A refresh walks it now: the edit is found, the checkout made again.
    with shared_refs(refs, fresh=True):
        again = open_source(remote.url, revision="main").root
    assert (again / "app" / "cm.yaml").read_text(encoding="utf-8") == "version: 1\n"
    # Edited again: past the interval the next app walks it too.
    (again / "app" / "cm.yaml").write_text("version: edited\n", encoding="utf-8")
    clock.now += 60
    with shared_refs(refs):
        later = open_source(remote.url, revision="main").root
    assert (later / "app" / "cm.yaml").read_text(encoding="utf-8") == "version: 1\n"

"""One snapshot, one question: within ``opened_once`` the top of a work tree is
asked of Git once, however many stages ask it (the loader, the open, the
holder's remotes and branch); outside it every call asks again."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gitwave.engine.source import open_source, opened_once
from gitwave.engine.source_git import current_branch, find_repo_root, remote_urls


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.fixture
def logged_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on PATH that writes its arguments to a log, then runs the real one."""
    real = shutil.which("git")
    assert real is not None
    log = tmp_path / "git.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    top = tmp_path / "repo"
    (top / "apps" / "web").mkdir(parents=True)
    (top / "apps" / "web" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    _git(top, "init", "-q", "-b", "trunk")
    _git(top, "add", ".")
    _git(top, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "one")
    _git(top, "remote", "add", "origin", "https://example.com/org/repo.git")
    return top.resolve()


def _top_questions(log: Path) -> int:
    return sum("--show-toplevel" in line for line in log.read_text().splitlines())


def test_the_top_is_asked_once_per_snapshot(repo: Path, logged_git: Path) -> None:
    with opened_once():
        top = find_repo_root(repo / "apps" / "web")
        assert top == repo
        checkout = open_source(str(top))
        assert (checkout.root, checkout.dirty) == (repo, False)
        assert remote_urls(top) == ("https://example.com/org/repo.git",)
        assert current_branch(top) == "trunk"
    assert _top_questions(logged_git) == 1


def test_outside_a_snapshot_each_call_asks_again(repo: Path, logged_git: Path) -> None:
    assert current_branch(repo) == "trunk"
    _git(repo, "checkout", "-q", "-b", "next")
    assert current_branch(repo) == "next"
    assert _top_questions(logged_git) == 2


def test_a_directory_outside_any_work_tree_is_no_top(tmp_path: Path, logged_git: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with opened_once():
        assert find_repo_root(plain) is None
        assert current_branch(plain) is None
        assert remote_urls(plain) == ()


def _head(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def test_one_status_says_the_commit_the_branch_and_the_changes(
    repo: Path, logged_git: Path
) -> None:
    with opened_once():
        checkout = open_source(str(repo))
        assert current_branch(repo) == "trunk"
    commands = [line.split()[2] for line in logged_git.read_text().splitlines()]
    assert commands == ["rev-parse", "status"], "no `rev-parse HEAD`, no `symbolic-ref`"
    assert (checkout.revision, checkout.dirty) == (_head(repo), False)


@pytest.mark.parametrize(
    "edit",
    [
        lambda top: (top / "apps" / "web" / "cm.yaml").write_text("changed\n"),
        lambda top: (top / "apps" / "new.yaml").write_text("untracked\n"),
        lambda top: (top / "apps" / "web" / "cm.yaml").unlink(),
    ],
    ids=["a tracked file edited", "an untracked file", "a tracked file deleted"],
)
def test_a_dirty_tree_is_seen(repo: Path, edit: object) -> None:
    assert callable(edit)
    edit(repo)
    with opened_once():
        checkout = open_source(str(repo))
    assert checkout.dirty
    assert checkout.revision.startswith(_head(repo))


def test_a_detached_head_and_a_branch_named_detached(repo: Path) -> None:
    _git(repo, "checkout", "-q", "--detach")
    with opened_once():
        assert open_source(str(repo)).revision == _head(repo)
        assert current_branch(repo) is None
    _git(repo, "checkout", "-q", "-b", "(detached)")
    with opened_once():
        open_source(str(repo))
        assert current_branch(repo) == "(detached)"


def test_a_repository_without_a_commit(tmp_path: Path) -> None:
    top = tmp_path / "empty"
    top.mkdir()
    _git(top, "init", "-q", "-b", "first")
    with opened_once():
        checkout = open_source(str(top))
        assert current_branch(top) == "first"
    assert (checkout.revision, checkout.dirty) == ("", False)

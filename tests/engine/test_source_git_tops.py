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

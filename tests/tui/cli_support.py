"""What the CLI tests share: running ``gitwave`` in-process as a user would
type it, a sandbox state of the test's own, committing a test repository, and
an S3 endpoint (moto as a server on 127.0.0.1) for Bucket sources."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from gitwave.tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``gitwave ARGV...``: its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sandbox_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, own_cache: bool = False
) -> Path:
    """Point gitwave at a fresh state directory (fast sandbox rollouts, no
    colour; with ``own_cache`` a render cache of its own too); the state path."""
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    if own_cache:
        monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    return state


def commit(root: Path, message: str = "change", *, initial_branch: str = "") -> None:
    """Commit everything under ``root`` (made a repository, on ``initial_branch``
    when given, when it is none yet)."""
    repo = git.Repo.init(root, **({"initial_branch": initial_branch} if initial_branch else {}))
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit(message, author=author, committer=author)
    repo.close()


def git_repo(root: Path, files: dict[str, str], *, origin: str = "") -> Path:
    """``files`` written under ``root`` and committed with the git CLI on branch
    main, in an environment holding no user configuration (with a remote
    ``origin`` at ``origin`` when given, so a repoURL naming it is this one)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(root),
        "PATH": "/usr/bin:/bin",
    }
    remote = [["remote", "add", "origin", origin]] if origin else []
    for args in (["init", "-q", "-b", "main"], *remote, ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    return root


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 API as a real HTTP server on 127.0.0.1; yields ``host:port``."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()

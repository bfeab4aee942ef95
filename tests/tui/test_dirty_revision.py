"""Uncommitted edits applied by `gitwave sync` or the TUI are recorded as
``<sha>+dirty`` with a digest of what was applied, never as the clean commit;
`history`, `status` and the TUI's history pane show it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from textual.widgets import DataTable

from gitwave.engine.operations import SyncRequest
from gitwave.tui.screens.history import HistoryScreen
from tests.tui.cli_support import run, sandbox_state
from tests.tui.test_app_support import SIZE, Env, commit, make_env, screen_text, until

REPO = Path(__file__).resolve().parents[2]
SECRET_VALUE = "hunter2-uncommitted-9931"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def guestbook_repo(tmp_path: Path) -> tuple[Path, str]:
    """The guestbook sample as a committed Git repository named "guestbook"; its SHA."""
    root = tmp_path / "guestbook"
    shutil.copytree(REPO / "samples" / "guestbook", root)
    (root / "README.md").unlink()
    return root, commit(root, "guestbook")


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def history_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, _ = run(capsys, "history", "guestbook", "-o", "json")
    assert code == 0
    entries: list[dict[str, object]] = json.loads(out)
    return entries


def test_a_sync_of_uncommitted_edits_is_recorded_as_dirty_with_a_digest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    root, sha = guestbook_repo(tmp_path)
    edit(root, "deployment.yaml", "replicas: 3", "replicas: 4")

    code, out, _ = run(capsys, "sync", str(root))
    assert code == 0, out
    assert f"guestbook @ {sha[:7]}+dirty -> sandbox" in out

    (entry,) = history_json(capsys)
    assert entry["revision"] == f"{sha}+dirty"
    first_digest = entry["contentDigest"]
    assert isinstance(first_digest, str) and first_digest.startswith("sha256:")
    assert len(first_digest) == len("sha256:") + 64

    code, out, _ = run(capsys, "history", "guestbook")
    assert f"{sha[:7]}+dirty {first_digest[:19]}" in out  # sha256: and 12 hex digits
    code, out, _ = run(capsys, "status", str(root))
    assert f"{sha[:7]}+dirty {first_digest[:19]}" in out

    # Another edit of the same commit: another digest.
    edit(root, "deployment.yaml", "replicas: 4", "replicas: 5")
    assert run(capsys, "sync", str(root))[0] == 0
    # Committed: the clean commit, no digest.
    clean = commit(root, "five replicas")
    assert run(capsys, "sync", str(root))[0] == 0

    newest, second, _ = history_json(capsys)
    assert second["revision"] == f"{sha}+dirty"
    assert second["contentDigest"] not in (None, first_digest)
    assert (newest["revision"], newest["contentDigest"]) == (clean, None)
    code, out, _ = run(capsys, "status", str(root), "-o", "json")
    (status,) = json.loads(out)
    assert (status["revision"], status["contentDigest"]) == (clean, None)


def test_the_digest_never_carries_a_secret_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    root, sha = guestbook_repo(tmp_path)
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: guestbook\n"
        "stringData:\n  password: {}\n"
    )
    (root / "secret.yaml").write_text(secret.format(SECRET_VALUE))
    assert run(capsys, "sync", str(root))[0] == 0
    (root / "secret.yaml").write_text(secret.format("another-value"))
    assert run(capsys, "sync", str(root))[0] == 0

    second, first = history_json(capsys)
    assert first["revision"] == second["revision"] == f"{sha}+dirty"
    # Secrets count by key and entry names only: a changed value is no other digest.
    assert first["contentDigest"] == second["contentDigest"]
    for path in sandbox_env.glob("gitwave.db*"):
        assert SECRET_VALUE.encode() not in path.read_bytes()


def test_a_plain_commit_is_recorded_as_it_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, sha = guestbook_repo(tmp_path)
    assert not git.Repo(root).is_dirty(untracked_files=True)
    assert run(capsys, "sync", str(root))[0] == 0
    (entry,) = history_json(capsys)
    assert (entry["revision"], entry["contentDigest"]) == (sha, None)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    root, _ = guestbook_repo(tmp_path)
    built = make_env(tmp_path, root)
    yield built
    built.close()


@pytest.mark.anyio
async def test_the_tui_history_pane_shows_a_dirty_sync(env: Env) -> None:
    sha = git.Repo(env.location).head.commit.hexsha
    edit(env.location, "deployment.yaml", "replicas: 3", "replicas: 2")
    result = env.controller.sync("guestbook", SyncRequest())
    assert result.ok and result.revision == f"{sha}+dirty"
    (record,) = env.store.history("guestbook")
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_history("guestbook")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await until(pilot, lambda: screen.loads > 0)
        table = screen.query_one("#history", DataTable)
        revision = str(table.get_row_at(0)[1])
        assert revision == f"{sha[:7]}+dirty {record.content_digest[:19]}"
        await until(pilot, lambda: f"applied {sha}+dirty" in screen_text(app))

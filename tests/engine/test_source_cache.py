"""Cached checkouts are private, unguessable, and never rendered once tampered
with (issue 10, item 3).

A checkout in the cache is what gets rendered for a fetched repository or a
pinned revision. Other users must not read it (0700), an app must not be able
to name another app's checkout (unguessable names), and a file edited or added
there after checkout must be detected and the commit checked out again.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
import pytest
import yaml

from gitwave.engine import source_cache
from gitwave.engine.render import clear_render_cache, render
from gitwave.engine.source import open_source
from gitwave.tui.cli import main

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"


@dataclass(frozen=True)
class Repo:
    path: Path
    first: str  # tagged v1: app/cm.yaml is ConfigMap "original"
    second: str  # HEAD of main: adds app/extra.yaml (ConfigMap "later")


def make_repo(path: Path) -> Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    (path / "app").mkdir(parents=True)
    (path / "app" / "cm.yaml").write_text(CONFIGMAP.format(name="original"), encoding="utf-8")
    (path / ".gitignore").write_text("*.secret\n", encoding="utf-8")
    repo.git.add("--all")
    first = repo.index.commit("v1").hexsha
    repo.create_tag("v1")
    (path / "app" / "extra.yaml").write_text(CONFIGMAP.format(name="later"), encoding="utf-8")
    repo.git.add("--all")
    second = repo.index.commit("v2").hexsha
    repo.close()
    return Repo(path, first, second)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- privacy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["url", "local-revision"])
def test_checkouts_are_private_and_their_names_unguessable(
    tmp_path: Path, repo: Repo, how: str
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)  # as an older gitwave left it
    location = repo.path.as_uri() if how == "url" else str(repo.path)

    checkout = open_source(location, revision="v1", cache_dir=cache)

    assert checkout.root.parent == cache
    assert _mode(cache) == 0o700
    assert _mode(checkout.root) == 0o700
    assert _mode(cache / ".key") == 0o600
    for predictable in (repo.first, repo.first[:12], "v1", repo.path.name):
        assert predictable not in str(checkout.root.relative_to(cache))
    # Another cache (another key) names the same commit differently.
    other = open_source(location, revision="v1", cache_dir=tmp_path / "other-cache")
    assert other.root.name != checkout.root.name
    # The same cache finds it again.
    assert open_source(location, revision="v1", cache_dir=cache).root == checkout.root


# --- tampering -------------------------------------------------------------------------------


def _edit(root: Path, host: Path) -> None:
    (root / "app" / "cm.yaml").write_text(CONFIGMAP.format(name="tampered"), encoding="utf-8")


def _edit_keeping_size_and_times(root: Path, host: Path) -> None:
    # Same length ("tampered" / "original"), mtime and atime put back: only the
    # ctime, which no user can set, tells the edit apart.
    target = root / "app" / "cm.yaml"
    before = target.stat()
    target.write_text(CONFIGMAP.format(name="tampered"), encoding="utf-8")
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns


def _add_untracked(root: Path, host: Path) -> None:
    (root / "app" / "evil.yaml").write_text(CONFIGMAP.format(name="tampered"), encoding="utf-8")


def _add_ignored(root: Path, host: Path) -> None:
    (root / "app" / "token.secret").write_text("tampered\n", encoding="utf-8")


def _remove(root: Path, host: Path) -> None:
    (root / "app" / "cm.yaml").unlink()


def _make_executable(root: Path, host: Path) -> None:
    (root / "app" / "cm.yaml").chmod(0o755)


def _symlink_to_host(root: Path, host: Path) -> None:
    (root / "app" / "cm.yaml").unlink()
    (root / "app" / "cm.yaml").symlink_to(host)


def _add_directory(root: Path, host: Path) -> None:
    (root / "app" / "tampered").mkdir()


def _edit_behind_assume_unchanged(root: Path, host: Path) -> None:
    # `git status` would call this tree clean: the index is told not to look.
    handle = git.Repo(root)
    handle.git.update_index("--assume-unchanged", "app/cm.yaml")
    handle.close()
    _edit(root, host)


def _move_head(root: Path, host: Path) -> None:
    handle = git.Repo(root)
    who = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    handle.git.execute(["git", *who, "commit", "--allow-empty", "--no-verify", "-q", "-m", "x"])
    handle.close()


TAMPERING: list[Callable[[Path, Path], None]] = [
    _edit,
    _edit_keeping_size_and_times,
    _add_untracked,
    _add_ignored,
    _remove,
    _make_executable,
    _symlink_to_host,
    _add_directory,
    _edit_behind_assume_unchanged,
    _move_head,
]


@pytest.mark.parametrize("reused", [False, True], ids=["fresh", "reused"])
@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("how", ["url", "local-revision"])
def test_a_tampered_checkout_is_checked_out_again_before_render(
    tmp_path: Path,
    repo: Repo,
    how: str,
    tamper: Callable[[Path, Path], None],
    reused: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_render_cache()
    host = tmp_path / "host.yaml"
    host.write_text(CONFIGMAP.format(name="host-file"), encoding="utf-8")
    cache = tmp_path / "cache"
    location = repo.path.as_uri() if how == "url" else str(repo.path)
    first = open_source(location, revision="v1", cache_dir=cache)
    if reused:
        # Found whole once more, its stat record kept (no racy window: the
        # checkout was written before this check began), as a controller's
        # next app of the same revision finds it; the tampering comes after.
        monkeypatch.setattr(source_cache, "_RACY_NS", 0)
        assert open_source(location, revision="v1", cache_dir=cache).root == first.root
        assert any(key[0] == str(first.root) for key in source_cache._VERIFIED)
    tamper(first.root, host)

    again = open_source(location, revision="v1", cache_dir=cache)
    rendered = render(again, "app")

    assert again.revision == repo.first
    assert [r.key.name for r in rendered.resources] == ["original"]
    assert sorted(p.name for p in (again.root / "app").iterdir()) == ["cm.yaml"]
    assert not (again.root / "app" / "cm.yaml").is_symlink()
    assert _mode(again.root / "app" / "cm.yaml") & 0o111 == 0
    assert not any(p.name.startswith(".discard-") for p in cache.iterdir())


def test_line_ending_attributes_do_not_make_a_clean_checkout_look_tampered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crlf"
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    (path / ".gitattributes").write_text("* text eol=crlf\n", encoding="utf-8")
    (path / "cm.yaml").write_text(CONFIGMAP.format(name="lf"), encoding="utf-8")
    repo.git.add("--all")
    repo.index.commit("lf")
    repo.close()
    cache = tmp_path / "cache"

    first = open_source(path.as_uri(), cache_dir=cache)
    made = (first.root / "cm.yaml").stat().st_ino
    again = open_source(path.as_uri(), cache_dir=cache)

    assert again.root == first.root
    assert (again.root / "cm.yaml").stat().st_ino == made
    assert b"\r\n" not in (again.root / "cm.yaml").read_bytes()  # the committed bytes


def test_sync_never_applies_what_was_written_into_the_cache(
    tmp_path: Path, repo: Repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_render_cache()
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "gw-cache"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    url = repo.path.as_uri()
    assert main(["render", url, "--revision", "v1"]) == 0
    capsys.readouterr()
    [checkout] = [p for p in (tmp_path / "gw-cache" / "repos").iterdir() if p.name[0] != "."]
    (checkout / "app" / "cm.yaml").write_text(CONFIGMAP.format(name="tampered"), encoding="utf-8")
    (checkout / "app" / "evil.yaml").write_text(CONFIGMAP.format(name="added"), encoding="utf-8")

    code = main(["sync", url, "--revision", "v1", "-o", "json"])
    out, err = capsys.readouterr()

    assert code == 0, err
    assert [r["key"] for r in json.loads(out)[0]["resources"]] == ["/ConfigMap/default/original"]
    assert main(["sandbox", "get", "configmap", "-A", "-o", "json"]) == 0
    names = [i["metadata"]["name"] for i in json.loads(capsys.readouterr()[0])["items"]]
    assert "tampered" not in names and "added" not in names and "original" in names
    assert yaml.safe_load((checkout / "app" / "cm.yaml").read_text())["metadata"]["name"] == (
        "original"
    )

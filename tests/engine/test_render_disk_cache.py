"""The render cache on disk: a second `gitwave` process reuses the render of an
unchanged commit, a new commit renders afresh, and an entry this cache did not
write (tampered, foreign, corrupt) is never used.

Every case runs the real command in fresh processes, with a cache directory of
its own (``GITWAVE_CACHE``), over a real Git repository.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import git
import pytest

from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.render.disk_cache import EVICT_EVERY, MAX_ENTRIES, DiskRenderCache
from gitwave.engine.render.values import Rendered, RenderTool

REUSED = "render cache: reused the render of"


def _configmap(name: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: demo\n"
        f"data:\n  value: {value!r}\n"
    )


def _repo(root: Path) -> git.Repo:
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    (root / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n")
    (root / "cm.yaml").write_text(_configmap("settings", "one"))
    repo.index.add(["ns.yaml", "cm.yaml"])
    repo.index.commit("first")
    return repo


def _plan(tmp_path: Path, repo: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(tmp_path / "cache"),
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", "plan", str(repo), "-v"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "renders").glob("*.json"))


@pytest.mark.slow  # fresh gitwave processes
def test_a_second_process_reuses_the_render_and_a_new_commit_does_not(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    repo = _repo(root)

    first = _plan(tmp_path, root)
    assert first.returncode == 1, first.stderr  # changes: everything to create
    assert REUSED not in first.stderr
    second = _plan(tmp_path, root)
    assert second.returncode == 1, second.stderr
    assert f"{REUSED} . at {repo.head.commit.hexsha[:8]} (2 objects)" in second.stderr
    assert second.stdout == first.stdout  # the same plan, from the cache

    # Private: only this user reads the cache (manifests may hold Secrets from Git).
    cache = tmp_path / "cache" / "renders"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    for entry in [*_entries(tmp_path), cache / "key"]:
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600

    (root / "cm.yaml").write_text(_configmap("settings-v2", "two"))
    repo.index.add(["cm.yaml"])
    repo.index.commit("second")
    third = _plan(tmp_path, root)
    assert REUSED not in third.stderr
    assert "settings-v2" in third.stdout
    assert "ConfigMap/demo/settings\n" not in third.stdout + "\n"

    # An uncommitted edit is never cached: the work tree can change under one key.
    (root / "cm.yaml").write_text(_configmap("settings-v3", "three"))
    entries = _entries(tmp_path)
    fourth, fifth = _plan(tmp_path, root), _plan(tmp_path, root)
    assert "settings-v3" in fourth.stdout
    assert REUSED not in fourth.stderr + fifth.stderr
    assert _entries(tmp_path) == entries


@pytest.mark.slow  # fresh gitwave processes
def test_an_entry_this_cache_did_not_write_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _repo(root)
    assert REUSED not in _plan(tmp_path, root).stderr
    [entry] = _entries(tmp_path)
    good = entry.read_bytes()

    # Tampered: the payload says another name, the signature is the old one.
    assert b"settings" in good
    entry.write_bytes(good.replace(b"settings", b"evil"))
    tampered = _plan(tmp_path, root)
    assert REUSED not in tampered.stderr
    assert "evil" not in tampered.stdout
    assert "ConfigMap/demo/settings" in tampered.stdout

    # Foreign: an entry signed with another cache's key (the key file replaced).
    entry.write_bytes(good)
    key = tmp_path / "cache" / "renders" / "key"
    key.write_bytes(b"k" * 32)
    assert REUSED not in _plan(tmp_path, root).stderr

    # Corrupt: cut short. Ignored, then rewritten whole by the render it forced.
    entry.write_bytes(good[:100])
    cut = _plan(tmp_path, root)
    assert cut.returncode == 1, cut.stderr
    assert REUSED not in cut.stderr
    assert REUSED in _plan(tmp_path, root).stderr


def test_decrypted_values_never_reach_the_disk(tmp_path: Path) -> None:
    key = ResourceKey("", "Secret", "demo", "db")
    secret = Resource(
        key,
        "v1",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db"},
            "data": {"p": "aHVudGVyMg=="},
        },
    )
    cache = DiskRenderCache(tmp_path / "renders")
    sops = Rendered((secret,), "a" * 40, ".", RenderTool.DIRECTORY, encrypted=frozenset({key}))
    cache.put("sops", sops)
    assert not (tmp_path / "renders").exists() or not list((tmp_path / "renders").glob("*.json"))
    assert cache.get("sops") is None

    plain = Rendered((secret,), "a" * 40, ".", RenderTool.DIRECTORY)
    cache.put("plain", plain)
    again = DiskRenderCache(tmp_path / "renders").get("plain")
    assert again is not None
    assert again.resources[0].manifest == secret.manifest
    assert again.resources[0].key == key


def test_caches_starting_at_once_agree_on_one_whole_key(tmp_path: Path) -> None:
    # Apps of one command (and other processes) render at the same time: the
    # key file must appear whole, once, and every entry must verify with it.
    root = tmp_path / "renders"
    resource = Resource(ResourceKey("", "Namespace", "", "demo"), "v1", {"kind": "Namespace"})
    caches = [DiskRenderCache(root) for _ in range(16)]
    start = threading.Barrier(len(caches))

    def put(index: int) -> None:
        start.wait()
        rendered = Rendered((resource,), "b" * 40, f"app-{index}", RenderTool.DIRECTORY)
        caches[index].put(f"key-{index}", rendered)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(caches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len((root / "key").read_bytes()) == 32
    assert sorted(p.name for p in root.iterdir() if not p.name.endswith(".json")) == ["key"]
    fresh = DiskRenderCache(root)
    assert [fresh.get(f"key-{i}") is not None for i in range(len(caches))] == [True] * 16


def test_the_cache_keeps_the_newest_entries_within_its_bound(tmp_path: Path) -> None:
    # A fleet writes an entry per app: the directory stays bounded, the oldest
    # entries go first, and the newest are still read back.
    root = tmp_path / "renders"
    cache = DiskRenderCache(root)
    resource = Resource(ResourceKey("", "Namespace", "", "demo"), "v1", {"kind": "Namespace"})
    bound = MAX_ENTRIES + EVICT_EVERY
    written = bound + EVICT_EVERY + 5
    for index in range(written):
        cache.put(
            f"key-{index}", Rendered((resource,), "c" * 40, f"app-{index}", RenderTool.DIRECTORY)
        )
        # Entry ages spelled out: a filesystem may give two writes one mtime.
        entry = cache._path(f"key-{index}")
        os.utime(entry, ns=(index * 10**9, index * 10**9))
        assert len(list(root.glob("*.json"))) < bound

    fresh = DiskRenderCache(root)
    assert fresh.get("key-0") is None  # the oldest went
    assert fresh.get(f"key-{written - 1}") is not None
    kept = [i for i in range(written) if fresh.get(f"key-{i}") is not None]
    assert kept == list(range(written - len(kept), written))  # newest first, no gap
    assert len(kept) >= MAX_ENTRIES


def test_a_fresh_process_trims_what_earlier_ones_left(tmp_path: Path) -> None:
    root = tmp_path / "renders"
    resource = Resource(ResourceKey("", "Namespace", "", "demo"), "v1", {"kind": "Namespace"})
    first = DiskRenderCache(root)
    for index in range(MAX_ENTRIES + EVICT_EVERY // 2):
        first.put(f"key-{index}", Rendered((resource,), "d" * 40, "app", RenderTool.DIRECTORY))
    assert len(list(root.glob("*.json"))) > MAX_ENTRIES

    DiskRenderCache(root).put(
        "one-more", Rendered((resource,), "e" * 40, "app", RenderTool.DIRECTORY)
    )
    assert len(list(root.glob("*.json"))) == MAX_ENTRIES


def test_an_entry_head_is_what_its_render_read_back_says(tmp_path: Path) -> None:
    # The head of an entry (read without decoding the objects) names the render
    # ``get`` reads back: its content digest, revision, path and tool; an entry
    # ``get`` would not trust has no head either.
    from gitwave.engine.render.disk_cache import content_digest

    root = tmp_path / "renders"
    resources = tuple(
        Resource(
            ResourceKey("", "ConfigMap", "demo", f"cfg-{i}"),
            "v1",
            {"kind": "ConfigMap", "data": {"text": ',"resources":[ "quoted" \\'}},
        )
        for i in range(3)
    )
    DiskRenderCache(root).put(
        'key ,"resources":[',
        Rendered(resources, "c" * 40, 'dir ,"resources":[', RenderTool.KUSTOMIZE),
    )
    fresh = DiskRenderCache(root)
    head = fresh.head('key ,"resources":[')
    value = fresh.get('key ,"resources":[')
    assert head is not None and value is not None
    assert head.digest == content_digest(value.resources) != ""
    assert (head.revision, head.path, head.tool) == (value.revision, value.path, value.tool)
    assert fresh.head("another key") is None

    entry = fresh._path('key ,"resources":[')
    good = entry.read_bytes()
    entry.write_bytes(good.replace(b"cfg-1", b"cfg-X"))  # the signature is the old one
    assert DiskRenderCache(root).head('key ,"resources":[') is None
    entry.write_bytes(good[:-10])
    assert DiskRenderCache(root).head('key ,"resources":[') is None

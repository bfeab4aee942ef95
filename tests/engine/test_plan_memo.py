"""The plan memo (``engine.plan_memo``): a plan of objects nobody changed takes
an earlier plan's word that they are in sync instead of comparing them again,
and still reports every change: an object edited live by someone else (drift),
an object edited in Git, a memo file that was tampered with. On the real
sandbox, with the memo on disk as a fresh process finds it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gitwave.engine import operations, plan_memo
from gitwave.engine.apps import load_apps
from gitwave.engine.model import Action, ResourceKey
from gitwave.engine.operations import SyncRequest
from gitwave.engine.plan_memo import default_memo_dir
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider

NAMESPACE = "memo"


def _write_repo(root: Path, count: int) -> Path:
    """A Namespace, ``count`` ConfigMaps (100 to a file) and a Secret."""
    root.mkdir()
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"]
    docs.append(
        "apiVersion: v1\nkind: Secret\nmetadata:\n"
        f"  name: creds\n  namespace: {NAMESPACE}\nstringData:\n  password: hunter2\n"
    )
    (root / "base.yaml").write_text("---\n".join(docs))
    for start in range(0, count, 100):
        chunk = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: cfg-{i}\n  namespace: {NAMESPACE}\ndata:\n  n: '{i}'\n"
            for i in range(start, min(count, start + 100))
        ]
        (root / f"cfg-{start:05d}.yaml").write_text("---\n".join(chunk))
    return root


def _changed(state: operations.AppState) -> dict[ResourceKey, Action]:
    return {
        task.key: task.action
        for wave in state.plan.waves
        for task in wave.tasks
        if task.action is not Action.NONE
    }


@pytest.mark.parametrize(
    "count",
    # 10,000: syncing them and planning three times takes minutes on a loaded machine.
    [150, pytest.param(10_000, marks=[pytest.mark.slow, pytest.mark.timeout(1800)])],
)
def test_changes_are_reported_after_plans_that_took_the_memo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    repo = _write_repo(tmp_path / "repo", count)
    state_dir = tmp_path / "state"
    targets = ProviderRouter([SandboxProvider(state_dir, rollout_seconds=0.0)])
    _, (app,) = load_apps(str(repo))
    operations.sync_app(app, targets=targets, store=Store(state_dir / "gitwave.db"))

    first = operations.plan(app, SyncRequest(), targets=targets)  # compares, keeps the memo
    assert _changed(first) == {}
    memo = plan_memo.memo_store()
    before = memo.hits
    second = operations.plan(app, SyncRequest(), targets=targets)
    assert _changed(second) == {}
    # Every object but the Secret (never digested) came from the memo.
    assert memo.hits - before == count + 1

    # Someone else edits one ConfigMap live (another process: kubectl edit).
    drifted = ResourceKey("", "ConfigMap", NAMESPACE, f"cfg-{count // 2}")
    other = SandboxProvider(state_dir, rollout_seconds=0.0)
    live = other.observe(drifted)
    assert live is not None
    edited = copy.deepcopy(live.manifest)
    edited["data"]["n"] = "edited live"
    other.replace_live(drifted, edited)
    # A commit changes another.
    committed = ResourceKey("", "ConfigMap", NAMESPACE, "cfg-1")
    first_file = repo / "cfg-00000.yaml"
    first_file.write_text(first_file.read_text().replace("n: '1'\n", "n: 'one'\n"))
    # And the Secret drifts too (compared in full, as always).
    secret_key = ResourceKey("", "Secret", NAMESPACE, "creds")
    secret = other.observe(secret_key)
    assert secret is not None
    edited_secret = copy.deepcopy(secret.manifest)
    edited_secret["data"] = {"password": "b3RoZXI="}
    other.replace_live(secret_key, edited_secret)

    _, (app,) = load_apps(str(repo))
    third = operations.plan(app, SyncRequest(), targets=targets)
    assert _changed(third) == {
        drifted: Action.UPDATE,
        committed: Action.UPDATE,
        secret_key: Action.UPDATE,
    }
    task = next(t for w in third.plan.waves for t in w.tasks if t.key == drifted)
    assert [(c.path, c.live, c.desired) for c in task.changes] == [
        ("data.n", "edited live", str(count // 2))
    ]


def test_a_tampered_memo_is_no_memo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    repo = _write_repo(tmp_path / "repo", plan_memo.MIN_OBJECTS)
    state_dir = tmp_path / "state"
    sandbox = SandboxProvider(state_dir, rollout_seconds=0.0)
    targets = ProviderRouter([sandbox])
    _, (app,) = load_apps(str(repo))
    operations.sync_app(app, targets=targets, store=Store(state_dir / "gitwave.db"))
    operations.plan(app, SyncRequest(), targets=targets)
    (entry,) = [p for p in default_memo_dir().glob("*.json")]
    key = ResourceKey("", "ConfigMap", NAMESPACE, "cfg-3")
    # A memo rewritten by someone else to call a drifted object in sync.
    live = sandbox.observe(key)
    assert live is not None
    edited = copy.deepcopy(live.manifest)
    edited["data"]["n"] = "edited live"
    sandbox.replace_live(key, edited)
    drifted = sandbox.observe(key)
    assert drifted is not None and drifted.digest and drifted.digest != live.digest
    kept = entry.read_bytes()
    assert live.digest.encode() in kept
    entry.write_bytes(kept.replace(live.digest.encode(), drifted.digest.encode()))

    memo = plan_memo.memo_store()
    before = memo.hits
    state = operations.plan(app, SyncRequest(), targets=targets)
    assert memo.hits == before, "an entry not signed by this cache is not read"
    assert _changed(state) == {key: Action.UPDATE}


def test_no_digest_of_a_secret_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    repo = _write_repo(tmp_path / "repo", plan_memo.MIN_OBJECTS)
    state_dir = tmp_path / "state"
    sandbox = SandboxProvider(state_dir, rollout_seconds=0.0)
    targets = ProviderRouter([sandbox])
    _, (app,) = load_apps(str(repo))
    operations.sync_app(app, targets=targets, store=Store(state_dir / "gitwave.db"))
    operations.plan(app, SyncRequest(), targets=targets)
    secret = sandbox.observe(ResourceKey("", "Secret", NAMESPACE, "creds"))
    assert secret is not None and secret.digest == ""
    (entry,) = [p for p in default_memo_dir().glob("*.json")]
    kept = entry.read_bytes()  # marshal keeps each text's bytes as they are
    assert b"ConfigMap/memo/cfg-0" in kept
    assert b"Secret" not in kept


def test_a_small_app_keeps_no_memo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    repo = _write_repo(tmp_path / "repo", 10)
    state_dir = tmp_path / "state"
    targets = ProviderRouter([SandboxProvider(state_dir, rollout_seconds=0.0)])
    _, (app,) = load_apps(str(repo))
    operations.sync_app(app, targets=targets, store=Store(state_dir / "gitwave.db"))
    assert _changed(operations.plan(app, SyncRequest(), targets=targets)) == {}
    assert list(default_memo_dir().glob("*.json")) == []

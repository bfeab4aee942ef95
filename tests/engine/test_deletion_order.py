"""Prune follows the reverse of the dependency graph on the sandbox (issue 10
item 10): an object is deleted only once everything that uses it is gone.

Driven through the operations layer as `gitwave sync --prune` does. A
recording wrapper around the real sandbox notes, as each delete starts,
which objects the sandbox still holds; the sandbox's own deletion log
(``deletions_since``) gives the order it removed them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine import operations
from gitwave.engine.apps import load_apps
from gitwave.engine.graph_prune import deletion_levels
from gitwave.engine.model import ChangeAction, ResourceKey
from gitwave.engine.operations import Synced, SyncRequest
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.recording_target import RecordingTarget

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""


def _config_map(name: str, depends_on: str = "") -> str:
    annotation = f"  annotations:\n    gitwave.dev/depends-on: {depends_on}\n" if depends_on else ""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n"
        f"{annotation}data:\n  key: value\n"
    )


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: ghcr.io/gitwave/shop-api:1.4.2
          volumeMounts:
            - {name: settings, mountPath: /etc/api}
      volumes:
        - name: settings
          configMap: {name: settings}
"""


@dataclass(frozen=True)
class Case:
    reason: str
    files: dict[str, str]
    user: ResourceKey  # must be gone before `used` is deleted
    used: ResourceKey


def _cm(name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", "shop", name)


CASES = [
    Case(
        "a Deployment goes before the ConfigMap its pods mount",
        {"settings.yaml": _config_map("settings"), "deployment.yaml": DEPLOYMENT},
        ResourceKey("apps", "Deployment", "shop", "api"),
        _cm("settings"),
    ),
    Case(
        "an object goes before what its depends-on annotation names",
        # Kind order alone deletes zulu first (prunes run in reverse name order).
        {
            "alpha.yaml": _config_map("alpha", depends_on="ConfigMap/shop/zulu"),
            "zulu.yaml": _config_map("zulu"),
        },
        _cm("alpha"),
        _cm("zulu"),
    ),
]


@pytest.fixture
def sandbox(tmp_path: Path) -> SandboxProvider:
    return SandboxProvider(tmp_path / "sandbox", rollout_seconds=0.0)


def _sync(app_dir: Path, targets: ProviderRouter, store: Store) -> Synced:
    _, (app,) = load_apps(str(app_dir))
    # Most of the app goes: past the prune guard, which test_prune_guard covers.
    request = SyncRequest(prune=True, wave_timeout_s=30, retry=False, confirm_prune=True)
    return operations.sync_app(app, targets=targets, store=store, request=request)


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_prune_deletes_a_user_before_what_it_uses(
    tmp_path: Path, sandbox: SandboxProvider, case: Case
) -> None:
    app_dir = tmp_path / "shop"
    app_dir.mkdir()
    (app_dir / "namespace.yaml").write_text(NAMESPACE)
    for name, text in case.files.items():
        (app_dir / name).write_text(text)
    recorder = RecordingTarget(
        sandbox,
        watch=[case.user, case.used],
        present=lambda key: sandbox.observe(key) is not None,
        hold=case.user,
        release_by=[case.used],
    )
    targets = ProviderRouter([recorder])
    store = Store(tmp_path / "state" / "gitwave.db")
    assert _sync(app_dir, targets, store).result.ok
    cursor, _ = sandbox.deletions_since("0")

    for name in case.files:
        (app_dir / name).unlink()
    pruned = _sync(app_dir, targets, store)

    assert pruned.result.ok, pruned.result.message
    actions = {e.key: e.action for e in pruned.result.changeset.entries}
    assert actions[case.user] is ChangeAction.DELETED
    assert actions[case.used] is ChangeAction.DELETED
    assert case.user not in recorder.call_for(case.used).present, (
        f"{case.used.display} was deleted while the sandbox still held {case.user.display}"
    )
    _, removed = sandbox.deletions_since(cursor)
    assert removed.index(case.user) < removed.index(case.used), removed
    assert sandbox.observe(ResourceKey("", "Namespace", "", "shop")) is not None


# ---------------------------------------------------------------- the levels, as values


@dataclass(frozen=True)
class LevelCase:
    reason: str
    keys: str  # names, in the plan's order
    edges: list[tuple[str, str]]  # (used, user)
    want: list[str]  # each level's names


LEVELS = [
    LevelCase("no dependencies: one level, the plan's order", "c b a", [], ["c b a"]),
    LevelCase(
        "a chain goes user first",
        "sg subnets db alarm",
        [("sg", "db"), ("subnets", "db"), ("db", "alarm")],
        ["alarm", "db", "sg subnets"],
    ),
    LevelCase(
        "an object waits for its last user",
        "a b c",
        [("a", "b"), ("b", "c"), ("a", "c")],
        ["c", "b", "a"],
    ),
    LevelCase("edges to objects not pruned are ignored", "a b", [("a", "zz")], ["a b"]),
    LevelCase(
        "a cycle (a live edit) goes last, together",
        "a b c",
        [("a", "b"), ("b", "a"), ("a", "c")],
        ["c", "a b"],
    ),
]


@pytest.mark.parametrize("case", LEVELS, ids=[c.reason for c in LEVELS])
def test_deletion_levels(case: LevelCase) -> None:
    keys = {name: _cm(name) for name in case.keys.split()}
    edges = [(keys.get(u, _cm(u)), keys.get(v, _cm(v))) for u, v in case.edges]
    levels = deletion_levels(list(keys.values()), edges)
    assert [" ".join(k.name for k in level) for level in levels] == case.want

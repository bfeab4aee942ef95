"""The continuous loop sends each app to its destination's router (issue 11 item 1)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.cluster_registry import RegisteredCluster
from gitwave.engine.clusters import Cluster, ClusterKind
from gitwave.engine.events import Event
from gitwave.engine.fleet import DestinationError, Fleet, FleetSources, Reach
from gitwave.engine.model import ResourceKey
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.test_watch import Watcher

EAST = RegisteredCluster(Cluster("east", "https://127.0.0.2:6443", ClusterKind.SANDBOX))


def application(app: str, server: str = "https://kubernetes.default.svc") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app},
        "spec": {
            "source": {"repoURL": ".", "path": "app"},
            "destination": {"namespace": app, "server": server},
            "syncPolicy": {"automated": {}, "syncOptions": ["CreateNamespace=true"]},
        },
    }


def commit(root: Path, *docs: dict[str, Any]) -> None:
    (root / "app").mkdir(parents=True, exist_ok=True)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"}}
    (root / "app" / "cm.yaml").write_text(yaml.safe_dump(cm))
    (root / "apps.yaml").write_text(yaml.safe_dump_all(docs))
    repository = git.Repo.init(root)
    repository.index.add(["app/cm.yaml", "apps.yaml"])
    repository.index.commit("apps")


def hello(sandbox: SandboxProvider, namespace: str) -> bool:
    return sandbox.observe(ResourceKey("", "ConfigMap", namespace, "hello")) is not None


def test_the_loop_syncs_each_app_to_its_cluster_and_refuses_an_unknown_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    commit(root, application("home"), application("far", EAST.cluster.server))
    current = SandboxProvider(tmp_path / "current", rollout_seconds=0.01)
    east = SandboxProvider(tmp_path / "east", rollout_seconds=0.01)
    connected: list[str] = []

    def connect(reach: Reach) -> ProviderRouter:
        connected.append(reach.cluster.name)
        return ProviderRouter([east], cluster=reach.cluster)

    router = ProviderRouter([current])
    fleet = Fleet(
        current=lambda: router, connect=connect, sources=FleetSources(registry=lambda: [EAST])
    )
    store = Store(tmp_path / "state" / "gitwave.db")
    reconciler = Reconciler(
        str(root), targets=router, fleet=fleet, store=store, options=LoopOptions(interval_s=0.1)
    )
    try:
        reconciler.start()
        reconciler.step()

        assert hello(current, "home") and not hello(current, "far")
        assert hello(east, "far") and not hello(east, "home")
        assert connected == ["east"]  # one router per cluster, shared
        assert [r.destination for r in store.history("far")] == ["east/far"]

        # A later commit naming an unknown cluster: only that app is refused.
        commit(
            root,
            application("home"),
            application("far", EAST.cluster.server),
            application("lost", "https://127.0.0.66:6443"),
        )
        reconciler._root_next = 0.0
        reconciler.step()
        [broken] = reconciler.broken
        assert broken.name == "lost"
        assert isinstance(broken.error, DestinationError)
        assert "https://127.0.0.66:6443 is not a known cluster" in str(broken.error)
        assert not hello(current, "lost") and not hello(east, "lost")
        assert connected == ["east"]
    finally:
        store.close()
        current.close()
        east.close()


def test_the_loop_starts_with_an_unknown_destination_and_runs_the_other_apps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    commit(root, application("home"), application("lost", "https://127.0.0.66:6443"))
    current = SandboxProvider(tmp_path / "current", rollout_seconds=0.01)
    store = Store(tmp_path / "state" / "gitwave.db")
    router = ProviderRouter([current])
    events: list[Event] = []
    try:
        reconciler = Reconciler(str(root), targets=router, store=store, sink=events.append)
        reconciler.start()
        reconciler.step()
        assert hello(current, "home")
        assert not hello(current, "lost")
        [broken] = reconciler.broken
        assert broken.name == "lost"
        assert isinstance(broken.error, DestinationError)
        assert re.search(
            r"Application/lost \(apps.yaml:\d+\): destination server https://127.0.0.66:6443 "
            "is not a known cluster",
            str(broken.error),
        )
        lines = [e.message for e in events if e.app == "lost"]
        assert any("is not a known cluster" in line for line in lines), lines
        assert store.history("lost") == []
    finally:
        store.close()
        current.close()


def test_watch_cycles_the_other_apps_and_reports_the_unknown_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    commit(root, application("home"), application("lost", "https://127.0.0.66:6443"))
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.01) as current:
        watcher = Watcher(current, store)
        try:
            watcher.start(root)
            lines = [line for line in watcher.quiet() if line.app in ("home", "lost")]
            by_app = {e.app: e.message for e in lines}
            assert by_app["home"].startswith("start → 1 to create → Synced"), by_app
            assert re.search(
                r"error: Application/lost \(apps.yaml:\d+\): destination server "
                r"https://127.0.0.66:6443 is not a known cluster",
                by_app["lost"],
            ), by_app
            assert hello(current, "home") and not hello(current, "lost")
        finally:
            watcher.close()
    store.close()

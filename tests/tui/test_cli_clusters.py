"""Destinations and the cluster registry through the real CLI (issue 11 item 1).

Two named sandbox clusters beside the default sandbox: each Argo CD
Application goes to the cluster its ``destination.server`` / ``.name`` names,
status, history and events say where, and an app naming a cluster nobody
registered is stopped alone before anything of it is applied (the others
sync), with no connection attempt to the server it names (a listening socket
on a loopback address counts them).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from tests.tui.cli_support import run

TOKEN = "tok-77e1d0-never-printed"
KEY_DATA = "a2V5LW1hdGVyaWFsLW5ldmVyLXByaW50ZWQ="


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    return state


def application(app: str, *, server: str = "", name: str = "") -> dict[str, Any]:
    destination = {"namespace": app}
    if server:
        destination["server"] = server
    if name:
        destination["name"] = name
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app},
        "spec": {
            "source": {"repoURL": ".", "path": "app"},
            "destination": destination,
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    }


def repo(tmp_path: Path, *docs: dict[str, Any]) -> str:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True, exist_ok=True)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"}}
    (root / "app" / "cm.yaml").write_text(yaml.safe_dump({**config_map, "data": {"k": "v"}}))
    (root / "apps.yaml").write_text(yaml.safe_dump_all(docs))
    repository = git.Repo.init(root)
    repository.index.add(["app/cm.yaml", "apps.yaml"])
    repository.index.commit("apps")
    return str(root)


def config_maps(capsys: pytest.CaptureFixture[str], *cluster: str) -> list[str]:
    code, out, err = run(capsys, "sandbox", "get", "configmap", "-A", "-o", "json", *cluster)
    assert code == 0, err
    return sorted(
        f"{item['metadata']['namespace']}/{item['metadata']['name']}"
        for item in json.loads(out)["items"]
        if item["metadata"]["name"] == "hello"
    )


def add_sandbox_clusters(capsys: pytest.CaptureFixture[str]) -> None:
    for name, server in (("east", "https://127.0.0.2:6443"), ("west", "https://127.0.0.3:6443")):
        code, out, err = run(
            capsys, "cluster", "add", name, "--sandbox", "--server", server, "--label", "env=prod"
        )
        assert (code, err) == (0, ""), err
        assert f"cluster {name} added: {server}" in out


class ConnectionCounter:
    """A TCP listener on a loopback address that counts the connections it accepts."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter("127.0.0.9")
    yield counter
    counter.close()


def test_cluster_add_list_rm(capsys: pytest.CaptureFixture[str], sandbox_env: Path) -> None:
    add_sandbox_clusters(capsys)

    code, out, _ = run(capsys, "cluster", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SERVER", "KIND", "LABELS", "NAMESPACES", "ORIGIN"]
    assert lines[1].split()[:3] == ["in-cluster", "https://kubernetes.default.svc", "current"]
    assert lines[2].split()[:5] == ["east", "https://127.0.0.2:6443", "sandbox", "env=prod", "*"]
    code, out, _ = run(capsys, "cluster", "list", "-o", "json")
    assert [c["name"] for c in json.loads(out)] == ["in-cluster", "east", "west"]
    assert (sandbox_env / "clusters.json").stat().st_mode & 0o777 == 0o600

    code, _, err = run(capsys, "cluster", "add", "east", "--sandbox", "--server", "https://x")
    assert code == 2 and "cluster east: is already registered" in err
    code, _, err = run(capsys, "cluster", "add", "south", "--sandbox", "--server", "h")
    assert code == 2 and "expected an http(s) URL" in err
    code, _, err = run(capsys, "cluster", "add", "south", "--server", "https://127.0.0.5")
    assert code == 2 and "pass either --context CTX" in err

    code, out, _ = run(capsys, "cluster", "rm", "west")
    assert code == 0 and "cluster west removed" in out
    code, _, err = run(capsys, "cluster", "rm", "west")
    assert code == 2 and "cluster west: is not registered (registered: east)" in err
    code, out, _ = run(capsys, "cluster", "list", "-o", "yaml")
    assert [c["name"] for c in yaml.safe_load(out)] == ["in-cluster", "east"]


def test_each_app_goes_to_its_destination(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    add_sandbox_clusters(capsys)
    path = repo(
        tmp_path,
        application("home", server="https://kubernetes.default.svc"),
        application("east-app", server="https://127.0.0.2:6443"),
        application("west-app", name="west"),
    )

    code, out, err = run(capsys, "sync", path)

    assert code == 0, err
    assert "east-app @ " in out and "-> east (https://127.0.0.2:6443)" in out
    assert "-> west (https://127.0.0.3:6443)" in out
    assert config_maps(capsys) == ["home/hello"]
    assert config_maps(capsys, "--cluster", "east") == ["east-app/hello"]
    assert config_maps(capsys, "--cluster", "west") == ["west-app/hello"]

    code, out, _ = run(capsys, "status", path)
    assert code == 0
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert rows == {
        "east-app": "east/east-app",
        "home": "in-cluster/home",
        "west-app": "west/west-app",
    }
    code, out, _ = run(capsys, "status", path, "-o", "json")
    docs = {d["app"]: d["destination"] for d in json.loads(out)}
    assert docs["east-app"] == {
        "cluster": "east",
        "server": "https://127.0.0.2:6443",
        "namespace": "east-app",
    }
    code, out, _ = run(capsys, "history", "west-app", "-o", "json")
    assert [r["destination"] for r in json.loads(out)] == ["west/west-app"]
    code, out, _ = run(capsys, "history", "east-app")
    assert "east/east-app" in out
    code, out, _ = run(capsys, "events", "east-app")
    assert "to cluster east (https://127.0.0.2:6443)" in out

    # A second sync finds every object where it put it: nothing to change.
    code, out, _ = run(capsys, "plan", path)
    assert code == 0, out


def test_an_unknown_destination_stops_only_that_app_without_connecting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: ConnectionCounter
) -> None:
    add_sandbox_clusters(capsys)
    unknown = f"https://{listener.host}:{listener.port}"
    path = repo(
        tmp_path,
        application("home"),
        application("east-app", server="https://127.0.0.2:6443"),
        application("lost", server=unknown),
    )

    code, out, err = run(capsys, "sync", path)

    assert code == 2, out + err
    assert "error: lost: Application/lost (apps.yaml:" in err
    assert f"destination server {unknown} is not a known cluster; nothing was applied" in err
    assert "hint: register it: `gitwave cluster add NAME" in err
    assert "lost: error (see stderr); nothing applied" in out
    # The others synced, each where it goes.
    assert config_maps(capsys) == ["home/hello"]
    assert config_maps(capsys, "--cluster", "east") == ["east-app/hello"]
    assert config_maps(capsys, "--cluster", "west") == []
    code, out, err = run(capsys, "history", "lost")
    assert code == 1  # never synced: gitwave knows no app of that name
    assert "error: lost: no syncs recorded" in err
    code, out, _ = run(capsys, "sync", path, "--app", "lost", "-o", "json")
    assert code == 2
    (doc,) = json.loads(out)  # a list of apps, even for one
    assert doc["app"] == "lost" and "is not a known cluster" in doc["error"]
    assert listener.count == 0


def cluster_secret(server: str, *, exec_command: str = "") -> dict[str, Any]:
    config: dict[str, Any] = {"bearerToken": TOKEN, "tlsClientConfig": {"keyData": KEY_DATA}}
    if exec_command:
        config["execProviderConfig"] = {"command": exec_command}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "far-cluster",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster", "region": "eu"},
        },
        "stringData": {
            "name": "far",
            "server": server,
            "namespaces": "far-app",
            "config": json.dumps(config),
        },
    }


def test_cluster_secrets_in_the_repo_are_listed_without_credentials(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sandbox_env: Path,
    listener: ConnectionCounter,
) -> None:
    server = f"https://{listener.host}:{listener.port}"
    path = repo(
        tmp_path,
        cluster_secret(server, exec_command="aws-auth-helper"),
        application("far-app", name="far"),
    )

    code, out, err = run(capsys, "cluster", "list", path)
    assert code == 0, err
    [far] = [line for line in out.splitlines() if line.startswith("far ")]
    assert far.split()[:3] == ["far", server, "argocd-secret"]
    assert (
        "region=eu" in far and "far-app" in far and "Secret/argocd/far-cluster (apps.yaml:" in far
    )
    code, out_json, _ = run(capsys, "cluster", "list", path, "-o", "json")
    [doc] = [c for c in json.loads(out_json) if c["name"] == "far"]
    assert doc["labels"] == {"argocd.argoproj.io/secret-type": "cluster", "region": "eu"}
    assert doc["namespaces"] == ["far-app"]

    # Its exec plugin is refused before anything is applied, and nothing connects.
    code, sync_out, sync_err = run(capsys, "sync", path)
    assert code == 2
    assert "Application/far-app (apps.yaml:" in sync_err
    assert "exec plugin ('aws-auth-helper')" in sync_err
    assert "--allow-exec-plugins" in sync_err
    assert listener.count == 0

    outputs = out + out_json + sync_out + sync_err
    code, history, _ = run(capsys, "history", "far-app", "-o", "json")
    code, events, _ = run(capsys, "events", "far-app", "-o", "json")
    for text in (outputs, history, events):
        assert TOKEN not in text and KEY_DATA not in text
    database = b"".join(p.read_bytes() for p in sandbox_env.rglob("*") if p.is_file())
    assert TOKEN.encode() not in database and KEY_DATA.encode() not in database


def test_a_cluster_limited_to_namespaces_refuses_objects_outside_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys,
        "cluster",
        "add",
        "east",
        "--sandbox",
        "--server",
        "https://127.0.0.2:6443",
        "--namespace",
        "allowed",
    )
    assert code == 0, err
    path = repo(tmp_path, application("shop", server="https://127.0.0.2:6443"))

    code, _out, err = run(capsys, "sync", path)

    assert code == 2
    assert "Namespace/shop" in err or "ConfigMap/shop/hello" in err
    assert "outside cluster east's namespaces (allowed)" in err or "without clusterResources" in err
    assert config_maps(capsys, "--cluster", "east") == []


def test_a_flux_kustomization_goes_where_its_kubeconfig_secret_points(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    add_sandbox_clusters(capsys)
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "w", "cluster": {"server": "https://127.0.0.3:6443"}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "w", "context": {"cluster": "w", "user": "u"}}],
        "current-context": "w",
    }
    docs = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "here", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "."},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "remote", "namespace": "flux-system"},
            "spec": {
                "interval": "1m",
                "path": "./app",
                "prune": True,
                "targetNamespace": "default",
                "sourceRef": {"kind": "GitRepository", "name": "here"},
                "kubeConfig": {"secretRef": {"name": "west-kubeconfig"}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "west-kubeconfig", "namespace": "flux-system"},
            "stringData": {"value": yaml.safe_dump(kubeconfig)},
        },
    ]
    path = repo(tmp_path, *docs)

    code, out, err = run(capsys, "sync", path)

    assert code == 0, err
    assert "-> west (https://127.0.0.3:6443)" in out
    assert config_maps(capsys, "--cluster", "west") == ["default/hello"]
    assert config_maps(capsys) == []
    assert TOKEN not in out + err


@pytest.mark.anyio
async def test_the_tui_lists_each_apps_destination(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from textual.widgets import DataTable

    from gitwave.tui.app import GitwaveApp
    from gitwave.tui.cli.context import context_from_args
    from gitwave.tui.cli.parser import build_parser
    from gitwave.tui.controller import Controller, SyncRequest
    from gitwave.tui.screens.apps import AppsScreen
    from gitwave.tui.widgets.status import UNICODE
    from tests.tui.test_app_support import until

    add_sandbox_clusters(capsys)
    path = repo(
        tmp_path,
        application("home"),
        application("east-app", server="https://127.0.0.2:6443"),
    )
    ctx = context_from_args(build_parser().parse_args(["tui", path]))
    try:
        controller = Controller(
            path, targets=ctx.targets, fleet=ctx.fleet, store=ctx.store, state_dir=ctx.state_dir
        )
        assert controller.sync("east-app", SyncRequest()).ok
        assert config_maps(capsys, "--cluster", "east") == ["east-app/hello"]
        assert config_maps(capsys) == []

        app = GitwaveApp(controller, glyphs=UNICODE, refresh_seconds=0)
        async with app.run_test(size=(120, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, AppsScreen)
            await until(pilot, lambda: screen.loaded, what="the app list")
            table = screen.query_one("#apps", DataTable)
            headers = [str(c.label) for c in table.columns.values()]
            assert headers[-1] == "DESTINATION"
            rows = {}
            for i in range(table.row_count):
                cells = [str(getattr(c, "plain", c)) for c in table.get_row_at(i)]
                rows[cells[0]] = cells[-1]
            assert rows == {"east-app": "east/east-app", "home": "in-cluster/home"}
    finally:
        ctx.close()

"""Many apps at once (issue 11 item 4): `gitwave sync --concurrent N` on the sandbox.

Each app is a Flux Kustomization (or an Argo CD Application of an app of apps)
of a few objects in one repository. What a user sees is checked: the history
rows (when each app's sync began and ended, as the store recorded them), the
objects on the sandbox, the lines printed and the exit code. Times come from
the history, never from sleeps in the test.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.locks import AppLocks
from gitwave.engine.store import Store
from gitwave.engine.store_records import SyncRecord
from gitwave.tui.cli import main
from tests.tui.cli_support import commit, run, sandbox_state
from tests.tui.test_loop_cli import Process, wait_for


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@dataclass(frozen=True)
class App:
    name: str
    depends_on: tuple[str, ...] = ()
    replicas: int = 0
    fails: bool = False  # its pods crash: the Deployment turns Degraded
    wave: int = 0  # sync-wave of its Application (app of apps)


def objects(app: App) -> list[dict[str, Any]]:
    """The benchmark's shape: ServiceAccount, ConfigMap, Service, Deployment."""
    name = app.name
    meta = {"name": name, "namespace": "default"}
    template: dict[str, Any] = {"labels": {"app": name}}
    if app.fails:
        template["annotations"] = {"sandbox.gitwave.dev/fail": "true"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"app": name}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": app.replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": template,
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [{"name": "c", "image": "x"}],
                    },
                },
            },
        },
    ]


def flux_fleet(root: Path, apps: Sequence[App]) -> Path:
    """One GitRepository and a Kustomization per app; returns the definitions' directory."""
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "here", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "."},
        }
    ]
    for app in apps:
        (root / "apps" / app.name).mkdir(parents=True)
        (root / "apps" / app.name / "all.yaml").write_text(yaml.safe_dump_all(objects(app)))
        spec: dict[str, Any] = {
            "interval": "1m",
            "path": f"./apps/{app.name}",
            "prune": True,
            # Flux waits for the objects' health only when asked; these tests need it.
            "wait": True,
            "sourceRef": {"kind": "GitRepository", "name": "here"},
        }
        if app.depends_on:
            spec["dependsOn"] = [{"name": d} for d in app.depends_on]
        docs.append(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": app.name, "namespace": "flux-system"},
                "spec": spec,
            }
        )
    (root / "clusters").mkdir(parents=True)
    (root / "clusters" / "fleet.yaml").write_text(yaml.safe_dump_all(docs))
    commit(root, "fleet")
    return root / "clusters"


def argo_fleet(root: Path, apps: Sequence[App]) -> Path:
    """An app of apps whose children carry sync waves; returns the parent's file."""
    for app in apps:
        (root / "apps" / app.name).mkdir(parents=True)
        (root / "apps" / app.name / "all.yaml").write_text(yaml.safe_dump_all(objects(app)))
        child = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": app.name,
                "annotations": {"argocd.argoproj.io/sync-wave": str(app.wave)},
            },
            "spec": {
                "source": {"repoURL": ".", "path": f"apps/{app.name}"},
                "destination": {"namespace": "default"},
            },
        }
        (root / "children").mkdir(exist_ok=True)
        (root / "children" / f"{app.name}.yaml").write_text(yaml.safe_dump(child))
    parent = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "parent"},
        "spec": {
            "source": {"repoURL": ".", "path": "children"},
            "destination": {"namespace": "argocd"},
        },
    }
    (root / "parent.yaml").write_text(yaml.safe_dump(parent))
    commit(root, "fleet")
    return root / "parent.yaml"


def rows(state: Path) -> dict[str, list[SyncRecord]]:
    """Every app's history rows, oldest first."""
    store = Store(state / "gitwave.db")
    try:
        return {
            app: list(reversed(store.history(app, running=True, limit=100_000)))
            for app in store.apps()
        }
    finally:
        store.close()


def overlap(a: SyncRecord, b: SyncRecord) -> bool:
    assert a.finished is not None and b.finished is not None
    return a.started < b.finished and b.started < a.finished


def test_apps_run_at_once_their_health_waits_overlap(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    sandbox_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each Deployment takes 1 s to become ready: the syncs wait for it.
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "1.0")
    where = flux_fleet(tmp_path / "repo", [App("one", replicas=1), App("two", replicas=1)])
    code, _, err = run(capsys, "sync", str(where), "--concurrent", "2")
    assert code == 0, err
    history = rows(sandbox_env)
    (one,), (two,) = history["one"], history["two"]
    assert one.result == two.result == "Succeeded"
    assert overlap(one, two), "both apps waited for health at the same time"
    assert one.finished is not None and two.finished is not None
    total = max(one.finished, two.finished) - min(one.started, two.started)
    assert total < (one.finished - one.started) + (two.finished - two.started)


def test_depends_on_is_kept_under_concurrency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    apps = [App(f"base{i}") for i in range(4)] + [
        App(f"top{i}", depends_on=(f"base{i}",), replicas=1) for i in range(4)
    ]
    where = flux_fleet(tmp_path / "repo", apps)
    code, _, err = run(capsys, "sync", str(where), "--concurrent", "8")
    assert code == 0, err
    history = rows(sandbox_env)
    for i in range(4):
        (base,), (top,) = history[f"base{i}"], history[f"top{i}"]
        assert base.result == top.result == "Succeeded"
        assert base.finished is not None and top.started >= base.finished, (
            f"top{i} started before base{i} was Ready"
        )


def test_a_failed_dependency_blocks_its_dependants_and_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    apps = [
        App("db", replicas=1, fails=True),
        App("api", depends_on=("db",)),
        App("web", depends_on=("api",)),
        App("other"),
    ]
    where = flux_fleet(tmp_path / "repo", apps)
    code, out, err = run(capsys, "sync", str(where), "--concurrent", "4", "--timeout", "30")
    assert code == 1, err
    assert "api: skipped, it follows db, which failed" in out
    assert "web: skipped, it follows api, which failed" in out
    history = rows(sandbox_env)
    assert [r.result for r in history["db"]] == ["Failed"]
    assert [r.result for r in history["other"]] == ["Succeeded"]
    assert "api" not in history and "web" not in history, "nothing of the dependants ran"
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-o", "json")
    names = {item["metadata"]["name"] for item in json.loads(out)["items"]}
    assert {"db", "other"} <= names and not {"api", "web"} & names


def test_app_of_apps_waves_are_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    apps = [App(f"first{i}", wave=0, replicas=1) for i in range(3)] + [
        App(f"second{i}", wave=1) for i in range(3)
    ]
    where = argo_fleet(tmp_path / "repo", apps)
    code, _, err = run(capsys, "sync", str(where), "--concurrent", "6")
    assert code == 0, err
    history = rows(sandbox_env)
    first = [history[f"first{i}"][0] for i in range(3)]
    second = [history[f"second{i}"][0] for i in range(3)]
    last_of_wave_0 = max(r.finished or 0.0 for r in first)
    assert all(r.started >= last_of_wave_0 for r in second), "wave 1 started before wave 0 ended"


def test_concurrent_1_is_the_serial_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    apps = [App("c"), App("a", depends_on=("c",)), App("b")]
    where = flux_fleet(tmp_path / "repo", apps)
    code, out, err = run(capsys, "sync", str(where), "--concurrent", "1")
    assert code == 0, err
    history = rows(sandbox_env)
    ordered = sorted(history, key=lambda name: history[name][0].id)
    headers = [line.split(" @ ")[0] for line in out.splitlines() if " @ " in line]
    assert ordered == headers, "synced one after another, in the order reported"
    records = [history[name][0] for name in ordered]
    for before, after in itertools.pairwise(records):
        assert before.finished is not None and after.started >= before.finished


def test_concurrent_0_is_refused_and_nothing_is_applied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox_env: Path
) -> None:
    where = flux_fleet(tmp_path / "repo", [App("one"), App("two")])
    code, _, err = run(capsys, "sync", str(where), "--concurrent", "0")
    assert code == 2
    assert "error: --concurrent 0: must be at least 1" in err
    assert "hint: --concurrent 1 reconciles one app after another" in err
    assert rows(sandbox_env) == {}


def test_one_line_per_app_as_it_finishes_then_the_report_in_app_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    names = ["alpha", "bravo", "charlie", "delta"]
    where = flux_fleet(tmp_path / "repo", [App(n) for n in names])
    code, out, err = run(capsys, "sync", str(where))
    assert code == 0, err
    lines = out.splitlines()
    finished = lines[: len(names)]
    assert sorted(line.split(" ")[0] for line in finished) == names
    for line in finished:
        assert " -> sandbox: Succeeded in " in line and line.endswith("s")
    headers = [line.split(" @ ")[0] for line in lines[len(names) :] if " @ " in line]
    assert headers == names, "the full report follows, in app order"

    code, out, _ = run(capsys, "sync", str(where), "-o", "json")
    assert code == 0
    docs = json.loads(out)
    assert [doc["app"] for doc in docs] == names, "JSON: a list of apps, nothing else"


def test_two_commands_never_operate_on_one_app_at_once(
    tmp_path: Path, sandbox_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `gitwave sync` of one fleet at the same time: each app's syncs one
    after the other (its lock), never overlapping."""
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.3")
    names = [f"app{i}" for i in range(6)]
    where = flux_fleet(tmp_path / "repo", [App(n, replicas=1) for n in names])
    codes: list[int] = []

    def sync() -> None:
        codes.append(main(["sync", str(where), "--concurrent", "3", "-o", "json"]))

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert codes == [0, 0]
    history = rows(sandbox_env)
    for name in names:
        first, second = history[name]
        assert (first.result, second.result) == ("Succeeded", "Succeeded")
        assert not overlap(first, second), f"{name} was synced twice at once"


# --- run, watch and Ctrl-C: `gitwave` processes ----------------------------------------


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def all_succeeded(state: Path, names: Sequence[str]) -> bool:
    history = rows(state)
    return all(any(r.result == "Succeeded" for r in history.get(n, [])) for n in names)


@pytest.mark.slow  # `gitwave` in subprocesses
def test_run_reconciles_several_apps_at_once_keeping_depends_on(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    apps = [App("one", replicas=1), App("two", replicas=1), App("three", depends_on=("one",))]
    where = flux_fleet(tmp_path / "repo", apps)
    loop = Process(tmp_path, "run", str(where), "--concurrent", "4", rollout=1.0)
    processes.append(loop)
    wait_for(
        "every app synced", lambda: all_succeeded(sandbox_env, ["one", "two", "three"]), timeout=60
    )
    loop.signal(signal.SIGTERM)
    assert loop.exit_code(timeout=30) == 0
    history = rows(sandbox_env)
    one, two, three = history["one"][0], history["two"][0], history["three"][0]
    assert overlap(one, two), "the loop synced both apps at the same time"
    assert one.finished is not None and three.started >= one.finished, "dependsOn kept"


@pytest.mark.slow  # `gitwave` in subprocesses
def test_watch_cycles_several_apps_at_once(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    where = flux_fleet(tmp_path / "repo", [App("one", replicas=1), App("two", replicas=1)])
    watch = Process(tmp_path, "watch", str(where), "--concurrent", "2", rollout=1.0)
    processes.append(watch)
    # The two cycles end in either order: wait for lines until both were seen.
    seen: set[str] = set()
    while seen != {"one", "two"}:
        line = watch.wait_line(
            "the cycles of one and two",
            lambda text, done=frozenset(seen): any(
                f" {n}: start → " in text for n in ("one", "two") if n not in done
            ),
            timeout=60,
        )
        seen |= {n for n in ("one", "two") if f" {n}: start → " in line}
    watch.signal(signal.SIGINT)
    assert watch.exit_code(timeout=30) == 0
    history = rows(sandbox_env)
    assert overlap(history["one"][0], history["two"][0]), "both apps cycled at once"


@pytest.mark.slow  # `gitwave` in subprocesses
def test_ctrl_c_stops_every_running_app_and_starts_no_other(
    tmp_path: Path, processes: list[Process], sandbox_env: Path
) -> None:
    """Four apps whose Deployments take an hour, two at a time: the first two
    wait, the others have not started. One Ctrl-C: both running syncs end
    Interrupted, no other starts, every app is let go, exit 130."""
    names = ("one", "two", "three", "four")
    where = flux_fleet(tmp_path / "repo", [App(name, replicas=1) for name in names])
    sync = Process(tmp_path, "sync", str(where), "--concurrent", "2", rollout=3600.0)
    processes.append(sync)

    def two_running() -> bool:
        history = rows(sandbox_env)
        return len(history) == 2 and all(
            [r.result for r in records] == ["Running"] for records in history.values()
        )

    wait_for("two syncs to run", two_running, timeout=60)
    sync.signal(signal.SIGINT)
    assert sync.exit_code(timeout=30) == 130
    history = rows(sandbox_env)
    assert len(history) == 2, "no app started after Ctrl-C"
    for records in history.values():
        assert [(r.result, r.message) for r in records] == [("Interrupted", "interrupted (Ctrl-C)")]
    locks = AppLocks(sandbox_env / "gitwave.db")
    try:
        assert [locks.holder_of(n) for n in names] == [None] * len(names)
    finally:
        locks.close()

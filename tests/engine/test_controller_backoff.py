"""A failing app in the controller: retried on Argo CD's / Flux's back-off, not every pass.

The controller runs against ``Cluster``, an in-memory management cluster
(app objects with generations, status written as merge patches, Leases with
the API server's compare-and-swap), real Git repositories and the sandbox
target; time is a passed clock and the workers are drained after each pass,
so the schedule is read off the clock, never off wall time. What is checked is
what a user sees: how many syncs ran (the audit lines) and the object's status.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.controller.app_reconcile import Operated
from gitwave.engine.controller.keeper import ControllerOptions, ShardKeeper
from gitwave.engine.controller.loop import Controller
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.timeline import OperationEvent
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.test_controller_keeper import T0, Clock, Leases

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}


def merged(base: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies a status patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merged(out.get(key), value)
    return out


class Cluster(Leases):
    """The management cluster as the controller uses it, in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, Any]] = {}
        self.generations: dict[str, int] = {}
        self.repositories: list[dict[str, Any]] = []
        self.helm_sources: list[dict[str, Any]] = []

    def put(self, body: dict[str, Any]) -> None:
        """Create or replace an object's spec (its generation goes up, as the API server's)."""
        key = f"{body['kind']}/{body['metadata']['namespace']}/{body['metadata']['name']}"
        old = self.objects.get(key, {})
        self.objects[key] = {**copy.deepcopy(body), "status": old.get("status", {})}
        self.generations[key] = self.generations.get(key, 0) + 1

    def get(self, key: str) -> dict[str, Any]:
        return self.objects[key]

    def list_apps(self) -> list[AppObject]:
        return [
            AppObject(
                body["kind"],
                body["metadata"]["namespace"],
                body["metadata"]["name"],
                self.generations[key],
                copy.deepcopy(body),
            )
            for key, body in sorted(self.objects.items())
        ]

    def list_git_repositories(self) -> list[Mapping[str, Any]]:
        return copy.deepcopy(self.repositories)

    def list_app_projects(self) -> list[Mapping[str, Any]]:
        return []

    def list_helm_sources(self) -> list[Mapping[str, Any]]:
        return copy.deepcopy(self.helm_sources)

    def write_status(self, obj: AppObject, status: Mapping[str, Any]) -> None:
        body = self.objects[obj.app_id]
        body["status"] = merged(body.get("status", {}), status)

    def clear_operation(self, obj: AppObject) -> None:
        self.objects[obj.app_id].pop("operation", None)

    def clear_refresh(self, obj: AppObject) -> str:
        annotations = self.objects[obj.app_id]["metadata"].get("annotations") or {}
        annotations.pop("argocd.argoproj.io/refresh", None)
        return ""  # no resourceVersions here

    def wait_for_change(self, timeout: float) -> bool:
        return False

    def record_event(self, obj: AppObject, event: OperationEvent) -> None:
        pass


@dataclass
class Env:
    cluster: Cluster
    clock: Clock
    controller: Controller
    keeper: ShardKeeper
    repo: git.Repo
    root: Path
    audit: list[Operated] = field(default_factory=list)

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.repo.index.add(list(files))
        actor = git.Actor("Test", "test@example.com")
        return self.repo.index.commit(message, author=actor, committer=actor).hexsha

    def at(self, seconds: float) -> list[str]:
        """One pass at T0 + ``seconds``, its workers drained: the apps queued."""
        self.clock.now = T0 + timedelta(seconds=seconds)
        self.keeper.step()  # the keeper's thread, renewing the shard Lease
        queued = self.controller.reconcile_once()
        assert self.controller._workers.drain(timeout=60)
        return queued

    def syncs(self, app_id: str) -> list[str]:
        """The phases of ``app_id``'s finished syncs, in order (the audit log)."""
        return [o.phase for o in self.audit if o.app_id == app_id and o.finished]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "repo"
    root.mkdir()
    repo = git.Repo.init(root, initial_branch="main")
    cluster, clock = Cluster(), Clock()
    options = ControllerOptions(
        replica="r1", shards=1, concurrent=1, resync_s=60, allow_local_repos=(str(tmp_path),)
    )
    keeper = ShardKeeper(cluster, options, clock)  # type: ignore[arg-type]
    keeper.step()
    clock.now += timedelta(seconds=1)
    keeper.step()
    clock.now = T0
    audit: list[Operated] = []
    with SandboxProvider(tmp_path / "sandbox") as sandbox:
        # The apps' namespace, there before them (as a cluster's would be).
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
        sandbox.apply(Resource(ResourceKey("", "Namespace", "", "shop"), "v1", namespace))
        controller = Controller(
            cluster,  # type: ignore[arg-type]
            keeper,
            targets=ProviderRouter([sandbox]),
            store=None,
            options=options,
            clock=clock,
            audit=audit.append,
            jitter=lambda: 0.0,
        )
        made = Env(cluster, clock, controller, keeper, repo, root, audit)
        made.commit({"good/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "init")
        yield made


def kustomization(name: str, path: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "5m",
            "path": path,
            "prune": True,
            "targetNamespace": "shop",
            "sourceRef": {"kind": "GitRepository", "name": "repo"},
            **spec,
        },
    }


def application(
    name: str, path: str, retry: dict[str, Any] | None, *, heal: bool = False
) -> dict[str, Any]:
    policy: dict[str, Any] = {"automated": {"selfHeal": True} if heal else {}}
    if retry is not None:
        policy["retry"] = retry
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "", "path": path, "targetRevision": "main"},
            "destination": {"namespace": "shop"},
            "syncPolicy": policy,
        },
    }


def with_repo(env: Env) -> None:
    env.cluster.repositories = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "repo", "namespace": "flux-system"},
            "spec": {"url": f"file://{env.root}", "interval": "1m", "ref": {"branch": "main"}},
        }
    ]


def ready(env: Env, key: str) -> dict[str, Any]:
    conditions = env.cluster.get(key)["status"]["conditions"]
    found: dict[str, Any] = next(c for c in conditions if c["type"] == "Ready")
    return found


BROKEN = "Kustomization/flux-system/broken"
GOOD = "Kustomization/flux-system/good"


def test_a_kustomization_whose_path_is_missing_is_retried_at_retry_interval_not_every_pass(
    env: Env,
) -> None:
    with_repo(env)
    env.cluster.put(kustomization("broken", "./missing", retryInterval="20s"))
    assert env.at(0) == [BROKEN]
    assert env.syncs(BROKEN) == ["Error"]
    condition = ready(env, BROKEN)
    assert condition["status"] == "False"
    assert condition["reason"] == "ReconciliationFailed"
    assert "missing" in condition["message"]
    assert condition["message"].endswith("; next try in 20s at 2026-12-04T17:00:20Z")

    # A pass at every second (a watch event each): the app is not queued again.
    for second in range(1, 20):
        assert env.at(second) == []
    assert env.syncs(BROKEN) == ["Error"]

    assert env.at(20) == [BROKEN]  # the retry, at retryInterval
    assert env.syncs(BROKEN) == ["Error", "Error"]
    assert ready(env, BROKEN)["message"].endswith("next try in 20s at 2026-12-04T17:00:40Z")
    assert env.at(39) == []

    # The path fixed by a commit: synced at the next attempt, Ready, no more retries.
    env.commit({"missing/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "add the path")
    assert env.at(40) == [BROKEN]
    assert env.syncs(BROKEN) == ["Error", "Error", "Succeeded"]
    assert ready(env, BROKEN)["status"] == "True"
    assert env.at(41) == []


def test_without_retry_interval_a_kustomization_is_retried_at_its_interval(env: Env) -> None:
    with_repo(env)
    env.cluster.put(kustomization("broken", "./missing", interval="2m"))
    assert env.at(0) == [BROKEN]
    assert env.at(119) == []
    assert ready(env, BROKEN)["message"].endswith("next try in 2m0s at 2026-12-04T17:02:00Z")
    assert env.at(120) == [BROKEN]


def test_a_broken_app_does_not_starve_the_others_of_the_one_worker(env: Env) -> None:
    with_repo(env)
    env.cluster.put(kustomization("broken", "./missing", retryInterval="1m"))
    assert env.at(0) == [BROKEN]
    # Apps added later are queued at the next pass, the broken one is not.
    for second in range(1, 6):
        name = f"good{second}"
        config = {**CONFIG_MAP, "metadata": {"name": name}}
        env.commit({f"{name}/settings.yaml": yaml.safe_dump(config)}, name)
        env.cluster.put(kustomization(name, f"./{name}"))
        assert env.at(second) == [f"Kustomization/flux-system/{name}"]
        assert env.syncs(f"Kustomization/flux-system/{name}") == ["Succeeded"]
    assert env.syncs(BROKEN) == ["Error"]


def test_a_reconcile_request_resets_the_back_off(env: Env) -> None:
    with_repo(env)
    env.cluster.put(kustomization("broken", "./missing", retryInterval="10m"))
    env.at(0)
    assert env.at(5) == []
    env.commit({"missing/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "add the path")
    # flux reconcile ks broken: the annotation, no generation change.
    annotations = {"reconcile.fluxcd.io/requestedAt": "2026-12-04T17:00:06Z"}
    env.cluster.get(BROKEN)["metadata"]["annotations"] = annotations
    assert env.at(6) == [BROKEN]
    assert env.syncs(BROKEN) == ["Error", "Succeeded"]
    assert ready(env, BROKEN)["status"] == "True"


ARGO = "Application/argocd/shop"


def argo_env(env: Env, retry: dict[str, Any] | None, *, heal: bool = False) -> None:
    app = application("shop", "missing", retry, heal=heal)
    app["spec"]["source"]["repoURL"] = f"file://{env.root}"
    env.cluster.put(app)


def test_argo_retry_follows_limit_duration_factor_and_max_duration(env: Env) -> None:
    argo_env(env, {"limit": 3, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "12s"}})
    assert env.at(0) == [ARGO]
    state = env.cluster.get(ARGO)["status"]["operationState"]
    assert state["retryCount"] == 1
    assert state["message"].endswith("Retrying attempt #1 at 2026-12-04T17:00:05Z.")
    assert state["phase"] == "Error"
    # 5 s, then 10 s, then 12 s (20 s capped at maxDuration), then no retry left.
    schedule = {4: [], 5: [ARGO], 14: [], 15: [ARGO], 26: [], 27: [ARGO]}
    for second, want in schedule.items():
        assert env.at(second) == want, second
    assert env.syncs(ARGO) == ["Error"] * 4
    state = env.cluster.get(ARGO)["status"]["operationState"]
    assert state["retryCount"] == 3
    assert "Not retried at this revision (3 retries made" in state["message"]
    for second in (28, 100, 1000):
        assert env.at(second) == []
    assert len(env.syncs(ARGO)) == 4


def test_argo_without_retry_tries_a_revision_once_and_a_new_commit_at_the_next_resync(
    env: Env,
) -> None:
    argo_env(env, None)
    assert env.at(0) == [ARGO]
    for second in (1, 30, 59):
        assert env.at(second) == []
    # A commit fixing the path: seen at the resync (60 s), synced at once.
    env.commit({"missing/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "add the path")
    assert env.at(60) == [ARGO]
    assert env.syncs(ARGO) == ["Error", "Succeeded"]
    assert env.cluster.get(ARGO)["status"]["sync"]["status"] == "Synced"


def test_an_argo_sync_request_resets_the_back_off(env: Env) -> None:
    argo_env(env, {"limit": 1, "backoff": {"duration": "10m"}})
    env.at(0)
    assert env.at(1) == []
    env.commit({"missing/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "add the path")
    # argocd app sync: an operation, which bumps the generation.
    body = env.cluster.get(ARGO)
    body["operation"] = {"sync": {}, "initiatedBy": {"username": "alice"}}
    env.cluster.put(body)
    assert env.at(2) == [ARGO]
    assert env.syncs(ARGO) == ["Error", "Succeeded"]
    assert "operation" not in env.cluster.get(ARGO)


def test_a_self_healing_argo_app_goes_on_with_the_self_heal_back_off(env: Env) -> None:
    argo_env(env, {"limit": 1, "backoff": {"duration": "5s"}}, heal=True)
    # 5 s (the one retry), then Argo CD's self-heal back-off: 2 s * 3^(n-1), so
    # 2 * 3 = 6 s after the 2nd failure, 18 s after the 3rd.
    schedule = {0: [ARGO], 4: [], 5: [ARGO], 10: [], 11: [ARGO], 28: [], 29: [ARGO]}
    for second, want in schedule.items():
        assert env.at(second) == want, second
    state = env.cluster.get(ARGO)["status"]["operationState"]
    assert state["retryCount"] == 4
    assert state["message"].endswith("Retrying attempt #4 at 2026-12-04T17:01:23Z.")


def test_a_helm_release_whose_chart_cannot_be_fetched_is_retried_at_its_interval(
    env: Env,
) -> None:
    """helm-controller tries a failed release again at its next interval (a
    HelmRelease has no retryInterval); before, a release that never synced
    was queued again at every pass, its own failure's status write included."""
    env.cluster.helm_sources = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "flux-system"},
            "spec": {"interval": "10m", "url": "http://127.0.0.1:9/charts"},
        }
    ]
    env.cluster.put(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "flux-system"},
            "spec": {
                "interval": "2m",
                "targetNamespace": "shop",
                "chart": {
                    "spec": {
                        "chart": "web",
                        "version": "1.0.0",
                        "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                    }
                },
            },
        }
    )
    release = "HelmRelease/flux-system/web"
    assert env.at(0) == [release]
    assert env.syncs(release) == ["Error"]
    condition = ready(env, release)
    assert condition["status"] == "False"
    assert "http://127.0.0.1:9/charts" in condition["message"]
    assert condition["message"].endswith("; next try in 2m0s at 2026-12-04T17:02:00Z")
    for second in (1, 2, 30, 119):
        assert env.at(second) == []
    assert env.at(120) == [release]
    assert env.syncs(release) == ["Error", "Error"]

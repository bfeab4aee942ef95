"""``gitwave controller`` as real processes against the real local control plane.

The CRDs of engine/controller/deploy/crds are installed with kubectl; Applications are created
with the Python client as a user (or ``argocd app create``) would; the
controller runs as a subprocess (``gitwave controller --kubeconfig``) and its
work is judged only by what a user sees: the Application's status (what
``kubectl get application -o json`` prints), the objects in the cluster, the
Leases, and the controller's audit lines on stdout.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import git
import kubernetes
import pytest

from gitwave.engine.controller.leases import shard_lease_name
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, unique

if TYPE_CHECKING:
    from .conftest import KubeCluster

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
GITWAVE = Path(sys.executable).parent / "gitwave"
ARGO = ("argoproj.io", "v1alpha1")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@dataclass
class ControllerProcess:
    """One ``gitwave controller`` replica; its stdout audit lines collected."""

    replica: str
    proc: subprocess.Popen[str]
    audit: list[dict[str, Any]] = field(default_factory=list)  # finished syncs
    starts: list[dict[str, Any]] = field(default_factory=list)  # every sync started
    stderr: list[str] = field(default_factory=list)

    def start_reading(self) -> None:
        def read(stream: Any, into: list[Any], parse: bool) -> None:
            for line in stream:
                if parse and line.startswith("{"):
                    record = json.loads(line)
                    (self.starts if record["phase"] == "Running" else into).append(record)
                else:
                    into.append(line)

        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(
            target=read, args=(self.proc.stdout, self.audit, True), daemon=True
        ).start()
        threading.Thread(
            target=read, args=(self.proc.stderr, self.stderr, False), daemon=True
        ).start()


@dataclass
class Env:
    cluster: KubeCluster
    kubectl: Kubectl
    custom: Any
    leases: Any
    core: Any
    repo: Path
    lease_ns: str
    app_ns: str
    tmp: Path
    procs: list[ControllerProcess] = field(default_factory=list)

    def start(
        self, replica: str, *, shards: int = 4, extra: tuple[str, ...] = ()
    ) -> ControllerProcess:
        env = dict(os.environ, GITWAVE_CACHE=str(self.tmp / "cache"))
        proc = subprocess.Popen(
            [
                str(GITWAVE),
                "controller",
                f"--kubeconfig={self.cluster.kubeconfig}",
                f"--context={self.cluster.context}",
                f"--state={self.tmp / ('state-' + replica)}",
                f"--namespace={self.lease_ns}",
                f"--replica={replica}",
                f"--shards={shards}",
                "--lease-duration=6s",
                "--renew=1s",
                "--resync=1h",
                f"--allow-local-repo={self.repo}",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        found = ControllerProcess(replica, proc)
        found.start_reading()
        self.procs.append(found)
        # Started means running its loop: a signal sent earlier would test
        # Python's startup, not the controller's shutdown.
        wait_for(
            f"replica {replica} running",
            lambda: (
                proc.poll() is not None
                or any("gitwave controller: replica" in line for line in found.stderr)
            ),
            timeout=120,
        )
        return found

    def application(self, name: str, *, automated: bool, namespace: str) -> None:
        spec: dict[str, Any] = {
            "project": "default",
            "source": {"repoURL": f"file://{self.repo}", "path": name, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        }
        if automated:
            spec["syncPolicy"] = {"automated": {"prune": True}}
        body = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": self.app_ns},
            "spec": spec,
        }
        self.custom.create_namespaced_custom_object(*ARGO, self.app_ns, "applications", body)

    def git_repository(self, name: str = "repo") -> None:
        """A Flux GitRepository of the test's repo (branch main) in the apps' namespace."""
        body = {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": self.app_ns},
            "spec": {"url": f"file://{self.repo}", "interval": "1m", "ref": {"branch": "main"}},
        }
        self.custom.create_namespaced_custom_object(
            "source.toolkit.fluxcd.io", "v1", self.app_ns, "gitrepositories", body
        )

    def kustomization(self, name: str, **spec: Any) -> None:
        """A Flux Kustomization of ``./name`` in the GitRepository ``repo``
        (``git_repository``), pruning; ``spec`` adds or overrides fields."""
        body = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": self.app_ns},
            "spec": {
                "interval": "5m",
                "path": f"./{name}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "repo"},
                **spec,
            },
        }
        self.custom.create_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", self.app_ns, "kustomizations", body
        )

    def app(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            *ARGO, self.app_ns, "applications", name
        )
        return found

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.app(name).get("status") or {})

    def shard_holders(self) -> dict[str, str]:
        items = self.leases.list_namespaced_lease(self.lease_ns).items
        return {
            lease.metadata.name: lease.spec.holder_identity or ""
            for lease in items
            if lease.metadata.name.startswith("gitwave-shard-")
        }


def add_app_dir(repo: Path, name: str, namespace: str) -> None:
    (repo / name).mkdir()
    (repo / name / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {name}-config
              namespace: {namespace}
            data:
              greeting: hello from {name}
            """
        )
    )


@pytest.fixture(scope="module")
def crds(kube_cluster: KubeCluster) -> Kubectl:
    kubectl = kubectl_for(kube_cluster)
    kubectl.run("apply", "-k", str(ROOT / "engine" / "controller" / "deploy" / "crds"))
    kubectl.run(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/applications.argoproj.io",
        "crd/kustomizations.kustomize.toolkit.fluxcd.io",
    )
    return kubectl


@pytest.fixture
def env(kube_cluster: KubeCluster, crds: Kubectl, tmp_path: Path) -> Iterator[Env]:
    api = kubernetes.config.new_client_from_config(
        config_file=str(kube_cluster.kubeconfig), context=kube_cluster.context
    )
    core = kubernetes.client.CoreV1Api(api)
    lease_ns, app_ns, target_ns = unique("gw-ctrl"), unique("gw-apps"), unique("gw-target")
    for ns in (lease_ns, app_ns, target_ns):
        core.create_namespace({"metadata": {"name": ns}})
    repo = tmp_path / "repo"
    repo.mkdir()
    git.Repo.init(repo, initial_branch="main")
    found = Env(
        cluster=kube_cluster,
        kubectl=crds,
        custom=kubernetes.client.CustomObjectsApi(api),
        leases=kubernetes.client.CoordinationV1Api(api),
        core=core,
        repo=repo,
        lease_ns=lease_ns,
        app_ns=app_ns,
        tmp=tmp_path,
    )
    found.target_ns = target_ns  # type: ignore[attr-defined]
    try:
        yield found
    finally:
        for proc in found.procs:
            if proc.proc.poll() is None:
                proc.proc.kill()
            proc.proc.wait(timeout=30)
        for ns in (lease_ns, app_ns, target_ns):
            core.delete_namespace(ns)
        api.close()


def commit(repo: Path, message: str) -> str:
    handle = git.Repo(repo)
    handle.git.add(A=True)
    handle.index.commit(message)
    return handle.head.commit.hexsha


def test_crds_install_and_kubectl_lists_applications(env: Env) -> None:
    out = env.kubectl.run("api-resources", "--api-group=argoproj.io", "-o", "name")
    assert "applications.argoproj.io" in out.split()
    out = env.kubectl.run("get", "applications", "-n", env.app_ns)
    assert out == "" or "No resources" in out or out.strip() == ""


def test_controller_syncs_an_automated_application_and_writes_argo_status(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    add_app_dir(env.repo, "web", target)
    revision = commit(env.repo, "web")
    env.application("web", automated=True, namespace=target)
    replica = env.start("r1", extra=("--metrics-addr=127.0.0.1:0",))

    status = wait_for(
        "Application web Synced and Healthy",
        lambda: (
            (s := env.status("web")).get("sync", {}).get("status") == "Synced"
            and s.get("health", {}).get("status") == "Healthy"
            and s
        ),
    )
    assert status["sync"]["revision"] == revision
    state = status["operationState"]
    assert state["phase"] == "Succeeded"
    assert state["startedAt"] <= state["finishedAt"]
    rows = state["syncResult"]["resources"]
    assert [(r["kind"], r["name"], r["status"]) for r in rows] == [
        ("ConfigMap", "web-config", "Synced")
    ]
    assert status["reconciledAt"]
    live = env.core.read_namespaced_config_map("web-config", target)
    assert live.data == {"greeting": "hello from web"}
    # kubectl's printer columns (what `kubectl get applications` and k9s show).
    table = env.kubectl.run("get", "applications", "-n", env.app_ns)
    assert "Synced" in table and "Healthy" in table
    assert [a["app_id"] for a in replica.audit] == [f"Application/{env.app_ns}/web"]
    url = next(line.split(" on ", 1)[1].strip() for line in replica.stderr if "metrics on" in line)
    with urllib.request.urlopen(url, timeout=10) as response:
        metrics = response.read().decode()
    assert 'gitwave_controller_syncs_total{phase="Succeeded"} 1.0' in metrics
    assert "gitwave_controller_shards_held 4.0" in metrics


def test_an_operation_on_a_manual_application_triggers_one_sync_and_is_cleared(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    add_app_dir(env.repo, "manual", target)
    commit(env.repo, "manual")
    env.application("manual", automated=False, namespace=target)
    replica = env.start("r1")
    wait_for(
        "Application manual OutOfSync",
        lambda: env.status("manual").get("sync", {}).get("status") == "OutOfSync",
    )
    assert replica.audit == []  # a manual app is compared, never synced on its own
    assert not env.core.list_namespaced_config_map(
        target, field_selector="metadata.name=manual-config"
    ).items

    # What `argocd app sync manual` does: set the operation field on the Application.
    env.custom.patch_namespaced_custom_object(
        *ARGO,
        env.app_ns,
        "applications",
        "manual",
        {"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "alice"}}},
    )
    status = wait_for(
        "Application manual synced by the operation",
        lambda: (
            (s := env.status("manual")).get("operationState", {}).get("phase") == "Succeeded" and s
        ),
    )
    assert status["sync"]["status"] == "Synced"
    assert status["operationState"]["operation"]["initiatedBy"] == {"username": "alice"}
    wait_for("operation cleared", lambda: "operation" not in env.app("manual"))
    assert env.core.read_namespaced_config_map("manual-config", target).data
    assert len(replica.audit) == 1


def test_two_replicas_split_apps_by_shard_leases_and_one_takes_over_after_kill_9(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    names = [f"app{i}" for i in range(8)]
    for name in names:
        add_app_dir(env.repo, name, target)
    commit(env.repo, "eight apps")
    for name in names:
        env.application(name, automated=False, namespace=target)
    shards = 8
    first = env.start("r1", shards=shards)
    second = env.start("r2", shards=shards)

    from gitwave.engine.controller.sharding import assign_shards

    # The split rendezvous hashing gives: wait until the handovers are done.
    expected = {
        shard_lease_name(shard, shards): replica
        for replica, owned in assign_shards(shards, ["r1", "r2"]).items()
        for shard in owned
    }

    def split() -> dict[str, str] | None:
        holders = env.shard_holders()
        return holders if holders == expected else None

    holders = wait_for("shards split between r1 and r2", split, timeout=60)
    # Every app gets a sync request; each is operated by exactly one replica.
    for name in names:
        env.custom.patch_namespaced_custom_object(
            *ARGO,
            env.app_ns,
            "applications",
            name,
            {"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "ci"}}},
        )
    wait_for(
        "every app synced once",
        lambda: len(first.audit) + len(second.audit) == len(names),
        timeout=90,
    )
    by_app: dict[str, list[str]] = {}
    for line in first.audit + second.audit:
        by_app.setdefault(line["app_id"], []).append(line["replica"])
    assert sorted(by_app) == sorted(f"Application/{env.app_ns}/{n}" for n in names)
    assert all(len(replicas) == 1 for replicas in by_app.values()), by_app
    # Each replica only synced apps of shards whose Lease it held.
    for line in first.audit + second.audit:
        assert holders[shard_lease_name(line["shard"], shards)] == line["replica"], line
    assert first.audit and second.audit  # 8 apps over 8 shards: both did work

    # kill -9 r1: no graceful handover; r2 must take r1's shards within 15 s.
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    killed = time.monotonic()
    wait_for(
        "r2 holds every shard",
        lambda: set(env.shard_holders().values()) == {"r2"},
        timeout=15,
    )
    took = time.monotonic() - killed
    assert took < 15
    # ... and now operates r1's former apps.
    orphaned = [line["app_id"].rpartition("/")[2] for line in first.audit]
    before = len(second.audit)
    env.custom.patch_namespaced_custom_object(
        *ARGO,
        env.app_ns,
        "applications",
        orphaned[0],
        {"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "ci"}}},
    )
    wait_for("r2 syncs r1's former app", lambda: len(second.audit) > before, timeout=30)
    assert second.audit[-1]["app_id"].endswith("/" + orphaned[0])
    print(f"takeover after kill -9: {took:.1f} s")


def test_sigterm_hands_shards_back_at_once(env: Env) -> None:
    first = env.start("r1", shards=4)
    wait_for(
        "r1 holds every shard",
        lambda: set(env.shard_holders().values()) == {"r1"} and len(env.shard_holders()) == 4,
    )
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=20) == 0
    assert set(env.shard_holders().values()) == {""}  # released, not left to expire
    second = env.start("r2", shards=4)
    # A released Lease is taken at once, without waiting out the 6 s duration.
    started = time.monotonic()
    wait_for(
        "r2 holds every shard", lambda: set(env.shard_holders().values()) == {"r2"}, timeout=10
    )
    assert time.monotonic() - started < 6
    assert second.proc.poll() is None


def test_sigterm_mid_sync_stops_between_waves_and_leaves_the_operation_for_the_next_holder(
    env: Env,
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    app = env.repo / "slow"
    app.mkdir()
    # Wave 0 never becomes healthy here (no load balancer on this cluster), so
    # the sync waits in wave 0; wave 1 must never be applied after SIGTERM.
    (app / "lb.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Service
            metadata:
              name: slow-lb
              namespace: {target}
              annotations:
                argocd.argoproj.io/sync-wave: "0"
            spec:
              type: LoadBalancer
              ports: [{{port: 80}}]
              selector: {{app: slow}}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: slow-after
              namespace: {target}
              annotations:
                argocd.argoproj.io/sync-wave: "1"
            data: {{wave: "1"}}
            """
        )
    )
    commit(env.repo, "slow")
    env.application("slow", automated=False, namespace=target)
    first = env.start("r1", shards=2)
    wait_for("r1 holds both shards", lambda: set(env.shard_holders().values()) == {"r1"})
    env.custom.patch_namespaced_custom_object(
        *ARGO,
        env.app_ns,
        "applications",
        "slow",
        {"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "alice"}}},
    )
    wait_for(
        "wave 0 applied",
        lambda: (
            env.core.list_namespaced_service(target, field_selector="metadata.name=slow-lb").items
        ),
    )
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=30) == 0
    assert set(env.shard_holders().values()) == {""}
    assert not env.core.list_namespaced_config_map(
        target, field_selector="metadata.name=slow-after"
    ).items
    assert [a["phase"] for a in first.audit] == ["Interrupted"]  # stopped, not finished
    # The operation is still asked for: the next replica to hold the shard runs it.
    assert env.app("slow")["operation"]["initiatedBy"] == {"username": "alice"}


def test_controller_reconciles_a_flux_kustomization_and_writes_ready_conditions(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    add_app_dir(env.repo, "flux-app", target)
    revision = commit(env.repo, "flux app")
    env.git_repository()
    env.kustomization("flux-app")
    env.start("r1")

    def ready() -> dict[str, Any] | None:
        found: dict[str, Any] = env.custom.get_namespaced_custom_object(
            "kustomize.toolkit.fluxcd.io", "v1", env.app_ns, "kustomizations", "flux-app"
        )
        conditions = {c["type"]: c for c in found.get("status", {}).get("conditions", [])}
        return found if conditions.get("Ready", {}).get("status") == "True" else None

    found = wait_for("Kustomization flux-app Ready", ready)
    status = found["status"]
    ready_condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready_condition["reason"] == "ReconciliationSucceeded"
    assert ready_condition["message"] == f"Applied revision: main@sha1:{revision}"
    assert status["lastAppliedRevision"] == f"main@sha1:{revision}"
    assert status["observedGeneration"] == found["metadata"]["generation"]
    assert env.core.read_namespaced_config_map("flux-app-config", target).data
    table = env.kubectl.run("get", "kustomizations", "-n", env.app_ns)
    assert "True" in table and "Applied revision" in table


HOOKED_APP = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: hooked-migrate
  namespace: {ns}
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example/migrate:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: hooked-config
  namespace: {ns}
  annotations:
    argocd.argoproj.io/sync-wave: "1"
data:
  release: "{release}"
"""

LOAD_BALANCER = """\
---
apiVersion: v1
kind: Service
metadata:
  name: hooked-lb
  namespace: {ns}
spec:
  type: LoadBalancer
  ports: [{{port: 80}}]
  selector: {{app: hooked}}
"""


def test_kill_9_mid_sync_another_replica_resumes_without_rerunning_hooks(env: Env) -> None:
    from gitwave.engine.controller.sharding import shard_of

    target = env.target_ns  # type: ignore[attr-defined]
    (env.repo / "hooked").mkdir()
    manifest = env.repo / "hooked" / "app.yaml"
    manifest.write_text(HOOKED_APP.format(ns=target, release="1"))
    first_revision = commit(env.repo, "release 1")
    env.application("hooked", automated=False, namespace=target)
    replicas = {"r1": env.start("r1", shards=8), "r2": env.start("r2", shards=8)}
    from gitwave.engine.controller.sharding import assign_shards

    # The split rendezvous hashing gives, handovers done: before it, release 1
    # could be synced by the replica that is to survive (two syncs in its audit).
    expected = {
        shard_lease_name(shard, 8): replica
        for replica, owned in assign_shards(8, ["r1", "r2"]).items()
        for shard in owned
    }
    wait_for("shards split", lambda: env.shard_holders() == expected, timeout=60)
    shard = shard_of(f"Application/{env.app_ns}/hooked", 8)
    holder = env.shard_holders()[shard_lease_name(shard, 8)]
    survivor = "r2" if holder == "r1" else "r1"

    def sync_operation() -> None:
        env.custom.patch_namespaced_custom_object(
            *ARGO,
            env.app_ns,
            "applications",
            "hooked",
            {"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "alice"}}},
        )

    sync_operation()
    wait_for(
        "release 1 in history",
        lambda: len(env.status("hooked").get("history", [])) == 1,
        timeout=120,
    )

    # Release 2: its sync runs the PreSync hook, then waits in wave 0 for a
    # load balancer that only the test can provide.
    manifest.write_text(HOOKED_APP.format(ns=target, release="2") + LOAD_BALANCER.format(ns=target))
    second_revision = commit(env.repo, "release 2")
    sync_operation()
    batch = kubernetes.client.BatchV1Api(env.core.api_client)

    def hook_job_of_release_2() -> Any:
        jobs = batch.list_namespaced_job(target, field_selector="metadata.name=hooked-migrate")
        job = jobs.items[0] if jobs.items else None
        waiting = env.core.list_namespaced_service(
            target, field_selector="metadata.name=hooked-lb"
        ).items
        return job if job is not None and waiting else None

    job = wait_for("release 2 waiting in wave 0", hook_job_of_release_2)
    hook_uid = job.metadata.uid
    replicas[holder].proc.send_signal(signal.SIGKILL)
    replicas[holder].proc.wait(timeout=10)
    killed = time.monotonic()
    wait_for(
        f"{survivor} holds shard {shard}",
        lambda: env.shard_holders()[shard_lease_name(shard, 8)] == survivor,
        timeout=15,
    )
    took = time.monotonic() - killed
    # The load balancer comes up: the resumed sync goes on to wave 1.
    env.core.patch_namespaced_service_status(
        "hooked-lb", target, {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}
    )
    status = wait_for(
        "release 2 synced by the survivor",
        lambda: (
            (s := env.status("hooked")).get("sync", {}).get("revision") == second_revision
            and s.get("operationState", {}).get("phase") == "Succeeded"
            and s
        ),
        timeout=60,
    )
    assert env.core.read_namespaced_config_map("hooked-config", target).data == {"release": "2"}
    # No hook re-run: the Job is the one the killed replica created.
    job = batch.read_namespaced_job("hooked-migrate", target)
    assert job.metadata.uid == hook_uid
    # History continuous across replicas: release 1 then release 2, ids in order.
    history = status["history"]
    assert [(h["id"], h["revision"]) for h in history] == [
        (0, first_revision),
        (1, second_revision),
    ]
    assert [a["app_id"] for a in replicas[survivor].audit] == [
        f"Application/{env.app_ns}/hooked"
    ], replicas[survivor].audit
    wait_for("operation cleared", lambda: "operation" not in env.app("hooked"))
    print(f"takeover after kill -9 mid-sync: {took:.1f} s")


def test_deploy_kustomization_installs_and_the_controller_deployment_becomes_available(
    crds: Kubectl,
) -> None:
    try:
        crds.run("apply", "-k", str(ROOT / "engine" / "controller" / "deploy"))
        crds.run(
            "rollout",
            "status",
            "deployment/gitwave-controller",
            "-n",
            "gitwave-system",
            "--timeout=90s",
        )
        sa = "system:serviceaccount:gitwave-system:gitwave-controller"
        for verb, resource, namespace in (
            ("patch", "applications.argoproj.io", "argocd"),
            ("patch", "applications.argoproj.io/status", "argocd"),
            ("patch", "kustomizations.kustomize.toolkit.fluxcd.io/status", "flux-system"),
            ("update", "leases.coordination.k8s.io", "gitwave-system"),
            ("update", "configmaps", "gitwave-system"),
            ("create", "events", "argocd"),
            ("list", "appprojects.argoproj.io", "gitwave-system"),
            ("create", "applications.argoproj.io", "argocd"),
            ("delete", "applications.argoproj.io", "argocd"),
            ("watch", "applicationsets.argoproj.io", "argocd"),
            ("patch", "applicationsets.argoproj.io/status", "argocd"),
            ("update", "applicationsets.argoproj.io/finalizers", "argocd"),
            ("list", "secrets", "gitwave-system"),
            ("watch", "helmreleases.helm.toolkit.fluxcd.io", "flux-system"),
            ("patch", "helmreleases.helm.toolkit.fluxcd.io/status", "flux-system"),
            ("list", "helmrepositories.source.toolkit.fluxcd.io", "flux-system"),
            ("list", "ocirepositories.source.toolkit.fluxcd.io", "flux-system"),
        ):
            answer = crds.run(
                "auth", "can-i", verb, resource, "-n", namespace, f"--as={sa}", check=False
            )
            assert answer.strip() == "yes", (verb, resource)
        pdb = json.loads(
            crds.run("get", "pdb", "gitwave-controller", "-n", "gitwave-system", "-o", "json")
        )
        assert pdb["status"]["expectedPods"] == 2
    finally:
        crds.run("delete", "namespace", "gitwave-system", "--wait=false", check=False)
        crds.run(
            "delete",
            "clusterrole/gitwave-controller",
            "clusterrolebinding/gitwave-controller",
            "clusterrolebinding/gitwave-controller-apply",
            check=False,
        )


@pytest.mark.timeout(400)
def test_replicas_restarted_at_random_never_operate_one_app_at_once(env: Env) -> None:
    """The audit: every sync's start and finish (or the death of its replica)
    as intervals per app; no two replicas' intervals on one app overlap."""
    import random
    from datetime import UTC, datetime

    target = env.target_ns  # type: ignore[attr-defined]
    names = [f"soak{i}" for i in range(9)]
    for name in names:
        add_app_dir(env.repo, name, target)
    commit(env.repo, "soak apps")
    for name in names:
        env.application(name, automated=False, namespace=target)
    shards = 6
    live = [env.start(f"r{i}-0", shards=shards) for i in range(3)]
    stopped_at: dict[str, datetime] = {}
    chaos = random.Random(16)

    def ask(name: str) -> None:
        env.custom.patch_namespaced_custom_object(
            *ARGO,
            env.app_ns,
            "applications",
            name,
            {"operation": {"sync": {"revision": "HEAD"}, "initiatedBy": {"username": "soak"}}},
        )

    for round_ in range(1, 9):
        asked = chaos.sample(names, 3)
        for name in asked:
            ask(name)
        if chaos.random() < 0.5:
            # Half the rounds kill after the syncs ran, half whenever they are.
            wait_for(
                f"round {round_} synced",
                lambda asked=asked: all("operation" not in env.app(n) for n in asked),
                timeout=90,
            )
        else:
            time.sleep(chaos.uniform(0.5, 3.0))
        victim = live.pop(chaos.randrange(len(live)))
        victim.proc.send_signal(chaos.choice([signal.SIGKILL, signal.SIGTERM]))
        victim.proc.wait(timeout=30)
        stopped_at[victim.replica] = datetime.now(UTC)
        live.append(env.start(f"{victim.replica.split('-')[0]}-{round_}", shards=shards))
    for name in names:
        ask(name)
    wait_for(
        "every operation run",
        lambda: all("operation" not in env.app(n) for n in names),
        timeout=120,
    )

    for proc in live:  # stop the rest, so every sync has ended before the audit
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(timeout=30) == 0
        stopped_at[proc.replica] = datetime.now(UTC)
    # A start without its end line ends when its replica stopped: an interval
    # only ever gets longer that way, so an overlap is never hidden.
    intervals: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for proc in env.procs:
        finished = {(a["app_id"], a["started"]): a["finished"] for a in proc.audit}
        for start in proc.starts:
            end_text = finished.get((start["app_id"], start["started"]))
            begin = datetime.fromisoformat(start["started"])
            end = datetime.fromisoformat(end_text) if end_text else stopped_at.get(proc.replica)
            assert end is not None, f"{proc.replica} started {start['app_id']} and never ended"
            intervals.setdefault(start["app_id"], []).append((begin, end, proc.replica))
    assert sorted(intervals) == sorted(f"Application/{env.app_ns}/{n}" for n in names)
    for app_id, spans in intervals.items():
        spans.sort()
        for (_, end, who), (begin, _, other) in itertools.pairwise(spans):
            assert who == other or end <= begin, f"{app_id}: {who} and {other} at once"
    assert len({who for spans in intervals.values() for _, _, who in spans}) >= 3

    # The same audit from the cluster alone: each operation's Events on its
    # Application (what survives the replicas) name the same replicas and
    # starts as their stdout, and show no overlap either.
    from gitwave.engine.controller.timeline import timeline_row

    from_events: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for name in names:
        app_id = f"Application/{env.app_ns}/{name}"
        events = env.core.list_namespaced_event(
            env.app_ns, field_selector=f"involvedObject.name={name}"
        ).items
        rows = [timeline_row(env.core.api_client.sanitize_for_serialization(e)) for e in events]
        ends = {(r.replica, r.started): r.finished for r in rows if r.finished}
        starts = {(r.replica, r.started) for r in rows if not r.finished}
        assert starts == {(who, begin.isoformat()) for begin, _, who in intervals[app_id]}
        for who, begin_text in starts:
            end_text = ends.get((who, begin_text))
            end = datetime.fromisoformat(end_text) if end_text else stopped_at[who]
            from_events.setdefault(app_id, []).append(
                (datetime.fromisoformat(begin_text), end, who)
            )
    for app_id, spans in from_events.items():
        spans.sort()
        for (_, end, who), (begin, _, other) in itertools.pairwise(spans):
            assert who == other or end <= begin, f"{app_id}: {who} and {other} at once (Events)"

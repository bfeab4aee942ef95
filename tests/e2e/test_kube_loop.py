"""The continuous loop (``engine.reconciler.Reconciler``) on the real local control plane.

The scenarios of tests/engine/test_loop.py, with the sandbox replaced by the
real thing: a Git repository in tmp_path committed to as a user would, the
Reconciler running in a thread until its stop Event is set, a
``KubernetesProvider`` whose change feed comes from its watches, a real Store,
and the real ``kubectl`` (or the Python client, as an autoscaler would) changing
objects behind gitwave's back. The controller-manager and kwok do the rest.

Drift (scale, delete, a tampered Secret) is seen through the watches within
2 s although the poll interval is a minute; a field fought over is healed 3
times, then paused while the object's other fields still heal; hooks do not
run again on a heal; a new commit lands within the interval; a commit whose
namespace does not exist yet is retried until it does.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import git
import kubernetes
import pytest
import yaml

from gitwave.engine.api import field_managers
from gitwave.engine.apps import load_apps
from gitwave.engine.events import Event, EventKind
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import ResourceKey, SyncStatus
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.reconciler import AppStatus, LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.sync import SyncPhase
from gitwave.providers.kubernetes import KubernetesProvider
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, provider_for, unique
from tests.loop_harness import ReconcilerThread

if TYPE_CHECKING:
    from .conftest import KubeCluster

pytestmark = pytest.mark.timeout(60)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DEPLOYMENT = "guestbook-ui"
CONFIGMAP = "guestbook-ui-config"
SAMPLE_NAMESPACES = {"guestbook": "guestbook", "waves": "shop"}
SECRET_PASSWORD = "not-a-real-password-42"  # in samples/waves/10-config.yaml

AUTO_HEAL: dict[str, Any] = {"automated": {"selfHeal": True}}
AUTO: dict[str, Any] = {"automated": {}}
MANUAL: dict[str, Any] = {}

_SHOWN = {
    EventKind.CYCLE,
    EventKind.DRIFT_DETECTED,
    EventKind.HEAL,
    EventKind.DRIFT_LOOP,
    EventKind.ERROR,
}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster, qps=200, burst=400) as provider:
        yield provider


class SampleRepo:
    """A real Git repository: an Application named after the test's namespace
    and a sample of samples/ moved into that namespace."""

    def __init__(self, root: Path, sample: str, *, namespace: str, policy: dict[str, Any]) -> None:
        self.root = root
        manifests = root / "manifests"
        shutil.copytree(SAMPLES / sample, manifests)
        for readme in manifests.glob("*.md"):
            readme.unlink()
        original = SAMPLE_NAMESPACES[sample]
        for path in manifests.glob("*.yaml"):
            text = re.sub(
                rf"^(\s*namespace:) {original}$", rf"\1 {namespace}", path.read_text(), flags=re.M
            )
            path.write_text(text.replace(f"name: {original}\n", f"name: {namespace}\n"))
        application = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": namespace},
            "spec": {
                "source": {"repoURL": ".", "path": "manifests"},
                "destination": {"namespace": namespace},
                "syncPolicy": policy,
            },
        }
        (root / "app.yaml").write_text(yaml.safe_dump(application, sort_keys=False))
        self.repo = git.Repo.init(root)
        self.author = git.Actor("Test", "test@example.com")
        names = [p.relative_to(root).as_posix() for p in root.rglob("*.yaml")]
        self.repo.index.add(names)
        self.first = self._commit("init")

    def replace(self, name: str, old: str, new: str) -> str:
        """Edit one file of the repository and commit it; the new commit's sha."""
        path = self.root / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new))
        self.repo.index.add([name])
        return self._commit(f"{name}: {new.strip()}")

    def add(self, name: str, text: str) -> str:
        """Add a file to the repository and commit it; the new commit's sha."""
        (self.root / name).write_text(textwrap.dedent(text).lstrip())
        self.repo.index.add([name])
        return self._commit(f"add {name}")

    def _commit(self, message: str) -> str:
        return self.repo.index.commit(message, author=self.author, committer=self.author).hexsha


@dataclass
class KubeLoop(ReconcilerThread):
    """One test's namespace, app repository, store and running Reconciler."""

    wait_s = 20.0  # a real cluster's controllers are slower than the sandbox

    kube: KubernetesProvider
    kubectl: Kubectl
    namespace: str
    tmp: Path
    store: Store
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    reconciler: Reconciler | None = None
    errors: list[BaseException] = field(default_factory=list)
    repo: SampleRepo | None = None
    namespaces: list[str] = field(default_factory=list)  # deleted at the end with the test's

    @property
    def app(self) -> str:
        return self.namespace

    @property
    def deployment(self) -> ResourceKey:
        return ResourceKey("apps", "Deployment", self.namespace, DEPLOYMENT)

    def write_repo(self, policy: dict[str, Any], sample: str = "guestbook") -> SampleRepo:
        self.repo = SampleRepo(self.tmp / "repo", sample, namespace=self.namespace, policy=policy)
        return self.repo

    def sync_by_hand(self) -> None:
        """What `gitwave sync APP` does (a manual app's first sync)."""
        _, (app,) = load_apps(str(self.tmp / "repo"))
        result = sync_app(
            app,
            targets=ProviderRouter([self.kube]),
            store=self.store,
            request=SyncRequest(wave_timeout_s=30, retry=False),
        ).result
        assert result.phase is SyncPhase.SUCCEEDED, result.message

    def start(self, **options: Any) -> Reconciler:
        return self.launch(
            str(self.tmp / "repo"),
            ProviderRouter([self.kube]),
            LoopOptions(request=SyncRequest(wave_timeout_s=30), **options),
        )

    def lines(self) -> list[str]:
        return [f"{e.kind.value}: {e.message}" for e in list(self.events) if e.kind in _SHOWN]

    def results(self) -> list[tuple[str, str]]:
        """(revision, result) of every sync in the history, oldest first."""
        return [(r.revision, r.result) for r in reversed(self.store.history(self.app, limit=500))]

    def status(self) -> AppStatus | None:
        assert self.reconciler is not None
        return next((s for s in self.reconciler.statuses() if s.app == self.app), None)

    def synced(self) -> bool:
        status = self.status()
        return status is not None and status.sync is SyncStatus.SYNCED

    def live_deployment(self) -> dict[str, Any]:
        """The Deployment as `kubectl get` shows it (managed fields included)."""
        live = self.kubectl.get("deployment", DEPLOYMENT, self.namespace)
        assert live is not None, f"deployment {DEPLOYMENT} not found"
        return live

    def replicas(self) -> int:
        return int(self.live_deployment()["spec"]["replicas"])

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(15)
            assert not self.thread.is_alive(), "the loop did not stop"


@pytest.fixture
def loop(kube: KubernetesProvider, kube_cluster: KubeCluster, tmp_path: Path) -> Iterator[KubeLoop]:
    store = Store(tmp_path / "state" / "gitwave.db")
    running = KubeLoop(kube, kubectl_for(kube_cluster), unique("gw-loop"), tmp_path, store)
    try:
        yield running
    finally:
        running.close()
        store.close()
        for namespace in (running.namespace, *running.namespaces):
            running.kubectl.run(
                "delete", "namespace", namespace, "--wait=false", "--ignore-not-found"
            )


# --- drift through the watch-fed change feed --------------------------------------------


@dataclass(frozen=True)
class DriftCase:
    reason: str
    policy: dict[str, Any]
    change: tuple[str, ...]  # the kubectl command, NS standing for the namespace
    detected: str  # the DriftDetected message
    resource: str  # the kind/name it names
    heal: str  # the Heal event's message; "" when it is only reported
    line: str  # the end of the drift's CYCLE line


DRIFT_CASES = [
    DriftCase(
        "kubectl scale is healed with selfHeal",
        AUTO_HEAL,
        ("scale", "deployment", DEPLOYMENT, "-n", "NS", "--replicas=9"),
        "spec.replicas: 9 → 3 (by kubectl)",
        f"Deployment/{DEPLOYMENT}",
        "healed: 1 to update",
        "→ 1 to update → Healed in ",
    ),
    DriftCase(
        "kubectl scale is only reported without selfHeal",
        AUTO,
        ("scale", "deployment", DEPLOYMENT, "-n", "NS", "--replicas=9"),
        "spec.replicas: 9 → 3 (by kubectl)",
        f"Deployment/{DEPLOYMENT}",
        "",
        "→ OutOfSync (selfHeal off)",
    ),
    DriftCase(
        "kubectl delete is undone with selfHeal",
        AUTO_HEAL,
        ("delete", "configmap", CONFIGMAP, "-n", "NS", "--wait=false"),
        f"ConfigMap/NS/{CONFIGMAP}: deleted live",
        f"ConfigMap/{CONFIGMAP}",
        "healed: 1 to create",
        "→ 1 to create → Healed in ",
    ),
]


@pytest.mark.parametrize("case", DRIFT_CASES, ids=lambda c: c.reason)
def test_drift_is_seen_through_the_watches_within_two_seconds(
    loop: KubeLoop, case: DriftCase
) -> None:
    loop.write_repo(case.policy)
    # A long interval: only the change feed (the provider's watches) can see
    # the drift in time; polling would take a minute.
    loop.start(interval_s=60)
    loop.wait("the first sync", lambda: loop.results() and loop.synced())
    assert loop.replicas() == 3

    changed = time.time()
    loop.kubectl.run(*(arg.replace("NS", loop.namespace) for arg in case.change))
    (drift,) = loop.wait("the drift", lambda: loop.of(EventKind.DRIFT_DETECTED))
    cycle = loop.wait(
        "the drift's cycle",
        lambda: next((e for e in loop.of(EventKind.CYCLE) if "drift" in e.message), None),
    )

    assert drift.time - changed < 2.0, f"seen after {drift.time - changed:.2f}s"
    kind, name = case.resource.split("/")
    assert drift.resource is not None
    assert (drift.resource.kind, drift.resource.namespace, drift.resource.name) == (
        kind,
        loop.namespace,
        name,
    )
    assert drift.message == case.detected.replace("NS", loop.namespace)
    assert cycle.message.startswith("drift: "), cycle.message
    assert case.line in cycle.message, cycle.message
    if case.heal:
        # The cycle line is written once the heal's sync returned: it is live.
        live = loop.live_deployment()
        assert live["spec"]["replicas"] == 3
        assert field_managers(live, "spec.replicas") == ("gitwave",), "Git owns the field again"
        assert loop.kubectl.get("configmap", CONFIGMAP, loop.namespace) is not None
        heals = loop.wait("the heal event", lambda: loop.of(EventKind.HEAL))
        assert [e.message for e in heals] == [case.heal]
        loop.wait("Synced", loop.synced)
        newest = loop.store.history(loop.app)[0]
        assert (newest.result, newest.source.endswith("(self-heal)")) == ("Succeeded", True)
    else:
        time.sleep(1.0)  # five feed polls: a heal would have happened by now
        assert loop.replicas() == 9, "detect-only: the cluster keeps the change"
        assert loop.of(EventKind.HEAL) == []
        status = loop.status()
        assert status is not None
        assert (status.sync, status.message) == (
            SyncStatus.OUT_OF_SYNC,
            "drift detected; selfHeal off",
        )
        assert len(loop.of(EventKind.DRIFT_DETECTED)) == 1, "reported once, not every poll"


# --- drift loops ----------------------------------------------------------------------------


class Scaler:
    """Another writer of ``spec.replicas``: sets it to ``replicas`` every second
    through the scale subresource, as an HPA does (writing the value that is
    already there changes nothing on the server)."""

    def __init__(self, write: Callable[[int], None], replicas: int) -> None:
        self._write = write
        self._replicas = replicas
        self._stop = threading.Event()
        self.writes = 0
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="scaler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._write(self._replicas)
                self.writes += 1
            except Exception as exc:  # reported by the test
                self.errors.append(exc)
            self._stop.wait(1.0)

    def __enter__(self) -> Scaler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _python_client_scale(
    cluster: KubeCluster, namespace: str, manager: str
) -> Callable[[int], None]:
    client = kubernetes.config.new_client_from_config(
        config_file=str(cluster.kubeconfig), context=cluster.context
    )
    apps = kubernetes.client.AppsV1Api(client)

    def write(replicas: int) -> None:
        apps.patch_namespaced_deployment_scale(
            DEPLOYMENT, namespace, {"spec": {"replicas": replicas}}, field_manager=manager
        )

    return write


def _kubectl_scale(kubectl: Kubectl, namespace: str) -> Callable[[int], None]:
    def write(replicas: int) -> None:
        kubectl.run("scale", "deployment", DEPLOYMENT, "-n", namespace, f"--replicas={replicas}")

    return write


@dataclass(frozen=True)
class FightCase:
    reason: str
    scaler: str  # "python-client" or "kubectl"
    manager: str  # the field manager it writes as


FIGHT_CASES = [
    FightCase("an HPA-like controller (Python client)", "python-client", "hpa-like-controller"),
    FightCase("a person running kubectl scale every second", "kubectl", "kubectl"),
]


@pytest.mark.parametrize("case", FIGHT_CASES, ids=lambda c: c.reason)
def test_a_field_fought_over_is_healed_three_times_then_left_naming_both_managers(
    loop: KubeLoop, kube_cluster: KubeCluster, case: FightCase
) -> None:
    loop.write_repo(AUTO_HEAL)
    loop.start(interval_s=60, heal_limit=3, heal_window_s=300)
    loop.wait("the first sync", lambda: loop.results() and loop.synced())
    write = (
        _python_client_scale(kube_cluster, loop.namespace, case.manager)
        if case.scaler == "python-client"
        else _kubectl_scale(loop.kubectl, loop.namespace)
    )

    with Scaler(write, 7) as other:
        (stuck,) = loop.wait("the drift loop", lambda: loop.of(EventKind.DRIFT_LOOP), timeout=30)
        writes = other.writes
        loop.wait("two more writes of the other manager", lambda: other.writes >= writes + 2)
    assert not other.errors, other.errors

    assert [e.message for e in loop.of(EventKind.HEAL)] == ["healed: 1 to update"] * 3
    assert len(loop.of(EventKind.DRIFT_LOOP)) == 1, "the loop is reported once"
    live = loop.live_deployment()
    assert live["spec"]["replicas"] == 7, "the fourth change is left alone"
    assert field_managers(live, "spec.replicas") == (case.manager,)
    assert stuck.resource == loop.deployment
    assert (
        f"drift loop on Deployment/{loop.namespace}/{DEPLOYMENT} spec.replicas: "
        "healed 3 times in 5m" in stuck.message
    ), stuck.message
    assert f"managers gitwave vs {case.manager}." in stuck.message
    snippet = yaml.safe_load(stuck.message.split("Application:\n", 1)[1])
    assert snippet == {
        "ignoreDifferences": [
            {
                "group": "apps",
                "kind": "Deployment",
                "name": DEPLOYMENT,
                "namespace": loop.namespace,
                "jsonPointers": ["/spec/replicas"],
            }
        ]
    }
    status = loop.status()
    assert status is not None and status.sync is SyncStatus.OUT_OF_SYNC
    assert [(lp.path, lp.managers) for lp in status.loops] == [
        ("spec.replicas", ("gitwave", case.manager))
    ]
    assert loop.lines()[-1].endswith(
        "→ not healed (drift loop: healing of this field is paused)"
    ), loop.lines()


def test_while_a_field_is_paused_the_other_fields_of_the_object_still_heal(
    loop: KubeLoop, kube_cluster: KubeCluster
) -> None:
    loop.write_repo(AUTO_HEAL)
    loop.start(interval_s=60, heal_limit=3, heal_window_s=300)
    loop.wait("the first sync", lambda: loop.results() and loop.synced())
    image = loop.live_deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
    write = _python_client_scale(kube_cluster, loop.namespace, "hpa-like-controller")

    with Scaler(write, 7) as other:
        loop.wait("the drift loop", lambda: loop.of(EventKind.DRIFT_LOOP), timeout=30)
        loop.kubectl.run(
            "set",
            "image",
            f"deployment/{DEPLOYMENT}",
            f"{DEPLOYMENT}=registry.example/tampered:1",
            "-n",
            loop.namespace,
        )
        loop.wait("the image healed", lambda: len(loop.of(EventKind.HEAL)) == 4)
        loop.wait(
            "OutOfSync on the paused field alone",
            lambda: (
                (status := loop.status()) is not None
                and status.sync is SyncStatus.OUT_OF_SYNC
                and status.loops
            ),
        )
    assert not other.errors, other.errors

    live = loop.live_deployment()
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert live["spec"]["replicas"] == 7, "the fought-over field stays paused"
    assert field_managers(live, "spec.template.spec.containers[0].image") == ("gitwave",)
    assert field_managers(live, "spec.replicas") == ("hpa-like-controller",)
    assert [e.message for e in loop.of(EventKind.HEAL)] == ["healed: 1 to update"] * 4
    assert len(loop.of(EventKind.DRIFT_LOOP)) == 1
    healed = [e.message for e in loop.of(EventKind.CYCLE) if "Healed in" in e.message][-1]
    assert healed.startswith(
        f"drift: Deployment/{loop.namespace}/{DEPLOYMENT} spec.template.spec.containers[0].image: "
        "registry.example/tampered:1 → "  # live → desired, as plan and diff write it
    ), healed
    assert " (by kubectl-set) → 1 to update → Healed in " in healed


# --- hooks and secrets ------------------------------------------------------------------


def test_healing_at_the_same_revision_does_not_run_the_hooks_again(loop: KubeLoop) -> None:
    loop.write_repo(AUTO_HEAL, "waves")
    loop.start(interval_s=60)
    loop.wait("the first sync", lambda: loop.results() and loop.synced(), timeout=40)
    migrate = loop.kubectl.get("job", "db-migrate", loop.namespace)
    assert migrate is not None and migrate["status"].get("succeeded") == 1

    loop.kubectl.run("scale", "deployment", "shop-api", "-n", loop.namespace, "--replicas=5")
    (heal,) = loop.wait("the heal", lambda: loop.of(EventKind.HEAL))

    assert heal.message == "healed: 1 to update"
    started = [e.resource.name for e in loop.of(EventKind.HOOK_STARTED) if e.resource]
    assert len(started) == 3 and started.count("db-migrate") == 1, "each hook ran once"
    # BeforeHookCreation would have deleted and recreated it: the same Job is there.
    again = loop.kubectl.get("job", "db-migrate", loop.namespace)
    assert again is not None and again["metadata"]["uid"] == migrate["metadata"]["uid"]
    done = LoopStore.beside(loop.store).hook_runs(loop.app)
    assert sorted(run.hook.split("@")[0] for run in done) == [
        f"PostSync:batch/Job/{loop.namespace}/smoke-test",
        f"PreSync:batch/Job/{loop.namespace}/db-migrate",
        f"Sync:batch/Job/{loop.namespace}/cache-warmup-",
    ]
    shop_api = loop.kubectl.get("deployment", "shop-api", loop.namespace)
    assert shop_api is not None and shop_api["spec"]["replicas"] == 2


def test_a_tampered_secret_is_healed_and_its_values_appear_in_no_event(loop: KubeLoop) -> None:
    loop.write_repo(AUTO_HEAL, "waves")
    loop.start(interval_s=60)
    loop.wait("the first sync", lambda: loop.results() and loop.synced(), timeout=40)
    tampered = "changed-by-hand-9931"

    patch = json.dumps({"stringData": {"password": tampered}})
    loop.kubectl.run("patch", "secret", "shop-db-credentials", "-n", loop.namespace, "-p", patch)
    (drift,) = loop.wait("the drift", lambda: loop.of(EventKind.DRIFT_DETECTED))
    loop.wait("the heal", lambda: loop.of(EventKind.HEAL))

    assert drift.resource == ResourceKey("", "Secret", loop.namespace, "shop-db-credentials")
    # Git sets stringData; the server stores it in data, which kubectl patched.
    assert drift.message == "stringData.password: *** → *** (by kubectl-patch)", drift.message
    live = loop.kubectl.get("secret", "shop-db-credentials", loop.namespace)
    assert live is not None
    assert base64.b64decode(live["data"]["password"]).decode() == SECRET_PASSWORD
    forbidden = {SECRET_PASSWORD, tampered}
    forbidden |= {base64.b64encode(v.encode()).decode() for v in list(forbidden)}
    stored = loop.store.events(loop.app, limit=10_000)
    assert len(stored) >= len(loop.events) > 0
    for event in (*loop.events, *stored):
        for value in forbidden:
            assert value not in f"{event.kind.value} {event.message} {event.resource}"


# --- retries ------------------------------------------------------------------------------


def test_a_commit_into_a_namespace_nobody_made_yet_is_retried_until_it_exists(
    loop: KubeLoop,
) -> None:
    policy = {
        "automated": {},
        "retry": {"limit": -1, "backoff": {"duration": "0.2s", "factor": 2, "maxDuration": "1s"}},
    }
    repo = loop.write_repo(policy)
    loop.start(interval_s=1)
    loop.wait("Synced", loop.synced)
    elsewhere = unique("gw-loop-other")
    loop.namespaces.append(elsewhere)

    sha = repo.add(
        "manifests/elsewhere.yaml",
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: shared-settings, namespace: {elsewhere}}}
        data: {{owner: platform-team}}
        """,
    )
    loop.wait(
        "three attempts",
        lambda: sum(f"{sha[:7]} → error: " in line for line in loop.lines()) >= 3,
    )
    waiting = loop.status()
    loop.kubectl.run("create", "namespace", elsewhere)
    created = time.time()
    loop.wait("the commit synced", lambda: (sha, "Succeeded") in loop.results())

    assert time.time() - created < 1.0 + 1.0, "at the next retry (the backoff is capped at 1s)"
    assert waiting is not None and waiting.sync is SyncStatus.UNKNOWN
    assert waiting.retry_at is not None and elsewhere in waiting.message
    errors = [line for line in loop.lines() if f"{sha[:7]} → error: " in line]
    assert (
        f"ConfigMap/{elsewhere}/shared-settings (manifests/elsewhere.yaml:1): "
        f"namespace {elsewhere!r} does not exist" in errors[0]
    ), errors[0]
    assert [re.findall(r"; retry (\d+) in ", line) for line in errors[:3]] == [["1"], ["2"], ["3"]]
    assert errors[0].endswith("; retry 1 in 0.2s"), errors[0]
    assert loop.kubectl.get("configmap", "shared-settings", elsewhere) is not None
    loop.wait("Synced", loop.synced)


# --- new commits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitCase:
    reason: str
    policy: dict[str, Any]
    applied: bool
    line: str  # the CYCLE line of the new commit, after "new commit <sha7> → "


COMMIT_CASES = [
    CommitCase("an automated app syncs it", AUTO, True, "1 to update → Synced in "),
    CommitCase(
        "a manual app only reports it", MANUAL, False, "1 to update → OutOfSync (auto-sync off)"
    ),
]


@pytest.mark.parametrize("case", COMMIT_CASES, ids=lambda c: c.reason)
def test_a_new_commit_reaches_the_cluster_within_the_interval(
    loop: KubeLoop, case: CommitCase
) -> None:
    interval = 1.0
    repo = loop.write_repo(case.policy)
    if not case.applied:  # a manual app is synced by hand (`gitwave sync`) first
        loop.sync_by_hand()
    loop.start(interval_s=interval)
    loop.wait("Synced", loop.synced)

    committed = time.time()
    sha = repo.replace("manifests/deployment.yaml", "replicas: 3", "replicas: 5")
    line = loop.wait(
        "the new commit's cycle",
        lambda: next((e for e in loop.of(EventKind.CYCLE) if sha[:7] in e.message), None),
    )

    # Picked up at the next poll (≤ 1 interval), then planned and applied.
    assert line.time - committed < interval + 1.0, f"after {line.time - committed:.2f}s"
    assert line.message.startswith(f"new commit {sha[:7]} → {case.line}"), line.message
    status = loop.status()
    assert status is not None and status.revision == sha
    if case.applied:
        assert loop.replicas() == 5
        assert loop.results()[-1] == (sha, "Succeeded")
        assert status.sync is SyncStatus.SYNCED
    else:
        assert loop.replicas() == 3
        assert [result for _, result in loop.results()] == ["Succeeded"]
        assert status.sync is SyncStatus.OUT_OF_SYNC

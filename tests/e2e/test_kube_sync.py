"""gitwave's engine syncing real apps into the real local control plane.

Each test renders an app (a sample from samples/, moved into a namespace of its
own, or a small repository written into tmp_path), then plans and syncs it with
the engine (``plan_resources`` / ``sync_app``) through ``KubernetesProvider``.
The controllers do the rest: the controller-manager makes ReplicaSets and Pods,
kwok makes them Ready and completes Job pods, the garbage collector follows
owner references. ``kubectl`` checks the results and plays the other clients.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitwave.engine import operations
from gitwave.engine.api import field_managers
from gitwave.engine.apps import AppSpec, load_apps, render_app
from gitwave.engine.diff import diff_manifest
from gitwave.engine.errors import UnreachableError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import (
    Action,
    ChangeAction,
    FieldChange,
    FieldOp,
    HealthCode,
    Plan,
    Propagation,
    ResourceKey,
)
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.plan_report import format_plan, plan_to_dict
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync import SyncPhase, SyncResult
from gitwave.providers.kubernetes import KubernetesProvider
from tests.e2e.conftest import _controlplane
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, provider_for, unique
from tests.providers.contract import resource, wait_until

if TYPE_CHECKING:
    from .conftest import KubeCluster

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SECRET_PASSWORD = "not-a-real-password-42"  # in samples/waves/10-config.yaml


@dataclass
class World:
    """One test's namespace, provider, kubectl and the events of its syncs."""

    kube: KubernetesProvider
    kubectl: Kubectl
    namespace: str
    tmp: Path
    events: list[Event] = field(default_factory=list)

    @property
    def targets(self) -> ProviderRouter:
        return ProviderRouter([self.kube])

    def sample(self, name: str, *, namespace_in_sample: str) -> AppSpec:
        """``samples/<name>`` copied to tmp, its namespace renamed to this test's.
        The app is named after both, so no two tests share an app."""
        root = self.tmp / f"{name}-{self.namespace}"
        shutil.copytree(SAMPLES / name, root)
        for path in root.glob("*.yaml"):
            text = path.read_text()
            text = re.sub(
                rf"^(\s*namespace:) {namespace_in_sample}$",
                rf"\1 {self.namespace}",
                text,
                flags=re.M,
            )
            if "kind: Namespace" in text:
                text = text.replace(f"name: {namespace_in_sample}\n", f"name: {self.namespace}\n")
            path.write_text(text)
        return self.app(root)

    def write(self, name: str, files: dict[str, str]) -> AppSpec:
        """A repository of ``files`` (YAML, ``NS`` standing for the namespace);
        the app is named ``<name>-<namespace>``, so no two tests share an app."""
        root = self.tmp / f"{name}-{self.namespace}"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for filename, text in files.items():
            (root / filename).write_text(textwrap.dedent(text).replace("NS", self.namespace))
        return self.app(root)

    def app(self, root: Path) -> AppSpec:
        _, apps = load_apps(str(root))
        (app,) = apps
        return app

    def sync(self, app: AppSpec, **options: bool) -> SyncResult:
        result = sync_app(
            app,
            targets=self.targets,
            store=None,
            request=SyncRequest(wave_timeout_s=90, retry=False, **options),
            sink=self.events.append,
        ).result
        return result

    def plan(self, app: AppSpec, *, prune: bool = False) -> Plan:
        """Render, observe and plan (``plan_resources``), as ``gitwave plan`` does."""
        return operations.plan(app, targets=self.targets, request=SyncRequest(prune=prune)).plan


@pytest.fixture(scope="module")
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster, qps=200, burst=400) as provider:
        yield provider


@pytest.fixture
def world(kube: KubernetesProvider, kube_cluster: KubeCluster, tmp_path: Path) -> Iterator[World]:
    world = World(kube, kubectl_for(kube_cluster), unique("gw-e2e"), tmp_path)
    yield world
    world.kubectl.run("delete", "namespace", world.namespace, "--wait=false", "--ignore-not-found")


def _created_at(result: SyncResult, key: ResourceKey) -> int:
    """The etcd revision at which the sync created ``key`` (a hook with
    generateName is found by its prefix): it orders every creation, whatever
    the second-granular creationTimestamps say."""
    for entry in result.changeset.entries:
        same_kind = (entry.key.kind, entry.key.namespace) == (key.kind, key.namespace)
        named = entry.key.name == key.name or (
            key.name.endswith("-") and entry.key.name.startswith(key.name)
        )
        if same_kind and named and entry.action is ChangeAction.CREATED and entry.live:
            return int(entry.live.resource_version)
    raise AssertionError(f"{key.display} was not created by the sync")


# ---------------------------------------------------------------- samples


def test_guestbook_syncs_and_its_deployment_becomes_healthy(world: World) -> None:
    app = world.sample("guestbook", namespace_in_sample="guestbook")
    result = world.sync(app)
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    # As Argo CD, the last wave (the Deployment's) is reported, not waited for;
    # waiting for Healthy is asked for on purpose (`sync --wait`, `gitwave wait`).
    assert result.health.code in (HealthCode.PROGRESSING, HealthCode.HEALTHY)
    waited = operations.wait(app, operations.WaitFor(timeout_s=120), targets=world.targets)
    assert waited.ok, waited.message
    assert waited.health.code is HealthCode.HEALTHY
    deployment = world.kubectl.get("deployment", "guestbook-ui", world.namespace)
    assert deployment is not None
    assert deployment["status"]["readyReplicas"] == 3, "kwok made the three pods Ready"
    assert {e.action for e in result.changeset.entries} == {ChangeAction.CREATED}

    again = world.sync(app)
    assert again.phase is SyncPhase.SUCCEEDED
    assert {e.action for e in again.changeset.entries} == {ChangeAction.UNCHANGED}


def test_waves_create_in_order_and_hooks_complete_and_go_per_policy(world: World) -> None:
    app = world.sample("waves", namespace_in_sample="shop")
    state = operations.plan(app, targets=world.targets, request=SyncRequest())
    result = world.sync(app)
    assert result.phase is SyncPhase.SUCCEEDED, result.message

    assert [w.label for w in state.plan.waves] == [
        "PreSync wave -1",  # the Namespace the PreSync hook runs in
        "PreSync wave 0",
        "Sync wave 0",
        "Sync wave 1",
        "Sync wave 2",
        "PostSync wave 0",
    ]
    waves = [[_created_at(result, t.key) for t in wave.tasks] for wave in state.plan.waves]
    for number, (earlier, later) in enumerate(itertools.pairwise(waves)):
        assert max(earlier) < min(later), (
            f"wave {number + 1} was created before wave {number} ended"
        )

    jobs = {j["metadata"]["name"]: j for j in world.kubectl.objects("jobs", world.namespace)}
    migrate = jobs["db-migrate"]
    assert migrate["status"].get("succeeded") == 1, "kwok completed the PreSync hook's pod"
    # HookSucceeded: the Sync and PostSync hooks are deleted once they succeed.
    wait_until(
        lambda: (
            {j["metadata"]["name"] for j in world.kubectl.objects("jobs", world.namespace)}
            == {"db-migrate"}
        ),
        seconds=30,
        what="the HookSucceeded hooks to be deleted",
    )

    # BeforeHookCreation: the next sync deletes the old db-migrate before making a new one.
    again = world.sync(app)
    assert again.phase is SyncPhase.SUCCEEDED, again.message
    rerun = world.kubectl.get("job", "db-migrate", world.namespace)
    assert rerun is not None
    assert rerun["metadata"]["uid"] != migrate["metadata"]["uid"]
    assert rerun["status"].get("succeeded") == 1


def test_a_crd_and_its_custom_resources_in_one_sync(world: World) -> None:
    group = f"{world.namespace}.gitwave.test"
    app = world.write(
        "widgets",
        {
            "crd.yaml": f"""
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata:
                  name: widgets.{group}
                spec:
                  group: {group}
                  scope: Namespaced
                  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
                  versions:
                    - name: v1
                      served: true
                      storage: true
                      schema:
                        openAPIV3Schema:
                          type: object
                          properties:
                            spec:
                              type: object
                              properties:
                                size: {{type: integer, default: 1}}
                                color: {{type: string}}
                """,
            "widgets.yaml": f"""
                apiVersion: v1
                kind: Namespace
                metadata: {{name: NS}}
                ---
                apiVersion: {group}/v1
                kind: Widget
                metadata: {{name: small, namespace: NS}}
                spec: {{color: red}}
                ---
                apiVersion: {group}/v1
                kind: Widget
                metadata: {{name: large, namespace: NS}}
                spec: {{color: blue, size: 9}}
                """,
        },
    )
    try:
        plan = world.plan(app)
        assert {t.key.name: t.action for t in plan.tasks() if t.key.kind == "Widget"} == {
            "small": Action.CREATE,
            "large": Action.CREATE,
        }, "a kind that is not served yet has no objects: planned as creations"
        result = world.sync(app)
        assert result.phase is SyncPhase.SUCCEEDED, result.message
        small = world.kube.observe(ResourceKey(group, "Widget", world.namespace, "small"))
        assert small is not None
        assert small.manifest["spec"] == {"color": "red", "size": 1}, "the CRD's default applied"
        assert world.sync(app).phase is SyncPhase.SUCCEEDED
    finally:
        world.kubectl.run("delete", "crd", f"widgets.{group}", "--wait=false", "--ignore-not-found")


# ---------------------------------------------------------------- drift and prune


def _replicas_app(world: World, replicas: int = 3) -> AppSpec:
    return world.write(
        "api",
        {
            "all.yaml": f"""
                apiVersion: v1
                kind: Namespace
                metadata: {{name: NS}}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {{name: api-config, namespace: NS}}
                data: {{MODE: fast}}
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {{name: api, namespace: NS}}
                spec:
                  replicas: {replicas}
                  selector: {{matchLabels: {{app: api}}}}
                  template:
                    metadata: {{labels: {{app: api}}}}
                    spec:
                      containers: [{{name: api, image: "registry.k8s.io/pause:3.10"}}]
                """,
        },
    )


def test_kubectl_scale_shows_as_one_field_and_a_sync_heals_it(world: World) -> None:
    app = _replicas_app(world)
    assert world.sync(app).phase is SyncPhase.SUCCEEDED
    key = ResourceKey("apps", "Deployment", world.namespace, "api")
    world.kubectl.run("scale", "deployment", "api", "-n", world.namespace, "--replicas=10")
    # The cache follows the watch, a few milliseconds behind kubectl.
    wait_until(
        lambda: (live := world.kube.observe(key)) and live.manifest["spec"]["replicas"] == 10,
        seconds=10,
        what="the scale to reach the cache",
    )

    plan = world.plan(app)
    changed = [(t.key, t.changes) for t in plan.tasks() if t.action is Action.UPDATE]
    assert changed == [(key, (FieldChange("spec.replicas", FieldOp.REPLACE, 10, 3),))]

    healed = world.sync(app)
    assert healed.phase is SyncPhase.SUCCEEDED, healed.message
    [entry] = [e for e in healed.changeset.entries if e.key == key]
    assert entry.action is ChangeAction.CONFIGURED
    live = world.kubectl.get("deployment", "api", world.namespace)
    assert live is not None and live["spec"]["replicas"] == 3
    assert field_managers(live, "spec.replicas") == ("gitwave",)


def test_prune_with_foreground_propagation_removes_replicasets_and_pods(world: World) -> None:
    app = _replicas_app(world, replicas=2)
    assert world.sync(app).phase is SyncPhase.SUCCEEDED
    # As in Argo CD, the sync does not wait for its last wave to be healthy:
    # the ReplicaSet's pods come a moment later.
    wait_until(
        lambda: len(world.kubectl.objects("pods", world.namespace)) == 2,
        seconds=60,
        what="the Deployment's two pods",
    )
    assert app.policy.prune_propagation is Propagation.FOREGROUND

    # Git drops the Deployment.
    manifests = world.tmp / f"api-{world.namespace}" / "all.yaml"
    manifests.write_text(manifests.read_text().split("---\napiVersion: apps/v1")[0])
    result = world.sync(app, prune=True)
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    pruned = {e.key.name: e.action for e in result.changeset.entries}
    assert pruned["api"] is ChangeAction.DELETED
    assert pruned["api-config"] is ChangeAction.UNCHANGED
    # Foreground: the Deployment is gone only after the garbage collector removed
    # what it owns, and the sync waited for the Deployment to be gone.
    assert world.kubectl.objects("replicasets", world.namespace) == []
    assert world.kubectl.objects("pods", world.namespace) == []


# ---------------------------------------------------------------- secrets


def test_secret_values_never_appear_in_plans_results_or_events(world: World) -> None:
    app = world.sample("waves", namespace_in_sample="shop")
    assert world.sync(app).phase is SyncPhase.SUCCEEDED
    live_value = "changed-by-hand-9931"
    patch = {"stringData": {"password": live_value}}
    world.kubectl.run(
        "patch", "secret", "shop-db-credentials", "-n", world.namespace, "-p", json.dumps(patch)
    )
    key = ResourceKey("", "Secret", world.namespace, "shop-db-credentials")
    wait_until(
        lambda: (
            (live := world.kube.observe(key))
            and base64.b64decode(live.manifest["data"]["password"]).decode() == live_value
        ),
        seconds=10,
        what="the edit to reach the cache",
    )
    plan = world.plan(app)
    [task] = [t for t in plan.tasks() if t.key == key]
    assert task.action is Action.UPDATE
    healed = world.sync(app)
    assert healed.phase is SyncPhase.SUCCEEDED, healed.message

    outputs = [
        format_plan(plan, verbose=True),
        json.dumps(plan_to_dict(plan)),
        repr(plan),
        repr(healed),
        *(f"{e.kind.value} {e.message} {e.resource}" for e in world.events),
    ]
    forbidden = {SECRET_PASSWORD, live_value}
    forbidden |= {base64.b64encode(v.encode()).decode() for v in list(forbidden)}
    for text in outputs:
        for value in forbidden:
            assert value not in text
    assert world.kubectl.get("secret", "shop-db-credentials", world.namespace) is not None
    restored = world.kube.observe(key)
    assert restored is not None
    assert base64.b64decode(restored.manifest["data"]["password"]).decode() == SECRET_PASSWORD


# ---------------------------------------------------------------- outage


def test_the_api_server_stopped_mid_sync_fails_naming_the_target_and_prunes_nothing(
    world: World,
) -> None:
    files = {
        "base.yaml": """
            apiVersion: v1
            kind: Namespace
            metadata: {name: NS}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: keep, namespace: NS}
            data: {v: "1"}
            """,
        "old.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: old
              namespace: NS
              annotations: {argocd.argoproj.io/sync-wave: "5"}
            data: {v: "1"}
            """,
    }
    app = world.write("outage", files)
    assert world.sync(app, prune=True).phase is SyncPhase.SUCCEEDED

    # The next commit drops "old" (wave 5) and adds "new" in wave 1.
    del files["old.yaml"]
    # ConfigMaps only: after the restart the controller-manager needs a while to
    # catch up, and this test is about gitwave, not about it.
    files["new.yaml"] = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: new
          namespace: NS
          annotations: {argocd.argoproj.io/sync-wave: "1"}
        data: {v: "1"}
        """
    app = world.write("outage", files)
    controlplane = _controlplane()
    stopped: list[object] = []
    cursor, _ = world.kube.changes("")

    def stop_at_wave_one(event: Event) -> None:
        world.events.append(event)
        if event.kind is EventKind.WAVE_STARTED and event.wave == "Sync wave 1" and not stopped:
            # grace=0: a crash; a SIGTERM drains open watches for 15 s first.
            stopped.append(controlplane.stop_component("kube-apiserver", grace=0))

    try:
        result = sync_app(
            app,
            targets=world.targets,
            store=None,
            request=SyncRequest(prune=True, retry=False, wave_timeout_s=30),
            sink=stop_at_wave_one,
        ).result
        assert stopped, "the sync reached wave 1"
        assert result.phase is SyncPhase.FAILED
        assert "kube:gitwave-test unreachable" in result.message, result.message
        assert world.kube.server in result.message

        def plan_fails() -> UnreachableError | None:
            # Until its watch breaks, the cache answers with the last state it saw.
            try:
                operations.plan(app, targets=world.targets, request=SyncRequest(prune=True))
            except UnreachableError as exc:
                return exc
            return None

        error = wait_until(plan_fails, seconds=10, what="planning to fail", step=0.1)
        assert "kube:gitwave-test unreachable" in str(error)
        with pytest.raises(UnreachableError) as caught:
            world.kube.changes(cursor)
        assert f"kube:gitwave-test unreachable: {world.kube.server}: " in str(caught.value)
    finally:
        if stopped:
            controlplane.start_component(stopped[0])

    def feed_resumed() -> bool:
        try:
            _, keys = world.kube.changes(cursor)
        except UnreachableError:
            return False  # the watches are still backing off
        return keys is None

    wait_until(feed_resumed, seconds=15, what="the watches to relist", step=0.1)

    old = ResourceKey("", "ConfigMap", world.namespace, "old")
    assert world.kubectl.get("configmap", "old", world.namespace) is not None, "nothing pruned"
    assert not any(e.key == old for e in result.changeset.entries)

    converged = world.sync(app, prune=True)
    assert converged.phase is SyncPhase.SUCCEEDED, converged.message
    assert world.kubectl.get("configmap", "old", world.namespace) is None
    assert world.kubectl.get("configmap", "new", world.namespace) is not None
    _wait_for_the_controllers(world)


def _wait_for_the_controllers(world: World) -> None:
    """Leave the cluster as found: after an API server restart the
    controller-manager backs off before its caches catch up (seconds to tens
    of seconds); later tests expect Deployments to roll out at once."""
    canary = world.write(
        "canary",
        {
            "canary.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: canary, namespace: NS}
                spec:
                  replicas: 1
                  selector: {matchLabels: {app: canary}}
                  template:
                    metadata: {labels: {app: canary}}
                    spec: {containers: [{name: c, image: "registry.k8s.io/pause:3.10"}]}
                """
        },
    )
    assert world.sync(canary).phase is SyncPhase.SUCCEEDED


def test_a_value_the_server_fills_in_is_not_drift_thanks_to_the_dry_run(world: World) -> None:
    # clusterIP: "" asks the API server to allocate one: the stored object then
    # holds an address Git never names. A field comparison reports that forever;
    # the plan confirms each update with a server-side dry-run apply, which says
    # the server would store the object as it is.
    app = world.write(
        "allocated",
        {
            "service.yaml": """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: NS}
                spec:
                  clusterIP: ""
                  selector: {app: web}
                  ports: [{port: 80, targetPort: 8080}]
                """,
        },
    )
    world.kube.apply(
        resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": world.namespace}})
    )
    assert world.sync(app).phase is SyncPhase.SUCCEEDED
    live = world.kube.observe(ResourceKey("", "Service", world.namespace, "web"))
    assert live is not None and live.manifest["spec"]["clusterIP"] not in ("", None)

    (desired,) = render_app(app).resources
    changes = diff_manifest(desired.manifest, live.manifest)
    assert [c.path for c in changes] == ["spec.clusterIP"], "the field comparison alone sees drift"
    assert not world.plan(app).has_changes

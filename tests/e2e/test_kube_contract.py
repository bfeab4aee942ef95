"""The Kubernetes provider against the real local control plane (tests/cluster).

First the shared provider contract (tests/providers/contract.py) — the same
suite the sandbox passes — then what only a real cluster shows: the cache
staying correct through watches and restarts, discovery, server-side apply
field ownership, errors.

``kubectl`` (the real binary from the venv) plays the other clients: it lists
what the controllers made and edits objects as another field manager.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gitwave.engine.api import field_managers
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import (
    LABEL_APP,
    ChangeAction,
    Live,
    Manifest,
    Propagation,
    ResourceKey,
)
from gitwave.engine.reconciler import change_feed
from gitwave.providers.kubernetes import KubernetesProvider
from gitwave.providers.kubernetes.config import load_client
from tests.providers.contract import (
    ContractTarget,
    ProviderContract,
    config_map,
    deployment,
    resource,
    secret,
    wait_until,
    with_labels,
)

if TYPE_CHECKING:
    from .conftest import KubeCluster

KUBECTL = Path(sys.executable).parent / "kubectl"
SETTLE = 60.0


# ---------------------------------------------------------------- helpers (shared by test_kube_*)


@dataclass(frozen=True)
class Kubectl:
    """The real kubectl, pointed at the test cluster."""

    kubeconfig: Path
    context: str

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [str(KUBECTL), f"--kubeconfig={self.kubeconfig}", f"--context={self.context}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def objects(self, kind: str, namespace: str) -> list[Manifest]:
        out = self.run("get", kind, "-n", namespace, "-o", "json")
        items: list[Manifest] = json.loads(out)["items"]
        return items

    def get(self, kind: str, name: str, namespace: str = "") -> Manifest | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found", "--show-managed-fields"]
        out = self.run(*args, *(["-n", namespace] if namespace else []))
        return json.loads(out) if out.strip() else None

    def write_as(
        self, key: ResourceKey, change: Callable[[Manifest], Manifest], manager: str
    ) -> None:
        """Change an object the way ``kubectl edit`` does: a full update (PUT)
        under another field manager."""
        kind = f"{key.kind}.{key.group}" if key.group else key.kind
        live = self.get(kind, key.name, key.namespace)
        assert live is not None, f"{key.display} not found"
        self.run("replace", f"--field-manager={manager}", "-f", "-", stdin=json.dumps(change(live)))


def kubectl_for(cluster: KubeCluster) -> Kubectl:
    return Kubectl(cluster.kubeconfig, cluster.context)


def provider_for(cluster: KubeCluster, **options: Any) -> KubernetesProvider:
    return KubernetesProvider.from_kubeconfig(
        context=cluster.context, kubeconfig=str(cluster.kubeconfig), **options
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- the contract


@pytest.fixture(scope="module")
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster) as provider:
        yield provider


@pytest.fixture
def provider(kube: KubernetesProvider) -> KubernetesProvider:
    return kube


@pytest.fixture(scope="module")
def kubectl(kube_cluster: KubeCluster) -> Kubectl:
    return kubectl_for(kube_cluster)


@pytest.fixture
def contract_target(kubectl: Kubectl) -> ContractTarget:
    def list_objects(kind: str, namespace: str) -> list[Live]:
        return [
            Live(ResourceKey.of(obj), obj, obj["metadata"]["resourceVersion"])
            for obj in kubectl.objects(kind, namespace)
        ]

    return ContractTarget(
        list_objects=list_objects, write_as=kubectl.write_as, settle_seconds=SETTLE
    )


class TestKubernetesContract(ProviderContract):
    """The shared provider contract, against the real control plane."""


# ---------------------------------------------------------------- beyond the contract


@pytest.fixture
def ns(kube: KubernetesProvider) -> Iterator[str]:
    name = unique("gw-kube")
    kube.apply(resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    kube.delete(ResourceKey("", "Namespace", "", name), propagation=Propagation.BACKGROUND)


def test_the_cache_follows_changes_made_by_others(
    kube: KubernetesProvider, kubectl: Kubectl, ns: str
) -> None:
    created = kube.apply(resource(config_map(LOG_LEVEL="info"), ns))
    key = created.key
    kubectl.run("patch", "configmap", "settings", "-n", ns, "-p", '{"data":{"LOG_LEVEL":"warn"}}')
    wait_until(
        lambda: (
            (live := kube.observe(key)) is not None and live.manifest["data"]["LOG_LEVEL"] == "warn"
        ),
        seconds=10,
        what="the watch to deliver kubectl's change",
    )
    kubectl.run("delete", "configmap", "settings", "-n", ns)
    wait_until(
        lambda: kube.observe(key) is None, seconds=10, what="the watch to deliver the delete"
    )


def test_kubectl_edit_drift_is_taken_back_and_ownership_is_visible(
    kube: KubernetesProvider, kubectl: Kubectl, ns: str
) -> None:
    desired = resource(deployment(replicas=2), ns)
    kube.apply(desired)
    kubectl.run("scale", "deployment", "web", "-n", ns, "--replicas=5")
    scaled = wait_until(
        lambda: (
            (live := kube.observe(desired.key)) is not None
            and live.manifest["spec"]["replicas"] == 5
            and live
        ),
        seconds=10,
        what="the scale to show",
    )
    assert field_managers(scaled, "spec.replicas") == ("kubectl",)
    assert field_managers(scaled, "spec.template.spec.containers[0].image") == ("gitwave",)

    healed = kube.apply(desired)
    assert healed.action is ChangeAction.CONFIGURED
    assert healed.live is not None
    assert healed.live.manifest["spec"]["replicas"] == 2
    assert field_managers(healed.live, "spec.replicas") == ("gitwave",), "force took it back"


def test_no_last_applied_annotation_is_written(kube: KubernetesProvider, ns: str) -> None:
    entry = kube.apply(resource(config_map(), ns))
    assert entry.live is not None
    annotations = entry.live.manifest["metadata"].get("annotations") or {}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations


@dataclass(frozen=True)
class RefusedCase:
    reason: str
    manifest: Manifest
    namespace: str
    message: str  # fragment of the error
    hint: str = ""  # fragment of the hint


REFUSED = [
    RefusedCase(
        "a kind no CRD defines fails like kubectl",
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}},
        "NS",
        'no matches for kind "Gadget" in version "example.com/v1" on kube:gitwave-test',
        "CustomResourceDefinition",
    ),
    RefusedCase(
        "a namespaced kind without a namespace",
        config_map(),
        "",
        "ConfigMap is namespaced; metadata.namespace is required",
    ),
    RefusedCase(
        "a cluster-scoped kind in a namespace",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
        "NS",
        "Namespace is cluster-scoped",
    ),
    RefusedCase(
        "a value the API server's validation rejects",
        {**config_map(), "metadata": {"name": "Not_A_Valid_Name"}},
        "NS",
        "kube:gitwave-test refused it",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.reason for c in REFUSED])
def test_refused_objects_name_the_object_and_store_nothing(
    kube: KubernetesProvider, ns: str, case: RefusedCase
) -> None:
    desired = resource(case.manifest, ns if case.namespace == "NS" else case.namespace)
    with pytest.raises(ProviderError) as caught:
        kube.apply(desired)
    assert case.message in str(caught.value)
    assert caught.value.key == desired.key
    assert str(caught.value).startswith(desired.key.display)
    if case.hint:
        assert case.hint in caught.value.hint
    assert kube.observe(desired.key) is None


def test_a_refused_secret_never_shows_its_values(kube: KubernetesProvider, ns: str) -> None:
    bad = secret()
    # A label value is echoed by the server in its validation error.
    bad = {**bad, "metadata": {"name": "creds", "labels": {"leak": "hunter2 value"}}}
    bad["stringData"] = {"token": "hunter2 value"}
    with pytest.raises(ProviderError) as caught:
        kube.apply(resource(bad, ns))
    assert "Invalid value" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_dry_run_shows_server_defaults_and_keeps_unchanged(
    kube: KubernetesProvider, ns: str
) -> None:
    desired = resource(deployment(), ns)
    planned = kube.dry_run_apply(desired)
    spec = planned.manifest["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert kube.observe(desired.key) is None
    kube.apply(desired)
    assert kube.apply(desired, dry_run=True).action is ChangeAction.UNCHANGED


def test_list_tracked_finds_objects_a_previous_process_applied(
    kube_cluster: KubeCluster, ns: str
) -> None:
    app = unique("gw-app")
    labelled = with_labels(deployment("tracked"), **{LABEL_APP: app})
    with provider_for(kube_cluster) as first:
        first.apply(resource(labelled, ns))
        first.apply(resource(with_labels(config_map("cfg"), **{LABEL_APP: app}), ns))
    # A fresh process knows nothing of what the first applied: the scan finds it.
    with provider_for(kube_cluster) as second:
        keys = second.tracked_keys(app)
        assert keys == [
            ResourceKey("", "ConfigMap", ns, "cfg"),
            ResourceKey("apps", "Deployment", ns, "tracked"),
        ]
        assert [live.key for live in second.list_tracked(app)] == keys


def test_legacy_discovery_serves_the_same_kinds(kube_cluster: KubeCluster, ns: str) -> None:
    with provider_for(kube_cluster) as aggregated:
        want = aggregated.apply(resource(config_map("via-aggregated"), ns))
    connection = load_client(context=kube_cluster.context, kubeconfig=str(kube_cluster.kubeconfig))
    legacy = KubernetesProvider(
        connection.api_client, name="kube:legacy", aggregated_discovery=False
    )
    with legacy:
        got = legacy.observe(want.key)
        assert got is not None and got.manifest["data"] == config_map()["data"]
        assert legacy.apply(resource(config_map("via-legacy"), ns)).action is ChangeAction.CREATED


def test_close_stops_every_watch_thread(kube_cluster: KubeCluster, ns: str) -> None:
    def watchers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("gitwave-watch-")}

    before = watchers()
    provider = provider_for(kube_cluster)
    provider.observe(ResourceKey("", "ConfigMap", ns, "x"))
    provider.observe(ResourceKey("apps", "Deployment", ns, "x"))
    assert len(watchers() - before) >= 2
    started = time.monotonic()
    provider.close()
    assert time.monotonic() - started < 5
    wait_until(lambda: not (watchers() - before), seconds=5, what="watch threads to end")


def test_the_change_feed_names_what_the_watches_saw(
    kube: KubernetesProvider, kube_cluster: KubeCluster, kubectl: Kubectl, ns: str
) -> None:
    assert change_feed(kube) is kube, "the continuous loop polls the provider itself"
    patched = ResourceKey("", "ConfigMap", ns, "patched")
    untouched = ResourceKey("", "ConfigMap", ns, "untouched")
    kube.observe_many([patched])  # the ConfigMap watch runs from here on
    start, keys = kube.changes("")
    assert keys == frozenset()
    for key in (patched, untouched):
        kube.apply(resource(config_map(key.name), ns))

    def since(cursor: str, *wanted: ResourceKey) -> str | None:
        current, keys = kube.changes(cursor)
        return current if keys is not None and set(wanted) <= keys else None

    # Other namespaces' ConfigMaps change too (the controller-manager writes
    # kube-root-ca.crt into every new one): only these two keys are asserted on.
    after_create = wait_until(
        lambda: since(start, patched, untouched), seconds=10, what="the creates in the feed"
    )
    kubectl.run("patch", "configmap", "patched", "-n", ns, "-p", '{"data":{"FEATURE_X":"off"}}')
    after_patch = wait_until(
        lambda: since(after_create, patched), seconds=10, what="the patch in the feed"
    )
    _, keys = kube.changes(after_create)
    assert keys is not None and untouched not in keys
    _, keys = kube.changes(after_patch)
    assert keys is not None and patched not in keys
    with provider_for(kube_cluster) as other:
        _, unknown = other.changes(after_patch)
        assert unknown is None, "a cursor of another provider proves nothing"

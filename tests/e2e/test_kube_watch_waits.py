"""Health waits on the real local control plane wake on watch events.

A wave's wait observes its objects once, then sleeps on the provider's change
feed (one list+watch per cluster and type, shared by every app) until a watch
event names one of them: while an object stays Progressing nothing is read
again and no request reaches the API server, and the event that makes it
Ready ends the wait. A watch whose resource version expired (410 Gone) lists
again and wakes the sleeping wait.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gitwave.engine.apps import AppSpec, load_apps
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import HealthCode, ResourceKey
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync import SyncPhase
from gitwave.providers.kubernetes import KubernetesProvider
from gitwave.providers.kubernetes import cache as kube_cache
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, provider_for, unique
from tests.providers.contract import wait_until

if TYPE_CHECKING:
    from .conftest import KubeCluster

GROUP = "watchwaits.gitwave.dev"


def _crd() -> dict[str, Any]:
    # No status subresource: the test (standing in for an operator) writes the
    # status, and gitwave's apply of the spec leaves it alone.
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _ready(status: str) -> dict[str, Any]:
    condition = {"type": "Ready", "status": status, "reason": "Provisioning", "message": "m"}
    if status == "True":
        condition["reason"] = "Provisioned"
    return {"status": {"conditions": [condition]}}


@pytest.fixture(scope="module")
def kubectl(kube_cluster: KubeCluster) -> Kubectl:
    kubectl = kubectl_for(kube_cluster)
    kubectl.run("apply", "-f", "-", stdin=json.dumps(_crd()))
    kubectl.run("wait", "--for=condition=Established", f"crd/widgets.{GROUP}", "--timeout=60s")
    return kubectl


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = unique("watchwait")
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    # Its own provider: the request counts and timings are this test's alone.
    with provider_for(kube_cluster) as provider:
        yield provider


def _app(tmp: Path, namespace: str) -> AppSpec:
    root = tmp / f"widgets-{namespace}"
    root.mkdir()
    (root / "widget.yaml").write_text(
        textwrap.dedent(f"""\
            apiVersion: {GROUP}/v1
            kind: Widget
            metadata:
              name: w
              namespace: {namespace}
              annotations: {{argocd.argoproj.io/sync-wave: "0"}}
            spec: {{size: 1}}
            """)
    )
    # A later wave, so the sync waits for the widget (the last wave is not waited for).
    (root / "after.yaml").write_text(
        textwrap.dedent(f"""\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: after
              namespace: {namespace}
              annotations: {{argocd.argoproj.io/sync-wave: "1"}}
            data: {{v: "1"}}
            """)
    )
    _, apps = load_apps(str(root))
    (app,) = apps
    return app


def _operator_writes_status(kubectl: Kubectl, namespace: str, status: str) -> None:
    kubectl.run(
        "patch", f"widgets.{GROUP}", "w", "-n", namespace, "--type=merge",
        "-p", json.dumps(_ready(status)),
    )  # fmt: skip


def test_a_wave_wait_sleeps_until_the_event_that_makes_its_object_ready(
    kube: KubernetesProvider, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    # The "operator" created the widget first, not Ready yet.
    widget = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": namespace},
        **_ready("False"),
    }
    kubectl.run("apply", "--field-manager=operator", "-f", "-", stdin=json.dumps(widget))
    key = ResourceKey(GROUP, "Widget", namespace, "w")
    targets = ProviderRouter([kube])
    reads: Counter[str] = Counter()
    targets.time_requests(lambda *, operation, **_: reads.update([operation]))

    events: list[Event] = []
    seen_at_wait: dict[str, Any] = {}
    released = threading.Event()

    def release() -> None:
        # Enough for a polling wait (backing off to 0.5 s) to read several times.
        if not released.wait(2.0):
            seen_at_wait["asleep"] = (dict(reads), kube.requests_sent())
            _operator_writes_status(kubectl, namespace, "True")

    def sink(event: Event) -> None:
        events.append(event)
        if event.kind is EventKind.WAITING and event.resource == key and not seen_at_wait:
            seen_at_wait["before"] = (dict(reads), kube.requests_sent())
            threading.Thread(target=release, daemon=True).start()

    try:
        result = sync_app(
            _app(tmp_path, namespace),
            targets=targets,
            store=None,
            request=SyncRequest(wave_timeout_s=60, retry=False),
            sink=sink,
        ).result
    finally:
        released.set()
    assert result.phase is SyncPhase.SUCCEEDED, result.message
    healths = [e for e in events if e.kind is EventKind.HEALTH_CHANGED and e.resource == key]
    assert [h.message.split(":")[0] for h in healths][:2] == ["Progressing", "Healthy"], healths
    reads_before, sent_before = seen_at_wait["before"]
    reads_after, sent_after = seen_at_wait["asleep"]
    # Asleep for 2 s: not one request to the server, and at most one read of the
    # widget from the watch cache: the watch event of gitwave's own apply may
    # reach the cache after the wait's first read and wake it once (1 run in 3).
    # A polling wait, backing off to 0.5 s, reads it at least 4 times.
    slept_reads = reads_after.get("observe_many", 0) - reads_before.get("observe_many", 0)
    assert slept_reads <= 1, (reads_before, reads_after)
    assert sent_after == sent_before
    # Woken by the event: exactly one more read of the wave saw it Ready.
    wave0 = [e for e in events if e.wave and e.wave.endswith("wave 0")]
    assert any(e.kind is EventKind.HEALTH_CHANGED and "Healthy" in e.message for e in wave0)
    assert str(HealthCode.HEALTHY.value) in healths[1].message


class _ExpiringInformer(kube_cache.Informer):
    """An informer whose first list's resource version has expired by the time
    it watches (as after a long disconnection): the real server answers 410."""

    lists = 0

    def _list(self) -> str:
        version = super()._list()
        type(self).lists += 1
        return "1" if type(self).lists == 1 else version


def test_an_expired_watch_relists_and_wakes_a_sleeping_wait(
    kube_cluster: KubeCluster, kubectl: Kubectl, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our own informer class (not the Kubernetes client) resumes from an
    # expired version; everything else is the real provider and server.
    monkeypatch.setattr(kube_cache, "Informer", _ExpiringInformer)
    _ExpiringInformer.lists = 0
    widget = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": "seen", "namespace": namespace},
    }
    kubectl.run("apply", "-f", "-", stdin=json.dumps(widget))
    with provider_for(kube_cluster) as kube:
        seen = ResourceKey(GROUP, "Widget", namespace, "seen")
        cursor, _ = kube.changes("")
        assert kube.observe(seen) is not None
        # The watch cache of a custom resource type starts when its CRD does: a
        # watch from version 1 is refused with 410 Gone ("too old resource
        # version"); the informer lists again, and the feed says it lost
        # track, which wakes a sleeping wait.
        assert kube.wait_for_change(cursor, 30.0)
        wait_until(lambda: _ExpiringInformer.lists >= 2, seconds=30, what="a second list")
        _, changed = kube.changes(cursor)
        assert changed is None
        # After the relist the cache is trusted again and follows new events.
        cursor, _ = kube.changes("")
        widget["metadata"]["name"] = "later"
        kubectl.run("apply", "-f", "-", stdin=json.dumps(widget))
        assert kube.wait_for_change(cursor, 30.0)
        later = ResourceKey(GROUP, "Widget", namespace, "later")
        wait_until(lambda: kube.observe(later), seconds=30, what="the new Widget in the cache")
        _, changed = kube.changes(cursor)
        assert changed is not None and later in changed
        assert kube.requests_sent().get("GET", 0) >= 3  # list, refused watch, relist

"""Many apps on one cluster (issue 11 item 6): finding each app's objects costs
one scan of the cluster, not one scan per app, and answers every app right."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING

import kubernetes
import pytest

from gitwave.engine.model import LABEL_APP, ResourceKey
from gitwave.providers.kubernetes import KubernetesProvider
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, unique
from tests.e2e.test_kube_retries_finalizers import upstream_tls  # noqa: F401  (fixture)
from tests.providers.throttle_proxy import Answer, ThrottlingProxy

if TYPE_CHECKING:
    from .conftest import KubeCluster

APPS = 12
NEVER = Answer(500, {}, b"")  # reject=0: the proxy only counts


@pytest.fixture
def fleet(kube_cluster: KubeCluster) -> Iterator[tuple[str, list[str]]]:
    """A namespace holding, for each of APPS apps, a ConfigMap and a
    ServiceAccount labelled with the app (as another gitwave process left them)."""
    kubectl: Kubectl = kubectl_for(kube_cluster)
    ns = unique("gw-fleet")
    apps = [f"{ns}-app-{i:02d}" for i in range(APPS)]
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
    for app in apps:
        meta = {"name": app, "namespace": ns, "labels": {LABEL_APP: app}}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
        docs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    kubectl.run("apply", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in docs))
    yield ns, apps
    kubectl.run("delete", "namespace", ns, "--wait=false", check=False)


def test_the_objects_of_many_apps_are_found_with_one_scan_of_the_cluster(
    kube_cluster: KubeCluster,
    upstream_tls: ssl.SSLContext,  # noqa: F811
    fleet: tuple[str, list[str]],
) -> None:
    ns, apps = fleet
    with ThrottlingProxy(kube_cluster.server, NEVER, reject=0, upstream_tls=upstream_tls) as proxy:
        configuration = kubernetes.client.Configuration()
        configuration.host = proxy.url
        with KubernetesProvider(kubernetes.client.ApiClient(configuration), name="kube:p") as kube:
            found = {app: kube.tracked_keys(app) for app in apps}

    for app in apps:
        assert found[app] == [
            ResourceKey("", "ConfigMap", ns, app),
            ResourceKey("", "ServiceAccount", ns, app),
        ]
    # A list the server pages (a shared cluster can hold more than 500 labelled
    # objects of a type) comes back with a continue token: those pages are one list.
    scans = [
        s
        for s in proxy.seen
        if s.method == "GET" and "labelSelector=" in s.path and "continue=" not in s.path
    ]
    listed = {s.path.partition("?")[0] for s in scans}
    # One list per listable type for all twelve apps; a scan per app made
    # twelve times as many (one per type and app).
    assert len(scans) == len(listed), sorted(s.path for s in scans)[:20]
    assert "/api/v1/configmaps" in listed

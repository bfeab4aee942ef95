"""Retries, field conflicts and finalizers against the real local control plane
(issue 10 items 19 and 20).

- HTTP 429 with Retry-After: a tiny proxy in front of the real API server
  answers the first apply requests with 429 (what API Priority and Fairness
  sends when it rejects), everything else reaches the server unchanged.
- Server-side apply conflicts with another applier (``kubectl apply
  --server-side --field-manager=other-tool``) fail the sync naming the field
  and manager, until the object opts into ServerSideApply=true,Force=true.
- A prune held by a finalizer fails after the wave timeout naming it; removing
  the finalizer completes the delete.
"""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import kubernetes.client
import pytest
import yaml

from gitwave.engine.api import field_managers
from gitwave.engine.apps import AppSpec, load_apps
from gitwave.engine.errors import FieldConflictError, ProviderError
from gitwave.engine.model import ChangeAction, Propagation, ResourceKey
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync import SyncPhase, SyncResult
from gitwave.providers.kubernetes import KubernetesProvider
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, provider_for, unique
from tests.providers.contract import resource, wait_until
from tests.providers.throttle_proxy import Answer, ThrottlingProxy

if TYPE_CHECKING:
    from .conftest import KubeCluster

KEEP = "example.com/keep"
OPT_IN = "ServerSideApply=true,Force=true"
TOO_MANY = Answer(
    429,
    {"Content-Type": "application/json", "Retry-After": "1"},
    json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": "Too many requests, please try again later.",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 1},
            "code": 429,
        }
    ).encode(),
)


@pytest.fixture(scope="module")
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster) as provider:
        yield provider


@pytest.fixture(scope="module")
def kubectl(kube_cluster: KubeCluster) -> Kubectl:
    return kubectl_for(kube_cluster)


@pytest.fixture
def ns(kube: KubernetesProvider, kubectl: Kubectl) -> Iterator[str]:
    name = unique("gw-retry")
    kube.apply(resource({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    for kind in ("configmaps",):  # what a test left held by a finalizer
        for obj in kubectl.objects(kind, name):
            if obj["metadata"].get("finalizers"):
                patch = '{"metadata":{"finalizers":null}}'
                kubectl.run("patch", kind, obj["metadata"]["name"], "-n", name, "-p", patch)
    kube.delete(ResourceKey("", "Namespace", "", name), propagation=Propagation.BACKGROUND)


def write_app(root: Path, ns: str, files: dict[str, str]) -> AppSpec:
    """A directory app of ``files`` (``NS`` stands for the namespace), named after it."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).replace("NS", ns))
    _, (app,) = load_apps(str(root))
    return app


def sync(kube: KubernetesProvider, app: AppSpec, **request: object) -> SyncResult:
    return sync_app(
        app,
        targets=ProviderRouter([kube]),
        store=None,
        request=SyncRequest(retry=False, **request),  # type: ignore[arg-type]
    ).result


# ---------------------------------------------------------------- 429 Retry-After


def _through(proxy: ThrottlingProxy) -> KubernetesProvider:
    configuration = kubernetes.client.Configuration()
    configuration.host = proxy.url
    return KubernetesProvider(kubernetes.client.ApiClient(configuration), name="kube:proxied")


@pytest.fixture
def upstream_tls(kube_cluster: KubeCluster, tmp_path: Path) -> ssl.SSLContext:
    """The test user's TLS identity from the kubeconfig: the proxy talks to the
    API server as that user."""
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == kube_cluster.context)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    files = {}
    for name, field in (
        ("ca.crt", cluster.get("certificate-authority-data")),
        ("user.crt", user.get("client-certificate-data")),
        ("user.key", user.get("client-key-data")),
    ):
        assert field, f"the test kubeconfig has no {name}"
        path = tmp_path / name
        path.write_bytes(base64.b64decode(field))
        files[name] = path
    tls = ssl.create_default_context(cafile=str(files["ca.crt"]))
    tls.load_cert_chain(str(files["user.crt"]), str(files["user.key"]))
    return tls


def _applies(method: str, path: str) -> bool:
    return method == "PATCH" and "/configmaps/" in path


def test_429_retry_after_is_waited_out_and_the_apply_lands(
    kube_cluster: KubeCluster, upstream_tls: ssl.SSLContext, kubectl: Kubectl, ns: str
) -> None:
    settings = resource(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": "b"}},
        ns,
    )
    with (
        ThrottlingProxy(
            kube_cluster.server, TOO_MANY, reject=2, matches=_applies, upstream_tls=upstream_tls
        ) as proxy,
        _through(proxy) as kube,
    ):
        started = time.monotonic()
        entry = kube.apply(settings)
        took = time.monotonic() - started

    assert entry.action is ChangeAction.CREATED
    assert len(proxy.rejected) == 2
    applies = [s for s in proxy.seen if s.method == "PATCH"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(applies)]
    assert all(gap >= 0.9 for gap in gaps), f"each retry waited the Retry-After second: {gaps}"
    assert took >= 1.9
    assert kubectl.get("configmap", "s", ns) is not None


def test_429_that_does_not_stop_is_a_retriable_error_carrying_the_delay(
    kube_cluster: KubeCluster, upstream_tls: ssl.SSLContext, kubectl: Kubectl, ns: str
) -> None:
    settings = resource(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"a": "b"}},
        ns,
    )
    with (
        ThrottlingProxy(
            kube_cluster.server, TOO_MANY, reject=-1, matches=_applies, upstream_tls=upstream_tls
        ) as proxy,
        _through(proxy) as kube,
        pytest.raises(ProviderError) as caught,
    ):
        kube.apply(settings)

    error = caught.value
    assert error.retriable and error.retry_after_s == 1.0
    assert f"ConfigMap/{ns}/s: kube:proxied is throttling requests (HTTP 429" in str(error)
    assert len(proxy.rejected) == 6, "the request and 5 retries"
    assert kubectl.get("configmap", "s", ns) is None, "nothing was applied"


# ---------------------------------------------------------------- SSA conflicts


SETTINGS = """
    apiVersion: v1
    kind: Namespace
    metadata:
      name: NS
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: NS
      annotations: ANNOTATIONS
    data:
      color: blue
"""


def test_a_conflict_with_another_applier_is_reported_until_the_object_opts_into_force(
    kube: KubernetesProvider, kubectl: Kubectl, ns: str, tmp_path: Path
) -> None:
    theirs = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": ns},
        "data": {"color": "red"},
    }
    kubectl.run(
        "apply", "--server-side", "--field-manager=other-tool", "-f", "-", stdin=json.dumps(theirs)
    )
    app = write_app(tmp_path / "conflict", ns, {"all.yaml": SETTINGS.replace("ANNOTATIONS", "{}")})

    result = sync(kube, app, wave_timeout_s=60)

    assert result.phase is SyncPhase.FAILED
    assert (
        f"ConfigMap/{ns}/settings: apply conflicts with field manager 'other-tool': "
        ".data.color (owned by other-tool); not forced" in result.message
    )
    assert OPT_IN in result.message
    live = kubectl.get("configmap", "settings", ns)
    assert live is not None and live["data"] == {"color": "red"}
    with pytest.raises(FieldConflictError):
        kube.apply(resource({**theirs, "data": {"color": "blue"}}))

    opted = SETTINGS.replace("ANNOTATIONS", f'{{"argocd.argoproj.io/sync-options": "{OPT_IN}"}}')
    app = write_app(tmp_path / "conflict", ns, {"all.yaml": opted})
    result = sync(kube, app, wave_timeout_s=60)

    assert result.phase is SyncPhase.SUCCEEDED, result.message
    live = kubectl.get("configmap", "settings", ns)
    assert live is not None and live["data"] == {"color": "blue"}
    assert field_managers(live, "data.color") == ("gitwave",)


def test_an_imperative_edit_is_drift_and_taken_back_without_opting_in(
    kube: KubernetesProvider, kubectl: Kubectl, ns: str
) -> None:
    desired = resource(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}, "data": {"c": "blue"}},
        ns,
    )
    kube.apply(desired)
    kubectl.write_as(desired.key, lambda live: {**live, "data": {"c": "red"}}, "kubectl-edit")

    healed = kube.apply(desired)

    assert healed.action is ChangeAction.CONFIGURED
    assert healed.live is not None and healed.live.manifest["data"] == {"c": "blue"}
    assert field_managers(healed.live, "data.c") == ("gitwave",)


# ---------------------------------------------------------------- finalizers


def test_a_prune_held_by_a_finalizer_fails_naming_it_until_it_is_removed(
    kube: KubernetesProvider, kubectl: Kubectl, ns: str, tmp_path: Path
) -> None:
    held = f"""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: held
          namespace: NS
          finalizers: [{KEEP}]
        data:
          a: b
    """
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: NS\n"
    root = tmp_path / "keeper"
    app = write_app(root, ns, {"namespace.yaml": namespace, "held.yaml": held})
    assert sync(kube, app, wave_timeout_s=60).phase is SyncPhase.SUCCEEDED
    app = write_app(root, ns, {"namespace.yaml": namespace})

    result = sync(kube, app, prune=True, wave_timeout_s=3)

    want = f"ConfigMap/{ns}/held is still terminating: waiting on finalizer {KEEP}"
    assert result.phase is SyncPhase.FAILED
    assert f"prune timed out after 3s: {want}" in result.message
    (entry,) = [e for e in result.changeset.entries if e.key.name == "held"]
    assert entry.action is ChangeAction.FAILED and want in entry.message
    live = kubectl.get("configmap", "held", ns)
    assert live is not None and live["metadata"]["deletionTimestamp"]

    kubectl.run("patch", "configmap", "held", "-n", ns, "-p", '{"metadata":{"finalizers":null}}')
    wait_until(
        lambda: kubectl.get("configmap", "held", ns) is None,
        seconds=30,
        what="the delete to complete once the finalizer is gone",
    )
    assert sync(kube, app, prune=True, wave_timeout_s=60).phase is SyncPhase.SUCCEEDED

"""Reaching a cluster: kubeconfig files and contexts, exec credential plugins,
the request rate limit, and reading field ownership.

The kubeconfig cases start from the test cluster's real kubeconfig, split,
renamed or given an exec plugin in tmp_path, and prove the result by reading
from the cluster.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes
import pytest

from gitwave.engine.api import field_managers
from gitwave.engine.fieldpath import parse_diff_path
from gitwave.engine.model import Live, ResourceKey
from gitwave.providers.kubernetes import (
    KubeconfigError,
    KubernetesProvider,
    context_names,
)
from gitwave.providers.kubernetes.transport import APF_HEADER, TokenBucket, Transport
from tests.e2e.test_kube_retries_finalizers import upstream_tls  # noqa: F401  (fixture)
from tests.providers.throttle_proxy import Answer, ThrottlingProxy

if TYPE_CHECKING:
    from .conftest import KubeCluster

DEFAULT_NS = ResourceKey("", "Namespace", "", "default")
NEVER = Answer(500, {}, b"")  # reject=0: the proxy only passes requests on


def _write(path: Path, config: dict[str, Any]) -> str:
    path.write_text(json.dumps(config))
    return str(path)


def _exec_plugin(tmp: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The admin user replaced by an exec plugin that hands out the same
    client certificate (a real plugin run by the client)."""
    user = config["users"][0]["user"]
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {
            "clientCertificateData": base64.b64decode(user["client-certificate-data"]).decode(),
            "clientKeyData": base64.b64decode(user["client-key-data"]).decode(),
        },
    }
    script = tmp / "credential-plugin"
    script.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    plugin = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": str(script),
        "interactiveMode": "Never",
    }
    return {**config, "users": [{"name": config["users"][0]["name"], "user": {"exec": plugin}}]}


@dataclass(frozen=True)
class KubeconfigCase:
    reason: str
    # (tmp dir, the cluster's kubeconfig as a dict) → (KUBECONFIG value, --kubeconfig value)
    setup: Callable[[Path, dict[str, Any]], tuple[str | None, str | None]]
    context: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # fragment of the KubeconfigError; "" when the provider must work
    hint: str = ""


def _split(tmp: Path, config: dict[str, Any]) -> tuple[str | None, str | None]:
    """Clusters and contexts in one file, the user in another, plus a missing path."""
    first = {k: v for k, v in config.items() if k != "users"} | {"users": []}
    second = {"apiVersion": "v1", "kind": "Config", "users": config["users"]}
    paths = [_write(tmp / "a", first), str(tmp / "missing"), _write(tmp / "b", second)]
    return os.pathsep.join(paths), None


def _two_contexts(tmp: Path, config: dict[str, Any]) -> tuple[str | None, str | None]:
    other = {"name": "staging", "context": {"cluster": "elsewhere", "user": "nobody"}}
    changed = {**config, "contexts": [*config["contexts"], other], "current-context": "staging"}
    return None, _write(tmp / "config", changed)


def _two_current_contexts(tmp: Path, config: dict[str, Any]) -> tuple[str | None, str | None]:
    """Two files set current-context: kubectl takes the first file's."""
    other = {"name": "staging", "context": {"cluster": "elsewhere", "user": "nobody"}}
    second = {**config, "contexts": [other], "current-context": "staging"}
    paths = [_write(tmp / "a", config), _write(tmp / "b", second)]
    return os.pathsep.join(paths), None


def _no_current(tmp: Path, config: dict[str, Any]) -> tuple[str | None, str | None]:
    return None, _write(tmp / "config", {k: v for k, v in config.items() if k != "current-context"})


def _with_exec(tmp: Path, config: dict[str, Any]) -> tuple[str | None, str | None]:
    return None, _write(tmp / "config", _exec_plugin(tmp, config))


KUBECONFIGS = [
    KubeconfigCase("KUBECONFIG lists several files: merged like kubectl", _split),
    KubeconfigCase("--context picks one of several", _two_contexts, context="gitwave-test"),
    KubeconfigCase("the first file's current-context wins", _two_current_contexts),
    KubeconfigCase(
        "an unknown context lists the known ones",
        _two_contexts,
        context="prod",
        error="context 'prod' not found; contexts: gitwave-test, staging",
    ),
    KubeconfigCase(
        "no --context and no current-context",
        _no_current,
        error="no current-context is set",
        hint="pass --context; contexts: gitwave-test",
    ),
    KubeconfigCase(
        "an exec credential plugin is refused by default",
        _with_exec,
        error="gets its credentials from an exec plugin",
        hint="--allow-exec-plugins",
    ),
    KubeconfigCase(
        "an exec credential plugin runs when allowed",
        _with_exec,
        options={"allow_exec_plugins": True},
    ),
    KubeconfigCase(
        "--kubeconfig naming a missing file",
        lambda tmp, _: (None, str(tmp / "nope")),
        error="no such file",
    ),
]


@pytest.mark.parametrize("case", KUBECONFIGS, ids=[c.reason for c in KUBECONFIGS])
def test_kubeconfig(
    kube_cluster: KubeCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: KubeconfigCase,
) -> None:
    config = json.loads(kube_cluster.kubeconfig.read_text())
    env, explicit = case.setup(tmp_path, config)
    if env is None:
        monkeypatch.delenv("KUBECONFIG", raising=False)
    else:
        monkeypatch.setenv("KUBECONFIG", env)
    if case.error:
        with pytest.raises(KubeconfigError) as caught:
            KubernetesProvider.from_kubeconfig(
                context=case.context, kubeconfig=explicit, **case.options
            )
        assert case.error in str(caught.value)
        assert case.hint in caught.value.hint
        return
    with KubernetesProvider.from_kubeconfig(
        context=case.context, kubeconfig=explicit, **case.options
    ) as provider:
        assert provider.name == "kube:gitwave-test"
        assert provider.observe(DEFAULT_NS) is not None, "it reads from the cluster"


def test_context_names_in_file_order(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    _, path = _two_contexts(tmp_path, json.loads(kube_cluster.kubeconfig.read_text()))
    assert context_names(kubeconfig=path) == ["gitwave-test", "staging"]


# ---------------------------------------------------------------- rate limit


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class BucketCase:
    reason: str
    qps: float
    burst: int
    # (seconds elapsed before the request, wait the bucket must ask for)
    steps: tuple[tuple[float, float], ...]


BUCKETS = [
    BucketCase("a burst goes out at once", 10, 3, ((0, 0), (0, 0), (0, 0))),
    BucketCase("past the burst, one every 1/qps", 10, 2, ((0, 0), (0, 0), (0, 0.1), (0, 0.2))),
    BucketCase(
        "idle time refills, up to the burst", 10, 2, ((0, 0), (0, 0), (5, 0), (0, 0), (0, 0.1))
    ),
]


@pytest.mark.parametrize("case", BUCKETS, ids=[c.reason for c in BUCKETS])
def test_token_bucket(case: BucketCase) -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=case.qps, burst=case.burst, clock=clock)
    for elapsed, wait in case.steps:
        clock.now += elapsed
        assert bucket.reserve() == pytest.approx(wait)


def test_requests_keep_to_the_qps(kube_cluster: KubeCluster) -> None:
    with KubernetesProvider.from_kubeconfig(
        kubeconfig=str(kube_cluster.kubeconfig), qps=20, burst=1
    ) as provider:
        started = time.monotonic()
        for _ in range(21):
            provider.delete(ResourceKey("", "ConfigMap", "default", "never-there"))
        # Discovery (2 requests) and 21 deletes, 20 of them after the first token.
        assert time.monotonic() - started >= 1.0


@dataclass(frozen=True)
class FlowControlCase:
    reason: str
    qps: float | None
    server_shows_flow_control: bool
    want_client_side_limit: bool


FLOW_CONTROL = [
    FlowControlCase("no rate asked, the server throttles itself: none here", None, True, False),
    FlowControlCase("a rate asked is kept, whatever the server does", 20, True, True),
    FlowControlCase("no rate asked, a server without flow control: the default", None, False, True),
]


@pytest.mark.parametrize("case", FLOW_CONTROL, ids=[c.reason for c in FLOW_CONTROL])
def test_the_client_side_limit_gives_way_to_the_servers_flow_control(
    kube_cluster: KubeCluster,
    upstream_tls: ssl.SSLContext,  # noqa: F811
    case: FlowControlCase,
) -> None:
    # As Flux's controllers do: an API server with API Priority and Fairness
    # (the local control plane has it, as every release since 1.20) sends
    # X-Kubernetes-PF-FlowSchema-UID with each answer; the proxy can hide it.
    hidden = frozenset() if case.server_shows_flow_control else frozenset({APF_HEADER.lower()})
    with ThrottlingProxy(
        kube_cluster.server, NEVER, reject=0, upstream_tls=upstream_tls, hide_headers=hidden
    ) as proxy:
        configuration = kubernetes.client.Configuration()
        configuration.host = proxy.url
        with kubernetes.client.ApiClient(configuration) as api:
            transport = Transport(api, target="kube:p", qps=case.qps)
            status, body = transport.request("GET", "/version")
    assert status == 200 and body["major"] == "1"
    assert transport.limited is case.want_client_side_limit


# ---------------------------------------------------------------- field ownership

# managedFields as a 1.37 API server wrote them: gitwave applied the Deployment,
# `kubectl scale` took spec.replicas, the controller owns status.
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "managedFields": [
            {
                "manager": "gitwave",
                "operation": "Apply",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:selector": {},
                        "f:template": {
                            "f:spec": {
                                "f:containers": {
                                    'k:{"name":"web"}': {
                                        ".": {},
                                        "f:image": {},
                                        "f:name": {},
                                        "f:ports": {
                                            'k:{"containerPort":80,"protocol":"TCP"}': {
                                                ".": {},
                                                "f:containerPort": {},
                                            }
                                        },
                                    }
                                },
                                "f:tolerations": {},
                            }
                        },
                    },
                },
            },
            {
                "manager": "kubectl",
                "operation": "Update",
                "subresource": "scale",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "subresource": "status",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
                    "f:status": {"f:replicas": {}},
                },
            },
            {
                "manager": "gitwave",
                "operation": "Update",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}},
            },
        ],
    },
    "spec": {
        "replicas": 5,
        "template": {
            "spec": {
                "containers": [
                    {"name": "sidecar", "image": "envoy"},
                    {
                        "name": "web",
                        "image": "nginx",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    },
                ],
                "tolerations": [{"key": "a"}],
            }
        },
    },
}


@dataclass(frozen=True)
class OwnerCase:
    reason: str
    path: str
    want: list[str]


OWNERS = [
    OwnerCase("kubectl scale took replicas", "spec.replicas", ["kubectl"]),
    OwnerCase(
        "a list item is found by its merge key, not its position",
        "spec.template.spec.containers[1].image",
        ["gitwave"],
    ),
    OwnerCase(
        "an item nobody declared (an injected sidecar)",
        "spec.template.spec.containers[0].image",
        [],
    ),
    OwnerCase(
        "an item keyed by two fields",
        "spec.template.spec.containers[1].ports[0].containerPort",
        ["gitwave"],
    ),
    OwnerCase(
        "inside an atomic list: the owner of the whole list",
        "spec.template.spec.tolerations[0].key",
        ["gitwave"],
    ),
    OwnerCase("an atomic map (selector) owned whole", "spec.selector.matchLabels.app", ["gitwave"]),
    OwnerCase(
        "a quoted key with dots and a slash",
        'metadata.annotations["deployment.kubernetes.io/revision"]',
        ["kube-controller-manager"],
    ),
    OwnerCase("a manager with two entries is named once", "metadata.labels.app", ["gitwave"]),
    OwnerCase(
        "a map holding fields of several managers",
        "metadata",
        ["gitwave", "kube-controller-manager"],
    ),
    OwnerCase("a field nobody set", "spec.paused", []),
    OwnerCase("a position past the end of the list", "spec.template.spec.containers[7]", []),
]


@pytest.mark.parametrize("case", OWNERS, ids=[c.reason for c in OWNERS])
def test_field_managers(case: OwnerCase) -> None:
    assert list(field_managers(DEPLOYMENT, case.path)) == case.want
    live = Live(ResourceKey("apps", "Deployment", "", "web"), DEPLOYMENT)
    assert list(field_managers(live, case.path)) == case.want


@pytest.mark.parametrize(
    "path", ["spec..replicas", "spec.replicas[", 'metadata.annotations["x', "spec[x]"], ids=repr
)
def test_a_malformed_field_path_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        parse_diff_path(path)


def test_every_apps_plan_does_not_ask_the_server_its_version_again(
    kube_cluster: KubeCluster,
    upstream_tls: ssl.SSLContext,  # noqa: F811
) -> None:
    with ThrottlingProxy(kube_cluster.server, NEVER, reject=0, upstream_tls=upstream_tls) as proxy:
        configuration = kubernetes.client.Configuration()
        configuration.host = proxy.url
        with KubernetesProvider(kubernetes.client.ApiClient(configuration), name="kube:p") as kube:
            versions = {kube.kubernetes_version() for _ in range(5)}
    assert versions == {"1.37"}
    assert [s.path for s in proxy.seen if s.path.startswith("/version")] == ["/version"]

"""Sanity checks of the local control plane itself (tests/cluster).

A Deployment reaching 2 ready replicas proves the controller-manager
(Deployment -> ReplicaSet -> Pods), the scheduler (binding to a fake node)
and kwok (pods Running and Ready); a Job completing proves kwok's
pod-complete stage and the Job controller.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

if TYPE_CHECKING:
    from .conftest import KubeCluster

T = TypeVar("T")
TIMEOUT = 60.0


def _eventually(what: str, fn: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s (last: {last!r})")


@pytest.fixture
def api(kube_cluster: KubeCluster) -> client.ApiClient:
    return config.new_client_from_config(
        config_file=str(kube_cluster.kubeconfig), context=kube_cluster.context
    )


@pytest.fixture
def namespace(api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(api)
    name = f"gitwave-e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def default_sa() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
            return True
        except ApiException as e:
            if e.status != 404:
                raise
            return False

    # Pods are rejected until the controller-manager created the namespace's SA.
    _eventually(f"ServiceAccount default in {name}", default_sa)
    yield name
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
            return False
        except ApiException as e:
            if e.status == 404:
                return True
            raise

    # Namespace deletion needs the namespace controller and kwok's pod-delete stage.
    _eventually(f"namespace {name} deleted", gone)


def _pod_template(labels: dict[str, str], restart: str = "Always") -> client.V1PodTemplateSpec:
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(
            restart_policy=restart,
            containers=[
                client.V1Container(
                    name="main",
                    image="registry.k8s.io/pause:3.10",  # never pulled: kwok fakes the kubelet
                    resources=client.V1ResourceRequirements(
                        requests={"cpu": "100m", "memory": "64Mi"}
                    ),
                )
            ],
        ),
    )


def test_server_version(api: client.ApiClient) -> None:
    info = client.VersionApi(api).get_code()
    assert info.major == "1" and info.git_version.startswith("v1.")


def test_deployment_becomes_ready(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    labels = {"app": "sanity"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="sanity"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=_pod_template(labels),
            ),
        ),
    )

    def ready() -> Any:
        st = apps.read_namespaced_deployment_status("sanity", namespace).status
        return st if (st.ready_replicas or 0) == 2 and (st.available_replicas or 0) == 2 else None

    _eventually("Deployment sanity reporting 2 ready replicas", ready)
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=sanity").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec.node_name, f"{pod.metadata.name} was not scheduled"
        assert pod.status.phase == "Running"
        assert pod.status.pod_ip, "kwok assigns a fake pod IP"


def test_job_completes(api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(
        namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="sanity"),
            spec=client.V1JobSpec(
                completions=1,
                backoff_limit=0,
                template=_pod_template({"job": "sanity"}, restart="Never"),
            ),
        ),
    )

    def complete() -> Any:
        st = batch.read_namespaced_job_status("sanity", namespace).status
        done = any(c.type == "Complete" and c.status == "True" for c in st.conditions or [])
        return st if done and st.succeeded == 1 else None

    _eventually("Job sanity complete", complete)

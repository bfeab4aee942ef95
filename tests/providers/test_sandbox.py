"""The sandbox provider: the shared contract, plus what only the sandbox does."""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitwave.engine.api import ChangeFeed
from gitwave.engine.errors import ConflictError, ProviderError
from gitwave.engine.model import (
    ChangeAction,
    HealthCode,
    Live,
    Manifest,
    Propagation,
    ResourceKey,
)
from gitwave.providers.sandbox import FAIL_ANNOTATION, SandboxProvider, default_state_dir
from gitwave.providers.sandbox.fields import decode_fields_v1, encode_fields_v1, managers_of
from tests.providers.conftest import FakeClock
from tests.providers.contract import (
    ContractTarget,
    ProviderContract,
    b64,
    config_map,
    deployment,
    dig,
    job,
    resource,
    secret,
    service,
)

ROLLOUT = 10.0  # seconds, with the fake clock


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        yield sandbox


def _write_as(
    sandbox: SandboxProvider,
) -> Callable[[ResourceKey, Callable[[Manifest], Manifest], str], None]:
    def write(key: ResourceKey, change: Callable[[Manifest], Manifest], manager: str) -> None:
        live = sandbox.observe(key)
        assert live is not None
        sandbox.replace_live(key, change(live.manifest), manager=manager)

    return write


@pytest.fixture
def contract_target(provider: SandboxProvider) -> ContractTarget:
    return ContractTarget(
        list_objects=lambda kind, namespace: provider.list(kind=kind, namespace=namespace),
        write_as=_write_as(provider),
        settle_seconds=5.0,
    )


class TestSandboxContract(ProviderContract):
    pass


# ---------------------------------------------------------------- helpers


@pytest.fixture
def sandbox(tmp_path: Path, fake_clock: FakeClock) -> Iterator[SandboxProvider]:
    """A sandbox on a hand-moved clock, with a namespace ``shop``."""
    with SandboxProvider(tmp_path / "state", rollout_seconds=ROLLOUT, clock=fake_clock) as s:
        s.apply(resource(namespace_manifest("shop")))
        yield s


def namespace_manifest(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def live_of(sandbox: SandboxProvider, manifest: Manifest, namespace: str = "shop") -> Live:
    live = sandbox.observe(resource(manifest, namespace).key)
    assert live is not None
    return live


def apply(sandbox: SandboxProvider, manifest: Manifest, namespace: str = "shop") -> Live:
    entry = sandbox.apply(resource(manifest, namespace))
    assert entry.live is not None
    return entry.live


def crd(*, scope: str = "Namespaced", versions: tuple[str, ...] = ("v1",)) -> Manifest:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [
                {"name": v, "served": True, "storage": i == 0, "schema": {}}
                for i, v in enumerate(versions)
            ],
        },
    }


def widget(name: str = "w", api_version: str = "example.com/v1") -> Manifest:
    return {
        "apiVersion": api_version,
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": 3},
    }


def failing(manifest: Manifest) -> Manifest:
    """The manifest with the sandbox's failure annotation on its pod template."""
    spec = dict(manifest["spec"])
    template = dict(spec["template"])
    meta = dict(template.get("metadata", {}))
    meta["annotations"] = {FAIL_ANNOTATION: "true"}
    template["metadata"] = meta
    spec["template"] = template
    return {**manifest, "spec": spec}


# ---------------------------------------------------------------- server defaults


@dataclass(frozen=True)
class DefaultCase:
    reason: str
    manifest: Manifest
    path: str
    want: Any


DEFAULTS = [
    DefaultCase(
        "rolling update strategy",
        deployment(),
        "spec.strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    ),
    DefaultCase("revision history", deployment(), "spec.revisionHistoryLimit", 10),
    DefaultCase("progress deadline", deployment(), "spec.progressDeadlineSeconds", 600),
    DefaultCase("pod restart policy", deployment(), "spec.template.spec.restartPolicy", "Always"),
    DefaultCase("pod DNS policy", deployment(), "spec.template.spec.dnsPolicy", "ClusterFirst"),
    DefaultCase(
        "pull policy for a pinned tag",
        deployment(image="nginx:1.27"),
        "spec.template.spec.containers.0.imagePullPolicy",
        "IfNotPresent",
    ),
    DefaultCase(
        "pull policy for :latest",
        deployment(image="nginx:latest"),
        "spec.template.spec.containers.0.imagePullPolicy",
        "Always",
    ),
    DefaultCase(
        "pull policy without a tag",
        deployment(image="registry.local:5000/nginx"),
        "spec.template.spec.containers.0.imagePullPolicy",
        "Always",
    ),
    DefaultCase(
        "termination message path",
        deployment(),
        "spec.template.spec.containers.0.terminationMessagePath",
        "/dev/termination-log",
    ),
    DefaultCase("service type", service(), "spec.type", "ClusterIP"),
    DefaultCase("session affinity", service(), "spec.sessionAffinity", "None"),
    DefaultCase("port protocol", service(), "spec.ports.0.protocol", "TCP"),
    DefaultCase("target port is the port", service(), "spec.ports.0.targetPort", 80),
    DefaultCase("namespace phase", namespace_manifest("extra"), "status.phase", "Active"),
    DefaultCase(
        "namespace name label",
        namespace_manifest("extra"),
        "metadata.labels.kubernetes.io/metadata.name",
        "extra",
    ),
    DefaultCase("secret type", {**secret(), "type": None}, "type", "Opaque"),
]


@pytest.mark.parametrize("case", DEFAULTS, ids=[c.reason for c in DEFAULTS])
def test_server_defaults_are_filled_in_and_never_show_as_drift(
    sandbox: SandboxProvider, case: DefaultCase
) -> None:
    namespace = "" if case.manifest["kind"] == "Namespace" else "shop"
    live = apply(sandbox, case.manifest, namespace)
    assert dig(live.manifest, case.path) == case.want
    again = sandbox.apply(resource(case.manifest, namespace))
    assert again.action is ChangeAction.UNCHANGED
    assert again.live is not None and again.live.resource_version == live.resource_version


def test_a_service_gets_a_cluster_ip_from_the_service_range(sandbox: SandboxProvider) -> None:
    live = apply(sandbox, service("web"))
    ip = live.manifest["spec"]["clusterIP"]
    assert ip.startswith("10.96.")
    assert live.manifest["spec"]["clusterIPs"] == [ip]


def test_cluster_ips_are_unique_and_the_same_in_every_fresh_sandbox(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    ips = []
    for run in ("one", "two"):
        with SandboxProvider(tmp_path / run, clock=fake_clock) as s:
            ips.append(
                [apply(s, service(n), "default").manifest["spec"]["clusterIP"] for n in "abc"]
            )
    assert ips[0] == ips[1]
    assert len(set(ips[0])) == 3


def test_a_cluster_ip_held_by_another_service_is_refused(sandbox: SandboxProvider) -> None:
    taken = apply(sandbox, service("web")).manifest["spec"]["clusterIP"]
    other = service("api")
    other["spec"] = {**other["spec"], "clusterIP": taken}
    with pytest.raises(
        ProviderError, match=re.escape(f"{taken} is already allocated to Service/shop/web")
    ):
        sandbox.apply(resource(other, "shop"))


def test_a_service_keeps_its_cluster_ip_when_reapplied_with_changes(
    sandbox: SandboxProvider,
) -> None:
    before = apply(sandbox, service("web")).manifest["spec"]["clusterIP"]
    changed = service("web")
    changed["spec"] = {**changed["spec"], "ports": [{"port": 8080}]}
    after = apply(sandbox, changed)
    assert after.manifest["spec"]["clusterIP"] == before
    assert after.manifest["spec"]["ports"] == [
        {"port": 8080, "protocol": "TCP", "targetPort": 8080}
    ]


def test_string_data_is_stored_as_base64_data_and_never_kept(sandbox: SandboxProvider) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api-token"},
        "data": {"user": b64("svc")},
        "stringData": {"token": "s3cr3t-value"},
    }
    live = apply(sandbox, manifest)
    assert "stringData" not in live.manifest
    assert live.manifest["data"] == {"user": b64("svc"), "token": b64("s3cr3t-value")}
    assert sandbox.apply(resource(manifest, "shop")).action is ChangeAction.UNCHANGED


def test_bad_base64_in_a_secret_is_refused_without_echoing_the_value(
    sandbox: SandboxProvider,
) -> None:
    manifest = {**secret(), "data": {"password": "hunter2!!not-base64"}}
    with pytest.raises(ProviderError) as caught:
        sandbox.apply(resource(manifest, "shop"))
    assert "data.password: illegal base64 data" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@dataclass(frozen=True)
class RefusedCase:
    reason: str
    manifest: Manifest
    namespace: str
    message: str


REFUSED = [
    RefusedCase(
        "a number in ConfigMap data (unquoted YAML)",
        {**config_map(), "data": {"PORT": 8080}},
        "shop",
        'ConfigMap "settings" is invalid: data.PORT: Invalid value: 8080: '
        "must be of type string (quote the value in YAML)",
    ),
    RefusedCase(
        "a number as a label value",
        {**config_map(), "metadata": {"name": "settings", "labels": {"replicas": 3}}},
        "shop",
        "metadata.labels.replicas: Invalid value: 3: must be of type string",
    ),
    RefusedCase(
        "a Job whose pods would restart for ever",
        {**job(), "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "m"}]}}}},
        "shop",
        "restartPolicy: must be Never or OnFailure",
    ),
    RefusedCase(
        "a namespaced kind without a namespace",
        config_map(),
        "",
        "ConfigMap is namespaced; metadata.namespace is required",
    ),
    RefusedCase(
        "a cluster-scoped kind in a namespace",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "r"},
        },
        "shop",
        "ClusterRole is cluster-scoped",
    ),
    RefusedCase(
        "a kind that does not exist in a built-in group",
        {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "typo"}},
        "shop",
        "no kind 'Deploymnet' is registered for apiVersion 'apps/v1'",
    ),
    RefusedCase(
        "an Argo CD Application without its CRD",
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}},
        "shop",
        "no kind 'Application' is registered for apiVersion 'argoproj.io/v1alpha1'",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.reason for c in REFUSED])
def test_what_an_api_server_rejects_is_refused_and_nothing_is_stored(
    sandbox: SandboxProvider, case: RefusedCase
) -> None:
    desired = resource(case.manifest, case.namespace)
    with pytest.raises(ProviderError) as caught:
        sandbox.apply(desired)
    assert case.message in str(caught.value)
    assert desired.key.display in str(caught.value)
    assert sandbox.observe(desired.key) is None


def test_a_missing_namespace_error_names_it_and_hints(sandbox: SandboxProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        sandbox.apply(resource(config_map(), "payments"))
    assert str(caught.value) == "ConfigMap/payments/settings: namespace 'payments' does not exist"
    assert "Namespace 'payments'" in caught.value.hint


# ---------------------------------------------------------------- uid, resourceVersion, generation


def test_uid_resource_version_generation_and_creation_time(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    created = apply(sandbox, deployment(image="nginx:1.27"))
    meta = created.manifest["metadata"]
    assert meta["generation"] == 1
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert meta["resourceVersion"] == created.resource_version

    fake_clock.advance(60)
    relabelled = apply(
        sandbox,
        {
            **deployment(image="nginx:1.27"),
            "metadata": {"name": "web", "labels": {"app": "web", "team": "checkout"}},
        },
    )
    assert relabelled.manifest["metadata"]["generation"] == 1, "metadata is not spec"
    assert int(relabelled.resource_version) > int(created.resource_version)

    changed = apply(
        sandbox,
        {
            **deployment(image="nginx:1.28"),
            "metadata": {"name": "web", "labels": {"app": "web", "team": "checkout"}},
        },
    )
    assert changed.manifest["metadata"]["generation"] == 2
    assert changed.manifest["metadata"]["uid"] == meta["uid"]
    assert changed.manifest["metadata"]["creationTimestamp"] == meta["creationTimestamp"]


def test_resource_versions_are_one_counter_across_all_objects(sandbox: SandboxProvider) -> None:
    versions = [int(apply(sandbox, config_map(f"cm-{i}")).resource_version) for i in range(5)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 5


def test_apply_records_gitwave_as_the_manager_of_its_fields(sandbox: SandboxProvider) -> None:
    live = apply(sandbox, config_map(LOG_LEVEL="info"))
    managers = managers_of(live.manifest)
    assert managers[("data", "LOG_LEVEL")] == ("gitwave",)
    assert managers[("metadata", "labels", "tier")] == ("gitwave",)
    entry = live.manifest["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == (
        "gitwave",
        "Apply",
        "FieldsV1",
    )


# ---------------------------------------------------------------- out-of-band changes


def test_scale_writes_as_kubectl_bumps_generation_and_restarts_the_rollout(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    created = apply(sandbox, deployment(replicas=2))
    fake_clock.advance(ROLLOUT)
    assert sandbox.health(live_of(sandbox, deployment())).code is HealthCode.HEALTHY

    entry = sandbox.scale(created.key, 4)
    assert entry.action is ChangeAction.CONFIGURED
    live = live_of(sandbox, deployment())
    assert live.manifest["spec"]["replicas"] == 4
    assert live.manifest["metadata"]["generation"] == 2
    assert managers_of(live.manifest)[("spec", "replicas")] == ("kubectl",)
    assert sandbox.health(live).code is HealthCode.PROGRESSING
    assert len(sandbox.list(kind="Pod", namespace="shop")) == 4

    fake_clock.advance(ROLLOUT)
    assert sandbox.health(live_of(sandbox, deployment())).code is HealthCode.HEALTHY


def test_apply_takes_scaled_replicas_back_from_kubectl(sandbox: SandboxProvider) -> None:
    created = apply(sandbox, deployment(replicas=2))
    sandbox.scale(created.key, 5)
    entry = sandbox.apply(resource(deployment(replicas=2), "shop"))
    assert entry.action is ChangeAction.CONFIGURED
    live = live_of(sandbox, deployment())
    assert live.manifest["spec"]["replicas"] == 2
    assert managers_of(live.manifest)[("spec", "replicas")] == ("gitwave",)
    assert len(sandbox.list(kind="Pod", namespace="shop")) == 2


def test_a_field_kubectl_now_owns_survives_when_git_stops_setting_it(
    sandbox: SandboxProvider,
) -> None:
    created = apply(sandbox, deployment(replicas=2))
    sandbox.scale(created.key, 5)
    without_replicas = deployment()
    del without_replicas["spec"]["replicas"]
    sandbox.apply(resource(without_replicas, "shop"))
    assert live_of(sandbox, deployment()).manifest["spec"]["replicas"] == 5


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (ResourceKey("", "ConfigMap", "shop", "settings"), "only Deployments, StatefulSets"),
        (ResourceKey("apps", "Deployment", "shop", "absent"), "not found in the sandbox"),
    ],
    ids=["a ConfigMap does not scale", "an absent Deployment"],
)
def test_scale_refuses(sandbox: SandboxProvider, key: ResourceKey, message: str) -> None:
    apply(sandbox, config_map())
    with pytest.raises(ProviderError, match=message):
        sandbox.scale(key, 3)


def test_replace_live_is_an_edit_by_another_manager(sandbox: SandboxProvider) -> None:
    created = apply(sandbox, config_map(LOG_LEVEL="info", FEATURE_X="on"))
    edited = dict(created.manifest)
    edited["data"] = {**edited["data"], "LOG_LEVEL": "trace"}
    edited["metadata"] = {**edited["metadata"], "annotations": {"edited-by": "alice"}}
    edited["status"] = {"made": "up"}
    entry = sandbox.replace_live(created.key, edited)
    assert entry.action is ChangeAction.CONFIGURED
    live = live_of(sandbox, config_map())
    assert live.manifest["data"]["LOG_LEVEL"] == "trace"
    assert "status" not in live.manifest, "status is not editable"
    managers = managers_of(live.manifest)
    assert managers[("data", "LOG_LEVEL")] == ("kubectl-edit",)
    assert managers[("metadata", "annotations", "edited-by")] == ("kubectl-edit",)
    assert managers[("data", "FEATURE_X")] == ("gitwave",)


def test_replace_live_with_a_stale_resource_version_is_a_conflict(
    sandbox: SandboxProvider,
) -> None:
    first = apply(sandbox, config_map(LOG_LEVEL="info"))
    apply(sandbox, config_map(LOG_LEVEL="debug"))  # someone else wrote in between
    stale = {**first.manifest, "data": {"LOG_LEVEL": "trace"}}
    with pytest.raises(ConflictError, match="the object has been modified") as caught:
        sandbox.replace_live(first.key, stale)
    assert caught.value.retriable
    assert live_of(sandbox, config_map()).manifest["data"]["LOG_LEVEL"] == "debug"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "renamed"), ("namespace", "default")],
    ids=["a new name", "a new namespace"],
)
def test_replace_live_cannot_turn_an_object_into_another(
    sandbox: SandboxProvider, field: str, value: str
) -> None:
    created = apply(sandbox, config_map())
    edited = {**created.manifest, "metadata": {**created.manifest["metadata"], field: value}}
    with pytest.raises(ProviderError, match="cannot change apiVersion group, kind, name"):
        sandbox.replace_live(created.key, edited)


def test_an_edit_of_the_pod_template_rolls_a_new_replicaset(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    created = apply(sandbox, deployment(image="nginx:1.27", replicas=2))
    fake_clock.advance(ROLLOUT)
    old_rs = {rs.key.name for rs in sandbox.list(kind="ReplicaSet", namespace="shop")}
    edited = live_of(sandbox, deployment()).manifest
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    sandbox.replace_live(created.key, edited)
    sets = {rs.key.name: rs for rs in sandbox.list(kind="ReplicaSet", namespace="shop")}
    new_rs = set(sets) - old_rs
    assert len(new_rs) == 1
    assert [sets[n].manifest["spec"]["replicas"] for n in sorted(old_rs)] == [0]
    pods = sandbox.list(kind="Pod", namespace="shop")
    assert len(pods) == 2
    assert all(p.key.name.startswith(next(iter(new_rs))) for p in pods)


# ---------------------------------------------------------------- simulated controllers


def test_a_deployment_rolls_out_on_the_sandbox_clock(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    created = apply(sandbox, deployment(replicas=3))
    health = sandbox.health(created)
    assert health.code is HealthCode.PROGRESSING
    assert "0 of 3" in health.message
    status = created.manifest["status"]
    assert (status["observedGeneration"], status["replicas"], status["availableReplicas"]) == (
        1,
        3,
        0,
    )
    [rs] = sandbox.list(kind="ReplicaSet", namespace="shop")
    assert rs.manifest["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": created.manifest["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert rs.key.name == f"web-{rs.manifest['metadata']['labels']['pod-template-hash']}"
    assert len(rs.manifest["metadata"]["labels"]["pod-template-hash"]) == 10
    pods = sandbox.list(kind="Pod", namespace="shop")
    assert len(pods) == 3
    assert {p.manifest["status"]["phase"] for p in pods} == {"Pending"}
    assert all(
        p.manifest["metadata"]["ownerReferences"][0]["uid"] == rs.manifest["metadata"]["uid"]
        for p in pods
    )

    fake_clock.advance(ROLLOUT - 0.5)
    assert sandbox.health(live_of(sandbox, deployment())).code is HealthCode.PROGRESSING

    fake_clock.advance(0.5)
    settled = live_of(sandbox, deployment())
    assert sandbox.health(settled).code is HealthCode.HEALTHY
    assert int(settled.resource_version) > int(created.resource_version), "status change bumps rv"
    conditions = {c["type"]: c for c in settled.manifest["status"]["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    pods = sandbox.list(kind="Pod", namespace="shop")
    assert {p.manifest["status"]["phase"] for p in pods} == {"Running"}
    assert all(sandbox.health(p).code is HealthCode.HEALTHY for p in pods)


def test_a_failing_deployment_exceeds_its_progress_deadline(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    apply(sandbox, failing(deployment()))
    fake_clock.advance(ROLLOUT)
    health = sandbox.health(live_of(sandbox, deployment()))
    assert health.code is HealthCode.DEGRADED
    assert "has timed out progressing" in health.message
    pods = sandbox.list(kind="Pod", namespace="shop")
    assert {sandbox.health(p).code for p in pods} == {HealthCode.DEGRADED}


@dataclass(frozen=True)
class RolloutCase:
    reason: str
    manifest: Manifest
    before: HealthCode
    after: HealthCode
    message: str  # fragment of the settled health message


STATEFUL_SET: Manifest = {
    **deployment("db"),
    "kind": "StatefulSet",
    "spec": {**deployment("db")["spec"], "serviceName": "db"},
}
DAEMON_SET: Manifest = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent"},
    "spec": {k: v for k, v in deployment("agent")["spec"].items() if k != "replicas"},
}
POD: Manifest = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "smoke"},
    "spec": {"restartPolicy": "Never", "containers": [{"name": "t", "image": "curl:8"}]},
}
LOAD_BALANCER: Manifest = {
    **service("lb"),
    "spec": {**service("lb")["spec"], "type": "LoadBalancer"},
}
PVC: Manifest = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}

ROLLOUTS = [
    RolloutCase(
        "a Job completes", job(), HealthCode.PROGRESSING, HealthCode.HEALTHY, "Job completed"
    ),
    RolloutCase(
        "a Job with the failure annotation fails",
        failing(job()),
        HealthCode.PROGRESSING,
        HealthCode.DEGRADED,
        "backoff limit",
    ),
    RolloutCase(
        "a StatefulSet", STATEFUL_SET, HealthCode.PROGRESSING, HealthCode.HEALTHY, "2 pods ready"
    ),
    RolloutCase(
        "a DaemonSet", DAEMON_SET, HealthCode.PROGRESSING, HealthCode.HEALTHY, "1 pod available"
    ),
    RolloutCase(
        "a run-once Pod succeeds", POD, HealthCode.PROGRESSING, HealthCode.HEALTHY, "Pod completed"
    ),
    RolloutCase(
        "a run-once Pod with the failure annotation fails",
        {**POD, "metadata": {"name": "smoke", "annotations": {FAIL_ANNOTATION: "true"}}},
        HealthCode.PROGRESSING,
        HealthCode.DEGRADED,
        "Pod failed",
    ),
    RolloutCase(
        "a LoadBalancer Service gets an address",
        LOAD_BALANCER,
        HealthCode.PROGRESSING,
        HealthCode.HEALTHY,
        "Load balancer has an address",
    ),
    RolloutCase("a PVC is bound at once", PVC, HealthCode.HEALTHY, HealthCode.HEALTHY, "bound"),
]


@pytest.mark.parametrize("case", ROLLOUTS, ids=[c.reason for c in ROLLOUTS])
def test_simulated_controllers(
    sandbox: SandboxProvider, fake_clock: FakeClock, case: RolloutCase
) -> None:
    created = apply(sandbox, case.manifest)
    assert sandbox.health(created).code is case.before
    fake_clock.advance(ROLLOUT)
    health = sandbox.health(live_of(sandbox, case.manifest))
    assert health.code is case.after
    assert case.message in health.message


def test_a_statefulset_owns_ordinal_pods(sandbox: SandboxProvider) -> None:
    apply(sandbox, STATEFUL_SET)
    pods = sandbox.list(kind="Pod", namespace="shop")
    assert [p.key.name for p in pods] == ["db-0", "db-1"]


def test_a_job_owns_a_pod_that_ends_like_the_job(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    apply(sandbox, job())
    fake_clock.advance(ROLLOUT)
    [pod] = sandbox.list(kind="Pod", namespace="shop")
    assert pod.manifest["status"]["phase"] == "Succeeded"
    assert pod.manifest["metadata"]["labels"]["job-name"] == "migrate"


# ---------------------------------------------------------------- custom resources


def test_a_custom_resource_needs_its_crd(sandbox: SandboxProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        sandbox.apply(resource(widget(), "shop"))
    assert "no kind 'Widget' is registered for apiVersion 'example.com/v1'" in str(caught.value)
    assert "CustomResourceDefinition" in caught.value.hint

    established = apply(sandbox, crd(), "")
    assert sandbox.health(established).code is HealthCode.HEALTHY
    assert apply(sandbox, widget()).manifest["spec"] == {"size": 3}


def test_a_crd_serves_only_its_versions(sandbox: SandboxProvider) -> None:
    apply(sandbox, crd(versions=("v1",)), "")
    with pytest.raises(ProviderError, match=r"for apiVersion 'example\.com/v2'"):
        sandbox.apply(resource(widget(api_version="example.com/v2"), "shop"))


def test_a_cluster_scoped_crd_makes_cluster_scoped_resources(sandbox: SandboxProvider) -> None:
    apply(sandbox, crd(scope="Cluster"), "")
    with pytest.raises(ProviderError, match="Widget is cluster-scoped"):
        sandbox.apply(resource(widget(), "shop"))
    assert apply(sandbox, widget(), "").key == ResourceKey("example.com", "Widget", "", "w")


def test_a_crd_named_unlike_its_plural_and_group_is_refused(sandbox: SandboxProvider) -> None:
    bad = crd()
    bad["metadata"] = {"name": "widget.example.com"}
    with pytest.raises(ProviderError, match=r"metadata.name must be .*\(widgets.example.com\)"):
        sandbox.apply(resource(bad))


def test_deleting_a_crd_deletes_its_resources_and_unregisters_the_kind(
    sandbox: SandboxProvider,
) -> None:
    crd_key = apply(sandbox, crd(), "").key
    w = apply(sandbox, widget())
    sandbox.delete(crd_key)
    assert sandbox.observe(w.key) is None
    with pytest.raises(ProviderError, match="no kind 'Widget'"):
        sandbox.apply(resource(widget(), "shop"))


# ---------------------------------------------------------------- delete


def test_deleting_a_namespace_deletes_everything_in_it(sandbox: SandboxProvider) -> None:
    apply(sandbox, deployment())
    apply(sandbox, config_map())
    apply(sandbox, namespace_manifest("other"), "")
    kept = apply(sandbox, config_map(), "other")
    entry = sandbox.delete(ResourceKey("", "Namespace", "", "shop"))
    assert entry.action is ChangeAction.DELETED
    assert sandbox.list(namespace="shop") == []
    assert "shop" not in sandbox.namespaces()
    assert sandbox.observe(kept.key) is not None


def test_orphan_delete_keeps_the_children_without_owner_references(
    sandbox: SandboxProvider,
) -> None:
    created = apply(sandbox, deployment(replicas=2))
    sandbox.delete(created.key, propagation=Propagation.ORPHAN)
    [rs] = sandbox.list(kind="ReplicaSet", namespace="shop")
    assert "ownerReferences" not in rs.manifest["metadata"]
    pods = sandbox.list(kind="Pod", namespace="shop")
    assert len(pods) == 2, "only the direct children are orphaned; the pods still belong to the RS"
    assert all(p.manifest["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)


@pytest.mark.parametrize("propagation", [Propagation.FOREGROUND, Propagation.BACKGROUND])
def test_cascading_delete_removes_the_whole_tree(
    sandbox: SandboxProvider, propagation: Propagation
) -> None:
    created = apply(sandbox, deployment(replicas=2))
    entry = sandbox.delete(created.key, propagation=propagation)
    assert entry.message == "deleted with 3 dependents"
    assert sandbox.list(namespace="shop") == []


# ---------------------------------------------------------------- reads


def test_list_filters_by_kind_and_namespace(sandbox: SandboxProvider) -> None:
    apply(sandbox, config_map("a"))
    apply(sandbox, config_map("b"))
    apply(sandbox, service("web"))
    assert [o.key.name for o in sandbox.list(kind="configmap", namespace="shop")] == ["a", "b"]
    assert [o.key.name for o in sandbox.list(kind="Service")] == ["web"]
    assert {"default", "kube-system", "shop"} <= sandbox.namespaces()


def test_changes_since_reports_writes_settles_and_deletions(
    sandbox: SandboxProvider, fake_clock: FakeClock
) -> None:
    start, _ = sandbox.changes_since("0")
    created = apply(sandbox, config_map("a"))
    rv, changed = sandbox.changes_since(start)
    assert [o.key for o in changed] == [created.key]
    assert sandbox.changes_since(rv) == (rv, [])

    apply(sandbox, job())
    rv, _ = sandbox.changes_since(rv)
    fake_clock.advance(ROLLOUT)
    rv2, changed = sandbox.changes_since(rv)
    assert {o.key.kind for o in changed} == {"Job", "Pod"}, "the settled status is a change"

    sandbox.delete(created.key)
    _, deleted = sandbox.deletions_since(rv2)
    assert deleted == [created.key]


def test_changes_is_a_change_feed_of_created_changed_and_deleted_keys(
    sandbox: SandboxProvider,
) -> None:
    """The ChangeFeed capability (engine.api.ChangeFeed), natively."""
    assert isinstance(sandbox, ChangeFeed)
    before = apply(sandbox, config_map("before"))
    cursor, keys = sandbox.changes("")
    assert keys == frozenset(), "starting the feed reports nothing"
    assert cursor == sandbox.changes(cursor)[0]

    created = apply(sandbox, config_map("created"))
    changed = apply(sandbox, config_map("before", LOG_LEVEL="debug"))
    assert changed.resource_version != before.resource_version
    doomed = apply(sandbox, config_map("doomed"))
    cursor, keys = sandbox.changes(cursor)
    assert keys == {created.key, changed.key, doomed.key}

    sandbox.delete(doomed.key)
    cursor, keys = sandbox.changes(cursor)
    assert keys == {doomed.key}
    assert sandbox.changes(cursor) == (cursor, frozenset()), "each change is reported once"


@pytest.mark.parametrize("cursor", ["0", "1"])
def test_changes_after_an_old_cursor_includes_every_later_write(
    sandbox: SandboxProvider, cursor: str
) -> None:
    created = apply(sandbox, config_map("a"))
    current, keys = sandbox.changes(cursor)
    assert created.key in keys
    assert current == created.resource_version


def test_changes_refuses_a_cursor_that_is_no_resource_version(sandbox: SandboxProvider) -> None:
    with pytest.raises(ProviderError, match="not a resource version"):
        sandbox.changes("yesterday")


def test_handles_everything_but_cloud_resources(sandbox: SandboxProvider) -> None:
    assert sandbox.handles("v1", "ConfigMap")
    assert sandbox.handles("example.com/v1", "Widget")
    assert not sandbox.handles("rds.aws.upbound.io/v1beta1", "Instance")
    assert not sandbox.handles("sqs.aws.crossplane.io/v1beta1", "Queue")


# ---------------------------------------------------------------- state, processes, threads


@dataclass(frozen=True)
class StateDirCase:
    reason: str
    env: dict[str, str]
    want: str  # relative to tmp_path, or "~/..." for the home dir


STATE_DIRS = [
    StateDirCase(
        "GITWAVE_STATE wins", {"GITWAVE_STATE": "explicit", "XDG_STATE_HOME": "xdg"}, "explicit"
    ),
    StateDirCase("then XDG_STATE_HOME", {"XDG_STATE_HOME": "xdg"}, "xdg/gitwave"),
    StateDirCase("else the per-user default", {}, "~/.local/state/gitwave"),
]


@pytest.mark.parametrize("case", STATE_DIRS, ids=[c.reason for c in STATE_DIRS])
def test_default_state_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: StateDirCase
) -> None:
    monkeypatch.delenv("GITWAVE_STATE", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, str(tmp_path / value))
    want = (
        (tmp_path / "home" / case.want[2:]) if case.want.startswith("~/") else tmp_path / case.want
    )
    assert default_state_dir() == want


def test_state_persists_across_provider_instances(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path, rollout_seconds=0) as first:
        created = apply(first, deployment(replicas=2), "default")
    with SandboxProvider(tmp_path, rollout_seconds=0) as second:
        live = second.observe(created.key)
        assert live is not None
        assert live.manifest["metadata"]["uid"] == created.manifest["metadata"]["uid"]
        assert (
            second.apply(resource(deployment(replicas=2), "default")).action
            is ChangeAction.UNCHANGED
        )


SCALE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gitwave.engine.model import ResourceKey
    from gitwave.providers.sandbox import SandboxProvider

    sandbox = SandboxProvider(Path(sys.argv[1]), rollout_seconds=0)
    key = ResourceKey("apps", "Deployment", "default", "web")
    for replicas in range(1, int(sys.argv[2]) + 1):
        sandbox.scale(key, replicas)
    print("scaled")
    """
)


def test_another_process_scales_while_this_one_reads_and_writes(
    tmp_path: Path, venv_python: Path
) -> None:
    rounds = 40
    with SandboxProvider(tmp_path, rollout_seconds=0) as sandbox:
        created = apply(sandbox, deployment(replicas=1), "default")
        child = subprocess.Popen(
            [str(venv_python), "-c", SCALE_SCRIPT, str(tmp_path), str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen = []
        while child.poll() is None:
            live = sandbox.observe(created.key)
            assert live is not None
            seen.append(live.manifest["spec"]["replicas"])
            # This process writes too: the two writers take turns, none fails.
            apply(sandbox, config_map(f"cm-{len(seen)}"), "default")
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert out.strip() == "scaled"
        assert seen == sorted(seen), "a reader never sees an older write after a newer one"
        live = sandbox.observe(created.key)
        assert live is not None
        assert live.manifest["spec"]["replicas"] == rounds
        assert len(sandbox.list(kind="Pod", namespace="default")) == rounds


def test_parallel_applies_from_many_threads(sandbox: SandboxProvider) -> None:
    desired = [resource(config_map(f"cm-{i}"), "shop") for i in range(300)]
    with ThreadPoolExecutor(8) as pool:
        entries = list(pool.map(sandbox.apply, desired))
    assert {e.action for e in entries} == {ChangeAction.CREATED}
    versions = [e.live.resource_version for e in entries if e.live]
    assert len(set(versions)) == 300
    assert len(sandbox.list(kind="ConfigMap", namespace="shop")) == 300


def test_a_batch_commits_once_and_a_failed_batch_stores_nothing(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path) as sandbox, SandboxProvider(tmp_path) as other:
        with sandbox.batch():
            apply(sandbox, config_map("in-batch"), "default")
            assert other.observe(ResourceKey("", "ConfigMap", "default", "in-batch")) is None
        assert other.observe(ResourceKey("", "ConfigMap", "default", "in-batch")) is not None

        with pytest.raises(RuntimeError), sandbox.batch():
            apply(sandbox, config_map("rolled-back"), "default")
            raise RuntimeError("boom")
        assert sandbox.observe(ResourceKey("", "ConfigMap", "default", "rolled-back")) is None


def test_a_failed_operation_in_a_batch_leaves_the_others(tmp_path: Path) -> None:
    with SandboxProvider(tmp_path) as sandbox:
        with sandbox.batch():
            apply(sandbox, config_map("good"), "default")
            with pytest.raises(ProviderError):
                sandbox.apply(resource({**config_map("bad"), "data": {"n": 1}}, "default"))
        assert sandbox.observe(ResourceKey("", "ConfigMap", "default", "good")) is not None
        assert sandbox.observe(ResourceKey("", "ConfigMap", "default", "bad")) is None


def test_scaling_and_applying_from_threads_at_once_keeps_pods_matching_replicas(
    sandbox: SandboxProvider,
) -> None:
    key = apply(sandbox, deployment(replicas=1)).key
    others = [resource(config_map(f"cm-{i}"), "shop") for i in range(100)]
    with ThreadPoolExecutor(4) as pool:
        scaled = pool.submit(lambda: [sandbox.scale(key, n) for n in range(2, 12)])
        applied = list(pool.map(sandbox.apply, others))
        scaled.result()
    assert all(e.action is ChangeAction.CREATED for e in applied)
    assert live_of(sandbox, deployment()).manifest["spec"]["replicas"] == 11
    assert len(sandbox.list(kind="Pod", namespace="shop")) == 11


_FIELD_NAMES = st.sampled_from(["spec", "replicas", "a.b", "f:x", ".", "labels", "app"])


@given(st.frozensets(st.lists(_FIELD_NAMES, min_size=1, max_size=4).map(tuple), max_size=12))
def test_fields_v1_round_trips_any_set_of_owned_paths(paths: frozenset[tuple[str, ...]]) -> None:
    # Includes paths that are prefixes of others and keys that look like markers.
    assert decode_fields_v1(encode_fields_v1(paths)) == paths

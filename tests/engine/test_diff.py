"""The diff stage: only what Git sets is compared; secrets never show."""

from __future__ import annotations

import base64
import copy
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.diff import IgnoreDifference, diff_manifest, ignore_pointers, removed_fields
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import FieldChange, FieldOp, ResourceKey


def deployment(**spec: Any) -> dict[str, Any]:
    """A desired Deployment; ``spec`` keys override the defaults below."""
    base: dict[str, Any] = {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.25",
                        "args": ["--port", "80"],
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "env": [{"name": "MODE", "value": "prod"}],
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "1Gi"},
                        },
                    }
                ],
            },
        },
    }
    base.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": base,
    }


def as_served(desired: dict[str, Any]) -> dict[str, Any]:
    """What the API server returns for ``desired``: defaults, status and metadata added."""
    live = copy.deepcopy(desired)
    live["metadata"].update(
        uid="7f0c",
        resourceVersion="4711",
        generation=2,
        creationTimestamp="2024-05-01T10:00:00Z",
        managedFields=[{"manager": "gitwave", "operation": "Apply"}],
    )
    live["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "2"
    live["metadata"]["labels"]["added-by"] = "another-controller"
    live["spec"].update(progressDeadlineSeconds=600, revisionHistoryLimit=10)
    pod = live["spec"]["template"]["spec"]
    pod.update(dnsPolicy="ClusterFirst", restartPolicy="Always", terminationGracePeriodSeconds=30)
    for container in pod["containers"]:
        container["imagePullPolicy"] = "IfNotPresent"
        for port in container.get("ports", []):
            port["protocol"] = "TCP"
    live["status"] = {"replicas": 3, "readyReplicas": 3, "observedGeneration": 2}
    return live


def edit(manifest: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``manifest`` with the dotted ``path`` (list indices as numbers) set."""
    result = copy.deepcopy(manifest)
    node: Any = result
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parents:
        node = node[part]
    node[last] = value
    return result


LIVE = as_served(deployment())
CONTAINER = "spec.template.spec.containers.0"


@dataclass
class Case:
    reason: str
    desired: dict[str, Any]
    live: dict[str, Any]
    want: list[FieldChange]
    ignore: list[str] = field(default_factory=list)


CASES = [
    Case("the object as served is in sync", deployment(), LIVE, []),
    Case(
        "a changed status is not drift",
        edit(deployment(), "spec.replicas", 3) | {"status": {"replicas": 99}},
        LIVE,
        [],
    ),
    Case(
        "server metadata copied into Git is not compared",
        edit(deployment(), "metadata.uid", "other-uid"),
        LIVE,
        [],
    ),
    Case(
        "gitwave's own tracking annotation and label are not compared",
        edit(
            edit(deployment(), "metadata.annotations", {"gitwave.dev/tracking-id": "x"}),
            "metadata.labels",
            {"app": "web", "gitwave.dev/app": "shop"},
        ),
        LIVE,
        [],
    ),
    Case(
        "a changed replica count",
        edit(deployment(), "spec.replicas", 10),
        LIVE,
        [FieldChange("spec.replicas", FieldOp.REPLACE, 3, 10)],
    ),
    Case(
        "a field the live object lacks",
        edit(deployment(), "spec.paused", True),
        LIVE,
        [FieldChange("spec.paused", FieldOp.ADD, None, True)],
    ),
    Case(
        "a label Git sets that someone changed",
        deployment(),
        edit(LIVE, "metadata.labels.app", "api"),
        [FieldChange("metadata.labels.app", FieldOp.REPLACE, "api", "web")],
    ),
    Case(
        "an annotation key with dots is quoted in the path",
        edit(deployment(), "metadata.annotations", {"example.com/team": "payments"}),
        LIVE,
        [FieldChange('metadata.annotations["example.com/team"]', FieldOp.ADD, None, "payments")],
    ),
    Case(
        "containers are matched by name: another order is no drift",
        edit(
            deployment(),
            "spec.template.spec.containers",
            [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
        ),
        edit(
            LIVE,
            "spec.template.spec.containers",
            [{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:1"}],
        ),
        [],
    ),
    Case(
        "a changed image is reported at the desired index",
        edit(
            deployment(),
            "spec.template.spec.containers",
            [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}],
        ),
        edit(
            LIVE,
            "spec.template.spec.containers",
            [{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:1"}],
        ),
        [FieldChange("spec.template.spec.containers[1].image", FieldOp.REPLACE, "b:1", "b:2")],
    ),
    Case(
        "an injected sidecar is not drift",
        deployment(),
        edit(
            LIVE,
            "spec.template.spec.containers",
            [
                *LIVE["spec"]["template"]["spec"]["containers"],
                {"name": "istio-proxy", "image": "istio/proxyv2:1.20"},
            ],
        ),
        [],
    ),
    Case(
        "a container missing live is added whole",
        edit(
            deployment(),
            "spec.template.spec.containers",
            [
                *deployment()["spec"]["template"]["spec"]["containers"],
                {"name": "log", "image": "fluent-bit:3"},
            ],
        ),
        LIVE,
        [
            FieldChange(
                "spec.template.spec.containers[1]",
                FieldOp.ADD,
                None,
                {"name": "log", "image": "fluent-bit:3"},
            )
        ],
    ),
    Case(
        "env entries are matched by name",
        edit(deployment(), f"{CONTAINER}.env", [{"name": "MODE", "value": "dev"}]),
        edit(
            LIVE,
            f"{CONTAINER}.env",
            [{"name": "EXTRA", "value": "1"}, {"name": "MODE", "value": "prod"}],
        ),
        [
            FieldChange(
                "spec.template.spec.containers[0].env[0].value", FieldOp.REPLACE, "prod", "dev"
            )
        ],
    ),
    Case(
        "a list of plain values is compared by position",
        edit(deployment(), f"{CONTAINER}.args", ["--port", "8080"]),
        LIVE,
        [FieldChange("spec.template.spec.containers[0].args[1]", FieldOp.REPLACE, "80", "8080")],
    ),
    Case(
        "a list of another length is replaced whole",
        edit(deployment(), f"{CONTAINER}.args", ["--port"]),
        LIVE,
        [
            FieldChange(
                "spec.template.spec.containers[0].args",
                FieldOp.REPLACE,
                ["--port", "80"],
                ["--port"],
            )
        ],
    ),
    Case(
        "unnamed list items compare by position, defaults inside them ignored",
        edit(
            deployment(), "spec.template.spec.tolerations", [{"key": "gpu", "operator": "Exists"}]
        ),
        edit(
            LIVE,
            "spec.template.spec.tolerations",
            [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        ),
        [],
    ),
    Case(
        "3 and 3.0 are the same number",
        edit(deployment(), "spec.replicas", 3.0),
        LIVE,
        [],
    ),
    Case(
        "true and 1 are not the same value",
        edit(deployment(), "spec.paused", True),
        edit(LIVE, "spec.paused", 1),
        [FieldChange("spec.paused", FieldOp.REPLACE, 1, True)],
    ),
    Case(
        "1000m CPU is 1 CPU, and 1Gi is 1024Mi",
        deployment(),
        edit(
            edit(LIVE, f"{CONTAINER}.resources.limits.cpu", "1000m"),
            f"{CONTAINER}.resources.limits.memory",
            "1024Mi",
        ),
        [],
    ),
    Case(
        "a number quantity equals its string form",
        edit(deployment(), f"{CONTAINER}.resources.limits.cpu", 1),
        LIVE,
        [],
    ),
    Case(
        "1G is not 1Gi",
        deployment(),
        edit(LIVE, f"{CONTAINER}.resources.limits.memory", "1G"),
        [
            FieldChange(
                "spec.template.spec.containers[0].resources.limits.memory",
                FieldOp.REPLACE,
                "1G",
                "1Gi",
            )
        ],
    ),
    Case(
        "quantities are only normalised where quantities live",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"cpu": "1"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"cpu": "1000m"},
        },
        [FieldChange("data.cpu", FieldOp.REPLACE, "1000m", "1")],
    ),
    Case(
        "a PVC size uses quantities too",
        {"spec": {"resources": {"requests": {"storage": "1Gi"}}}},
        {"spec": {"resources": {"requests": {"storage": "1073741824"}}}},
        [],
    ),
    Case(
        "a desired null expresses no opinion",
        edit(deployment(), "spec.strategy", None),
        LIVE,
        [],
    ),
    Case(
        "a map where a value was is replaced",
        edit(deployment(), "spec.strategy", {"type": "Recreate"}),
        edit(LIVE, "spec.strategy", "RollingUpdate"),
        [FieldChange("spec.strategy", FieldOp.REPLACE, "RollingUpdate", {"type": "Recreate"})],
    ),
    Case(
        "an ignored field",
        edit(deployment(), "spec.replicas", 10),
        LIVE,
        [],
        ignore=["/spec/replicas"],
    ),
    Case(
        "an ignored list item field, by desired index; others still count",
        edit(edit(deployment(), f"{CONTAINER}.image", "nginx:1.26"), "spec.replicas", 5),
        LIVE,
        [FieldChange("spec.replicas", FieldOp.REPLACE, 3, 5)],
        ignore=["/spec/template/spec/containers/0/image"],
    ),
    Case(
        "an ignored subtree",
        edit(edit(deployment(), f"{CONTAINER}.image", "nginx:1.26"), f"{CONTAINER}.args", []),
        LIVE,
        [],
        ignore=["/spec/template"],
    ),
    Case(
        "an ignored annotation with a slash in its key (~1)",
        edit(deployment(), "metadata.annotations", {"example.com/rev": "9"}),
        LIVE,
        [],
        ignore=["/metadata/annotations/example.com~1rev"],
    ),
    Case(
        "the empty pointer ignores the whole object",
        edit(deployment(), "spec.replicas", 10),
        LIVE,
        [],
        ignore=[""],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_diff(case: Case) -> None:
    assert list(diff_manifest(case.desired, case.live, ignore=case.ignore)) == case.want


def test_diff_does_not_change_its_inputs() -> None:
    desired, live = edit(deployment(), "spec.replicas", 10), as_served(deployment())
    before = copy.deepcopy((desired, live))
    diff_manifest(desired, live, ignore=["/spec/template"])
    assert (desired, live) == before


def test_a_malformed_pointer_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="'spec/replicas' is not a JSON pointer"):
        diff_manifest(deployment(), LIVE, ignore=["spec/replicas"])


# --- ignoreDifferences rules -------------------------------------------------------------


def test_ignore_rules_resolve_to_pointers_per_object() -> None:
    web = ResourceKey("apps", "Deployment", "shop", "web")
    api = ResourceKey("apps", "Deployment", "shop", "api")
    other_ns = ResourceKey("apps", "Deployment", "blog", "web")
    config = ResourceKey("", "ConfigMap", "shop", "web")
    rules = [
        IgnoreDifference("apps", "Deployment", json_pointers=("/spec/replicas",)),
        IgnoreDifference("apps", "Deployment", name="web", namespace="shop", json_pointers=("/a",)),
        IgnoreDifference("*", "*", name="web", json_pointers=("/spec/replicas", "/b")),
    ]

    assert ignore_pointers(rules, [web, api, other_ns, config]) == {
        web: ("/spec/replicas", "/a", "/b"),
        api: ("/spec/replicas",),
        other_ns: ("/spec/replicas", "/b"),
        config: ("/spec/replicas", "/b"),
    }


def test_an_ignore_rule_with_a_bad_pointer_is_refused_early() -> None:
    with pytest.raises(ValidationError, match="not a JSON pointer"):
        IgnoreDifference("apps", "Deployment", json_pointers=("spec.replicas",))


# --- secrets ------------------------------------------------------------------------------

PASSWORD = "correct-horse-battery-staple"
OLD_PASSWORD = "Tr0ub4dor&3"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque",
        **fields,
    }


@dataclass
class SecretCase:
    reason: str
    desired: dict[str, Any]
    live: dict[str, Any]
    want: list[FieldChange]
    ignore: list[str] = field(default_factory=list)


SECRET_CASES = [
    SecretCase(
        "stringData equal to the decoded live data is in sync",
        secret(stringData={"password": PASSWORD}),
        secret(data={"password": b64(PASSWORD)}),
        [],
    ),
    SecretCase(
        "data equal to live data is in sync, even wrapped differently",
        secret(data={"password": b64(PASSWORD)[:8] + "\n" + b64(PASSWORD)[8:]}),
        secret(data={"password": b64(PASSWORD)}),
        [],
    ),
    SecretCase(
        "a changed stringData value is masked on both sides",
        secret(stringData={"password": PASSWORD}),
        secret(data={"password": b64(OLD_PASSWORD)}),
        [FieldChange("stringData.password", FieldOp.REPLACE, "***", "***")],
    ),
    SecretCase(
        "a changed data value is masked on both sides",
        secret(data={"password": b64(PASSWORD)}),
        secret(data={"password": b64(OLD_PASSWORD)}),
        [FieldChange("data.password", FieldOp.REPLACE, "***", "***")],
    ),
    SecretCase(
        "a new key shows no live value and a masked desired one",
        secret(stringData={"password": PASSWORD}, data={"tls.key": b64(PASSWORD)}),
        secret(data={}),
        [
            FieldChange("stringData.password", FieldOp.ADD, None, "***"),
            FieldChange('data["tls.key"]', FieldOp.ADD, None, "***"),
        ],
    ),
    SecretCase(
        "stringData wins over data for the same key, as on the API server",
        secret(stringData={"password": PASSWORD}, data={"password": b64(OLD_PASSWORD)}),
        secret(data={"password": b64(PASSWORD)}),
        [],
    ),
    SecretCase(
        "extra live keys are not drift; other fields compare as usual",
        secret(stringData={"password": PASSWORD}, type="kubernetes.io/basic-auth"),
        secret(data={"password": b64(PASSWORD), "user": b64("admin")}),
        [FieldChange("type", FieldOp.REPLACE, "Opaque", "kubernetes.io/basic-auth")],
    ),
    SecretCase(
        "an ignored secret key",
        secret(stringData={"password": PASSWORD}),
        secret(data={"password": b64(OLD_PASSWORD)}),
        [],
        ignore=["/data/password"],
    ),
    SecretCase(
        "live data that is not a map counts as missing",
        secret(data={"password": b64(PASSWORD)}),
        secret(data=PASSWORD),
        [FieldChange("data.password", FieldOp.ADD, None, "***")],
    ),
    SecretCase(
        "a malformed desired data field is masked whole",
        secret(data=PASSWORD, stringData=[OLD_PASSWORD]),
        secret(data={"password": b64(PASSWORD)}),
        [
            FieldChange("stringData", FieldOp.ADD, None, "***"),
            FieldChange("data", FieldOp.REPLACE, "***", "***"),
        ],
    ),
]


@pytest.mark.parametrize("case", SECRET_CASES, ids=lambda c: c.reason)
def test_secret_diff_never_shows_a_value(case: SecretCase) -> None:
    changes = diff_manifest(case.desired, case.live, ignore=case.ignore, is_secret=True)

    assert list(changes) == case.want
    shown = repr(changes) + str(changes) + "".join(f"{c.path}{c.live}{c.desired}" for c in changes)
    for value in (PASSWORD, OLD_PASSWORD, b64(PASSWORD), b64(OLD_PASSWORD), str(len(PASSWORD))):
        assert value not in shown


def test_secret_last_applied_annotation_is_not_compared_or_shown() -> None:
    desired = secret(stringData={"password": PASSWORD})
    last_applied = f'{{"stringData":{{"password":"{PASSWORD}"}}}}'
    desired["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": last_applied
    }
    live = secret(data={"password": b64(PASSWORD)})

    changes = diff_manifest(desired, live, is_secret=True)

    assert changes == ()


# --- speed --------------------------------------------------------------------------------


@pytest.mark.slow  # a large input, timed
def test_ten_thousand_unchanged_objects_diff_fast() -> None:
    pairs = []
    for n in range(10_000):
        desired = edit(deployment(), "metadata.name", f"web{n}")
        pairs.append((desired, as_served(desired)))

    started = time.process_time()
    drifted = [d for d, live in pairs if diff_manifest(d, live)]
    spent = time.process_time() - started

    assert drifted == []
    # About 0.15 s of CPU on the 2-core dev machine (budget 0.3 s); the margin
    # keeps a loaded CI box from failing, a slow algorithm still fails.
    assert spent < 1.0


# -- fields Git stopped setting (from gitwave's managedFields entry) ----------------------


def _live_with_owned(manifest: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    live = copy.deepcopy(manifest)
    live.setdefault("metadata", {})["managedFields"] = [
        {"manager": "gitwave", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields},
        {
            "manager": "kubectl",
            "operation": "Update",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:by-hand": {}}},
        },
    ]
    return live


@dataclass(frozen=True)
class RemovedCase:
    reason: str
    desired: dict[str, Any]
    live: dict[str, Any]
    owned: dict[str, Any]
    want: tuple[tuple[str, Any], ...]
    is_secret: bool = False


_CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}

REMOVED_CASES = [
    RemovedCase(
        "a key Git stopped setting is a removal with its live value",
        {**_CM, "data": {"a": "1"}},
        {**_CM, "data": {"a": "1", "b": "2", "by-hand": "x"}},
        {"f:data": {"f:a": {}, "f:b": {}}},
        (("data.b", "2"),),
    ),
    RemovedCase(
        "fields another manager owns are never ours to remove",
        {**_CM, "data": {"a": "1"}},
        {**_CM, "data": {"a": "1", "by-hand": "x"}},
        {"f:data": {"f:a": {}}},
        (),
    ),
    RemovedCase(
        "a whole map dropped from Git lists each owned leaf",
        {**_CM},
        {**_CM, "data": {"a": "1", "b": "2"}},
        {"f:data": {"f:a": {}, "f:b": {}}},
        (("data.a", "1"), ("data.b", "2")),
    ),
    RemovedCase(
        "gitwave's own label and annotation are bookkeeping, not removals",
        {**_CM, "data": {"a": "1"}},
        {
            **_CM,
            "metadata": {
                "name": "c",
                "namespace": "n",
                "labels": {"gitwave.dev/app": "x"},
                "annotations": {"gitwave.dev/tracking-id": "x:/ConfigMap:n/c"},
            },
            "data": {"a": "1"},
        },
        {
            "f:metadata": {
                "f:labels": {"f:gitwave.dev/app": {}},
                "f:annotations": {"f:gitwave.dev/tracking-id": {}},
            },
            "f:data": {"f:a": {}},
        },
        (),
    ),
    RemovedCase(
        "an owned field already gone from live is nothing to remove",
        {**_CM, "data": {"a": "1"}},
        {**_CM, "data": {"a": "1"}},
        {"f:data": {"f:a": {}, "f:b": {}}},
        (),
    ),
    RemovedCase(
        "a Secret key dropped from Git is masked",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"u": "x"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"u": "eA==", "password": "aHVudGVyMg=="},
        },
        {"f:data": {"f:u": {}, "f:password": {}}},
        (("data.password", "***"),),
        True,
    ),
]


@pytest.mark.parametrize("case", REMOVED_CASES, ids=lambda c: c.reason)
def test_removed_fields(case: RemovedCase) -> None:
    live = _live_with_owned(case.live, case.owned)
    changes = removed_fields(case.desired, live, is_secret=case.is_secret)
    assert tuple((c.path, c.live) for c in changes) == case.want
    assert all(c.op is FieldOp.REMOVE and c.desired is None for c in changes)
    if case.is_secret:
        assert "aHVudGVyMg==" not in repr(changes)

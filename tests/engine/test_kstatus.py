"""Flux's health rules: kstatus for each kind, healthCheckExprs (CEL), and the
per-app health policy (Argo CD's rule with ignore-healthcheck, kstatus for Flux)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.health import health_of
from gitwave.engine.health.exprs import compile_health_expr
from gitwave.engine.health.kstatus import KStatus, kstatus_of
from gitwave.engine.health.policy import HealthPolicy, HealthRule
from gitwave.engine.model import HealthCode, Live, ResourceKey

CUR, PROG, FAIL, TERM, UNK = (
    KStatus.CURRENT,
    KStatus.IN_PROGRESS,
    KStatus.FAILED,
    KStatus.TERMINATING,
    KStatus.UNKNOWN,
)


def obj(
    api_version: str,
    kind: str,
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "ns", **meta},
    }
    if spec is not None:
        manifest["spec"] = spec
    if status is not None:
        manifest["status"] = status
    return manifest


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def apps(kind: str, spec: dict[str, Any], status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    """An apps/v1 workload (Deployment, StatefulSet, DaemonSet, ReplicaSet)."""
    return obj("apps/v1", kind, spec=spec, status=status, **meta)


def crd(*conditions: dict[str, str]) -> dict[str, Any]:
    return obj(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        status={"conditions": list(conditions)},
    )


DEPLOY_DONE = {
    "observedGeneration": 2,
    "replicas": 2,
    "updatedReplicas": 2,
    "readyReplicas": 2,
    "availableReplicas": 2,
    "conditions": [
        cond("Progressing", "True", "NewReplicaSetAvailable"),
        cond("Available", "True"),
    ],
}

# A DaemonSet its controller has observed with two pods scheduled and updated.
DAEMON_SCHEDULED = {
    "observedGeneration": 1,
    "desiredNumberScheduled": 2,
    "currentNumberScheduled": 2,
    "updatedNumberScheduled": 2,
}


@dataclass(frozen=True)
class Case:
    reason: str
    given: dict[str, Any]
    want: KStatus
    message: str = ""


CASES = [
    # generic rules, any kind
    Case(
        "being deleted is Terminating",
        obj("v1", "ConfigMap", deletionTimestamp="2026-01-01T00:00:00Z"),
        TERM,
        "scheduled for deletion",
    ),
    Case(
        "a generation not yet observed is in progress",
        obj("example.com/v1", "Widget", generation=3, status={"observedGeneration": 2}),
        PROG,
        "generation is 3, but latest observed generation is 2",
    ),
    Case(
        "Reconciling=True is in progress",
        obj("example.com/v1", "Widget", status={"conditions": [cond("Reconciling", "True")]}),
        PROG,
    ),
    Case(
        "Stalled=True is Failed",
        obj(
            "example.com/v1",
            "Widget",
            status={"conditions": [cond("Stalled", "True", message="bad spec")]},
        ),
        FAIL,
        "bad spec",
    ),
    Case(
        "Ready=False on a custom resource is in progress",
        obj("example.com/v1", "Widget", status={"conditions": [cond("Ready", "False")]}),
        PROG,
    ),
    Case(
        "Ready=True on a custom resource is Current",
        obj("example.com/v1", "Widget", status={"conditions": [cond("Ready", "True")]}),
        CUR,
    ),
    Case("a kind without rules and no status is Current", obj("example.com/v1", "Widget"), CUR),
    # the difference with Argo CD that matters most: no address is fine
    Case(
        "an Ingress without an address is Current",
        obj("networking.k8s.io/v1", "Ingress", status={"loadBalancer": {}}),
        CUR,
    ),
    Case(
        "a LoadBalancer Service with a cluster IP but no address is Current",
        obj("v1", "Service", spec={"type": "LoadBalancer", "clusterIP": "10.0.0.1"}),
        CUR,
    ),
    Case(
        "a LoadBalancer Service without a cluster IP is in progress",
        obj("v1", "Service", spec={"type": "LoadBalancer"}),
        PROG,
        "ClusterIP not set",
    ),
    Case("a ConfigMap is always ready", obj("v1", "ConfigMap"), CUR),
    Case("a Secret is always ready", obj("v1", "Secret"), CUR),
    # Deployment
    Case(
        "a rolled out Deployment is Current",
        apps("Deployment", {"replicas": 2}, DEPLOY_DONE, generation=2),
        CUR,
        "Deployment is available",
    ),
    Case(
        "a Deployment short of replicas is in progress",
        apps("Deployment", {"replicas": 3}, {**DEPLOY_DONE, "replicas": 1}),
        PROG,
        "Replicas: 1/3",
    ),
    Case(
        "a Deployment with updated but unavailable replicas is in progress",
        apps("Deployment", {"replicas": 2}, {**DEPLOY_DONE, "availableReplicas": 1}),
        PROG,
        "Available: 1/2",
    ),
    Case(
        "a Deployment past its progress deadline is Failed",
        apps(
            "Deployment",
            {"replicas": 2, "progressDeadlineSeconds": 60},
            {
                **DEPLOY_DONE,
                "conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded")],
            },
        ),
        FAIL,
        "Progress deadline exceeded",
    ),
    Case(
        "a Deployment scaled to 0 is Current at once",
        apps("Deployment", {"replicas": 0}, {"conditions": [cond("Available", "True")]}),
        CUR,
    ),
    # StatefulSet
    Case(
        "a StatefulSet with every pod ready at one revision is Current",
        apps(
            "StatefulSet",
            {"replicas": 2},
            {
                "replicas": 2,
                "readyReplicas": 2,
                "currentReplicas": 2,
                "currentRevision": "r1",
                "updateRevision": "r1",
            },
        ),
        CUR,
    ),
    Case(
        "a StatefulSet between revisions is in progress",
        apps(
            "StatefulSet",
            {"replicas": 1},
            {
                "replicas": 1,
                "readyReplicas": 1,
                "currentReplicas": 1,
                "currentRevision": "r1",
                "updateRevision": "r2",
            },
        ),
        PROG,
        "updated revision",
    ),
    Case(
        "a StatefulSet with OnDelete updates is Current",
        obj("apps/v1", "StatefulSet", spec={"updateStrategy": {"type": "OnDelete"}}),
        CUR,
    ),
    Case(
        "a partitioned StatefulSet rollout short of updates is in progress",
        apps(
            "StatefulSet",
            {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 1}}},
            {"replicas": 3, "readyReplicas": 3, "updatedReplicas": 1},
        ),
        PROG,
        "updated: 1/2",
    ),
    # DaemonSet
    Case(
        "a DaemonSet the controller has not acted on is in progress",
        obj("apps/v1", "DaemonSet", generation=1, status={}),
        PROG,
        "observedGeneration not found",
    ),
    Case(
        "a DaemonSet with every pod ready is Current",
        obj(
            "apps/v1",
            "DaemonSet",
            generation=1,
            status={**DAEMON_SCHEDULED, "numberAvailable": 2, "numberReady": 2},
        ),
        CUR,
    ),
    Case(
        "a DaemonSet short of available pods is in progress",
        obj(
            "apps/v1", "DaemonSet", generation=1, status={**DAEMON_SCHEDULED, "numberAvailable": 1}
        ),
        PROG,
        "Available: 1/2",
    ),
    # ReplicaSet
    Case(
        "a ReplicaSet with a replica failure is in progress",
        obj("apps/v1", "ReplicaSet", status={"conditions": [cond("ReplicaFailure", "True")]}),
        PROG,
        "Replica Failure",
    ),
    Case(
        "a ReplicaSet with every replica available is Current",
        apps(
            "ReplicaSet",
            {"replicas": 1},
            {"replicas": 1, "fullyLabeledReplicas": 1, "availableReplicas": 1, "readyReplicas": 1},
        ),
        CUR,
    ),
    # Pod
    Case(
        "a running ready Pod is Current",
        obj("v1", "Pod", status={"phase": "Running", "conditions": [cond("Ready", "True")]}),
        CUR,
    ),
    Case(
        "a failed Pod has completed: Current",
        obj("v1", "Pod", status={"phase": "Failed"}),
        CUR,
        "not successfully",
    ),
    Case(
        "a crash-looping Pod is Failed",
        obj(
            "v1",
            "Pod",
            status={
                "phase": "Running",
                "containerStatuses": [
                    {"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                ],
            },
        ),
        FAIL,
        "CrashLoop state: app",
    ),
    Case("a Pending Pod is in progress", obj("v1", "Pod", status={"phase": "Pending"}), PROG),
    # PVC
    Case(
        "a bound PVC is Current",
        obj("v1", "PersistentVolumeClaim", status={"phase": "Bound"}),
        CUR,
    ),
    Case(
        "a pending PVC is in progress",
        obj("v1", "PersistentVolumeClaim", status={"phase": "Pending"}),
        PROG,
        "not Bound",
    ),
    # Job
    Case(
        "a Job not started is in progress",
        obj("batch/v1", "Job", status={}),
        PROG,
        "not started",
    ),
    Case(
        "a running Job is Current (kstatus does not wait for completion)",
        obj("batch/v1", "Job", status={"startTime": "2026-01-01T00:00:00Z", "active": 1}),
        CUR,
        "Job in progress",
    ),
    Case(
        "a failed Job is Failed",
        obj("batch/v1", "Job", status={"conditions": [cond("Failed", "True")], "failed": 6}),
        FAIL,
    ),
    # CRD
    Case(
        "an established CRD is Current",
        crd(cond("Established", "True")),
        CUR,
    ),
    Case(
        "a CRD whose names are refused is Failed",
        crd(cond("NamesAccepted", "False", "Conflict", "taken")),
        FAIL,
        "taken",
    ),
    Case(
        "a CRD still installing is in progress",
        crd(cond("Established", "False", "Installing")),
        PROG,
    ),
    # PDB
    Case(
        "a PodDisruptionBudget observed by its controller is Current",
        obj("policy/v1", "PodDisruptionBudget", generation=1, status={"observedGeneration": 1}),
        CUR,
    ),
    Case(
        "an odd status is Unknown, never an exception",
        obj("apps/v1", "Deployment", spec={"replicas": "many"}),
        UNK,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_kstatus_rules(case: Case) -> None:
    result = kstatus_of(case.given)

    assert result.status is case.want, result.message
    assert case.message in result.message


def test_the_ingress_argo_waits_for_is_current_for_flux() -> None:
    ingress = obj("networking.k8s.io/v1", "Ingress", status={"loadBalancer": {}})

    assert health_of(ingress).code is HealthCode.PROGRESSING  # Argo CD's rule
    assert kstatus_of(ingress).health.code is HealthCode.HEALTHY


# --- healthCheckExprs (CEL) --------------------------------------------------------------

WIDGET_EXPRS = {
    # has(): as in Flux, an expression reading a field that is not there cannot
    # be evaluated, and the object stays in progress until the timeout.
    "inProgress": "has(status.phase) && status.phase == 'Installing'",
    "failed": "status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'False')",
    "current": "status.conditions.filter(c, c.type == 'Ready').all(c, c.status == 'True')",
}


@dataclass(frozen=True)
class ExprCase:
    reason: str
    status: dict[str, Any] | None
    want: KStatus
    meta: dict[str, Any] | None = None


EXPR_CASES = [
    ExprCase("current is true", {"conditions": [cond("Ready", "True")]}, CUR),
    ExprCase("failed is true", {"conditions": [cond("Ready", "False")]}, FAIL),
    ExprCase(
        "inProgress wins over failed",
        {"phase": "Installing", "conditions": [cond("Ready", "False")]},
        PROG,
    ),
    ExprCase(
        "a field not there yet is in progress, not an error",
        None,
        PROG,
    ),
    ExprCase(
        "kstatus's generation check comes first",
        {"observedGeneration": 1, "conditions": [cond("Ready", "True")]},
        PROG,
        {"generation": 2},
    ),
]


@pytest.mark.parametrize("case", EXPR_CASES, ids=lambda c: c.reason)
def test_health_check_exprs(case: ExprCase) -> None:
    expr = compile_health_expr("example.com/v1", "Widget", WIDGET_EXPRS)
    widget = obj("example.com/v1", "Widget", status=case.status, **(case.meta or {}))

    assert expr.evaluate(widget).status is case.want


def test_no_expression_true_is_in_progress() -> None:
    expr = compile_health_expr("example.com/v1", "Widget", {"current": "status.ready == true"})

    result = expr.evaluate(obj("example.com/v1", "Widget", status={"ready": False}))

    assert result.status is PROG


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"current": "status.("}, "current: Failed to parse"),
        ({"failed": "true"}, "current is required"),
    ],
)
def test_a_bad_expression_is_refused_when_compiled(fields: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        compile_health_expr("example.com/v1", "Widget", fields)


# --- the policy: whose rule judges an object ---------------------------------------------


def live(manifest: dict[str, Any]) -> Live:
    meta = manifest["metadata"]
    group = manifest["apiVersion"].rpartition("/")[0]
    return Live(ResourceKey(group, manifest["kind"], meta["namespace"], meta["name"]), manifest)


def test_argo_rule_honours_ignore_healthcheck() -> None:
    ingress = obj(
        "networking.k8s.io/v1",
        "Ingress",
        status={"loadBalancer": {}},
        annotations={"argocd.argoproj.io/ignore-healthcheck": "true"},
    )
    plain = obj("networking.k8s.io/v1", "Ingress", status={"loadBalancer": {}})
    argo = HealthPolicy()

    assert argo.judge(live(ingress), lambda lv: health_of(lv.manifest)).code is HealthCode.HEALTHY
    assert argo.judge(live(plain), lambda lv: health_of(lv.manifest)).code is (
        HealthCode.PROGRESSING
    )


def test_kstatus_rule_prefers_the_kinds_expression() -> None:
    expr = compile_health_expr("example.com/v1", "Widget", {"current": "status.ok == true"})
    flux = HealthPolicy(rule=HealthRule.KSTATUS, exprs=(expr,))
    widget = obj("example.com/v1", "Widget", status={"ok": False, "conditions": []})

    health = flux.judge(live(widget), lambda lv: health_of(lv.manifest))

    assert health.code is HealthCode.PROGRESSING
    assert "healthCheckExprs" in health.message

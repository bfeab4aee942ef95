"""Health assessment: one live manifest (tests/testdata/health/) → code and message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.health import health_of, register_health_check, registered_kinds
from gitwave.engine.health import registry as health_module
from gitwave.engine.model import Health, HealthCode

TESTDATA = Path(__file__).parent.parent / "testdata" / "health"

H, S, P, D, U = (
    HealthCode.HEALTHY,
    HealthCode.SUSPENDED,
    HealthCode.PROGRESSING,
    HealthCode.DEGRADED,
    HealthCode.UNKNOWN,
)


@dataclass(frozen=True)
class Case:
    given: str  # file under tests/testdata/health/
    want: HealthCode
    message: str  # a fragment the message must contain ("" = no check)


CASES = [
    # Deployment
    Case("deployment/healthy.yaml", H, "3 replicas available"),
    Case("deployment/default-replicas.yaml", H, "1 replica available"),
    Case("deployment/paused.yaml", S, "Deployment is paused"),
    Case("deployment/generation-not-observed.yaml", P, "has not seen the latest spec"),
    Case("deployment/deadline-exceeded.yaml", D, "has timed out progressing"),
    Case("deployment/updating.yaml", P, "1 of 3 new replicas have been updated"),
    Case("deployment/old-replicas-pending.yaml", P, "1 old replica pending termination"),
    Case(
        "deployment/unavailable.yaml",
        P,
        "Waiting for rollout: 1 of 3 updated replicas are available",
    ),
    Case("deployment/malformed-status.yaml", U, "Cannot read the status of this Deployment"),
    Case("deployment/being-deleted.yaml", P, "Pending deletion"),
    # StatefulSet
    Case("statefulset/healthy.yaml", H, "3 pods ready"),
    Case("statefulset/not-observed.yaml", P, "has not seen the latest spec"),
    Case("statefulset/not-ready.yaml", P, "1 of 3 pods are ready"),
    Case("statefulset/on-delete.yaml", H, "OnDelete"),
    Case("statefulset/partition-rolling.yaml", P, "1 of 2 new pods have been updated"),
    Case("statefulset/partition-done.yaml", H, "Partitioned rollout complete"),
    Case("statefulset/revision-rolling.yaml", P, "1 of 3 pods are at revision db-2"),
    # DaemonSet
    Case("daemonset/healthy.yaml", H, "2 pods available"),
    Case("daemonset/not-observed.yaml", P, "has not seen the latest spec"),
    Case("daemonset/updating.yaml", P, "1 of 2 new pods have been updated"),
    Case("daemonset/unavailable.yaml", P, "0 of 2 updated pods are available"),
    Case("daemonset/on-delete.yaml", H, "OnDelete"),
    # ReplicaSet
    Case("replicaset/healthy.yaml", H, "2 replicas available"),
    Case("replicaset/failure.yaml", D, "exceeded quota"),
    Case("replicaset/unavailable.yaml", P, "1 of 2 replicas are available"),
    Case("replicaset/not-observed.yaml", P, "latest spec"),
    # Job
    Case("job/complete.yaml", H, "Job completed"),
    Case("job/failed.yaml", D, "Job failed: Job has reached the specified backoff limit"),
    Case("job/suspended.yaml", S, "Job is suspended"),
    Case("job/running.yaml", P, "Job is running (1 active pod)"),
    Case("job/not-started.yaml", P, "Waiting for the job to start"),
    # CronJob
    Case("cronjob/suspended.yaml", S, "CronJob is suspended"),
    Case("cronjob/scheduled.yaml", H, "Last scheduled at 2024-05-01T10:00:00Z"),
    Case("cronjob/never-scheduled.yaml", H, "Waiting for the first schedule"),
    # Pod
    Case("pod/running-ready.yaml", H, "running and ready"),
    Case("pod/running-not-ready.yaml", P, "waiting for readiness"),
    Case("pod/running-to-completion.yaml", P, "running to completion"),
    Case("pod/succeeded.yaml", H, "Pod completed"),
    Case("pod/failed.yaml", D, "Pod was evicted"),
    Case("pod/crash-loop.yaml", D, "Container web is in CrashLoopBackOff: back-off"),
    Case("pod/image-pull.yaml", D, "Container web is in ImagePullBackOff"),
    Case("pod/init-crash.yaml", D, "Container wait-for-db is in CrashLoopBackOff"),
    Case("pod/pending.yaml", P, "Pod is pending"),
    Case("pod/unknown-phase.yaml", U, "Pod phase is Unknown"),
    # PersistentVolumeClaim
    Case("pvc/bound.yaml", H, "bound"),
    Case("pvc/pending.yaml", P, "Waiting for the claim to be bound"),
    Case("pvc/lost.yaml", D, "lost its volume"),
    # Service
    Case("service/cluster-ip.yaml", H, ""),
    Case("service/load-balancer-pending.yaml", P, "Waiting for the load balancer"),
    Case("service/load-balancer-ready.yaml", H, "Load balancer has an address"),
    # Ingress
    Case("ingress/has-address.yaml", H, "Ingress has an address"),
    Case("ingress/no-address.yaml", P, "Waiting for the ingress to get an address"),
    # CustomResourceDefinition
    Case("crd/established.yaml", H, "CRD is established"),
    Case("crd/names-rejected.yaml", D, '"widgets" is already in use'),
    Case("crd/not-established.yaml", P, "Waiting for the CRD to be established"),
    Case("crd/non-structural.yaml", D, "Schema is not structural"),
    # Bitnami SealedSecret: its controller's Synced condition
    Case("sealedsecret/synced.yaml", H, "Unsealed into its Secret"),
    Case("sealedsecret/not-synced.yaml", D, "no key could decrypt secret (password)"),
    Case("sealedsecret/waiting.yaml", P, "Waiting for the sealed-secrets controller"),
    Case("sealedsecret/older-generation.yaml", P, "Waiting for the sealed-secrets controller"),
    # Argo Rollouts' Rollout (Argo CD's built-in check)
    Case("rollout/healthy.yaml", H, ""),
    Case("rollout/not-observed.yaml", P, "Waiting for rollout spec update to be observed"),
    Case("rollout/new-generation.yaml", P, "Waiting for rollout spec update to be observed"),
    Case("rollout/legacy-hash-generation.yaml", H, ""),
    Case("rollout/invalid-spec.yaml", D, 'The Rollout "web" is invalid'),
    Case("rollout/aborted.yaml", D, "Rollout aborted update to revision 4"),
    Case("rollout/deadline-exceeded.yaml", D, "has timed out progressing"),
    Case("rollout/paused-step.yaml", S, "Rollout is paused"),
    Case("rollout/spec-paused.yaml", S, "Rollout is paused"),
    Case("rollout/set-weight.yaml", P, "More replicas need to be updated"),
    Case("rollout/old-replicas-pending.yaml", P, "old replicas are pending termination"),
    Case("rollout/becoming-available.yaml", P, "updated replicas are still becoming available"),
    Case("rollout/steps-not-done.yaml", P, "Waiting for rollout to finish steps"),
    Case("rollout/bluegreen-active.yaml", H, ""),
    Case("rollout/bluegreen-cutover-pending.yaml", P, "active service cutover pending"),
    # Namespace
    Case("namespace/active.yaml", H, ""),
    Case("namespace/terminating.yaml", P, "Namespace is terminating"),
    # HorizontalPodAutoscaler
    Case("hpa/active.yaml", H, "Autoscaler is active"),
    Case("hpa/scaling-inactive.yaml", D, "unable to get metrics for resource cpu"),
    Case("hpa/cannot-scale.yaml", D, "Cannot scale"),
    Case("hpa/scaling-disabled.yaml", S, "Scaling is disabled"),
    Case("hpa/v1-annotation.yaml", D, "missing request for cpu"),
    Case("hpa/no-conditions.yaml", P, "Waiting for the autoscaler"),
    # Argo CD Application (app of apps)
    Case("application/healthy.yaml", H, "Application is Healthy"),
    Case("application/degraded.yaml", D, "exceeded its progress deadline"),
    Case("application/no-health.yaml", P, "Waiting for the application"),
    # kinds without a check: the generic condition rules
    Case("custom/configmap.yaml", H, ""),
    Case("custom/no-conditions.yaml", H, ""),
    Case("custom/ready-true.yaml", H, "Certificate is up to date"),
    Case("custom/ready-false-waiting.yaml", P, "Issuing certificate"),
    Case("custom/ready-false-failed.yaml", D, "install retries exhausted"),
    Case("custom/ready-unknown.yaml", P, "Waiting to be Ready: Reconciling"),
    Case("custom/available-false.yaml", P, "Waiting to be Available: waiting for replicas"),
    Case("custom/stalled.yaml", D, "Stalled: kustomization path not found"),
    Case("custom/reconciling.yaml", P, "Reconciling: Applying revision"),
    Case("custom/crossplane-not-synced.yaml", D, "Not synced: InvalidParameterValue"),
    Case("custom/crossplane-creating.yaml", P, "Waiting to be Ready: Creating"),
]


def load(name: str) -> dict[str, Any]:
    with (TESTDATA / name).open() as f:
        manifest = yaml.load(f, Loader=yaml.CSafeLoader)
    assert isinstance(manifest, dict)
    return manifest


@pytest.mark.parametrize("case", CASES, ids=[c.given for c in CASES])
def test_health_of(case: Case) -> None:
    got = health_of(load(case.given))
    assert got.code is case.want, got.message
    assert case.message in got.message


def test_every_fixture_is_in_the_table() -> None:
    on_disk = {str(p.relative_to(TESTDATA)) for p in TESTDATA.rglob("*.yaml")}
    assert on_disk == {c.given for c in CASES}


def test_every_registered_kind_has_a_fixture() -> None:
    covered = set()
    for case in CASES:
        manifest = load(case.given)
        covered.add((str(manifest["apiVersion"]).rpartition("/")[0], manifest["kind"]))
    # The legacy extensions/ group shares its check with the current group.
    missing = {k for k in registered_kinds() if k[0] != "extensions"} - covered
    assert not missing


def test_health_of_does_not_change_its_input() -> None:
    manifest = load("deployment/unavailable.yaml")
    before = yaml.dump(manifest)
    health_of(manifest)
    assert yaml.dump(manifest) == before


def test_a_registered_check_replaces_the_generic_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # Register into a copy so the extra kind does not leak into other tests.
    monkeypatch.setattr(health_module, "_CHECKS", dict(health_module._CHECKS))
    manifest = {"apiVersion": "test.gitwave.dev/v1", "kind": "Gauge", "metadata": {"name": "g"}}
    assert health_of(manifest).code is H

    @register_health_check("test.gitwave.dev", "Gauge")
    def _gauge(m: dict[str, Any]) -> Health:
        return Health(D, "gauge is red")

    assert health_of(manifest) == Health(D, "gauge is red")


def test_a_manifest_without_kind_or_status_is_healthy() -> None:
    assert health_of({}).code is H

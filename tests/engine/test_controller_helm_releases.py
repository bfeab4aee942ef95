"""A HelmRelease read from the cluster → its app, and the status helm-controller
would write after a reconcile (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from gitwave.engine.controller.helm_releases import (
    config_digest,
    release_app,
    release_history,
    release_status,
)
from gitwave.engine.controller.objects import HELM_KIND, AppObject
from gitwave.engine.controller.requests import is_suspended, reconcile_requested
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import ChangeSet, Health, HealthCode, ResourceKey
from gitwave.engine.sync import SyncPhase, SyncResult

NOW = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 4, 11, 0, 0, tzinfo=UTC)


def release_obj(
    *, version: str = "1.0.0", status: dict[str, Any] | None = None, **spec: Any
) -> AppObject:
    body: dict[str, Any] = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "flux-system", "generation": 3},
        "spec": {
            "interval": "5m",
            "targetNamespace": "shop",
            "chart": {
                "spec": {
                    "chart": "web",
                    "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                }
            },
            "values": {"replicas": 2},
            **spec,
        },
    }
    if status is not None:
        body["status"] = status
    return AppObject(HELM_KIND, "flux-system", "web", 3, body)


REPOSITORY = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "HelmRepository",
    "metadata": {"name": "charts", "namespace": "flux-system", "resourceVersion": "9"},
    "spec": {"url": "http://127.0.0.1:8879/charts"},
    "status": {"artifact": {}},
}


def result(ok: bool = True, health: HealthCode = HealthCode.HEALTHY) -> SyncResult:
    return SyncResult(
        app="web",
        revision="",
        phase=SyncPhase.SUCCEEDED if ok else SyncPhase.FAILED,
        health=Health(health, "" if health is HealthCode.HEALTHY else "waiting for web"),
        changeset=ChangeSet(()),
        started=NOW.timestamp(),
        finished=NOW.timestamp(),
        message="" if ok else "Deployment/shop/web: field is immutable",
    )


def test_the_app_renders_the_release_alone_with_the_cluster_sources() -> None:
    app = release_app(release_obj(), [REPOSITORY])
    [release] = app.inline
    assert release.key == ResourceKey("helm.toolkit.fluxcd.io", "HelmRelease", "flux-system", "web")
    assert app.policy.automated and app.policy.prune
    assert app.destination_namespace == "shop"
    assert app.flux_sources is not None
    source = app.flux_sources(
        ResourceKey("source.toolkit.fluxcd.io", "HelmRepository", "flux-system", "charts")
    )
    assert source is not None and source.manifest["spec"]["url"].endswith("/charts")
    assert "status" not in source.manifest  # what the object says, not the server's additions
    # The same app on every replica: the identity names the object, not a path.
    assert app.source.identity.startswith("cluster:HelmRelease/flux-system/web")


def test_a_malformed_release_is_named() -> None:
    with pytest.raises(ValidationError, match="HelmRelease/flux-system/web"):
        release_app(release_obj(interval="soon"), [])


def test_suspend_and_reconcile_requests_read_as_flux_reads_them() -> None:
    assert is_suspended(release_obj(suspend=True))
    asked = release_obj()
    asked.body["metadata"]["annotations"] = {"reconcile.fluxcd.io/requestedAt": "now"}
    assert reconcile_requested(asked) == "now"


@dataclass
class Case:
    reason: str
    obj: AppObject
    result: SyncResult | None
    error: str | None
    chart: tuple[str, str]
    ready: tuple[str, str]


INSTALLED = {"history": [{"chartName": "web", "chartVersion": "1.0.0", "version": 1}]}
CASES = [
    Case(
        "first install",
        release_obj(),
        result(),
        None,
        ("web", "1.0.0"),
        ("True", "InstallSucceeded"),
    ),
    Case(
        "upgrade once a release exists",
        release_obj(status=INSTALLED),
        result(),
        None,
        ("web", "2.0.0"),
        ("True", "UpgradeSucceeded"),
    ),
    Case(
        "install failed",
        release_obj(),
        result(ok=False),
        None,
        ("web", "1.0.0"),
        ("False", "InstallFailed"),
    ),
    Case(
        "not healthy yet",
        release_obj(),
        result(health=HealthCode.PROGRESSING),
        None,
        ("web", "1.0.0"),
        ("False", "Progressing"),
    ),
    Case(
        "chart not fetched",
        release_obj(),
        None,
        "http://127.0.0.1:9/charts/index.yaml: connection refused",
        ("web", ""),
        ("False", "ArtifactFailed"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_the_ready_condition_follows_helm_controller(case: Case) -> None:
    status = release_status(
        case.obj,
        result=case.result,
        error=case.error,
        chart=case.chart,
        release=("shop-web", "shop"),
        now=NOW,
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == case.ready
    assert ready["observedGeneration"] == 3 and status["observedGeneration"] == 3
    assert status.get("lastAttemptedRevision", "") == case.chart[1]
    if case.error:
        assert case.error in ready["message"]


def test_history_adds_a_release_version_only_when_the_chart_or_values_change() -> None:
    chart, where = ("web", "1.0.0"), ("shop-web", "shop")
    first = release_history(release_obj().body, chart, where, NOW)
    assert [(h["version"], h["status"], h["firstDeployed"]) for h in first] == [
        (1, "deployed", "2026-12-04T10:00:00Z")
    ]
    again = release_history(release_obj(status={"history": first}).body, chart, where, LATER)
    assert len(again) == 1 and again[0]["lastDeployed"] == "2026-12-04T11:00:00Z"
    changed = release_obj(status={"history": again}, values={"replicas": 3})
    assert config_digest(changed.body) != config_digest(release_obj().body)
    upgraded = release_history(changed.body, chart, where, LATER)
    assert [(h["version"], h["status"]) for h in upgraded] == [(2, "deployed"), (1, "superseded")]


def test_a_release_reads_as_a_status_row_with_its_chart_version() -> None:
    from gitwave.engine.controller.requests import app_row
    from gitwave.tui.controller_client import parse_app_ref

    status = release_status(
        release_obj(),
        result=result(),
        error=None,
        chart=("web", "1.0.0"),
        release=("shop-web", "shop"),
        now=NOW,
    )
    row = app_row(release_obj(status=status))
    assert (row.kind, row.sync, row.health, row.revision) == (
        "HelmRelease",
        "Synced",
        "Healthy",
        "1.0.0",
    )
    assert parse_app_ref("hr/flux-system/web") == ("HelmRelease", "flux-system", "web")


def test_a_release_waits_for_the_releases_it_depends_on_to_be_ready() -> None:
    from gitwave.engine.controller.helm_releases import dependency_status, waiting_for

    db = AppObject(HELM_KIND, "flux-system", "db", 1, {"status": {"conditions": []}})
    web = release_obj(dependsOn=[{"name": "db"}, {"name": "cache", "namespace": "infra"}])
    assert waiting_for(web, [db]) == ["flux-system/db", "infra/cache"]
    status = dependency_status(web, waiting_for(web, [db]), NOW)
    [ready] = status["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "DependencyNotReady")
    assert "flux-system/db, infra/cache" in ready["message"]
    # Said once: the same wait writes nothing again.
    assert (
        dependency_status(release_obj(status=status), ["flux-system/db", "infra/cache"], NOW) == {}
    )
    ready_db = AppObject(
        HELM_KIND,
        "flux-system",
        "db",
        1,
        {
            "status": {
                "observedGeneration": 1,
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        },
    )
    cache = AppObject(HELM_KIND, "infra", "cache", 1, ready_db.body)
    assert waiting_for(web, [ready_db, cache]) == []
    # As helm-controller: Ready for an older generation (its spec just changed,
    # not reconciled yet) is not ready.
    changed_db = AppObject(HELM_KIND, "flux-system", "db", 2, ready_db.body)
    assert waiting_for(web, [changed_db, cache]) == ["flux-system/db"]
    # The release renders without dependsOn: each release is an app of its own here.
    [release] = release_app(web, []).inline
    assert "dependsOn" not in release.manifest["spec"]


def test_the_controller_honours_what_only_a_release_of_its_own_means() -> None:
    from gitwave.engine.apps.helmrelease_spec import parse_release
    from gitwave.engine.apps.model import KubeConfigRef

    fields: dict[str, Any] = {
        "suspend": True,
        "serviceAccountName": "deployer",
        "kubeConfig": {"secretRef": {"name": "east", "key": "config"}},
        "timeout": "10m",
        "install": {"disableWait": True, "timeout": "2m"},
        "upgrade": {"timeout": "7m"},
    }
    app = release_app(release_obj(**fields), [])
    assert not app.policy.automated  # spec.suspend: no sync (is_suspended stops the loop first)
    assert app.impersonate == "system:serviceaccount:flux-system:deployer"
    assert app.kube_config == KubeConfigRef("flux-system", "east", "config")
    # The first action is an install: its wait and timeout.
    assert (app.health.wait, app.timeout_s) == (False, 120.0)
    upgrading = release_app(release_obj(status=INSTALLED, **fields), [])
    assert (upgrading.health.wait, upgrading.timeout_s) == (True, 420.0)
    # The render sees the release without them: what Git is refused passes here.
    [release] = app.inline
    assert parse_release(release).release_name == "shop-web"


def test_a_field_the_controller_does_not_know_is_refused_by_the_render() -> None:
    from gitwave.engine.apps.helmrelease_spec import parse_release

    [release] = release_app(release_obj(upgrade={"forse": True}), []).inline
    with pytest.raises(ValidationError) as caught:
        parse_release(release)
    assert str(caught.value).startswith("HelmRelease/flux-system/web (")
    assert "spec.upgrade.forse: not a field of a Flux HelmRelease (v2)" in str(caught.value)


def test_max_history_bounds_the_history() -> None:
    body = release_obj(status=INSTALLED).body
    snapshots = [{"chartName": "web", "chartVersion": f"1.{i}.0", "version": i} for i in range(9)]
    body["status"] = {"history": snapshots[::-1]}
    assert len(release_history(body, ("web", "2.0.0"), ("shop-web", "shop"), NOW)) == 5
    body["spec"]["maxHistory"] = 2
    newest = release_history(body, ("web", "2.0.0"), ("shop-web", "shop"), NOW)
    assert [h["version"] for h in newest] == [9, 8]
    body["spec"]["maxHistory"] = 0  # Flux: unlimited
    assert len(release_history(body, ("web", "2.0.0"), ("shop-web", "shop"), NOW)) == 10

"""``gitwave controller`` reconciling Flux HelmReleases on the real local control plane.

A real chart repository (``helm package`` + ``helm repo index``) is served on
127.0.0.1; the HelmRepository and the HelmRelease are objects in the cluster
(created with the Python client, as ``kubectl apply`` would), never files in
Git. The controller runs as a subprocess and is judged by what a user sees:
the chart's objects in the target namespace and the HelmRelease's status
(``kubectl get hr``: Ready, the chart version, the history).
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    Env,
    crds,
    env,
    wait_for,
)
from tests.engine.helm_support import CONFIGMAP, ChartRepo, serve_chart_repo, write_chart

pytestmark = pytest.mark.timeout(240)
HELM = ("helm.toolkit.fluxcd.io", "v2")
SOURCE = ("source.toolkit.fluxcd.io", "v1")


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        for version in ("1.0.0", "2.0.0"):
            repo.publish(write_chart(tmp_path / "chart-src" / version, "web", version))
        yield repo


def create_release(env: Env, url: str, version: str, **extra: Any) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    env.custom.create_namespaced_custom_object(
        *SOURCE,
        env.app_ns,
        "helmrepositories",
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": env.app_ns},
            "spec": {"interval": "10m", "url": url},
        },
    )
    env.custom.create_namespaced_custom_object(
        *HELM,
        env.app_ns,
        "helmreleases",
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": env.app_ns},
            "spec": {
                "interval": "5m",
                "targetNamespace": target,
                "chart": {
                    "spec": {
                        "chart": "web",
                        "version": version,
                        "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                    }
                },
                "values": {"greeting": "hello from the cluster"},
                **extra,
            },
        },
    )


def release(env: Env) -> dict[str, Any]:
    found: dict[str, Any] = env.custom.get_namespaced_custom_object(
        *HELM, env.app_ns, "helmreleases", "web"
    )
    return found


def ready(env: Env, reason: str) -> dict[str, Any] | None:
    found = release(env)
    conditions = {c["type"]: c for c in found.get("status", {}).get("conditions", [])}
    ok = conditions.get("Ready", {})
    return found if ok.get("status") == "True" and ok.get("reason") == reason else None


def settings(env: Env, release_name: str) -> dict[str, str] | None:
    target = env.target_ns  # type: ignore[attr-defined]
    try:
        found = env.core.read_namespaced_config_map(f"{release_name}-settings", target)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return dict(found.data)


def test_a_helm_release_from_a_helm_repository_is_installed_upgraded_and_ready(
    env: Env, chart_repo: ChartRepo
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    create_release(env, chart_repo.url, "1.0.0")
    env.start("r1")
    found = wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
    name = f"{target}-web"  # Flux's release name: [targetNamespace-]name
    assert settings(env, name) == {"greeting": "hello from the cluster", "chart": "1.0.0"}
    status = found["status"]
    assert status["lastAttemptedRevision"] == "1.0.0"
    assert status["lastAttemptedReleaseAction"] == "install"
    assert status["observedGeneration"] == found["metadata"]["generation"]
    [entry] = status["history"]
    assert (entry["chartName"], entry["chartVersion"], entry["version"]) == ("web", "1.0.0", 1)
    assert (entry["name"], entry["namespace"], entry["status"]) == (name, target, "deployed")
    ready_condition = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready_condition["message"] == (
        f"Helm install succeeded for release {target}/{name}.v1 with chart web@1.0.0"
    )
    assert any(r.endswith("web-1.0.0.tgz") for r in chart_repo.requests)
    table = env.kubectl.run("get", "helmreleases", "-n", env.app_ns)
    assert "True" in table and "Helm install succeeded" in table

    upgrade = {"spec": {"chart": {"spec": {"version": "2.0.0"}}}}
    env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", upgrade)
    found = wait_for("HelmRelease web Ready (upgraded)", lambda: ready(env, "UpgradeSucceeded"))
    assert settings(env, name) == {"greeting": "hello from the cluster", "chart": "2.0.0"}
    history = found["status"]["history"]
    assert [(h["chartVersion"], h["version"], h["status"]) for h in history] == [
        ("2.0.0", 2, "deployed"),
        ("1.0.0", 1, "superseded"),
    ]


def test_a_helm_release_whose_chart_cannot_be_fetched_is_not_ready_and_names_the_url(
    env: Env,
) -> None:
    create_release(env, "http://127.0.0.1:9/charts", "1.0.0")
    env.start("r1")

    def failed() -> dict[str, Any] | None:
        conditions = {c["type"]: c for c in release(env).get("status", {}).get("conditions", [])}
        ok = conditions.get("Ready", {})
        return ok if ok.get("status") == "False" else None

    condition = wait_for("HelmRelease web Ready=False", failed)
    assert condition["reason"] == "ArtifactFailed"
    assert "http://127.0.0.1:9/charts" in condition["message"]


def test_a_refused_field_is_named_in_the_status_and_honoured_ones_apply(
    env: Env, chart_repo: ChartRepo
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    create_release(
        env,
        chart_repo.url,
        "1.0.0",
        upgrade={"remediation": {"ignoreTestFailures": True}},
        commonMetadata={"labels": {"team": "shop"}},
        install={"disableWait": True, "timeout": "2m"},
    )
    env.start("r1")

    def refused() -> dict[str, Any] | None:
        conditions = {c["type"]: c for c in release(env).get("status", {}).get("conditions", [])}
        ok = conditions.get("Ready", {})
        return ok if ok.get("status") == "False" else None

    condition = wait_for("HelmRelease web Ready=False", refused)
    assert f"HelmRelease/{env.app_ns}/web" in condition["message"]
    assert "spec.upgrade.remediation.ignoreTestFailures: not supported" in condition["message"]
    assert settings(env, f"{target}-web") is None  # nothing applied

    fix = {"spec": {"upgrade": {"remediation": None}}}
    env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", fix)
    wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
    found = env.core.read_namespaced_config_map(f"{target}-web-settings", target)
    assert found.metadata.labels["team"] == "shop"


BLOCKED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-zblocked
data:
  blocked: "yes"
"""


@pytest.fixture
def deny_blocked(env: Env) -> Iterator[None]:
    """A ValidatingAdmissionPolicy of the API server refusing, in the target
    namespace, a ConfigMap with a ``blocked`` key: a real failure in the
    middle of an apply, which gitwave's plan cannot foresee."""
    import kubernetes

    target = env.target_ns  # type: ignore[attr-defined]
    api = kubernetes.config.new_client_from_config(
        config_file=str(env.cluster.kubeconfig), context=env.cluster.context
    )
    admission = kubernetes.client.AdmissionregistrationV1Api(api)
    name = f"deny-blocked-{target}"
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["configmaps"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": target}},
                },
                "validations": [
                    {
                        "expression": "!has(object.data) || !('blocked' in object.data)",
                        "message": "blocked by policy",
                    }
                ],
            },
        }
    )
    admission.create_validating_admission_policy_binding(
        {
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        }
    )

    def refused() -> bool:
        probe = {"metadata": {"name": "probe"}, "data": {"blocked": "yes"}}
        try:
            env.core.create_namespaced_config_map(target, probe, dry_run="All")
        except ApiException as error:
            return error.status in (400, 403, 422)
        return False

    wait_for("the admission policy in force", refused)
    try:
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)
        api.close()


def test_a_failing_upgrade_is_rolled_back_retried_and_stalled(
    env: Env, tmp_path: Path, deny_blocked: None
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    with serve_chart_repo(tmp_path / "charts") as charts:
        charts.publish(write_chart(tmp_path / "src" / "1", "web", "1.0.0"))
        templates = {"configmap.yaml": CONFIGMAP, "blocked.yaml": BLOCKED}
        charts.publish(write_chart(tmp_path / "src" / "2", "web", "2.0.0", templates=templates))
        create_release(
            env, charts.url, "1.0.0", interval="5s", upgrade={"remediation": {"retries": 1}}
        )
        env.start("r1")
        wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
        name = f"{target}-web"
        assert (settings(env, name) or {})["chart"] == "1.0.0"

        upgrade = {"spec": {"chart": {"spec": {"version": "2.0.0"}}}}
        env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", upgrade)

        def stalled() -> dict[str, Any] | None:
            found = release(env)
            conditions = {c["type"]: c for c in found.get("status", {}).get("conditions", [])}
            return found if conditions.get("Stalled", {}).get("status") == "True" else None

        found = wait_for("HelmRelease web Stalled", stalled, timeout=120)
    status = found["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["upgradeFailures"] == 2  # the upgrade and its one retry
    assert conditions["Stalled"]["reason"] == "RetriesExceeded"
    assert conditions["Stalled"]["message"] == "Failed to upgrade after 2 attempt(s)"
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "RetriesExceeded"
    assert "blocked by policy" in conditions["Ready"]["message"]
    assert conditions["Remediated"]["reason"] == "RollbackSucceeded"
    # Rolled back: the first release's ConfigMap, not the one the upgrade applied.
    assert (settings(env, name) or {})["chart"] == "1.0.0"
    # Each attempt a revision (failed), each rollback one more (deployed), as helm's.
    assert [(h["version"], h["status"], h["chartVersion"]) for h in status["history"]] == [
        (5, "deployed", "1.0.0"),
        (4, "failed", "2.0.0"),
        (3, "superseded", "1.0.0"),
        (2, "failed", "2.0.0"),
        (1, "superseded", "1.0.0"),
    ]

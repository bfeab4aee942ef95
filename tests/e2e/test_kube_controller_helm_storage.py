"""A HelmRelease's releases in Helm's own storage, read back by the real ``helm``.

After the controller installs and upgrades a release, ``helm list``,
``helm history`` and ``helm get manifest`` (the real binary, against the local
control plane) show it as helm-controller's would be; a second replica with
an empty ``--state`` rolls a failed upgrade back from those Secrets.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    Env,
    crds,
    env,
    wait_for,
)
from tests.e2e.test_kube_controller_helm import (  # noqa: F401 (fixtures)
    BLOCKED,
    HELM,
    chart_repo,
    create_release,
    deny_blocked,
    ready,
    release,
    settings,
)
from tests.engine.helm_support import (
    CONFIGMAP,
    ChartRepo,
    helm_binary,
    serve_chart_repo,
    write_chart,
)

pytestmark = pytest.mark.timeout(240)


def helm(env: Env, *args: str) -> str:
    done = subprocess.run(
        [
            helm_binary(),
            *args,
            f"--kubeconfig={env.cluster.kubeconfig}",
            f"--kube-context={env.cluster.context}",
            f"--namespace={env.app_ns}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def test_helm_list_and_history_show_the_controllers_releases(
    env: Env, chart_repo: ChartRepo
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    name = f"{target}-web"
    create_release(env, chart_repo.url, "1.0.0")
    env.start("r1")
    wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
    upgrade = {"spec": {"chart": {"spec": {"version": "2.0.0"}}}}
    env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", upgrade)
    wait_for("HelmRelease web upgraded", lambda: ready(env, "UpgradeSucceeded"))

    def listed() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = json.loads(helm(env, "list", "-o", "json"))
        return rows if rows and rows[0]["revision"] == "2" else None

    [row] = wait_for("helm list at revision 2", listed)
    assert (row["name"], row["namespace"], row["status"]) == (name, target, "deployed")
    assert row["chart"] == "web-2.0.0"
    history = json.loads(helm(env, "history", name, "-o", "json"))
    assert [(h["revision"], h["status"], h["chart"]) for h in history] == [
        (1, "superseded", "web-1.0.0"),
        (2, "deployed", "web-2.0.0"),
    ]
    manifest = helm(env, "get", "manifest", name)
    assert f"name: {name}-settings" in manifest and "chart: 2.0.0" in manifest
    values = json.loads(helm(env, "get", "values", name, "-o", "json"))
    assert values == {"greeting": "hello from the cluster"}
    secrets = env.core.list_namespaced_secret(env.app_ns, label_selector="owner=helm").items
    assert sorted(s.metadata.name for s in secrets) == [
        f"sh.helm.release.v1.{name}.v1",
        f"sh.helm.release.v1.{name}.v2",
    ]
    assert {s.type for s in secrets} == {"helm.sh/release.v1"}


def test_a_replica_with_an_empty_state_rolls_back_from_helms_storage(
    env: Env, tmp_path: Path, deny_blocked: None
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    name = f"{target}-web"
    with serve_chart_repo(tmp_path / "charts") as charts:
        charts.publish(write_chart(tmp_path / "src" / "1", "web", "1.0.0"))
        templates = {"configmap.yaml": CONFIGMAP, "blocked.yaml": BLOCKED}
        charts.publish(write_chart(tmp_path / "src" / "2", "web", "2.0.0", templates=templates))
        # One attempt, remediated: the rollback the status shows is r2's first.
        remediation = {"retries": 0, "remediateLastFailure": True}
        create_release(
            env, charts.url, "1.0.0", interval="5s", upgrade={"remediation": remediation}
        )
        first = env.start("r1")
        wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
        wait_for(
            "the release Secret",
            lambda: (
                env.core.list_namespaced_secret(
                    env.app_ns, label_selector=f"owner=helm,name={name}"
                ).items
            ),
        )
        first.proc.send_signal(signal.SIGTERM)
        first.proc.wait(timeout=60)

        upgrade = {"spec": {"chart": {"spec": {"version": "2.0.0"}}}}
        env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", upgrade)
        # Another replica, whose --state never saw this release.
        env.start("r2")

        def stalled() -> dict[str, Any] | None:
            found = release(env)
            conditions = {c["type"]: c for c in found.get("status", {}).get("conditions", [])}
            return found if conditions.get("Stalled", {}).get("status") == "True" else None

        found = wait_for("HelmRelease web Stalled", stalled, timeout=120)
    conditions = {c["type"]: c for c in found["status"]["conditions"]}
    assert conditions["Remediated"]["reason"] == "RollbackSucceeded"
    assert "Helm's storage" in conditions["Remediated"]["message"]
    # The first release's objects, restored by a replica that never released it.
    assert (settings(env, name) or {})["chart"] == "1.0.0"
    # The rollback is a revision of its own, as helm rollback's: 3, of 1's chart.
    [row] = json.loads(helm(env, "list", "-o", "json"))
    assert (row["revision"], row["chart"], row["status"]) == ("3", "web-1.0.0", "deployed")


def test_an_upgrade_remediated_by_uninstall_deletes_the_release_secrets(
    env: Env, tmp_path: Path, deny_blocked: None
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    name = f"{target}-web"
    with serve_chart_repo(tmp_path / "charts") as charts:
        charts.publish(write_chart(tmp_path / "src" / "1", "web", "1.0.0"))
        templates = {"configmap.yaml": CONFIGMAP, "blocked.yaml": BLOCKED}
        charts.publish(write_chart(tmp_path / "src" / "2", "web", "2.0.0", templates=templates))
        remediation = {"retries": 0, "remediateLastFailure": True, "strategy": "uninstall"}
        create_release(
            env, charts.url, "1.0.0", interval="5s", upgrade={"remediation": remediation}
        )
        env.start("r1")
        wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
        assert json.loads(helm(env, "list", "-o", "json"))[0]["name"] == name

        upgrade = {"spec": {"chart": {"spec": {"version": "2.0.0"}}}}
        env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", upgrade)

        def remediated() -> dict[str, Any] | None:
            found = release(env)
            conditions = {c["type"]: c for c in found.get("status", {}).get("conditions", [])}
            return conditions.get("Remediated")

        condition = wait_for("HelmRelease web remediated", remediated, timeout=120)
    assert condition["reason"] == "UninstallSucceeded"
    assert settings(env, name) is None
    assert json.loads(helm(env, "list", "--all", "-o", "json")) == []
    assert not env.core.list_namespaced_secret(env.app_ns, label_selector="owner=helm").items

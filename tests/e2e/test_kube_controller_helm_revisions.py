"""A HelmRelease's revisions as the real ``helm history`` shows them, on the real
local control plane: a failed upgrade is a ``failed`` revision in Helm's
storage, its rollback a new ``deployed`` one ("Rollback to 1"), as helm's
own; ``gitwave refresh hr/NAME --force`` (``flux reconcile hr --force``) makes
an upgrade revision with nothing changed.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    GITWAVE,
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
from tests.e2e.test_kube_controller_helm_storage import helm
from tests.engine.helm_support import CONFIGMAP, ChartRepo, serve_chart_repo, write_chart

pytestmark = pytest.mark.timeout(300)


def history(env: Env, name: str) -> list[tuple[int, str, str, str]]:
    rows = json.loads(helm(env, "history", name, "-o", "json"))
    return [(r["revision"], r["status"], r["chart"], r["description"]) for r in rows]


def test_a_failed_upgrade_and_its_rollback_are_revisions_helm_history_shows(
    env: Env, tmp_path: Path, deny_blocked: None
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    name = f"{target}-web"
    with serve_chart_repo(tmp_path / "charts") as charts:
        charts.publish(write_chart(tmp_path / "src" / "1", "web", "1.0.0"))
        templates = {"configmap.yaml": CONFIGMAP, "blocked.yaml": BLOCKED}
        charts.publish(write_chart(tmp_path / "src" / "2", "web", "2.0.0", templates=templates))
        remediation = {"retries": 0, "remediateLastFailure": True}
        create_release(env, charts.url, "1.0.0", upgrade={"remediation": remediation})
        env.start("r1")
        wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
        upgrade = {"spec": {"chart": {"spec": {"version": "2.0.0"}}}}
        env.custom.patch_namespaced_custom_object(*HELM, env.app_ns, "helmreleases", "web", upgrade)

        def stalled() -> dict[str, Any] | None:
            found = release(env)
            conditions = {c["type"]: c for c in found.get("status", {}).get("conditions", [])}
            return found if conditions.get("Stalled", {}).get("status") == "True" else None

        found = wait_for("HelmRelease web Stalled", stalled, timeout=120)
    shown = history(env, name)
    assert [row[:3] for row in shown] == [
        (1, "superseded", "web-1.0.0"),
        (2, "failed", "web-2.0.0"),
        (3, "deployed", "web-1.0.0"),
    ]
    assert shown[1][3].startswith(f'Upgrade "{name}" failed: ')
    assert shown[2][3] == "Rollback to 1"
    assert "chart: 1.0.0" in helm(env, "get", "manifest", name)
    assert [(h["version"], h["status"]) for h in found["status"]["history"]] == [
        (3, "deployed"),
        (2, "failed"),
        (1, "superseded"),
    ]
    assert (settings(env, name) or {})["chart"] == "1.0.0"


def test_refresh_force_makes_an_upgrade_revision_with_nothing_changed(
    env: Env, chart_repo: ChartRepo
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    name = f"{target}-web"
    create_release(env, chart_repo.url, "1.0.0")
    env.start("r1")
    wait_for("HelmRelease web installed", lambda: ready(env, "InstallSucceeded"))
    wait_for("revision 1 in Helm's storage", lambda: history(env, name))
    done = subprocess.run(
        [
            str(GITWAVE),
            "refresh",
            f"hr/{env.app_ns}/web",
            "--force",
            "-o",
            "json",
            f"--kubeconfig={env.cluster.kubeconfig}",
            f"--context={env.cluster.context}",
            f"--state={env.tmp / 'operator-state'}",
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert (row["app"], row["health"], row["revision"]) == (
        f"HelmRelease/{env.app_ns}/web",
        "Healthy",
        "1.0.0",
    )
    found = release(env)
    asked = found["metadata"]["annotations"]["reconcile.fluxcd.io/forceAt"]
    assert found["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"] == asked
    assert found["status"]["lastHandledForceAt"] == asked
    assert [row[:3] for row in history(env, name)] == [
        (1, "superseded", "web-1.0.0"),
        (2, "deployed", "web-1.0.0"),
    ]

"""The CLI against a running ``gitwave controller`` (``--controller``), on the real
local control plane.

The controller runs as a subprocess (as in test_kube_controller.py); the
operator's commands run as ``gitwave … --controller --context C`` and are
judged by what a user sees: their output and exit code, the app objects (the
``operation`` field, annotations, ``spec.suspend``) and the objects the
controller applied. Nothing is applied by the CLI itself: every change in the
target namespace comes from the controller, which the audit lines show.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    ARGO,
    GITWAVE,
    Env,
    commit,
    crds,
    env,
    wait_for,
)

pytestmark = pytest.mark.timeout(420)

FLUX_KS = ("kustomize.toolkit.fluxcd.io", "v1")


def write_app(repo: Path, name: str, namespace: str, greeting: str) -> None:
    (repo / name).mkdir(exist_ok=True)
    (repo / name / "config.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\n"
        f"  namespace: {namespace}\ndata:\n  greeting: {greeting}\n"
    )


def gitwave(env: Env, *argv: str) -> subprocess.CompletedProcess[str]:
    """``gitwave ARGV --controller`` against the test cluster, as an operator runs it."""
    return subprocess.run(
        [
            str(GITWAVE),
            *argv,
            "--controller",
            f"--kubeconfig={env.cluster.kubeconfig}",
            f"--context={env.cluster.context}",
            f"--state={env.tmp / 'operator-state'}",
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )


def greeting(env: Env, name: str) -> str:
    target = env.target_ns  # type: ignore[attr-defined]
    return str(env.core.read_namespaced_config_map(f"{name}-config", target).data["greeting"])


def rows(env: Env, *argv: str) -> dict[str, dict[str, Any]]:
    done = gitwave(env, "status", *argv, "-o", "json")
    assert done.returncode == 0, done.stderr
    return {row["app"]: row for row in json.loads(done.stdout)}


def test_status_sync_history_rollback_and_suspend_of_an_application(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    write_app(env.repo, "shop", target, "one")
    first = commit(env.repo, "shop one")
    env.application("shop", automated=False, namespace=target)
    controller = env.start("r1")
    app_id = f"Application/{env.app_ns}/shop"

    # status: what the controller wrote (a manual app is compared, not synced).
    listed = wait_for(
        "status --controller shows shop OutOfSync",
        lambda: (r := rows(env, "-n", env.app_ns)).get(app_id, {}).get("sync") == "OutOfSync" and r,
    )
    assert listed[app_id]["revision"] == first
    assert listed[app_id]["automated"] is False
    table = gitwave(env, "status", "-n", env.app_ns)
    assert table.returncode == 0, table.stderr
    assert "shop" in table.stdout and "OutOfSync" in table.stdout and "Manual" in table.stdout

    # sync: sets the operation (argocd app sync), waits for the controller to run it.
    synced = gitwave(env, "sync", f"{env.app_ns}/shop")
    assert synced.returncode == 0, synced.stderr
    assert "Synced" in synced.stdout and "Succeeded" in synced.stdout
    assert greeting(env, "shop") == "one"
    assert "operation" not in env.app("shop")
    state = env.status("shop")["operationState"]
    assert "username" in state["operation"]["initiatedBy"]
    # The controller applied it, not the CLI: its audit has the sync.
    assert [line["app_id"] for line in controller.audit] == [app_id]

    write_app(env.repo, "shop", target, "two")
    second = commit(env.repo, "shop two")
    assert gitwave(env, "sync", "app/shop", "-n", env.app_ns).returncode == 0
    assert greeting(env, "shop") == "two"

    history = gitwave(env, "history", f"{env.app_ns}/shop", "-o", "json")
    assert history.returncode == 0, history.stderr
    entries = json.loads(history.stdout)
    assert [(e["id"], e["revision"]) for e in entries] == [(0, first), (1, second)]

    # rollback to id 0: an operation at that entry's revision, run by the controller.
    rolled = gitwave(env, "rollback", f"{env.app_ns}/shop", "0")
    assert rolled.returncode == 0, rolled.stderr
    assert greeting(env, "shop") == "one"
    status = env.status("shop")
    assert status["operationState"]["syncResult"]["revision"] == first
    assert [h["revision"] for h in status["history"]] == [first, second, first]
    assert len(controller.audit) == 3
    # HEAD is still "two": the controller now compares the app as OutOfSync.
    wait_for(
        "shop OutOfSync after the rollback",
        lambda: rows(env, "-n", env.app_ns)[app_id]["sync"] == "OutOfSync",
    )

    # The timeline in the cluster: each operation's start and end as Events.
    events = gitwave(env, "events", f"{env.app_ns}/shop", "-o", "json")
    assert events.returncode == 0, events.stderr
    timeline = json.loads(events.stdout)
    assert [(e["reason"], e["replica"], e["phase"]) for e in timeline] == [
        ("OperationStarted", "r1", "Running"),
        ("OperationCompleted", "r1", "Succeeded"),
    ] * 3
    shown = gitwave(env, "events", f"{env.app_ns}/shop").stdout
    assert "OperationCompleted" in shown and "Sync by" in shown

    unknown = gitwave(env, "rollback", f"{env.app_ns}/shop", "7")
    assert unknown.returncode == 2
    assert "no history entry 7 (ids: 0, 1, 2)" in unknown.stderr

    # suspend: Argo CD's skip-reconcile annotation; a sync is refused meanwhile.
    suspended = gitwave(env, "suspend", f"{env.app_ns}/shop")
    assert suspended.returncode == 0, suspended.stderr
    annotations = env.app("shop")["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/skip-reconcile"] == "true"
    assert rows(env, "-n", env.app_ns)[app_id]["suspended"] is True
    refused = gitwave(env, "sync", f"{env.app_ns}/shop")
    assert refused.returncode == 2
    assert "suspended" in refused.stderr
    assert "operation" not in env.app("shop")
    resumed = gitwave(env, "resume", f"{env.app_ns}/shop")
    assert resumed.returncode == 0, resumed.stderr
    assert "argocd.argoproj.io/skip-reconcile" not in (
        env.app("shop")["metadata"].get("annotations") or {}
    )
    assert gitwave(env, "sync", f"{env.app_ns}/shop").returncode == 0
    assert greeting(env, "shop") == "two"


def test_suspend_reconcile_and_resume_of_a_flux_kustomization(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    write_app(env.repo, "feed", target, "one")
    commit(env.repo, "feed one")
    env.git_repository()
    env.kustomization("feed")
    env.start("r1")
    app_id = f"Kustomization/{env.app_ns}/feed"
    wait_for(
        "feed Ready",
        lambda: rows(env, "-A").get(app_id, {}).get("health") == "Healthy",
    )
    assert greeting(env, "feed") == "one"

    suspended = gitwave(env, "suspend", f"ks/{env.app_ns}/feed")
    assert suspended.returncode == 0, suspended.stderr
    ks = env.custom.get_namespaced_custom_object(*FLUX_KS, env.app_ns, "kustomizations", "feed")
    assert ks["spec"]["suspend"] is True

    write_app(env.repo, "feed", target, "two")
    second = commit(env.repo, "feed two")
    refused = gitwave(env, "sync", f"ks/{env.app_ns}/feed")
    assert refused.returncode == 2 and "suspended" in refused.stderr
    # A reconcile request made anyway (kubectl annotate, as flux reconcile would)
    # is answered but nothing is applied while suspended.
    env.kubectl.run(
        "annotate",
        "--overwrite",
        "-n",
        env.app_ns,
        "kustomization/feed",
        "reconcile.fluxcd.io/requestedAt=while-suspended",
    )
    wait_for(
        "the request answered",
        lambda: (
            env.custom.get_namespaced_custom_object(*FLUX_KS, env.app_ns, "kustomizations", "feed")[
                "status"
            ].get("lastHandledReconcileAt")
            == "while-suspended"
        ),
    )
    assert greeting(env, "feed") == "one"

    # resume: spec.suspend false plus a reconcile request, waited for (flux resume).
    resumed = gitwave(env, "resume", f"ks/{env.app_ns}/feed")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert greeting(env, "feed") == "two"
    assert rows(env, "-A")[app_id]["revision"] == second
    ks = env.custom.get_namespaced_custom_object(*FLUX_KS, env.app_ns, "kustomizations", "feed")
    assert ks["spec"]["suspend"] is False

    # sync: flux reconcile ks, answered through status.lastHandledReconcileAt.
    write_app(env.repo, "feed", target, "three")
    third = commit(env.repo, "feed three")
    synced = gitwave(env, "sync", f"ks/{env.app_ns}/feed")
    assert synced.returncode == 0, synced.stderr
    assert greeting(env, "feed") == "three"
    assert rows(env, "-A")[app_id]["revision"] == third

    # Flux's status.history in the cluster: one entry per applied set, oldest first here.
    history = gitwave(env, "history", f"ks/{env.app_ns}/feed", "-o", "json")
    assert history.returncode == 0, history.stderr
    revisions = [e["revision"] for e in json.loads(history.stdout)]
    assert revisions[-2:] == [second, third]

    no_history = gitwave(env, "rollback", f"ks/{env.app_ns}/feed")
    assert no_history.returncode == 2
    assert "Flux has no rollback" in no_history.stderr


def test_controller_mode_names_what_it_cannot_find(env: Env) -> None:
    missing = gitwave(env, "sync", f"{env.app_ns}/nope")
    assert missing.returncode == 2
    assert f"{env.app_ns}/nope: no Application, Kustomization or HelmRelease" in missing.stderr
    empty = gitwave(env, "status", "-n", env.app_ns)
    assert empty.returncode == 2
    assert f"no Application or Kustomization in namespace {env.app_ns}" in empty.stderr


@pytest.mark.anyio
async def test_the_tui_in_controller_mode_syncs_and_suspends_through_the_objects(env: Env) -> None:
    from gitwave.providers.kubernetes.controller_api import KubeControllerApi
    from gitwave.tui.controller_client import ControllerClient
    from gitwave.tui.remote_app import ControllerApp
    from gitwave.tui.screens.modals import ConfirmScreen
    from tests.tui.test_app_support import screen_text, until

    target = env.target_ns  # type: ignore[attr-defined]
    write_app(env.repo, "board", target, "one")
    commit(env.repo, "board")
    env.application("board", automated=False, namespace=target)
    controller = env.start("r1")
    app_id = f"Application/{env.app_ns}/board"
    api = KubeControllerApi.connect(
        context=env.cluster.context,
        kubeconfig=str(env.cluster.kubeconfig),
        namespace="",
        in_cluster=False,
    )
    app = ControllerApp(
        ControllerClient(api, user="tester"), where="test", namespace=env.app_ns, refresh_s=0.5
    )
    async with app.run_test(size=(140, 30)) as pilot:
        await until(
            pilot,
            lambda: [(r.app_id, r.sync) for r in app.rows] == [(app_id, "OutOfSync")],
            what="board OutOfSync in the list",
        )
        assert "board" in screen_text(app) and "Manual" in screen_text(app)

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="sync dialog")
        await pilot.press("y")
        await until(pilot, lambda: bool(app.finished), what="the sync to end")
        assert app.finished == [(app_id, "sync", True)]
        assert greeting(env, "board") == "one"
        assert [line["app_id"] for line in controller.audit] == [app_id]
        assert env.status("board")["operationState"]["operation"]["initiatedBy"] == {
            "username": "tester"
        }
        await until(
            pilot,
            lambda: [(r.sync, r.health) for r in app.rows] == [("Synced", "Healthy")],
            what="board Synced and Healthy in the list",
        )

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="pause dialog")
        await pilot.press("y")
        await until(pilot, lambda: len(app.finished) == 2, what="the suspend")
        annotations = env.app("board")["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/skip-reconcile"] == "true"
        await until(pilot, lambda: app.rows[0].suspended, what="Suspended in the list")
        assert "Suspended" in screen_text(app)

        # A sync of a suspended app is refused before anything is asked.
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="sync dialog")
        await pilot.press("y")
        await until(pilot, lambda: len(app.finished) == 3, what="the refused sync")
        assert app.finished[-1] == (app_id, "sync", False)
        assert "operation" not in env.app("board")
    api.api_client.close()


def test_bootstrap_installs_gitwave_then_the_controller_manages_itself_from_git(env: Env) -> None:
    """``gitwave bootstrap --context C REPO PATH`` as flux bootstrap: the install and
    the self-managing Application committed under PATH and synced once from here;
    then the controller (a process here, the Deployment in a real cluster)
    applies a change to its own manifests from Git."""
    import git

    (env.repo / "README.md").write_text("fleet\n")
    commit(env.repo, "initial")
    done = subprocess.run(
        [
            str(GITWAVE),
            "bootstrap",
            f"--kubeconfig={env.cluster.kubeconfig}",
            f"--context={env.cluster.context}",
            f"--state={env.tmp / 'operator-state'}",
            str(env.repo),
            "clusters/test",
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "manages itself" in done.stdout
        head = git.Repo(env.repo).head.commit
        assert head.message.startswith("gitwave bootstrap")
        written = sorted(str(Path(p)) for p in head.stats.files)
        assert "clusters/test/gitwave-app.yaml" in written
        assert "clusters/test/gitwave-system/controller/deployment.yaml" in written
        assert "clusters/test/gitwave-system/crds/argoproj.io_applications.yaml" in written
        # Installed by the one sync from this machine: the controller and its Application.
        apps = kubernetes_apps(env)
        deployment = apps.read_namespaced_deployment("gitwave-controller", "gitwave-system")
        assert deployment.spec.replicas == 2
        # With the tracking id the controller writes (its Kind/namespace/name),
        # so its first sync finds the objects its own as they are.
        tracking = deployment.metadata.annotations["gitwave.dev/tracking-id"]
        assert tracking.startswith("Application/gitwave-system/gitwave@")
        self_app = env.custom.get_namespaced_custom_object(
            *ARGO, "gitwave-system", "applications", "gitwave"
        )
        assert self_app["spec"]["source"] == {
            "repoURL": f"file://{env.repo}",
            "path": "clusters/test",
            "targetRevision": "main",
        }

        # The controller takes over: it syncs the gitwave app from Git ...
        env.start("r1", extra=("--resync=2s",))

        def self_synced() -> bool:
            found = env.custom.get_namespaced_custom_object(
                *ARGO, "gitwave-system", "applications", "gitwave"
            )
            status = found.get("status") or {}
            return (status.get("operationState") or {}).get("phase") == "Succeeded"

        wait_for("the controller synced its own Application", self_synced, timeout=120)
        # ... and a change to its own Deployment in Git is applied by itself.
        manifest = env.repo / "clusters/test/gitwave-system/controller/deployment.yaml"
        manifest.write_text(manifest.read_text().replace("replicas: 2", "replicas: 1", 1))
        commit(env.repo, "one controller replica")
        wait_for(
            "the controller applied its own change from Git",
            lambda: (
                apps.read_namespaced_deployment(
                    "gitwave-controller", "gitwave-system"
                ).spec.replicas
                == 1
            ),
            timeout=120,
        )
    finally:
        # Other tests' controllers read every namespace: leave no automated app behind.
        with contextlib.suppress(Exception):
            env.custom.delete_namespaced_custom_object(
                *ARGO, "gitwave-system", "applications", "gitwave"
            )


def kubernetes_apps(env: Env) -> Any:
    import kubernetes

    return kubernetes.client.AppsV1Api(env.core.api_client)


def test_an_app_project_in_the_controller_namespace_restricts_its_applications(env: Env) -> None:
    """AppProjects are read from the cluster (the controller's namespace, as Argo CD
    reads its own): one that refuses the repo stops the app before anything is
    applied, with Argo's ComparisonError; allowing it lets the app sync."""
    target = env.target_ns  # type: ignore[attr-defined]
    write_app(env.repo, "fenced", target, "one")
    commit(env.repo, "fenced")
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team", "namespace": env.lease_ns},
        "spec": {
            "sourceRepos": ["https://github.com/team/*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "sourceNamespaces": [env.app_ns],
        },
    }
    env.custom.create_namespaced_custom_object(*ARGO, env.lease_ns, "appprojects", project)
    env.custom.create_namespaced_custom_object(
        *ARGO,
        env.app_ns,
        "applications",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "fenced", "namespace": env.app_ns},
            "spec": {
                "project": "team",
                "source": {
                    "repoURL": f"file://{env.repo}",
                    "path": "fenced",
                    "targetRevision": "HEAD",
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": target},
                "syncPolicy": {"automated": {}},
            },
        },
    )
    controller = env.start("r1")

    def refused() -> str:
        conditions = env.status("fenced").get("conditions") or []
        return next((c["message"] for c in conditions if c["type"] == "ComparisonError"), "")

    message = wait_for("the project's refusal in status", refused)
    assert "sourceRepos does not allow" in message and "team" in message
    assert controller.audit == []
    assert not env.core.list_namespaced_config_map(
        target, field_selector="metadata.name=fenced-config"
    ).items

    env.custom.patch_namespaced_custom_object(
        *ARGO, env.lease_ns, "appprojects", "team", {"spec": {"sourceRepos": ["*"]}}
    )
    wait_for(
        "fenced synced once its project allows it",
        lambda: (env.status("fenced").get("operationState") or {}).get("phase") == "Succeeded",
    )
    assert greeting(env, "fenced") == "one"
    assert "conditions" not in env.status("fenced")  # the refusal is gone with its cause

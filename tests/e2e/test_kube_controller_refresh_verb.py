"""``gitwave refresh APP`` against ``gitwave controller`` on the real local control plane.

The replica runs with ``--resync=1h``: without a request nothing would look at
an app again for an hour, so what the verb prints after a new commit can only
come from the look it asked for. Judged by what an operator sees: the exit
code, the printed sync/health/revision, the annotation gone (Argo) or
``lastHandledReconcileAt`` equal to the request (Flux), the objects applied.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    GITWAVE,
    Env,
    commit,
    crds,
    env,
    wait_for,
)
from tests.e2e.test_kube_controller_cli import FLUX_KS, gitwave, greeting, rows, write_app
from tests.tui.test_cli_output_forms import check_contract

pytestmark = pytest.mark.timeout(420)

REFRESH = "argocd.argoproj.io/refresh"


def refresh(env: Env, *argv: str) -> tuple[int, str, str]:
    """``gitwave refresh ARGV`` against the test cluster (a controller verb: no --controller)."""
    done = subprocess.run(
        [
            str(GITWAVE),
            "refresh",
            *argv,
            f"--kubeconfig={env.cluster.kubeconfig}",
            f"--context={env.cluster.context}",
            f"--state={env.tmp / 'operator-state'}",
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )
    return done.returncode, done.stdout, done.stderr


def test_refresh_of_a_manual_application_compares_with_the_new_commit_and_waits(
    env: Env,
) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    write_app(env.repo, "shop", target, "one")
    first = commit(env.repo, "shop one")
    env.application("shop", automated=False, namespace=target)
    env.start("r1")
    app_id = f"Application/{env.app_ns}/shop"
    wait_for(
        "shop compared at the first commit",
        lambda: rows(env, "-n", env.app_ns).get(app_id, {}).get("revision") == first,
    )
    write_app(env.repo, "shop", target, "two")
    second = commit(env.repo, "shop two")

    code, out, err = refresh(env, "shop", "-n", env.app_ns, "-o", "json")
    assert code == 0, err
    row = json.loads(out)
    check_contract(row)  # the -o json contract every verb keeps (test_cli_output_forms)
    # Compared with the new commit, not synced (a manual app): OutOfSync is the answer.
    assert (row["app"], row["revision"], row["sync"], row["acted"]) == (
        app_id,
        second,
        "OutOfSync",
        True,
    )
    assert REFRESH not in (env.app("shop")["metadata"].get("annotations") or {})
    with pytest.raises(Exception, match="Not Found"):
        greeting(env, "shop")  # nothing applied: the refresh compares only

    # --hard, table output: progress on stderr, the row on stdout.
    code, out, err = refresh(env, f"app/{env.app_ns}/shop", "--hard")
    assert code == 0, err
    assert f"► asking the controller for a hard refresh of {app_id}" in err
    assert "◎ waiting for the controller" in err
    assert f"✔ {app_id}: OutOfSync" in err
    assert "shop" in out and "OutOfSync" in out

    # --no-wait: the annotation is set and the verb returns at once.
    code, out, err = refresh(env, f"{env.app_ns}/shop", "--hard", "--no-wait", "-o", "json")
    assert code == 0, err
    assert json.loads(out) == {"app": app_id, "requested": True}
    wait_for(
        "the hard refresh asked without waiting done too",
        lambda: REFRESH not in (env.app("shop")["metadata"].get("annotations") or {}),
    )


def test_refresh_of_a_flux_kustomization_reconciles_it_as_flux_reconcile(env: Env) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    write_app(env.repo, "feed", target, "one")
    commit(env.repo, "feed one")
    env.git_repository()
    env.kustomization("feed")
    env.start("r1")
    app_id = f"Kustomization/{env.app_ns}/feed"
    wait_for("feed Ready", lambda: rows(env, "-A").get(app_id, {}).get("health") == "Healthy")
    write_app(env.repo, "feed", target, "two")
    second = commit(env.repo, "feed two")

    code, out, err = refresh(env, f"ks/{env.app_ns}/feed", "-o", "json")
    assert code == 0, err
    row = json.loads(out)
    assert (row["revision"], row["health"], row["sync"]) == (second, "Healthy", "Synced")
    assert greeting(env, "feed") == "two"
    ks = env.custom.get_namespaced_custom_object(*FLUX_KS, env.app_ns, "kustomizations", "feed")
    asked = ks["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    assert ks["status"]["lastHandledReconcileAt"] == asked

    # A suspended Kustomization: refused as flux reconcile does, nothing asked.
    assert gitwave(env, "suspend", f"ks/{env.app_ns}/feed").returncode == 0
    code, _, err = refresh(env, f"ks/{env.app_ns}/feed")
    assert code == 2 and f"{app_id}: suspended" in err
    ks = env.custom.get_namespaced_custom_object(*FLUX_KS, env.app_ns, "kustomizations", "feed")
    assert ks["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"] == asked


def test_refresh_names_the_object_it_cannot_find(env: Env) -> None:
    code, _, err = refresh(env, f"hr/{env.app_ns}/nope")
    assert code == 2
    assert f"hr/{env.app_ns}/nope: no HelmRelease of that name in namespace {env.app_ns}" in err
    code, _, err = refresh(env, "nope", "-n", env.app_ns)
    assert code == 2
    assert "nope: no Application, Kustomization or HelmRelease of that name" in err

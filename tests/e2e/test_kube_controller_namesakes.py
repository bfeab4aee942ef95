"""``gitwave controller``: two Applications ``web`` of one repository path in two
namespaces are two apps on the real local control plane (issue 16).

Argo CD's apps in any namespace track ``<namespace>_<name>``; gitwave's
controller writes ``Application/<namespace>/web@<source>`` as the tracking id.
Judged by what a user sees: the objects in the target namespaces, their
tracking ids, the Applications' status, and the objects left after one
Application is deleted with its resources-finalizer (a prune of everything it
applied).
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from gitwave.engine.model import ANNOTATION_TRACKING_ID
from tests.e2e.test_kube_contract import unique
from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    ARGO,
    Env,
    commit,
    crds,
    env,
    wait_for,
)

pytestmark = pytest.mark.timeout(240)

FINALIZER = "resources-finalizer.argocd.argoproj.io"


@pytest.fixture
def team_b(env: Env) -> Iterator[str]:
    """A second namespace for Applications; its Applications' finalizers are
    dropped at the end (the controller is gone by then) so it can be deleted."""
    namespace = unique("gw-apps-b")
    env.core.create_namespace({"metadata": {"name": namespace}})
    yield namespace
    for proc in env.procs:
        print(f"--- {proc.replica} stderr ---", *proc.stderr[-60:], sep="\n")
    for ns in (env.app_ns, namespace):
        for app in env.custom.list_namespaced_custom_object(*ARGO, ns, "applications")["items"]:
            with contextlib.suppress(ApiException):
                env.custom.patch_namespaced_custom_object(
                    *ARGO,
                    ns,
                    "applications",
                    app["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )
    env.core.delete_namespace(namespace)


def web_dir(env: Env) -> None:
    """``web/``: a ConfigMap without a namespace, so each Application's
    destination namespace decides where it goes."""
    (env.repo / "web").mkdir()
    (env.repo / "web" / "config.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: web-config
            data:
              greeting: hello from web
            """
        )
    )
    commit(env.repo, "web")


def web_app(env: Env, namespace: str, destination: str) -> None:
    """An automated Application ``web`` in ``namespace`` of the repo's ``web/``,
    with Argo CD's resources-finalizer (deleting it prunes what it applied)."""
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": namespace, "finalizers": [FINALIZER]},
        "spec": {
            "project": "default",
            "source": {"repoURL": f"file://{env.repo}", "path": "web", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": destination},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
    env.custom.create_namespaced_custom_object(*ARGO, namespace, "applications", body)


def status(env: Env, namespace: str) -> dict[str, Any]:
    found = env.custom.get_namespaced_custom_object(*ARGO, namespace, "applications", "web")
    return dict(found.get("status") or {})


def synced(env: Env, namespace: str) -> dict[str, Any] | None:
    found = status(env, namespace)
    return found if found.get("sync", {}).get("status") == "Synced" else None


def tracking_id(env: Env, namespace: str) -> str | None:
    """The tracking id of ``web-config`` in ``namespace``; None when it is absent."""
    try:
        found = env.core.read_namespaced_config_map("web-config", namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return str((found.metadata.annotations or {}).get(ANNOTATION_TRACKING_ID))


def app_gone(env: Env, namespace: str) -> bool:
    try:
        env.custom.get_namespaced_custom_object(*ARGO, namespace, "applications", "web")
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def delete_web(env: Env, namespace: str) -> None:
    env.custom.delete_namespaced_custom_object(*ARGO, namespace, "applications", "web")
    wait_for(
        f"Application {namespace}/web deleted (its finalizer done)",
        lambda: app_gone(env, namespace),
    )


def test_namesakes_with_two_destinations_each_own_and_prune_only_their_objects(
    env: Env, team_b: str
) -> None:
    team_a, target_a = env.app_ns, env.target_ns  # type: ignore[attr-defined]
    target_b = unique("gw-target-b")
    env.core.create_namespace({"metadata": {"name": target_b}})
    try:
        web_dir(env)
        web_app(env, team_a, target_a)
        web_app(env, team_b, target_b)
        env.start("r1")
        for namespace in (team_a, team_b):
            wait_for(f"{namespace}/web Synced", lambda n=namespace: synced(env, n), timeout=120)
        ids = {ns: tracking_id(env, ns) for ns in (target_a, target_b)}
        assert str(ids[target_a]).startswith(f"Application/{team_a}/web@")
        assert str(ids[target_b]).startswith(f"Application/{team_b}/web@")
        # One repository path: one source digest, and still two owners.
        digests = {str(v).partition("@")[2].partition(":")[0] for v in ids.values()}
        assert len(digests) == 1 and "" not in digests

        # Deleting team-b's web prunes what it applied, and nothing of team-a's web.
        delete_web(env, team_b)
        assert tracking_id(env, target_b) is None
        assert tracking_id(env, target_a) == ids[target_a]
        assert synced(env, team_a)
    finally:
        env.core.delete_namespace(target_b)


def test_a_namesake_rendering_the_same_object_is_refused_and_its_deletion_prunes_nothing(
    env: Env, team_b: str
) -> None:
    team_a, target = env.app_ns, env.target_ns  # type: ignore[attr-defined]
    web_dir(env)
    web_app(env, team_a, target)
    replica = env.start("r1")
    wait_for(f"{team_a}/web Synced", lambda: synced(env, team_a), timeout=120)
    theirs = tracking_id(env, target)
    assert str(theirs).startswith(f"Application/{team_a}/web@")

    # team-b's web renders the very same ConfigMap: Argo CD's SharedResource,
    # refused, naming the other app; the object stays team-a's.
    web_app(env, team_b, target)
    refused = wait_for(
        f"{team_b}/web refused",
        lambda: (
            (s := status(env, team_b)).get("operationState", {}).get("phase") in ("Failed", "Error")
            and s
        ),
        timeout=120,
    )
    message = refused["operationState"]["message"]
    assert f"ConfigMap/{target}/web-config is managed by app Application/{team_a}/web" in message
    assert f"this app is Application/{team_b}/web" in message
    assert tracking_id(env, target) == theirs
    assert synced(env, team_a)

    # Deleting team-b's web (finalizer: prune all it applied) deletes nothing of team-a's.
    delete_web(env, team_b)
    assert tracking_id(env, target) == theirs
    finished = {r["app_id"]: r["phase"] for r in replica.audit}
    assert finished[f"Application/{team_a}/web"] == "Succeeded"

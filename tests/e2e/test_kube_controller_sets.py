"""``gitwave controller`` reconciling ApplicationSets on the real local control plane.

The set is created with the Python client as a user (``kubectl apply``) would;
the controller runs as a subprocess and is judged by what a user sees: the
Application objects the set generates (owned by it, synced, with status),
the objects those apply in the target namespace, and the set's conditions.
"""

# ruff: noqa: F811 (``env`` is the imported fixture, taken as the tests' argument)
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.e2e.test_kube_controller import (  # noqa: F401 (fixtures)
    ARGO,
    Env,
    add_app_dir,
    commit,
    crds,
    env,
    wait_for,
)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def _controller_log_on_failure(env: Env) -> Iterator[None]:
    """The controller's stderr in the report of a failed test (what it logged);
    then the set deleted and its Applications' finalizers dropped, so the app
    namespace can go once the controller is stopped."""
    yield
    for proc in env.procs:
        print(f"--- {proc.replica} stderr ---", *proc.stderr[-60:], sep="\n")
    with contextlib.suppress(ApiException):
        env.custom.delete_namespaced_custom_object(*ARGO, env.app_ns, "applicationsets", "web")
    for app in env.custom.list_namespaced_custom_object(*ARGO, env.app_ns, "applications")["items"]:
        with contextlib.suppress(ApiException):
            env.custom.patch_namespaced_custom_object(
                *ARGO,
                env.app_ns,
                "applications",
                app["metadata"]["name"],
                {"metadata": {"finalizers": None}},
            )


def create_set(env: Env, elements: list[str], *, preserve: bool = False) -> None:
    target = env.target_ns  # type: ignore[attr-defined]
    spec: dict[str, Any] = {
        "generators": [{"list": {"elements": [{"env": e} for e in elements]}}],
        "template": {
            "metadata": {"name": "web-{{env}}", "labels": {"team": "web"}},
            "spec": {
                "project": "default",
                "source": {"repoURL": f"file://{env.repo}", "path": "{{env}}"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": target},
                "syncPolicy": {"automated": {"prune": True}},
            },
        },
    }
    if preserve:
        spec["syncPolicy"] = {"preserveResourcesOnDeletion": True}
    env.custom.create_namespaced_custom_object(
        *ARGO,
        env.app_ns,
        "applicationsets",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "web", "namespace": env.app_ns},
            "spec": spec,
        },
    )


def set_elements(env: Env, elements: list[str]) -> None:
    # A merge patch, as `kubectl edit` sends: the controller writes the set's status
    # meanwhile, so a replace at the resourceVersion read could lose that race.
    generators = [{"list": {"elements": [{"env": e} for e in elements]}}]
    env.custom.patch_namespaced_custom_object(
        *ARGO, env.app_ns, "applicationsets", "web", {"spec": {"generators": generators}}
    )


def the_set(env: Env) -> dict[str, Any]:
    found: dict[str, Any] = env.custom.get_namespaced_custom_object(
        *ARGO, env.app_ns, "applicationsets", "web"
    )
    return found


def app_or_none(env: Env, name: str) -> dict[str, Any] | None:
    try:
        return env.app(name)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def config_map(env: Env, name: str) -> dict[str, str] | None:
    target = env.target_ns  # type: ignore[attr-defined]
    try:
        return dict(env.core.read_namespaced_config_map(f"{name}-config", target).data)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def synced(env: Env, name: str) -> bool:
    status = (app_or_none(env, name) or {}).get("status") or {}
    return (
        status.get("sync", {}).get("status") == "Synced"
        and status.get("health", {}).get("status") == "Healthy"
    )


def test_a_list_set_creates_owned_applications_that_sync_and_a_removed_element_is_pruned(
    env: Env,
) -> None:
    for name in ("dev", "stage", "prod"):
        add_app_dir(env.repo, name, env.target_ns)  # type: ignore[attr-defined]
    commit(env.repo, "three envs")
    create_set(env, ["dev", "stage", "prod"])
    env.start("r1")

    for name in ("dev", "stage", "prod"):
        wait_for(
            f"Application web-{name} Synced and Healthy", lambda n=name: synced(env, f"web-{n}")
        )
        assert config_map(env, name) == {"greeting": f"hello from {name}"}
    the_web_set = the_set(env)
    app = env.app("web-dev")
    [owner] = app["metadata"]["ownerReferences"]
    assert owner["kind"] == "ApplicationSet" and owner["name"] == "web"
    assert owner["uid"] == the_web_set["metadata"]["uid"] and owner["controller"] is True
    assert app["metadata"]["labels"] == {"team": "web"}
    assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    conditions = {c["type"]: c for c in the_web_set["status"]["conditions"]}
    assert conditions["ResourcesUpToDate"]["status"] == "True"
    assert conditions["ErrorOccurred"]["status"] == "False"
    assert conditions["ParametersGenerated"]["status"] == "True"

    set_elements(env, ["dev", "stage"])
    wait_for("Application web-prod deleted", lambda: app_or_none(env, "web-prod") is None)
    # Its resources-finalizer ran: the objects it applied went with it.
    assert config_map(env, "prod") is None
    assert config_map(env, "dev") is not None and synced(env, "web-dev")
    rows = wait_for(
        "set status lists two apps",
        lambda: (r := the_set(env)["status"].get("resources", [])) and len(r) == 2 and r,
    )
    assert [r["name"] for r in rows] == ["web-dev", "web-stage"]
    assert {r["status"] for r in rows} == {"Synced"}

    # Deleting the set: the garbage collector deletes its Applications (their
    # ownerReference), and each one's finalizer takes its objects with it.
    env.custom.delete_namespaced_custom_object(*ARGO, env.app_ns, "applicationsets", "web")
    for name in ("dev", "stage"):
        wait_for(f"Application web-{name} deleted", lambda n=name: not app_or_none(env, f"web-{n}"))
        assert config_map(env, name) is None


def test_preserve_resources_on_deletion_keeps_the_objects_of_a_removed_element(env: Env) -> None:
    for name in ("blue", "green"):
        add_app_dir(env.repo, name, env.target_ns)  # type: ignore[attr-defined]
    commit(env.repo, "two colours")
    create_set(env, ["blue", "green"], preserve=True)
    env.start("r1")
    for name in ("blue", "green"):
        wait_for(f"Application web-{name} Synced", lambda n=name: synced(env, f"web-{n}"))
    assert "finalizers" not in env.app("web-green")["metadata"]

    set_elements(env, ["blue"])
    wait_for("Application web-green deleted", lambda: app_or_none(env, "web-green") is None)
    assert config_map(env, "green") == {"greeting": "hello from green"}

    # An Application of the set deleted by hand is generated again, as Argo CD does.
    first_uid = env.app("web-blue")["metadata"]["uid"]
    env.custom.delete_namespaced_custom_object(*ARGO, env.app_ns, "applications", "web-blue")
    again = wait_for(
        "Application web-blue generated again",
        lambda: (a := app_or_none(env, "web-blue")) and a["metadata"]["uid"] != first_uid and a,
    )
    assert again["metadata"]["ownerReferences"][0]["name"] == "web"


def test_a_bad_generator_writes_the_error_and_deletes_nothing(env: Env) -> None:
    add_app_dir(env.repo, "solo", env.target_ns)  # type: ignore[attr-defined]
    commit(env.repo, "solo")
    create_set(env, ["solo"])
    env.start("r1")
    wait_for("Application web-solo Synced", lambda: synced(env, "web-solo"))
    refused = [{"scmProvider": {"github": {"organization": "x"}}}]
    env.custom.patch_namespaced_custom_object(
        *ARGO, env.app_ns, "applicationsets", "web", {"spec": {"generators": refused}}
    )

    def error() -> dict[str, Any] | None:
        conditions = {c["type"]: c for c in the_set(env).get("status", {}).get("conditions", [])}
        failed = conditions.get("ErrorOccurred", {})
        return failed if failed.get("status") == "True" else None

    failed = wait_for("ErrorOccurred=True", error)
    assert "scmProvider" in failed["message"]
    assert app_or_none(env, "web-solo") is not None
    assert config_map(env, "solo") is not None

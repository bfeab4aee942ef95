"""An ApplicationSet read from the cluster → the Applications to create, update and
delete, and the status conditions, as Argo CD's ApplicationSet controller does (pure)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.apps.model import RESOURCES_FINALIZER
from gitwave.engine.controller.appsets import SetActions, owned_by, plan_set
from gitwave.engine.controller.set_loop import SecretClusters

NOW = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 4, 11, 0, 0, tzinfo=UTC)
UID = "1111-2222"


def resolve(repo_url: str, revision: str, where: str, field_name: str) -> tuple[str, str | None]:
    return repo_url, None if revision in ("", "HEAD") else revision


def no_repo(repo_url: str, revision: str, field: str) -> Path:
    raise AssertionError("no git generator here")


def app_set(
    elements: list[dict[str, Any]] | None = None,
    *,
    policy: dict[str, Any] | None = None,
    generators: list[Any] | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "generators": generators
        if generators is not None
        else [{"list": {"elements": elements or []}}],
        "template": {
            "metadata": {"name": "web-{{env}}", "labels": {"env": "{{env}}"}},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://git.example/web", "path": "envs/{{env}}"},
                "destination": {"server": "{{server}}", "namespace": "web-{{env}}"},
                "syncPolicy": {"automated": {}},
            },
        },
    }
    if policy is not None:
        spec["syncPolicy"] = policy
    body: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "web", "namespace": "argocd", "uid": UID},
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body


IN = "https://kubernetes.default.svc"


def envs(*names: str) -> list[dict[str, Any]]:
    return [{"env": n, "server": IN} for n in names]


def plan(
    body: dict[str, Any],
    existing: list[dict[str, Any]] = (),  # type: ignore[assignment]
    secrets: tuple[dict[str, Any], ...] = (),
    now: datetime = NOW,
) -> SetActions:
    return plan_set(
        body,
        existing=existing,
        clusters=SecretClusters(secrets),
        open_repo=no_repo,
        resolve=resolve,
        now=now,
    )


def existing_from(actions: SetActions) -> list[dict[str, Any]]:
    """What the API server holds after ``actions`` created its Applications."""
    return [
        {**doc, "metadata": {**doc["metadata"], "resourceVersion": "1"}} for doc in actions.create
    ]


def conditions(actions: SetActions) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in actions.status["conditions"]}


def test_a_list_generator_creates_one_owned_application_per_element() -> None:
    actions = plan(app_set(envs("dev", "prod")))
    assert [d["metadata"]["name"] for d in actions.create] == ["web-dev", "web-prod"]
    dev = actions.create[0]
    assert dev["metadata"]["namespace"] == "argocd"
    assert dev["metadata"]["labels"] == {"env": "dev"}
    assert dev["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "name": "web",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # Argo CD: the resources-finalizer unless preserveResourcesOnDeletion.
    assert dev["metadata"]["finalizers"] == [RESOURCES_FINALIZER]
    assert dev["spec"]["source"]["path"] == "envs/dev"
    assert actions.update == () and actions.delete == ()
    assert conditions(actions) == {
        "ErrorOccurred": ("False", "ApplicationSetUpToDate"),
        "ParametersGenerated": ("True", "ParametersGenerated"),
        "ResourcesUpToDate": ("True", "ApplicationSetUpToDate"),
    }
    assert [r["name"] for r in actions.status["resources"]] == ["web-dev", "web-prod"]


def test_nothing_changes_once_the_applications_exist_as_generated() -> None:
    body = app_set(envs("dev", "prod"))
    actions = plan(body, existing_from(plan(body)))
    assert (actions.create, actions.update, actions.delete) == ((), (), ())


@dataclass
class Case:
    reason: str
    policy: dict[str, Any] | None
    deletes: bool
    updates: bool
    finalizer: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("default sync: update and delete", None, deletes=True, updates=True),
    Case(
        "preserveResourcesOnDeletion: deleted without the finalizer",
        {"preserveResourcesOnDeletion": True},
        deletes=True,
        updates=True,
        finalizer=False,
    ),
    Case("create-update never deletes", {"applicationsSync": "create-update"}, False, True),
    Case("create-delete never updates", {"applicationsSync": "create-delete"}, True, False),
    Case("create-only does neither", {"applicationsSync": "create-only"}, False, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_removed_and_changed_elements_follow_the_sync_policy(case: Case) -> None:
    before = app_set(envs("dev", "prod"), policy=case.policy)
    live = existing_from(plan(before))
    assert (RESOURCES_FINALIZER in live[0]["metadata"].get("finalizers", [])) == case.finalizer
    after = app_set(envs("dev"), policy=case.policy)
    after["spec"]["template"]["spec"]["source"]["targetRevision"] = "v2"
    actions = plan(after, live)
    assert actions.delete == (("web-prod",) if case.deletes else ())
    assert [d["metadata"]["name"] for d in actions.update] == (["web-dev"] if case.updates else [])
    if case.updates:
        updated = actions.update[0]
        assert updated["spec"]["source"]["targetRevision"] == "v2"
        assert updated["metadata"]["resourceVersion"] == "1"  # a replace at the version read


def test_an_application_not_owned_by_the_set_is_left_alone_and_reported() -> None:
    mine = existing_from(plan(app_set(envs("dev"))))
    foreign = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web-prod", "namespace": "argocd"},
        "spec": {},
    }
    actions = plan(app_set(envs("dev", "prod")), [*mine, foreign])
    assert actions.create == () and actions.update == () and actions.delete == ()
    assert not owned_by(foreign, app_set())
    status, _ = conditions(actions)["ErrorOccurred"]
    assert status == "True"
    message = actions.status["conditions"][0]["message"]
    assert "Application/argocd/web-prod already exists and is not owned" in message


def test_a_bad_element_deletes_nothing_and_names_the_element() -> None:
    live = existing_from(plan(app_set(envs("dev", "prod"))))
    bad = app_set([{"env": "dev", "server": IN}, {"env": "Bad_Name", "server": IN}])
    actions = plan(bad, live)
    assert actions.delete == ()  # web-prod's element may be the bad one: a partial view
    assert conditions(actions)["ErrorOccurred"] == ("True", "ApplicationGenerationFromParamsError")
    assert "element 1" in actions.status["conditions"][0]["message"]


def test_a_generator_that_fails_changes_nothing_and_says_why() -> None:
    live = existing_from(plan(app_set(envs("dev"))))
    actions = plan(app_set(generators=[{"scmProvider": {}}]), live)
    assert (actions.create, actions.update, actions.delete) == ((), (), ())
    found = conditions(actions)
    assert found["ErrorOccurred"] == ("True", "ErrorOccurred")
    assert found["ParametersGenerated"] == ("False", "ErrorOccurred")
    assert "scmProvider" in actions.status["conditions"][0]["message"]


def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    first = plan(app_set(envs("dev")))
    again = plan(app_set(envs("dev"), status=first.status), now=LATER)
    assert again.status["conditions"] == first.status["conditions"]
    broken = plan(app_set(generators=[{"plugin": {}}], status=first.status), now=LATER)
    times = {c["type"]: c["lastTransitionTime"] for c in broken.status["conditions"]}
    assert times["ErrorOccurred"] == "2026-12-04T11:00:00Z"


def cluster_secret(name: str, server: str, env: str) -> dict[str, Any]:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster", "env": env},
        },
        "data": {"name": b64(name), "server": b64(server), "config": b64('{"bearerToken":"t"}')},
    }


def test_the_clusters_generator_reads_the_cluster_secrets_of_the_namespace() -> None:
    body = app_set(generators=[{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}])
    body["spec"]["template"]["metadata"] = {"name": "web-{{name}}"}
    body["spec"]["template"]["spec"]["destination"] = {"server": "{{server}}", "namespace": "web"}
    secrets = (
        cluster_secret("east", "https://east.example:6443", "prod"),
        cluster_secret("lab", "https://lab.example:6443", "dev"),
    )
    actions = plan(body, secrets=secrets)
    assert [d["metadata"]["name"] for d in actions.create] == ["web-east"]
    assert actions.create[0]["spec"]["destination"]["server"] == "https://east.example:6443"
    everything = app_set(generators=[{"clusters": {}}])
    everything["spec"]["template"] = body["spec"]["template"]
    names = [d["metadata"]["name"] for d in plan(everything, secrets=secrets).create]
    assert names == ["web-east", "web-in-cluster", "web-lab"]


def test_a_malformed_cluster_secret_fails_the_set_instead_of_dropping_its_apps() -> None:
    live = existing_from(plan(app_set(envs("dev"))))
    broken = cluster_secret("east", "not-a-url", "prod")
    actions = plan(app_set(generators=[{"clusters": {}}]), live, secrets=(broken,))
    assert actions.delete == ()
    assert conditions(actions)["ErrorOccurred"][0] == "True"
    assert "Secret/argocd/east" in actions.status["conditions"][0]["message"]


def test_an_update_keeps_a_suspension_and_the_preserved_fields() -> None:
    body = app_set(envs("dev"))
    body["spec"]["preservedFields"] = {"annotations": ["team.example/owner"], "labels": ["tier"]}
    [live] = existing_from(plan(body))
    live["metadata"]["annotations"] = {
        "argocd.argoproj.io/skip-reconcile": "true",
        "team.example/owner": "ana",
        "other": "dropped",
    }
    live["metadata"]["labels"] = {**live["metadata"]["labels"], "tier": "gold"}
    body["spec"]["template"]["spec"]["source"]["targetRevision"] = "v2"
    [updated] = plan(body, [live]).update
    assert updated["metadata"]["annotations"] == {
        "argocd.argoproj.io/skip-reconcile": "true",
        "team.example/owner": "ana",
    }
    assert updated["metadata"]["labels"] == {"env": "dev", "tier": "gold"}
    # Nothing else differs: kept fields alone make no update.
    updated["metadata"]["resourceVersion"] = "2"
    assert plan(body, [updated]).update == ()


def test_ignore_application_differences_keeps_what_a_user_changed() -> None:
    body = app_set(envs("dev", "prod"))
    body["spec"]["ignoreApplicationDifferences"] = [
        {"jsonPointers": ["/spec/syncPolicy"]},
        {"name": "web-prod", "jsonPointers": ["/spec/source/targetRevision"]},
    ]
    live = existing_from(plan(body))
    for app in live:  # someone turns automation off everywhere and pins prod by hand
        app["spec"]["syncPolicy"] = {}
    live[1]["spec"]["source"]["targetRevision"] = "hotfix"
    assert plan(body, live).update == ()  # the ignored fields alone make no update
    live[0]["spec"]["source"]["targetRevision"] = "hotfix"

    body["spec"]["template"]["spec"]["source"]["path"] = "apps/{{env}}"
    updated = {a["metadata"]["name"]: a for a in plan(body, live).update}
    assert {n: a["spec"]["source"]["path"] for n, a in updated.items()} == {
        "web-dev": "apps/dev",
        "web-prod": "apps/prod",
    }
    assert [a["spec"]["syncPolicy"] for a in updated.values()] == [{}, {}]
    # The name rule covers web-prod only: web-dev's pin is undone.
    assert updated["web-dev"]["spec"]["source"].get("targetRevision") is None
    assert updated["web-prod"]["spec"]["source"]["targetRevision"] == "hotfix"


def test_ignore_application_differences_refuses_jq_path_expressions() -> None:
    body = app_set(envs("dev"))
    body["spec"]["ignoreApplicationDifferences"] = [{"jqPathExpressions": [".spec.source"]}]
    actions = plan(body)
    assert actions.create == ()
    message = actions.status["conditions"][0]["message"]
    assert message == (
        "ApplicationSet/argocd/web (ApplicationSet/web): "
        "spec.ignoreApplicationDifferences[0].jqPathExpressions: not supported; name the "
        "fields with jsonPointers (like /spec/syncPolicy/automated)"
    )

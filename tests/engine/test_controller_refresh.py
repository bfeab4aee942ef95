# ruff: noqa: F811  (served, the fixture imported from test_controller_sources, is an argument here)
"""``argocd app get --refresh`` against the controller: the refresh annotation.

As Argo CD's application controller: an Application carrying
``argocd.argoproj.io/refresh`` is compared at once with the newest commit of
its source (not the branch head the replica shares until its resync), its
status says so, an automated app syncs what it found, and the annotation is
removed afterwards. The in-memory management cluster, the sandbox target and
the ``git http-backend`` remote of test_controller_sources; time is a passed
clock (resync 60 s), so "at once" means "in the pass at the same clock".
"""

from __future__ import annotations

from typing import Any

import yaml

from gitwave.engine.controller.requests import REFRESH, SKIP_RECONCILE
from tests.engine.test_controller_backoff import (
    ARGO,
    CONFIG_MAP,
    Env,
    application,
    argo_env,
    env,  # noqa: F401 (a fixture)
)
from tests.engine.test_controller_sources import served  # noqa: F401 (a fixture)

SHOP = "Application/argocd/shop"


def push(env: Env, version: str) -> str:
    """The app's ConfigMap at ``version``, committed and pushed; the commit."""
    cm = {**CONFIG_MAP, "data": {"version": version}}
    sha = env.commit({"shop/settings.yaml": yaml.safe_dump(cm)}, version)
    env.repo.git.push(
        "--quiet", str(env.root.parent / "repos" / "fleet.git"), "HEAD:refs/heads/main"
    )
    return sha


def shop(env: Env, *, automated: bool, annotations: dict[str, str] | None = None) -> None:
    url = env.cluster.repositories[0]["spec"]["url"]
    env.cluster.put(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "shop", "namespace": "argocd", "annotations": annotations or {}},
            "spec": {
                "project": "default",
                "source": {"repoURL": url, "path": "shop", "targetRevision": "main"},
                "destination": {"namespace": "shop"},
                "syncPolicy": {"automated": {}} if automated else {},
            },
        }
    )


def ask_refresh(env: Env, value: str) -> None:
    """What ``argocd app get --refresh`` does: the annotation, the spec untouched
    (no new generation)."""
    env.cluster.get(SHOP)["metadata"]["annotations"][REFRESH] = value


def status(env: Env) -> dict[str, Any]:
    found: dict[str, Any] = env.cluster.get(SHOP)["status"]
    return found


def annotations(env: Env) -> dict[str, str]:
    found: dict[str, str] = env.cluster.get(SHOP)["metadata"]["annotations"]
    return found


def test_a_refresh_syncs_an_automated_app_at_the_new_commit_at_once(served: Env) -> None:
    env = served
    first = push(env, "v1")
    shop(env, automated=True)
    assert env.at(0) == [SHOP]
    assert status(env)["sync"]["revision"] == first
    second = push(env, "v2")
    assert env.at(10) == []  # not due before its resync (60 s)
    ask_refresh(env, "normal")
    assert env.at(12) == [SHOP]
    assert status(env)["sync"] == {"status": "Synced", "revision": second}
    assert status(env)["reconciledAt"] == "2026-12-04T17:00:12Z"
    assert env.syncs(SHOP) == ["Succeeded", "Succeeded"]  # at v1, then at v2
    assert REFRESH not in annotations(env)
    assert env.at(14) == []  # done: not queued again until its resync


def test_a_refresh_of_a_manual_app_compares_and_applies_nothing(served: Env) -> None:
    env = served
    push(env, "v1")
    shop(env, automated=False, annotations={"team": "shop"})
    assert env.at(0) == [SHOP]
    assert status(env)["sync"]["status"] == "OutOfSync"  # never synced
    second = push(env, "v2")
    ask_refresh(env, "hard")
    assert env.at(5) == [SHOP]
    assert status(env)["sync"] == {"status": "OutOfSync", "revision": second}
    assert status(env)["reconciledAt"] == "2026-12-04T17:00:05Z"
    assert env.syncs(SHOP) == []  # compared, nothing applied
    # Only the refresh annotation goes; the others stay.
    assert annotations(env) == {"team": "shop"}


def test_a_paused_app_keeps_its_refresh_for_when_it_resumes(served: Env) -> None:
    env = served
    first = push(env, "v1")
    shop(env, automated=True)
    env.at(0)
    push(env, "v2")
    env.cluster.get(SHOP)["metadata"]["annotations"][SKIP_RECONCILE] = "true"
    ask_refresh(env, "normal")
    assert env.at(5) == []
    assert status(env)["sync"]["revision"] == first
    assert annotations(env)[REFRESH] == "normal"


def test_a_refresh_while_a_failed_sync_backs_off_compares_and_keeps_the_schedule(
    env: Env,
) -> None:
    """Argo CD refreshes an app whatever its sync retries: the comparison is
    written now, the retry stays when it was due (5 s after the failure)."""
    argo_env(env, {"limit": 3, "backoff": {"duration": "5s", "factor": 2}})
    assert env.at(0) == [ARGO]
    assert env.syncs(ARGO) == ["Error"]
    fixed = env.commit({"missing/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "add the path")
    env.cluster.get(ARGO)["metadata"]["annotations"] = {REFRESH: "normal"}
    assert env.at(2) == [ARGO]
    assert env.syncs(ARGO) == ["Error"]  # compared, not synced in its back-off
    after = env.cluster.get(ARGO)["status"]
    assert after["sync"] == {"status": "OutOfSync", "revision": fixed}
    assert after["reconciledAt"] == "2026-12-04T17:00:02Z"
    assert REFRESH not in env.cluster.get(ARGO)["metadata"]["annotations"]
    assert env.at(4) == []
    assert env.at(5) == [ARGO]  # the retry, on time
    assert env.syncs(ARGO) == ["Error", "Succeeded"]


def test_a_copy_from_before_the_removal_is_not_a_new_refresh(env: Env) -> None:
    """A watch cache a step behind shows the status written but the annotation
    not yet removed: that copy (an older resourceVersion than the removal's)
    queues nothing; a refresh asked again after it does."""
    env.commit({"shop/settings.yaml": yaml.safe_dump(CONFIG_MAP)}, "shop")
    app = application("shop", "shop", None)
    app["spec"]["source"]["repoURL"] = f"file://{env.root}"
    app["spec"]["syncPolicy"] = {}
    app["metadata"]["resourceVersion"] = "10"
    env.cluster.put(app)
    assert env.at(0) == [ARGO]
    body = env.cluster.get(ARGO)
    versions = iter(["12", "15"])

    def clear_refresh(obj: object) -> str:
        # The API server's answer to the removal: the object's new resourceVersion.
        body["metadata"]["annotations"].pop(REFRESH, None)
        body["metadata"]["resourceVersion"] = next(versions)
        return str(body["metadata"]["resourceVersion"])

    env.cluster.clear_refresh = clear_refresh  # type: ignore[method-assign]
    body["metadata"]["annotations"] = {REFRESH: "normal"}
    assert env.at(5) == [ARGO]
    assert REFRESH not in body["metadata"]["annotations"]
    # The lagging copy: the status write (11), annotation still there.
    body["metadata"].update(resourceVersion="11", annotations={REFRESH: "normal"})
    assert env.at(6) == []
    # Asked again (after the removal at 12): refreshed again.
    body["metadata"].update(resourceVersion="14", annotations={REFRESH: "hard"})
    assert env.at(7) == [ARGO]
    assert env.cluster.get(ARGO)["status"]["reconciledAt"] == "2026-12-04T17:00:07Z"
    assert env.syncs(ARGO) == []  # a manual app: compared only

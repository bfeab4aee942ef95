# ruff: noqa: F811  (env, the fixture imported from test_controller_backoff, is an argument here)
"""The controller's apps of one GitRepository share its branch head (source_refs).

The in-memory management cluster and sandbox target of
test_controller_backoff, time a passed clock; the GitRepository is a real
repository served over http by ``git http-backend`` (so ``git ls-remote``
runs). What a user sees: each Kustomization's applied revision, and how
often the replica asked the Git server (``Controller.remote_refs.listings``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git
import pytest
import yaml

from tests.engine.test_controller_backoff import (
    CONFIG_MAP,
    Env,
    env,  # noqa: F401 (a fixture)
    kustomization,
)
from tests.git_http import serve_git

APPS = [f"Kustomization/flux-system/app{n}" for n in range(6)]


@pytest.fixture
def served(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """``env`` with its GitRepository served over http by ``git http-backend``
    (a remote: the controller lists its refs), pushed to at every ``fleet``."""
    monkeypatch.setenv("GITWAVE_ALLOW_INSECURE_GIT", "1")
    git.Repo.init(tmp_path / "repos" / "fleet.git", bare=True).close()
    with serve_git(tmp_path / "repos") as base:
        env.cluster.repositories = [
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "repo", "namespace": "flux-system"},
                "spec": {"url": f"{base}/fleet.git", "interval": "1m", "ref": {"branch": "main"}},
            }
        ]
        yield env


def fleet(env: Env, apps: int, version: str) -> str:
    """``apps`` Kustomizations' files, each its own ConfigMap, committed at
    ``version`` and pushed to the served repository; the commit."""
    files = {
        f"apps/app{n}/cm.yaml": yaml.safe_dump(
            {**CONFIG_MAP, "metadata": {"name": f"cm{n}"}, "data": {"version": version}}
        )
        for n in range(apps)
    }
    sha = env.commit(files, version)
    served = env.root.parent / "repos" / "fleet.git"
    env.repo.git.push("--quiet", str(served), "HEAD:refs/heads/main")
    return sha


def applied(env: Env, key: str) -> str:
    return str(env.cluster.get(key)["status"].get("lastAppliedRevision", ""))


def test_the_kustomizations_of_one_repository_list_it_once_per_resync(served: Env) -> None:
    env = served
    first = fleet(env, 6, "v1")
    for n in range(6):
        env.cluster.put(kustomization(f"app{n}", f"./apps/app{n}"))
    assert sorted(env.at(0)) == APPS
    assert all(first in applied(env, key) for key in APPS)
    assert env.controller.remote_refs.listings == 1  # not one per app
    # A push: not seen before the resync (60 s), then by every app, listed once more.
    second = fleet(env, 6, "v2")
    assert env.at(30) == []
    assert sorted(env.at(60)) == APPS
    assert all(second in applied(env, key) for key in APPS)
    assert env.controller.remote_refs.listings == 2


def test_a_reconcile_request_resolves_the_branch_anew(served: Env) -> None:
    env = served
    fleet(env, 2, "v1")
    for n in range(2):
        env.cluster.put(kustomization(f"app{n}", f"./apps/app{n}"))
    env.at(0)
    second = fleet(env, 2, "v2")
    # flux reconcile ks app0, 5 s later: that app gets the new commit now.
    annotations = {"reconcile.fluxcd.io/requestedAt": "2026-12-04T17:00:05Z"}
    env.cluster.get(APPS[0])["metadata"]["annotations"] = annotations
    assert env.at(5) == [APPS[0]]
    assert second in applied(env, APPS[0])
    assert second not in applied(env, APPS[1])  # not asked, not due
    assert env.controller.remote_refs.listings == 2

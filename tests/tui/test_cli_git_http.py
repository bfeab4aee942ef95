"""Flux Git sources over HTTP (issue 12's tests): repositories served by the
real ``git http-backend`` on 127.0.0.1 (tests/git_http.py), as a Flux
GitRepository names them: the ``flux bootstrap`` layout whose ``flux-system``
GitRepository points at another repository, and a HelmRelease whose chart
lives in a Git repository, upgraded by a push.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import git
import pytest

from tests.engine.helm_support import CONFIGMAP, write_chart
from tests.git_http import serve_git
from tests.tui.cli_support import run, sandbox_state
from tests.tui.test_cli_bootstrap import everything_live, make_repo


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITWAVE_ALLOW_INSECURE_GIT", "1")  # plain http on 127.0.0.1
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def commit_all(root: Path, message: str = "change") -> None:
    repo = git.Repo.init(root, initial_branch="main")
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit(message, author=author, committer=author)
    repo.close()


def publish(work: Path, served: Path) -> None:
    """Push ``work``'s main to the bare repository ``served`` (made on first use)."""
    if not served.exists():
        git.Repo.init(served, bare=True, initial_branch="main").close()
    repo = git.Repo(work)
    repo.git.push(str(served), "main:main", "--force")
    repo.close()


def live(capsys: pytest.CaptureFixture[str], what: str, namespace: str) -> dict[str, Any]:
    code, out, err = run(capsys, "sandbox", "get", what, "-n", namespace, "-o", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def test_bootstrap_root_fetched_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_repo(tmp_path / "other", region="served-over-http")
    with serve_git(tmp_path / "served") as base:
        publish(other, tmp_path / "served" / "fleet.git")
        repo = make_repo(tmp_path / "fleet", url=f"{base}/fleet.git")
        code, out, err = run(capsys, "sync", str(repo / "clusters" / "staging"))
    assert code == 0, out + err
    env = next(i for i in everything_live(capsys) if i["metadata"]["name"] == "podinfo-env")
    assert env["data"]["region"] == "served-over-http"


RELEASE = """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: charts, namespace: apps}}
spec:
  interval: 1m
  url: {url}
  ref: {{branch: main}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: api, namespace: apps}}
spec:
  interval: 1m
  install: {{createNamespace: true}}
  chart:
    spec:
      chart: ./charts/api
      sourceRef: {{kind: GitRepository, name: charts}}
"""


def test_helmrelease_chart_from_a_git_repository_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    charts = tmp_path / "charts-work"
    write_chart(charts / "charts", "api", "0.1.0", templates={"cm.yaml": CONFIGMAP})
    commit_all(charts)
    app = tmp_path / "app"
    app.mkdir()
    with serve_git(tmp_path / "served") as base:
        publish(charts, tmp_path / "served" / "charts.git")
        (app / "api.yaml").write_text(RELEASE.format(url=f"{base}/charts.git"))
        commit_all(app)
        code, out, err = run(capsys, "sync", str(app))
        assert code == 0, out + err
        assert live(capsys, "configmap/api-settings", "apps")["data"]["chart"] == "0.1.0"

        # A new chart version pushed to the branch is what the next sync applies.
        shutil.rmtree(charts / "charts" / "api")
        write_chart(charts / "charts", "api", "0.2.0", templates={"cm.yaml": CONFIGMAP})
        commit_all(charts, "0.2.0")
        publish(charts, tmp_path / "served" / "charts.git")
        code, out, err = run(capsys, "sync", str(app))
        assert code == 0, out + err
    assert live(capsys, "configmap/api-settings", "apps")["data"]["chart"] == "0.2.0"

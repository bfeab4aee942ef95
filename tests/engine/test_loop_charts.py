"""The reconcile loop polls a Helm repository as it polls Git: an automated
Argo CD app whose ``targetRevision`` range picks a newer chart version syncs
it (issue 12 item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from gitwave.engine.model import ResourceKey
from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import ChartRepo, serve_chart_repo, write_chart
from tests.engine.test_loop import Loop, loop  # noqa: F401  (the loop fixture)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    forget_indexes()
    yield
    forget_indexes()


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        repo.publish(write_chart(tmp_path / "src" / "1.0.0", "web", "1.0.0"))
        yield repo


def test_a_new_chart_version_in_range_is_synced(
    loop: Loop,  # noqa: F811
    chart_repo: ChartRepo,
    tmp_path: Path,
) -> None:
    loop.root.mkdir(parents=True)
    (loop.root / "web.yaml").write_text(
        f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web}}
spec:
  source: {{repoURL: "{chart_repo.url}", chart: web, targetRevision: 1.x}}
  destination: {{namespace: default}}
  syncPolicy: {{automated: {{}}}}
"""
    )
    repo = git.Repo.init(loop.root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("init", author=author, committer=author)
    repo.close()
    settings = ResourceKey("", "ConfigMap", "default", "web-settings")

    def chart_version() -> str:
        live = loop.sandbox.observe(settings)
        return "" if live is None else str(live.manifest["data"]["chart"])

    loop.start()
    loop.wait("chart 1.0.0 synced", lambda: chart_version() == "1.0.0")
    chart_repo.publish(write_chart(tmp_path / "src" / "1.1.0", "web", "1.1.0"))
    forget_indexes()  # the index's time in memory is over
    loop.wait("chart 1.1.0 synced", lambda: chart_version() == "1.1.0")
    # The history row is written once the sync ends, after the object is applied.
    loop.wait("the 1.1.0 sync recorded", lambda: "1.1.0" in [r for r, _ in loop.results("web")])
    assert [r for r, _ in loop.results("web")][-2:] == ["1.0.0", "1.1.0"]

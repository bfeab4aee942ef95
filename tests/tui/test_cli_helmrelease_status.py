"""``gitwave status`` shows each Flux HelmRelease as ``flux get helmreleases``
does: its chart version as the revision, Ready True/False and why, on the
sandbox with a real chart repository on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    ChartRepo,
    helm_cli_sandbox,
)
from tests.tui import test_cli_helmrelease as helmrelease
from tests.tui.cli_support import commit, run
from tests.tui.test_cli_helmrelease import release_yaml

# The same sandbox and chart repository (1.4.0 and 2.0.0 of chart web).
chart_repo = helmrelease.chart_repo


def _release_row(out: str) -> list[str]:
    (line,) = [
        line for line in out.splitlines() if " web " in f" {line} " and "flux-system" in line
    ]
    return line.split()


def test_status_shows_the_helmrelease_ready_with_its_chart(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "web.yaml").write_text(release_yaml(chart_repo.url, ">=1.0.0 <2.0.0"))
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err

    code, out, err = run(capsys, "status", str(root))
    assert code == 0, out + err
    assert "HELMRELEASE" in out and "READY" in out
    row = _release_row(out)
    assert row[:5] == ["repo", "flux-system", "web", "1.4.0", "True"]
    assert "Helm release shop/shop-web with chart web@1.4.0 is applied and healthy" in out

    code, out, err = run(capsys, "status", str(root), "-o", "json")
    assert code == 0, out + err
    (app,) = json.loads(out)  # one document: a list of apps
    (release,) = app["helmReleases"]
    assert release["ready"] == "True" and release["revision"] == "1.4.0"

    # A new chart version in Git, not yet synced: Ready False, naming the version.
    (root / "web.yaml").write_text(release_yaml(chart_repo.url, "2.x"))
    commit(root)
    code, out, err = run(capsys, "status", str(root))
    assert code == 0, out + err
    row = _release_row(out)
    assert row[3:5] == ["2.0.0", "False"]
    assert "release shop/shop-web with chart web@2.0.0 is not applied" in out

    # Drift on one of its objects makes it not Ready either.
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, out + err
    assert _release_row(run(capsys, "status", str(root))[1])[4] == "True"
    scaled = run(
        capsys, "sandbox", "scale", "deployment/shop-web-web", "-n", "shop", "--replicas", "7"
    )
    assert scaled[0] == 0
    out = run(capsys, "status", str(root))[1]
    assert _release_row(out)[4] == "False"
    assert "Deployment/shop/shop-web-web" in out

"""A HelmRelease's ``install.crds`` and ``upgrade.crds`` (issue 12 item 3), as
helm-controller applies them, through the CLI onto the sandbox.

A real chart repository on 127.0.0.1 serves ``web`` 1.0.0 (the Widget CRD in
its ``crds/`` directory) and 1.1.0 (the Widget CRD with a printer column, and a
new Gadget CRD). The app's Git repository holds the HelmRelease; a commit moves
it from 1.0.0 to 1.1.0, which is an upgrade of an installed release.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest

from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (
    CONFIGMAP,
    WIDGET_CRD,
    ChartRepo,
    serve_chart_repo,
    write_chart,
)
from tests.tui.cli_support import run, sandbox_state

WIDGETS = WIDGET_CRD

# 1.1.0's Widget CRD: a printer column more, the change a user would see.
WIDGETS_1_1 = (
    WIDGETS
    + """      additionalPrinterColumns:
        - {name: Size, type: string, jsonPath: .spec.size}
"""
)

GADGETS = (
    WIDGETS.replace("widgets", "gadgets").replace("Widget", "Gadget").replace("widget", "gadget")
)


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    forget_indexes()
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        src = tmp_path / "chart-src"
        repo.publish(
            write_chart(
                src / "1",
                "web",
                "1.0.0",
                templates={"cm.yaml": CONFIGMAP},
                crds={"widgets.yaml": WIDGETS},
            )
        )
        repo.publish(
            write_chart(
                src / "2",
                "web",
                "1.1.0",
                templates={"cm.yaml": CONFIGMAP},
                crds={"widgets.yaml": WIDGETS_1_1, "gadgets.yaml": GADGETS},
            )
        )
        yield repo
    forget_indexes()


def release(
    url: str, version: str, upgrade: str = "", install: str = "{createNamespace: true}"
) -> str:
    upgrade_line = f"  upgrade: {upgrade}\n" if upgrade else ""
    return f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: apps}}
spec: {{interval: 10m, url: "{url}"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  interval: 5m
  install: {install}
{upgrade_line}  chart:
    spec:
      chart: web
      version: "{version}"
      sourceRef: {{kind: HelmRepository, name: charts}}
"""


def commit(root: Path, text: str) -> None:
    (root / "web.yaml").write_text(text)
    repo = git.Repo.init(root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("change", author=author, committer=author)
    repo.close()


def crds(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    code, out, err = run(capsys, "sandbox", "get", "customresourcedefinitions", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    items = data.get("items", data) if isinstance(data, dict) else data
    return {item["metadata"]["name"]: item for item in items}


def printer_columns(crd: dict[str, Any]) -> list[str]:
    version = crd["spec"]["versions"][0]
    return [c["name"] for c in version.get("additionalPrinterColumns", [])]


def assert_synced_healthy_ready(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    """``gitwave status``: the app Synced and Healthy, its HelmRelease Ready."""
    code, out, err = run(capsys, "status", str(root), "-o", "json")
    assert code == 0, out + err
    (app,) = json.loads(out)
    assert (app["sync"], app["health"]) == ("Synced", "Healthy"), app
    (helm_release,) = app["helmReleases"]
    assert helm_release["ready"] == "True", helm_release["message"]


@dataclass(frozen=True)
class Case:
    reason: str
    upgrade: str  # the HelmRelease's spec.upgrade, as written
    widgets_updated: bool
    gadgets_created: bool


CASES = [
    Case("upgrade.crds defaults to Skip: live CRDs untouched, none created", "", False, False),
    Case(
        "Create: the new CRD is created, the existing one is not updated",
        "{crds: Create}",
        False,
        True,
    ),
    Case(
        "CreateReplace: every CRD is applied",
        "{crds: CreateReplace}",
        True,
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason.split(":")[0])
def test_upgrade_applies_the_chart_crds_as_upgrade_crds_says(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    commit(root, release(chart_repo.url, "1.0.0", case.upgrade))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    installed = crds(capsys)
    # install.crds defaults to Create: the first install creates the chart's CRD.
    assert printer_columns(installed["widgets.example.com"]) == []
    assert "gadgets.example.com" not in installed

    commit(root, release(chart_repo.url, "1.1.0", case.upgrade))
    code, out, err = run(capsys, "plan", str(root))
    if not case.widgets_updated:
        # The plan says why the changed CRD stays as it is.
        assert "CustomResourceDefinition/widgets.example.com differs from the chart" in out + err
        assert "HelmRelease/apps/web" in out + err
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, out + err
    upgraded = crds(capsys)
    want = ["Size"] if case.widgets_updated else []
    assert printer_columns(upgraded["widgets.example.com"]) == want
    assert ("gadgets.example.com" in upgraded) is case.gadgets_created
    code, out, err = run(
        capsys, "sandbox", "get", "configmap/web-settings", "-n", "apps", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["data"]["chart"] == "1.1.0"

    # A skipped CRD is still the release's: no sync, prune on, ever deletes it.
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, out + err
    assert "widgets.example.com" in crds(capsys)
    assert_synced_healthy_ready(capsys, root)


def test_install_crds_skip_installs_none_and_create_replace_updates_on_install(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    commit(root, release(chart_repo.url, "1.0.0", install="{createNamespace: true, crds: Skip}"))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert "widgets.example.com" not in crds(capsys)
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, out + err
    assert "widgets.example.com" not in crds(capsys)
    # A CRD its policy skips and nobody created is not Missing.
    assert_synced_healthy_ready(capsys, root)


def test_a_bad_crd_policy_names_the_release(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    commit(root, release(chart_repo.url, "1.0.0", "{crds: Replace}"))
    code, _out, err = run(capsys, "plan", str(root))
    assert code == 2
    assert "HelmRelease/apps/web" in err
    assert "spec.upgrade.crds: 'Replace' is not one of Skip, Create, CreateReplace" in err


@dataclass(frozen=True)
class ForceCase:
    reason: str
    upgrade: str
    gadgets_created: bool


FORCE_CASES = [
    ForceCase("Skip: the live CRD is replaced, the absent one still not created", "", False),
    ForceCase("Create: the live CRD is replaced, the new one created", "{crds: Create}", True),
]


@pytest.mark.parametrize("case", FORCE_CASES, ids=lambda c: c.reason.split(":")[0])
def test_sync_force_replaces_the_crds_the_policy_leaves_as_they_are(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str], case: ForceCase
) -> None:
    root = tmp_path / "app"
    root.mkdir()
    commit(root, release(chart_repo.url, "1.0.0", case.upgrade))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    commit(root, release(chart_repo.url, "1.1.0", case.upgrade))
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert printer_columns(crds(capsys)["widgets.example.com"]) == []

    # `sync --force` asks for every object to be re-applied: the policy's CRDs too.
    code, out, err = run(capsys, "sync", str(root), "--force")
    assert code == 0, out + err
    assert "differs from the chart" not in out + err
    forced = crds(capsys)
    assert printer_columns(forced["widgets.example.com"]) == ["Size"]
    assert ("gadgets.example.com" in forced) is case.gadgets_created
    # The next sync without --force follows the policy again, and finds nothing left to do.
    code, out, err = run(capsys, "plan", str(root))
    assert code == 0, out + err
    assert "differs from the chart" not in out + err
    assert_synced_healthy_ready(capsys, root)

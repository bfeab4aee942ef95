"""Helm hooks mapped as Argo CD maps them (issue 12 item 4): a chart's
``helm.sh/hook`` objects run in Argo CD's phases, ``hook-weight`` is their wave,
``hook-delete-policy`` their delete policy, an Argo hook annotation wins, hooks
with no sync phase (test, pre-delete) are never applied, and a ``crd-install``
CRD is an ordinary object applied before its custom resources (Helm 3's
``helm template`` drops such a CRD from a chart itself; in plain YAML it reaches
gitwave)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git
import pytest

from tests.tui.cli_support import run, sandbox_state

DATA = Path(__file__).parent.parent / "testdata" / "helm-hooks"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(DATA, root / "hooks")
    repo = git.Repo.init(root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("init", author=author, committer=author)
    repo.close()
    return root / "hooks"


def test_hooks_run_in_argo_cd_order(chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "graph", str(chart), "-n", "default")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()[1:]]
    assert lines == [
        "PreSync wave -1",
        "ConfigMap/default/backup",  # pre-upgrade, weight -1
        "PreSync wave 5",
        "ConfigMap/default/migrate",  # pre-install,pre-upgrade, weight 5
        "Sync wave 0",
        "ConfigMap/default/app",
        "PostSync wave 0",
        "ConfigMap/default/argo-wins",  # argocd.argoproj.io/hook: PostSync beats pre-install
        "ConfigMap/default/notify",  # post-install
    ]

    code, out, err = run(capsys, "sync", str(chart), "-n", "default")
    assert code == 0, out + err
    order = [line.split()[-1] for line in out.splitlines() if line.startswith("  created")]
    assert order.index("ConfigMap/default/backup") < order.index("ConfigMap/default/migrate")
    assert order.index("ConfigMap/default/migrate") < order.index("ConfigMap/default/app")
    assert order.index("ConfigMap/default/app") < order.index("ConfigMap/default/notify")

    code, out, err = run(capsys, "sandbox", "get", "configmaps", "-n", "default", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    items = data.get("items", data) if isinstance(data, dict) else data
    live = sorted(item["metadata"]["name"] for item in items)
    # migrate: hook-succeeded deletes it; smoke (test) and cleanup (pre-delete) never run.
    assert live == ["app", "argo-wins", "backup", "notify"]


def test_crd_install_crd_is_an_ordinary_object_applied_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "graph", str(DATA.parent / "helm-hooks-crd"), "-n", "default")
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()[1:]]
    assert lines == [
        "Sync wave 0",
        "CustomResourceDefinition/widgets.example.com",
        "Sync wave 2",  # helm.sh/hook-weight is the wave, as argocd.argoproj.io/sync-wave
        "Widget/default/gadget  (after CustomResourceDefinition/widgets.example.com)",
    ]

"""What a sync and a status say about health and leftovers (issue 13): a failed
sync never reports "health Healthy" (what it never created is Missing), and
objects removed from Git that are still live keep the app OutOfSync
(requires pruning), as Argo CD says, with `plan` exiting 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tui.cli_support import run, sandbox_state


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def _wave(doc: dict[str, Any], wave: int) -> dict[str, Any]:
    doc["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": str(wave)}
    return doc


def shop(root: Path, *, with_config: bool = True) -> Path:
    """A ConfigMap (wave 0), a Deployment (wave 1) and a Service (wave 2)."""
    root.mkdir(exist_ok=True)
    docs = [
        _wave(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            },
            1,
        ),
        _wave(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
            2,
        ),
    ]
    if with_config:
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
        docs.insert(0, _wave(config, 0))
    (root / "all.yaml").write_text(yaml.safe_dump_all(docs))
    return root


def test_a_sync_that_times_out_reports_what_it_never_created_as_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "3600")  # the Deployment never rolls out
    app = shop(tmp_path / "shop")
    where = ("-n", "shop", "--create-namespace")
    code, out, _ = run(capsys, "sync", str(app), *where, "--timeout", "1s")

    assert code == 1
    summary = next(line for line in out.splitlines() if line.startswith("shop: Failed in "))
    assert summary.endswith("; health Missing"), summary
    assert "Healthy" not in summary

    code, out, _ = run(capsys, "sync", str(app), *where, "--timeout", "1s", "-o", "json")
    assert code == 1
    assert [doc["health"] for doc in json.loads(out)] == ["Missing"]

    code, out, _ = run(capsys, "status", str(app), *where, "-o", "json")
    (status,) = json.loads(out)  # a list of apps, even for one
    assert (status["sync"], status["health"]) == ("OutOfSync", "Missing")
    healths = {r["key"]: r["health"] for r in status["resources"]}
    assert healths["/Service/shop/web"] == "Missing"


def test_objects_removed_from_git_and_still_live_require_pruning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = shop(tmp_path / "shop")
    where = ("-n", "shop", "--create-namespace")
    code, _, err = run(capsys, "sync", str(app), *where)
    assert code == 0, err
    code, _, _ = run(capsys, "plan", str(app), *where)
    assert code == 0

    shop(app, with_config=False)  # the ConfigMap is gone from Git, nothing else changed
    code, out, _ = run(capsys, "plan", str(app), *where)
    assert code == 1, "plan exits 1: the target differs from Git"
    assert out.rstrip().endswith(
        "Plan: 0 to create, 0 to update, 0 to prune, 0 hooks, 2 unchanged, 1 requires pruning."
    )

    code, out, _ = run(capsys, "status", str(app), *where)
    assert code == 0
    row = out.splitlines()[1].split()
    assert row[2:5] == ["OutOfSync", "(requires", "pruning)"], out
    code, out, _ = run(capsys, "status", str(app), *where, "-o", "json")
    assert json.loads(out)[0]["requiresPruning"] == ["/ConfigMap/shop/settings"]

    code, _, err = run(capsys, "sync", str(app), *where, "--prune")
    assert code == 0, err
    code, out, _ = run(capsys, "status", str(app), *where)
    assert "requires pruning" not in out
    assert out.splitlines()[1].split()[2] == "Synced"

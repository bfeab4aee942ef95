"""`sync --resource` and `plan --resource` (repeatable), as `argocd app sync
--resource GROUP:KIND:NAME`, kubectl's KIND/NAME accepted too (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state

WAVES = Path(__file__).resolve().parents[2] / "samples" / "waves"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch)


def live_names(capsys: pytest.CaptureFixture[str], kind: str) -> set[str]:
    code, out, _ = run(capsys, "sandbox", "get", kind, "-n", "shop", "-o", "json")
    assert code == 0
    return {item["metadata"]["name"] for item in json.loads(out)["items"]}


def test_only_the_named_objects_are_planned_and_synced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "plan", str(WAVES), "--resource", "ns/shop", "--resource", ":ConfigMap:shop-config"
    )
    assert code == 1, err
    assert out.rstrip().endswith(
        "Plan: 2 to create, 0 to update, 0 to prune, 0 hooks, 0 unchanged."
    )

    args = ("--resource", "namespace/shop", "--resource", ":ConfigMap:shop-config")
    code, out, err = run(capsys, "sync", str(WAVES), *args, "-o", "json")
    assert code == 0, err
    (result,) = json.loads(out)
    assert sorted(r["key"] for r in result["resources"]) == [
        "/ConfigMap/shop/shop-config",
        "/Namespace//shop",
    ]
    assert result["hooks"] == [], "a selective sync runs no hooks, as Argo CD's"
    assert live_names(capsys, "configmap") == {"shop-config"}
    assert live_names(capsys, "deployment") == set()


def test_a_resource_the_app_does_not_hold_is_refused_before_anything_is_applied(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "sync", str(WAVES), "--resource", "cm/nothing")
    assert code == 2
    assert "cm/nothing: names no object in the plan of app waves" in err
    code, _, _ = run(capsys, "sandbox", "get", "namespace/shop")
    assert code != 0, "nothing applied"

    with pytest.raises(SystemExit) as usage:
        run(capsys, "sync", str(WAVES), "--resource", "bogus")
    assert usage.value.code == 2
    assert "bogus: not a resource" in capsys.readouterr().err

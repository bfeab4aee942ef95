"""``gitwave rollout status|promote|abort APP`` on the sandbox: what a user
reads and the exit codes, through a real sync of a Git-less work tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tui.cli_support import run, sandbox_state

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def write_app(repo: Path, image: str, *, names: tuple[str, ...] = ("web",)) -> None:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    ]
    for name in names:
        docs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {
                    "replicas": 4,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "web", "image": image}]},
                    },
                    "strategy": {"canary": {"steps": STEPS}},
                },
            }
        )
    repo.mkdir(exist_ok=True)
    (repo / "app.yaml").write_text(yaml.safe_dump_all(docs))


@pytest.fixture
def shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """App ``shop`` synced at v1, then v2: its Rollout paused at step 1 (25%)."""
    sandbox_state(tmp_path, monkeypatch)
    # Pods are ready at once: no wall-clock waits (pause steps wait for a promote).
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0")
    repo = tmp_path / "shop"
    write_app(repo, "nginx:1")
    assert run(capsys, "sync", str(repo))[0] == 0
    write_app(repo, "nginx:2")
    code, out, err = run(capsys, "sync", str(repo))
    assert code == 0, out + err
    assert "health Suspended" in out
    return repo


def test_status_shows_step_weight_and_health(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "rollout", "status", "shop")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ROLLOUT", "HEALTH", "STEP", "DOING", "WEIGHT", "MESSAGE"]
    assert lines[1].split() == [
        "shop/web",
        "Suspended",
        "1/4",
        "pause",
        "25%",
        "Rollout",
        "is",
        "paused",
    ]


def test_promote_moves_to_the_next_pause_then_full_finishes(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "rollout", "promote", "shop")
    assert (code, err) == (0, "")
    assert out == (
        "rollout 'web' promoted\n"
        "shop/web: Suspended: Rollout is paused; step 3/4 (pause) weight 50%\n"
    )
    code, out, err = run(capsys, "rollout", "promote", "shop", "web", "--full")
    assert (code, err) == (0, "")
    assert out == "rollout 'web' fully promoted\nshop/web: Healthy; step 4/4 weight 100%\n"
    code, out, _ = run(capsys, "status", str(shop), "-o", "json")
    assert json.loads(out)["health"] == "Healthy"


def test_abort_is_degraded_and_json_says_so(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rollout", "abort", "shop", "shop/web", "-o", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["action"], doc["health"], doc["aborted"], doc["weight"]) == (
        "aborted",
        "Degraded",
        True,
        0,
    )
    assert doc["healthMessage"].startswith("Rollout aborted update to revision ")
    code, out, _ = run(capsys, "status", str(shop), "-o", "json")
    assert json.loads(out)["health"] == "Degraded"
    code, out, _ = run(capsys, "sandbox", "get", "replicaset", "-n", "shop", "-o", "json")
    replicas = sorted(rs["spec"]["replicas"] for rs in json.loads(out)["items"])
    assert replicas == [0, 4]


def test_an_unknown_app_exits_1(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "rollout", "promote", "shpo")
    assert code == 1 and out == ""
    assert "shpo: no syncs recorded" in err
    assert "did you mean shop?" in err


def test_an_unknown_rollout_exits_1_naming_the_apps_rollouts(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "rollout", "abort", "shop", "api")
    assert code == 1 and out == ""
    assert "shop: api is not one of its Rollouts (shop/web)" in err


def test_several_rollouts_need_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0")
    repo = tmp_path / "two"
    write_app(repo, "nginx:1", names=("api", "web"))
    assert run(capsys, "sync", str(repo))[0] == 0
    code, out, err = run(capsys, "rollout", "promote", "two")
    assert code == 1
    assert "two has 2 Rollouts; name one: shop/api, shop/web" in err
    code, out, err = run(capsys, "rollout", "promote", "two", "api")
    assert code == 0, err
    assert out.startswith("rollout 'api' promoted\nshop/api: Healthy")


def test_an_app_without_rollouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    repo = tmp_path / "plain"
    repo.mkdir()
    (repo / "cm.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "default"},
            }
        )
    )
    assert run(capsys, "sync", str(repo))[0] == 0
    assert run(capsys, "rollout", "status", "plain") == (0, "plain: no Rollouts\n", "")
    code, out, err = run(capsys, "rollout", "promote", "plain")
    assert (code, out) == (1, "")
    assert "plain: no Rollout (argoproj.io) among the app's live objects" in err

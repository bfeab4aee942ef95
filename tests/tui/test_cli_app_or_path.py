"""APP or PATH the same way in every verb (issue 13), with the real CLI on the
sandbox: once a ``sync`` (or ``run``) found an app, ``status APP``, ``plan
APP``, ``why APP``, ``graph APP``, ``wait APP`` and ``sync APP`` work from any
directory, as ``argocd app get|sync APP`` do; a path on disk still wins; a name
nothing knows is refused with a "did you mean"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state
from tests.tui.cli_world import World, make_world


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    sandbox_state(tmp_path, monkeypatch)
    built = make_world(tmp_path, monkeypatch, capsys)  # syncs REPO --app web-staging
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return built


def test_an_app_synced_before_is_found_by_its_name_from_anywhere(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status", "web-staging", "-o", "json")
    assert code == 0, err
    assert [(d["app"], d["sync"]) for d in json.loads(out)] == [("web-staging", "Synced")]
    # `get` is status, as argocd app get APP.
    assert run(capsys, "get", "web-staging", "-o", "json")[1] == out
    code, out, err = run(capsys, "plan", "web-staging")
    assert (code, out.splitlines()[-1]) == (
        0,
        "Plan: 0 to create, 0 to update, 0 to prune, 0 hooks, 4 unchanged.",
    ), err
    for verb in ("why", "graph", "render"):
        code, out, err = run(capsys, verb, "web-staging", "-o", "json")
        assert code == 0, (verb, err)
    code, out, err = run(capsys, "wait", "web-staging", "-o", "json")
    assert code == 0, err
    assert [d["app"] for d in json.loads(out)] == ["web-staging"]
    code, out, err = run(capsys, "sync", "web-staging", "-o", "json")
    assert code == 0, err
    assert [d["app"] for d in json.loads(out)] == ["web-staging"]
    code, out, _ = run(capsys, "history", "web-staging", "-o", "json")
    assert len(json.loads(out)) == 2


def test_a_name_nothing_knows_is_refused_with_did_you_mean(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status", "web-stagin")
    assert (code, out) == (2, "")
    assert "error: web-stagin: no such file or directory, and no app of that name" in err
    assert "did you mean web-staging?" in err
    # web-dev is defined in the repository but was never synced: not known here.
    code, _, err = run(capsys, "sync", "web-dev")
    assert code == 2 and "no app of that name" in err
    assert run(capsys, "history", "web-dev")[0] == 1


def test_a_directory_of_that_name_wins(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    local = Path("web-staging")
    local.mkdir()
    (local / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: here\ndata: {a: '1'}\n"
    )
    code, _, err = run(capsys, "plan", "web-staging")
    # The directory was read (an implicit app of that name, whose objects would
    # clash with the synced app's: refused, naming this directory as its source).
    assert code == 2
    assert f"this app is web-staging (source file:{local.resolve()} ." in err


def test_app_names_another_app_with_an_app_name(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sync", "web-staging", "--app", "web-dev")
    assert (code, out) == (2, "")
    assert "--app web-dev: is taken with a PATH, not with the app name 'web-staging'" in err
    assert f"hint: gitwave sync {world.repo.resolve()} --app web-dev" in err


def test_drift_finds_the_app_too_and_writes_live_then_git_as_plan_does(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    scale = ("sandbox", "scale", "deployment/web", "-n", "web-staging", "--replicas", "7")
    assert run(capsys, *scale)[0] == 0
    code, out, err = run(capsys, "plan", "web-staging")
    assert code == 1, err
    assert "spec.replicas: 7 -> 2" in out  # live -> desired
    code, out, err = run(capsys, "drift", "web-staging")
    assert code == 1, err  # drift found, as plan's exit code says changes
    header, row = out.splitlines()[:2]
    assert header.split() == ["OBJECT", "FIELD", "LIVE", "GIT", "CHANGED", "BY"]
    assert row.split() == ["Deployment/web-staging/web", "spec.replicas", "7", "2", "kubectl"]


def test_verbs_naming_one_app_take_the_path_of_one_app(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "suspend", str(world.shop), "-o", "json")
    assert code == 0, err
    assert (json.loads(out)["app"], json.loads(out)["suspended"]) == ("shop", True)
    code, out, err = run(capsys, "resume", str(world.shop))
    assert (code, out) == (0, "shop: resumed: a running `gitwave run` syncs it again\n"), err
    code, out, err = run(capsys, "rollout", "status", str(world.shop), "-o", "json")
    assert code == 0, err
    # A path holding several apps is refused, naming them.
    code, out, err = run(capsys, "rollback", str(world.repo))
    assert (code, out) == (2, "")
    assert "defines 3 apps (web-dev, web-production, web-staging): `gitwave rollback` works" in err
    # unpin of a name nothing knows fails as suspend and rollback do.
    code, _, err = run(capsys, "unpin", "nosuch")
    assert code == 1 and "no syncs recorded" in err

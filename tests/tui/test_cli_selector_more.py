"""``-l/--selector`` on ``history``, ``events``, ``run`` and ``watch`` (issue 13),
with the real CLI on the sandbox: the apps are chosen by their Application
labels, as for ``status``/``sync -l``; ``history`` and ``events`` take a PATH
(or, with ``-l`` alone, the current directory) where they took an APP."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from gitwave.engine.store import Store
from tests.tui.cli_support import run, sandbox_state
from tests.tui.cli_world import World, make_world
from tests.tui.test_loop_cli import Process, processes

__all__ = ["processes"]  # the fixture, used by the loop tests below


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    sandbox_state(tmp_path, monkeypatch)
    built = make_world(tmp_path, monkeypatch, capsys)
    # web-staging is synced by the world; web-dev too, so two apps have a history.
    assert run(capsys, "sync", str(built.repo), "--app", "web-dev")[0] == 0
    return built


def test_history_of_the_apps_a_selector_picks(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "history", str(world.repo), "-l", "env=dev", "-o", "json")
    assert code == 0, err
    assert {e["app"] for e in json.loads(out)} == {"web-dev"}

    code, out, err = run(capsys, "history", str(world.repo), "-l", "tier=web")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["APP", "ID"]  # several apps: each row names its app
    assert sorted(line.split()[0] for line in lines[1:]) == ["web-dev", "web-staging"]


def test_history_with_a_selector_alone_reads_the_current_directory(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(world.repo)
    code, out, err = run(capsys, "history", "-l", "env in (staging)", "-o", "json")
    assert code == 0, err
    assert {e["app"] for e in json.loads(out)} == {"web-staging"}
    # An app's name still means that app, as before.
    code, out, _ = run(capsys, "history", "web-dev", "-o", "json")
    assert (code, {e["app"] for e in json.loads(out)}) == (0, {"web-dev"})


@pytest.mark.parametrize("verb", ["history", "events"])
def test_no_app_matching_is_no_error_as_kubectl_get_l_says_it(
    verb: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A verb that reads answers as `status PATH -l` and `kubectl get -l` do (it
    was argocd's app-sync refusal, exit 2); sync, rollback... still refuse."""
    code, out, err = run(capsys, verb, str(world.repo), "-l", "team=ops")
    assert (code, out) == (0, "")
    assert err == "No apps found matching selector team=ops.\n"
    code, out, err = run(capsys, verb, str(world.repo), "-l", "team=ops", "-o", "json")
    assert (code, json.loads(out)) == (0, [])
    code, out, err = run(capsys, "sync", str(world.repo), "-l", "team=ops")
    assert (code, out) == (2, "")
    assert "No matching apps found for filter: selector team=ops" in err


@pytest.mark.parametrize("verb", ["history", "events"])
def test_nothing_named_says_what_is_needed(
    verb: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, verb)
    assert (code, out) == (2, "")
    assert f"gitwave {verb}: needs an APP, a PATH, or -l SELECTOR" in err


def test_events_of_the_apps_a_selector_picks_in_time_order(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "events", str(world.repo), "-l", "env!=production", "-o", "json")
    assert code == 0, err
    events = json.loads(out)
    assert {e["app"] for e in events} == {"web-dev", "web-staging"}
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    code, out, err = run(capsys, "events", str(world.repo), "-l", "env=dev")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["TIME", "APP"]
    assert {line.split()[2] for line in lines[1:]} == {"web-dev"}


@pytest.mark.parametrize("verb", ["run", "watch"])
def test_a_loop_with_no_app_matching_is_refused_before_it_starts(
    verb: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, verb, str(world.repo), "-l", "team=ops")
    assert (code, out) == (2, "")
    assert "No matching apps found for filter: selector team=ops" in err


@pytest.mark.slow  # `gitwave` in subprocesses
@pytest.mark.parametrize("verb", ["run", "watch"])
def test_a_loop_reconciles_only_the_apps_a_selector_picks(
    verb: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    processes: list[Process],
) -> None:
    state = sandbox_state(tmp_path, monkeypatch)
    world = make_world(tmp_path, monkeypatch, capsys)  # web-dev never synced
    # One app after another, in sync order (web-dev, web-staging, web-production):
    # a loop that ignored -l would sync web-dev (automated) and print its line
    # before web-production's.
    argv = [verb, str(world.repo), "-l", "critical", "--concurrent", "1"]
    loop = Process(world.root, *argv, *(["--interval", "1m"] if verb == "run" else []))
    processes.append(loop)
    loop.wait_line("web-production's cycle", lambda line: " web-production: " in line, timeout=60)
    loop.signal(signal.SIGINT)
    assert loop.exit_code(timeout=30) == 0
    assert not [line for line in loop.lines if "web-dev" in line or "web-staging" in line]
    store = Store(state / "gitwave.db")
    assert store.history("web-dev") == []
    store.close()

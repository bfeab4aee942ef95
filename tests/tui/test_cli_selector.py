"""``-l/--selector`` (issue 13) with the real CLI on the sandbox: apps chosen by
their Application labels (as ``argocd app list|sync -l``), live objects by
theirs (as ``kubectl get -l``), clusters by theirs; a selector that does not
parse is refused with kubectl's words before anything runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state
from tests.tui.cli_world import World, make_world


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    sandbox_state(tmp_path, monkeypatch)
    return make_world(tmp_path, monkeypatch, capsys)


@dataclass(frozen=True)
class Selects:
    reason: str
    selector: str
    want: list[str]


APPS = [
    Selects("equality", "env=staging", ["web-staging"]),
    Selects("double equals", "env==dev", ["web-dev"]),
    Selects("inequality", "env!=staging", ["web-dev", "web-production"]),
    Selects("in", "env in (dev,production)", ["web-dev", "web-production"]),
    Selects("notin", "env notin (dev,production)", ["web-staging"]),
    Selects("exists", "critical", ["web-production"]),
    Selects("does not exist", "!critical", ["web-dev", "web-staging"]),
    Selects("all must hold", "tier=web,!critical,env!=dev", ["web-staging"]),
]


@pytest.mark.parametrize("case", APPS, ids=lambda c: c.reason)
def test_status_lists_the_apps_whose_labels_match(
    case: Selects, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status", str(world.repo), "-l", case.selector, "-o", "json")
    assert code == 0, err
    docs = json.loads(out)
    assert sorted(d["app"] for d in docs) == case.want
    for doc in docs:
        assert doc["labels"]["tier"] == "web"


def test_status_with_no_match_lists_none(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "status", str(world.repo), "-l", "team=ops", "-o", "json")
    assert (code, json.loads(out)) == (0, [])
    code, out, err = run(capsys, "status", str(world.repo), "-l", "team=ops")
    assert (code, out) == (0, "")
    assert "No apps found matching selector team=ops." in err


def test_sync_works_on_the_selected_apps_only(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sync", str(world.repo), "-l", "env in (dev)", "-o", "json")
    assert code == 0, err
    assert [d["app"] for d in json.loads(out)] == ["web-dev"]
    assert run(capsys, "history", "web-dev")[0] == 0
    code, _, err = run(capsys, "history", "web-production")
    assert code == 1 and "never synced" in err


@pytest.mark.parametrize("verb", ["sync", "plan", "diff", "why", "graph", "render"])
def test_no_app_matching_is_refused_as_argocd_says_it(
    verb: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # -l narrows --app: web-dev is not env=staging.
    argv = (verb, str(world.repo), "--app", "web-dev", "-l", "env=staging")
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert "No matching apps found for filter: selector env=staging" in err
    assert "web-dev (env=dev,tier=web)" in err  # the hint lists the apps and their labels
    assert run(capsys, "history", "web-dev")[0] == 1  # nothing was synced


def test_wait_selects_too(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "wait", str(world.repo), "-l", "env=staging", "-o", "json")
    assert code == 0, err
    assert [d["app"] for d in json.loads(out)] == ["web-staging"]


@pytest.mark.parametrize(
    "selector, says",
    [
        ("env in", "unable to parse requirement: found '', expected: '('"),
        ("env=prod tier=web", "found 'tier', expected: ',' or 'end of string'"),
        ("!env=prod", "found '=', expected: ',' or 'end of string'"),
        ("env&x", 'Invalid value: "env&x"'),
    ],
)
@pytest.mark.parametrize(
    "verb",
    [("status", "."), ("sync", "."), ("wait", "web"), ("sandbox", "get"), ("cluster", "list")],
    ids=lambda v: " ".join(v),
)
def test_a_bad_selector_is_refused_with_kubectls_words(
    verb: tuple[str, ...],
    selector: str,
    says: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    with pytest.raises(SystemExit) as exited:
        run(capsys, *verb, "-l", selector)
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    assert f"argument -l/--selector: unable to parse selector {selector!r}: " in err
    assert says in err


def test_sandbox_get_selects_live_objects_by_their_labels(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "sandbox", "get", "-A", "-l", "tier=web", "-o", "name")
    assert (code, out) == (0, "rollout.argoproj.io/web\n"), err
    code, out, _ = run(
        capsys, "sandbox", "get", "deploy", "-A", "-l", "app.kubernetes.io/name=web", "-o", "json"
    )
    items = json.loads(out)["items"]
    assert sorted(i["metadata"]["namespace"] for i in items) == ["web-staging"]
    code, out, err = run(
        capsys, "sandbox", "get", "deploy", "-A", "-l", "app.kubernetes.io/name notin (web)"
    )
    assert (code, out) == (0, "")
    assert "No resources found." in err


def test_cluster_list_selects_by_cluster_labels(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    for name, env in (("east", "prod"), ("west", "staging")):
        add = ("cluster", "add", name, "--sandbox", "--server", f"https://{name}.example")
        assert run(capsys, *add, "--label", f"env={env}")[0] == 0
    code, out, _ = run(capsys, "cluster", "list", "-l", "env in (prod)", "-o", "name")
    assert (code, out) == (0, "east\n")
    code, out, _ = run(capsys, "cluster", "list", "-l", "env", "-o", "name")
    assert out.split() == ["east", "west"]  # the current target has no labels

"""`-o` on every verb (issue 13, "one output contract"): each verb of the parser
that prints a result prints one JSON document with ``-o json`` that parses
whole, with resource keys ``group/Kind/namespace/name`` and RFC 3339 UTC times;
list verbs take ``-o wide`` and ``-o name``; a form a verb has not is refused
before anything runs; docs/cli-output.md lists the same forms.

The verbs are read from the parser itself: a new verb fails
``test_every_verb_is_covered`` until it is given a case here."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gitwave.tui.cli.output_forms import EXTRA_FORMS, NO_DATA, forms_of
from gitwave.tui.cli.parser import build_parser
from tests.tui.cli_support import run, sandbox_state
from tests.tui.cli_world import World, make_world

REPO_ROOT = Path(__file__).resolve().parents[2]


def parser_verbs() -> dict[str, str]:
    """Every runnable verb of ``gitwave`` as typed (``sandbox get``) -> its function's name."""
    found: dict[str, str] = {}

    def walk(parser: argparse.ArgumentParser) -> None:
        func = parser._defaults.get("func")
        if func is not None:
            found[parser.prog.removeprefix("gitwave ")] = str(func.name)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):
                    walk(sub)

    walk(build_parser())
    return found


@dataclass(frozen=True)
class Case:
    verb: str
    argv: Callable[[World], list[str]]
    codes: tuple[int, ...] = (0,)
    apps: bool = False  # a list of apps, each with "app"
    env: tuple[tuple[str, str], ...] = ()


STAGING = ("--app", "web-staging")
SEALED = """\
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: s3cret}
"""
IMAGES = """\
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {name: app, namespace: flux-system}
spec: {image: 127.0.0.1:9/app, interval: 5m, insecure: true}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: app, namespace: flux-system}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: flux-system}
spec: {interval: 1m, url: https://example.com/fleet.git, ref: {branch: main}}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata: {name: apps, namespace: flux-system}
spec:
  suspend: true
  interval: 30m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    checkout: {ref: {branch: main}}
    commit: {author: {name: bot, email: bot@example.com}}
    push: {branch: main}
  update: {path: ./, strategy: Setters}
"""


def _images(world: World) -> str:
    directory = world.root / "images"
    directory.mkdir(exist_ok=True)
    (directory / "images.yaml").write_text(IMAGES)
    return str(directory)


def _secret(world: World) -> str:
    path = world.root / "secret.yaml"
    path.write_text(SEALED)
    return str(path)


CASES = [
    Case("validate", lambda w: ["validate", str(w.repo), *STAGING]),
    Case("render", lambda w: ["render", str(w.repo), *STAGING]),
    Case("graph", lambda w: ["graph", str(w.repo), *STAGING], apps=True),
    Case("plan", lambda w: ["plan", str(w.repo), *STAGING], apps=True),
    Case("diff", lambda w: ["diff", str(w.repo), "--app", "web-dev"], (1,), apps=True),
    Case("sync", lambda w: ["sync", str(w.repo), *STAGING], apps=True),
    Case("wait", lambda w: ["wait", "web-staging", "--path", str(w.repo)], apps=True),
    Case("status", lambda w: ["status", str(w.repo), *STAGING], apps=True),
    Case("history", lambda w: ["history", "web-staging"]),
    Case("rollback", lambda w: ["rollback", "web-staging", "1", "--dry-run"]),
    Case("sandbox get", lambda w: ["sandbox", "get", "deployments", "-A"]),
    Case(
        "sandbox scale",
        lambda w: ["sandbox", "scale", "deploy/web", "-n", "web-staging", "--replicas", "2"],
    ),
    Case(
        "sandbox edit",
        lambda w: ["sandbox", "edit", "deploy/web", "-n", "web-staging"],
        env=(("EDITOR", "sed -i s/replicas:.*/replicas:\\ 3/"),),
    ),
    Case("sandbox kms create-key", lambda w: ["sandbox", "kms", "create-key"]),
    Case("seal", lambda w: ["seal", "-f", _secret(w)]),
    Case(
        "cluster add",
        lambda w: ["cluster", "add", "east", "--sandbox", "--server", "https://e.example"],
    ),
    Case("cluster list", lambda w: ["cluster", "list"]),
    Case("cluster rm", lambda w: ["cluster", "rm", "east"]),
    Case("events", lambda w: ["events", "web-staging", "--limit", "5"]),
    Case("suspend", lambda w: ["suspend", "web-staging"]),
    Case("resume", lambda w: ["resume", "web-staging"]),
    Case("unpin", lambda w: ["unpin", "web-staging"]),
    Case("version", lambda w: ["version"]),
    Case(
        "promote",
        lambda w: [
            "promote",
            "web",
            "--from",
            "staging",
            "--to",
            "production",
            "--path",
            str(w.repo),
            "--dry-run",
        ],
    ),
    Case("drift", lambda w: ["drift", "web-staging", "--path", str(w.repo)]),
    Case("image scan", lambda w: ["image", "scan", _images(w)], (0, 1)),
    Case("image update", lambda w: ["image", "update", _images(w), "--dry-run"], (0, 1)),
    Case("rollout status", lambda w: ["rollout", "status", "shop"]),
    Case("rollout promote", lambda w: ["rollout", "promote", "shop", "shop/web"]),
    Case("rollout abort", lambda w: ["rollout", "abort", "shop", "shop/web"]),
    Case("why", lambda w: ["why", str(w.repo), *STAGING], apps=True),
]

# Long-running verbs: -o json is a stream, one JSON object a line (tested below).
STREAMS = {"watch", "run"}
# Verbs that act through a cluster's gitwave controller: their -o json document
# is checked against a running controller (tests/e2e/test_kube_controller_refresh_verb.py,
# which applies check_contract too).
CONTROLLER_VERBS = {"refresh"}


def test_every_verb_is_covered() -> None:
    verbs = parser_verbs()
    covered = {c.verb for c in CASES} | STREAMS | CONTROLLER_VERBS
    no_data = {verb for verb, func in verbs.items() if func in NO_DATA}
    assert sorted(set(verbs) - covered - no_data) == []
    assert sorted(covered - set(verbs)) == []  # no case for a verb that is gone


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    sandbox_state(tmp_path, monkeypatch)
    return make_world(tmp_path, monkeypatch, capsys)


_KEY = re.compile(r"[^/\s]*/[A-Z][A-Za-z0-9]*/[^/\s]*/[^/\s]+")
_TIME_FIELDS = {"started", "finished", "time", "since", "lastTransitionTime"}


def _walk(value: Any, field: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, str(key))
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner, field)
    else:
        yield field, value


def check_contract(doc: Any) -> None:
    """Resource keys as group/Kind/namespace/name; times RFC 3339 in UTC."""
    for field, value in _walk(doc):
        if field in ("key", "resource", "composite", "writtenBy") and isinstance(value, str):
            assert _KEY.fullmatch(value), f"{field}: {value!r} is not group/Kind/namespace/name"
        if field in _TIME_FIELDS and isinstance(value, str):
            assert value.endswith("Z"), f"{field}: {value!r} is not UTC"
            assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.verb)
def test_json_of_every_verb(
    case: Case,
    world: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    if case.verb == "cluster rm":
        assert run(capsys, "cluster", "add", "east", "--sandbox", "--server", "https://e.x")[0] == 0
    code, out, err = run(capsys, *case.argv(world), "-o", "json")
    assert code in case.codes, out + err
    doc = json.loads(out)  # one document: the whole of stdout
    check_contract(doc)
    if case.apps:
        assert isinstance(doc, list) and doc, doc
        assert all(isinstance(one, dict) and one.get("app") for one in doc)


@pytest.mark.parametrize("verb", sorted(STREAMS))
def test_streams_print_a_json_object_a_line(verb: str, world: World) -> None:
    # A real process: it runs until stopped. Its first line is read as it comes
    # (the first cycle's events), then it is stopped as CI stops a job.
    # web-dev is not synced yet: the first cycle syncs it (automated), and says so.
    argv = [verb, str(world.repo), "--app", "web-dev", "-o", "json"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitwave.tui.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        event = json.loads(first)
        assert event["app"] == "web-dev"
        check_contract(event)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


NO_DATA_VERBS = [
    (("tui",), (".",)),
    (("completion",), ("bash",)),
    (("sandbox", "aws-exec"), ("--", "true")),
    (("controller",), ()),
    (("bootstrap",), (".", "clusters/dev")),
]


@pytest.mark.parametrize("verb, rest", NO_DATA_VERBS, ids=[" ".join(v) for v, _ in NO_DATA_VERBS])
def test_verbs_with_no_data_refuse_json(
    verb: tuple[str, ...],
    rest: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox_state(tmp_path, monkeypatch)
    code, out, err = run(capsys, *verb, "-o", "json", *rest)
    assert (code, out) == (2, "")
    assert "has no json output" in err


# -- -o wide and -o name ------------------------------------------------------------------


def test_status_wide_and_name(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "status", str(world.repo), "-o", "name")
    assert (code, out.split()) == (0, ["web-dev", "web-production", "web-staging"]), err
    code, out, _ = run(capsys, "status", str(world.repo), *STAGING, "-o", "wide")
    header, row = out.splitlines()
    assert header.split() == [
        "APP",
        "DESTINATION",
        "SYNC",
        "HEALTH",
        "REVISION",
        "LAST",
        "SYNC",
        "KIND",
        "PROJECT",
        "REPO",
        "PATH",
        "TARGET",
        "LABELS",
    ]
    assert row.split()[-5:] == [
        "default",
        ".",
        "overlays/staging",
        "HEAD",
        "env=staging,tier=web",
    ]


def test_sandbox_get_wide_and_name(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sandbox", "get", "deploy", "-n", "web-staging", "-o", "name")
    assert (code, out) == (0, "deployment.apps/web\n")
    code, out, _ = run(capsys, "sandbox", "get", "cm", "-n", "web-staging", "-o", "name")
    assert code == 0 and all(line.startswith("configmap/") for line in out.splitlines())
    code, out, _ = run(capsys, "sandbox", "get", "deploy", "-n", "web-staging", "-o", "wide")
    header, row = out.splitlines()
    assert header.split()[-3:] == ["APP", "IMAGES", "LABELS"]
    assert row.split()[5:7] == ["web-staging", "nginx:1.26"]  # the staging overlay's tag


def test_history_cluster_list_and_events(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "history", "web-staging", "-o", "name")
    assert (code, out) == (0, "1\n")  # the ids, as argocd app history -o id
    code, out, _ = run(capsys, "history", "web-staging", "-o", "wide")
    assert out.splitlines()[0].split()[-3:] == ["FINISHED", "PRUNE", "MESSAGE"]
    code, out, _ = run(capsys, "cluster", "list", "-o", "name")
    assert (code, out) == (0, "in-cluster\n")
    code, out, _ = run(capsys, "events", "web-staging", "-o", "wide", "--limit", "1")
    assert out.splitlines()[0].split()[-1] == "WAVE"


@pytest.mark.parametrize("verb", [("plan",), ("sync",), ("graph",)])
@pytest.mark.parametrize("form", ["wide", "name"])
def test_forms_a_verb_has_not_are_refused_before_it_runs(
    verb: tuple[str, ...], form: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *verb, str(world.repo), "--app", "web-dev", "-o", form)
    assert (code, out) == (2, "")
    assert f'unable to match a printer suitable for the output format "{form}"' in err
    assert "allowed formats are: json,table,yaml" in err
    # Nothing was synced.
    code, out, _ = run(capsys, "history", "web-dev")
    assert code == 1


# -- the table in docs/cli-output.md ---------------------------------------------------------


def _has_selector(verb: str) -> bool:
    parser = build_parser()
    for word in verb.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return any("--selector" in a.option_strings for a in parser._actions)


def test_the_docs_list_every_verbs_forms() -> None:
    text = (REPO_ROOT / "docs" / "cli-output.md").read_text()
    rows = {
        verb: (forms, selects)
        for verb, forms, selects in re.findall(
            r"^\| `gitwave ([^`]+)` \| ([^|]+) \| ([^|]+) \|", text, re.MULTILINE
        )
    }
    verbs = {v: f for v, f in parser_verbs().items() if not v.startswith("__")}
    assert sorted(rows) == sorted(verbs)
    for verb, func in verbs.items():
        forms, selects = rows[verb]
        listed = {form.strip() for form in forms.split(",")} - {"—"}
        assert listed == set(forms_of(func)) - {"table"}, verb
        assert (selects.strip() != "—") is _has_selector(verb), verb
    assert set(EXTRA_FORMS) <= set(verbs.values())

"""A fresh `gitwave plan` that prints the last no-op plan's text
(``engine.plan_verdict``) does so only while nothing changed: each change a
user can make between two plans (an object edited, deleted or created live
from another process, a commit that changes, adds or drops an object or moves
a sync-wave, another `--prune`) makes the next plan process show it, with exit
code 1, as a plan without the kept text does. Real sandbox, real subprocesses;
the kept text is used only when the log says so (``-v``)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine import plan_memo
from gitwave.engine.model import Resource, ResourceKey
from gitwave.providers.sandbox import SandboxProvider

NAMESPACE = "kept"
COUNT = plan_memo.MIN_OBJECTS + 20  # only apps this big keep a plan
KEPT = "nothing changed since a plan that found nothing to do"
NO_OP = f"Plan: 0 to create, 0 to update, 0 to prune, 0 hooks, {COUNT + 1} unchanged."


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def _write_repo(root: Path) -> Path:
    root.mkdir()
    (root / "namespace.yaml").write_text(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"
    )
    for start in range(0, COUNT, 50):
        chunk = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: cfg-{i}\n  namespace: {NAMESPACE}\ndata:\n  n: '{i}'\n"
            for i in range(start, min(COUNT, start + 50))
        ]
        (root / f"cfg-{start:03d}.yaml").write_text("---\n".join(chunk))
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "objects")
    return root


@dataclass(frozen=True)
class Plan:
    code: int
    out: str
    kept: bool  # the kept text was printed (the log says so)


def _plan(env: dict[str, str], repo: Path, *more: str) -> Plan:
    done = subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", "plan", str(repo), "-v", *more],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return Plan(done.returncode, done.stdout, KEPT in done.stderr)


def _edit_file(repo: Path, old: str, new: str) -> None:
    first = repo / "cfg-000.yaml"
    text = first.read_text()
    assert old in text
    first.write_text(text.replace(old, new))
    _git(repo, "commit", "-qam", "an edit")


def _live_edit(repo: Path, state: Path) -> str:
    sandbox = SandboxProvider(state, rollout_seconds=0.0)
    key = ResourceKey("", "ConfigMap", NAMESPACE, "cfg-7")
    live = sandbox.observe(key)
    assert live is not None
    edited = copy.deepcopy(live.manifest)
    edited["data"]["n"] = "edited live"
    sandbox.replace_live(key, edited)
    return "0 to create, 1 to update, 0 to prune"


def _live_delete(repo: Path, state: Path) -> str:
    SandboxProvider(state, rollout_seconds=0.0).delete(
        ResourceKey("", "ConfigMap", NAMESPACE, "cfg-60")
    )
    return "1 to create, 0 to update, 0 to prune"


def _live_create_tracked(repo: Path, state: Path) -> str:
    # An object of this app live but not in Git (left by another process): to prune.
    sandbox = SandboxProvider(state, rollout_seconds=0.0)
    live = sandbox.observe(ResourceKey("", "ConfigMap", NAMESPACE, "cfg-1"))
    assert live is not None
    extra = copy.deepcopy(live.manifest)
    for field in ("uid", "resourceVersion", "creationTimestamp", "managedFields"):
        extra["metadata"].pop(field, None)
    extra["metadata"]["name"] = "left-behind"
    key = ResourceKey("", "ConfigMap", NAMESPACE, "left-behind")
    sandbox.apply(Resource(key, "v1", extra))
    return "is not in the source but its tracking id is not repo's; it is never pruned"


def _commit_change(repo: Path, state: Path) -> str:
    _edit_file(repo, "n: '3'\n", "n: 'three'\n")
    return "0 to create, 1 to update, 0 to prune"


def _commit_new_object(repo: Path, state: Path) -> str:
    (repo / "new.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n  namespace: {NAMESPACE}\n"
    )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "a new object")
    return "1 to create, 0 to update, 0 to prune"


def _commit_drop(repo: Path, state: Path) -> str:
    _edit_file(
        repo,
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-0\n  namespace: {NAMESPACE}\n"
        "data:\n  n: '0'\n---\n",
        "",
    )
    return "requires pruning"


@dataclass(frozen=True)
class Case:
    reason: str
    change: Callable[[Path, Path], str]  # (repo, state) → a text the next plan shows
    code: int = 1  # the next plan's exit code (1: changes to sync)


CASES = [
    Case("an object edited live from another process", _live_edit),
    Case("an object deleted live from another process", _live_delete),
    # Another source's object: a warning, nothing to do (exit 0).
    Case("an object created live, not in Git", _live_create_tracked, code=0),
    Case("a commit changes an object", _commit_change),
    Case("a commit adds an object", _commit_new_object),
    Case("a commit drops an object still live", _commit_drop),
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(tmp_path / "cache"),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "NO_COLOR": "1",
    }


def _synced_and_kept(env: dict[str, str], repo: Path) -> Plan:
    """Sync, then plan until a plan prints the kept text; that plan."""
    subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", "sync", str(repo)],
        env=env,
        check=True,
        capture_output=True,
    )
    first = _plan(env, repo)
    assert (first.code, first.kept) == (0, False)
    assert NO_OP in first.out
    second = _plan(env, repo)
    assert second.kept, "the no-op plan was kept and printed again"
    assert (second.code, second.out) == (first.code, first.out), "the same text, the same code"
    return second


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_a_kept_plan_is_not_printed_once_something_changed(
    case: Case, tmp_path: Path, env: dict[str, str]
) -> None:
    repo = _write_repo(tmp_path / "repo")
    _synced_and_kept(env, repo)

    shown = case.change(repo, Path(env["GITWAVE_STATE"]))

    after = _plan(env, repo)
    assert not after.kept, case.reason
    assert after.code == case.code, after.out
    assert shown in after.out, after.out
    again = _plan(env, repo)
    assert (again.code, again.out) == (after.code, after.out)
    if case.code:
        assert not again.kept, "a plan with changes is never kept"


def test_a_kept_plan_is_per_request_and_per_wave(tmp_path: Path, env: dict[str, str]) -> None:
    repo = _write_repo(tmp_path / "repo")
    kept = _synced_and_kept(env, repo)
    # Another request (--prune) is another plan; then the same request is kept.
    assert not _plan(env, repo, "--prune").kept
    assert _plan(env, repo, "--prune").kept
    # A commit that moves an object to another sync-wave: shown in that wave.
    _edit_file(
        repo,
        f"  name: cfg-10\n  namespace: {NAMESPACE}\n",
        f"  name: cfg-10\n  namespace: {NAMESPACE}\n"
        "  annotations:\n    argocd.argoproj.io/sync-wave: '5'\n",
    )
    moved = _plan(env, repo)
    assert (moved.kept, moved.code) == (False, 1)
    assert f"Sync wave 5:\n  ~ ConfigMap/{NAMESPACE}/cfg-10\n" in moved.out
    assert moved.out != kept.out

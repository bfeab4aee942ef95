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
from tests.tui.test_cli_plan_fresh import config_map_repo, git_in

NAMESPACE = "kept"
COUNT = plan_memo.MIN_OBJECTS + 20  # only apps this big keep a plan
KEPT = "nothing changed since a plan that found nothing to do"
NO_OP = f"Plan: 0 to create, 0 to update, 0 to prune, 0 hooks, {COUNT + 1} unchanged."


def _write_repo(root: Path) -> Path:
    return config_map_repo(root, NAMESPACE, COUNT)


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
    git_in(repo, "commit", "-qam", "an edit")


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
    git_in(repo, "add", "-A")
    git_in(repo, "commit", "-qm", "a new object")
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


# The render a plan starts from is named by its render cache entry's head,
# looked up without decoding the objects. A Kustomize overlay and a Helm chart
# read more files than the app path's own: each change of what they render
# (committed or not, inside the path or beside it) is planned in full.


def _configmaps(namespace: str) -> str:
    return "---\n".join(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: cfg-{i}\n  namespace: {namespace}\ndata:\n  n: '{i}'\n"
        for i in range(COUNT)
    )


def _overlay_repo(root: Path) -> Path:
    """A Kustomize overlay (the app path) of a base beside it; the path planned."""
    (root / "base").mkdir(parents=True)
    (root / "base" / "objects.yaml").write_text(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n---\n"
        + _configmaps(NAMESPACE)
    )
    (root / "base" / "kustomization.yaml").write_text("resources:\n- objects.yaml\n")
    (root / "overlay").mkdir()
    (root / "overlay" / "kustomization.yaml").write_text(
        "resources:\n- ../base\ncommonLabels:\n  tier: kept\n"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git_in(root, "add", "-A")
    git_in(root, "commit", "-qm", "objects")
    return root / "overlay"


def _chart_repo(root: Path) -> Path:
    """A Helm chart whose objects take a value from values.yaml; the chart planned."""
    chart = root / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: kept\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("tier: kept\n")
    (chart / "templates" / "objects.yaml").write_text(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"
        f"{{{{- range $i := until {COUNT} }}}}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: cfg-{{{{ $i }}}}\n  namespace: {NAMESPACE}\n"
        "data:\n  n: '{{ $i }}'\n  tier: {{ $.Values.tier | quote }}\n"
        "{{- end }}\n"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git_in(root, "add", "-A")
    git_in(root, "commit", "-qm", "chart")
    return chart


def _base_edit(repo: Path) -> None:
    objects = repo / "base" / "objects.yaml"
    objects.write_text(objects.read_text().replace("n: '3'\n", "n: 'three'\n"))


def _overlay_edit(repo: Path) -> None:
    kustomization = repo / "overlay" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("tier: kept", "tier: other"))


def _values_edit(repo: Path) -> None:
    (repo / "chart" / "values.yaml").write_text("tier: other\n")


@dataclass(frozen=True)
class RenderChange:
    reason: str
    make: Callable[[Path], Path]  # the repository's root → the app path planned
    change: Callable[[Path], None]  # an edit in the repository (not committed)
    shown: str  # what the next plan shows
    commit: bool


RENDER_CHANGES = [
    *(
        RenderChange(
            f"{what}, {'committed' if commit else 'not committed'}", make, change, shown, commit
        )
        for what, make, change, shown in [
            (
                "a Kustomize base beside the overlay",
                _overlay_repo,
                _base_edit,
                "0 to create, 1 to update, 0 to prune",
            ),
            (
                "a Kustomize overlay",
                _overlay_repo,
                _overlay_edit,
                f"0 to create, {COUNT + 1} to update, 0 to prune",
            ),
            (
                "a Helm chart's values file",
                _chart_repo,
                _values_edit,
                f"0 to create, {COUNT} to update, 0 to prune",
            ),
        ]
        for commit in (True, False)
    )
]


@pytest.mark.parametrize("case", RENDER_CHANGES, ids=lambda c: c.reason)
def test_a_change_of_what_an_app_renders_is_planned_in_full(
    case: RenderChange, tmp_path: Path, env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    path = case.make(repo)
    kept = _synced_and_kept(env, path)
    # The kept text was printed without reading the render's objects back.
    assert "render cache: reused the render" not in _plan_log(env, path)

    case.change(repo)
    if case.commit:
        git_in(repo, "commit", "-qam", "a change of the render")

    after = _plan(env, path)
    assert not after.kept, case.reason
    assert after.code == 1, after.out
    assert case.shown in after.out, after.out
    assert after.out != kept.out
    again = _plan(env, path)
    assert (again.kept, again.code, again.out) == (False, after.code, after.out)


def _plan_log(env: dict[str, str], repo: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", "plan", str(repo), "-v"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert KEPT in done.stderr
    return done.stderr


def test_a_plan_reads_each_repository_once(tmp_path: Path, env: dict[str, str]) -> None:
    """One snapshot per command: the loader, the kept plan's look-up and the
    render open the repository once, `git status` saying its commit and branch."""
    repo = _write_repo(tmp_path / "repo")
    _synced_and_kept(env, repo)
    log = tmp_path / "git.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    # The wrapper logs, then runs the real git (found on the PATH without it).
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nPATH="{env["PATH"]}" exec git "$@"\n')
    wrapper.chmod(0o755)
    logged = {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    kept = _plan(logged, repo)
    assert kept.kept
    commands = [line.split()[2] for line in log.read_text().splitlines()]
    assert commands == ["rev-parse", "status", "remote"], commands

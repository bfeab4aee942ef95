"""A fresh `gitwave plan` process after others: what earlier processes kept on
disk (the render cache, the plan memo) and the live objects it no longer
decodes unless asked (``Live.stored``) never hide a change. Between two
real `gitwave plan` processes an object is edited live behind gitwave's back,
another is deleted live, a commit changes one file and drops one object, and
the second plan shows exactly those changes. Real sandbox, real subprocess."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gitwave.engine import plan_memo
from gitwave.engine.model import ResourceKey
from gitwave.providers.sandbox import SandboxProvider

NAMESPACE = "fresh"
# Enough objects for the plan memo (only apps of MIN_OBJECTS or more keep one).
COUNT = plan_memo.MIN_OBJECTS + 20


def git_in(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def config_map_repo(root: Path, namespace: str, count: int) -> Path:
    """A committed repository of a Namespace and ``count`` ConfigMaps in it
    (``cfg-N``, 50 a file): enough objects for the plan memo and kept plans."""
    root.mkdir()
    (root / "namespace.yaml").write_text(
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
    )
    for start in range(0, count, 50):
        chunk = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            f"  name: cfg-{i}\n  namespace: {namespace}\ndata:\n  n: '{i}'\n"
            for i in range(start, min(count, start + 50))
        ]
        (root / f"cfg-{start:03d}.yaml").write_text("---\n".join(chunk))
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git_in(root, "add", "-A")
    git_in(root, "commit", "-qm", "objects")
    return root


def _write_repo(root: Path) -> Path:
    return config_map_repo(root, NAMESPACE, COUNT)


def gitwave_run(env: dict[str, str], *argv: str, code: int = 0) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout) if "-o" in argv else done.stdout


def changed_tasks(plan: Any) -> dict[str, tuple[str, list[tuple[str, Any, Any]]]]:
    (app,) = plan
    return {
        task["key"]: (
            task["action"],
            [(c["path"], c["live"], c["desired"]) for c in task["changes"]],
        )
        for wave in app["waves"]
        for task in wave["tasks"]
        if task["action"] != "none"
    }


def test_a_fresh_plan_shows_exactly_what_changed_live_and_in_git(tmp_path: Path) -> None:
    repo = _write_repo(tmp_path / "repo")
    state, cache = tmp_path / "state", tmp_path / "cache"
    env = {
        **os.environ,
        "GITWAVE_STATE": str(state),
        "GITWAVE_CACHE": str(cache),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "NO_COLOR": "1",
    }
    gitwave_run(env, "sync", str(repo))
    for _ in range(2):  # the first keeps the render and the memo, the second takes them
        plan = gitwave_run(env, "plan", str(repo), "-o", "json")
        assert changed_tasks(plan) == {}
        assert plan[0]["summary"]["unchanged"] == COUNT + 1
    assert list((cache / "plans").glob("*.json")), "the plan memo is on disk"

    # Behind gitwave's back (kubectl edit, kubectl delete): one object edited live,
    # another deleted.
    sandbox = SandboxProvider(state, rollout_seconds=0.0)
    drifted = ResourceKey("", "ConfigMap", NAMESPACE, "cfg-7")
    live = sandbox.observe(drifted)
    assert live is not None
    edited = copy.deepcopy(live.manifest)
    edited["data"]["n"] = "edited live"
    sandbox.replace_live(drifted, edited)
    gone = ResourceKey("", "ConfigMap", NAMESPACE, "cfg-60")
    sandbox.delete(gone)
    assert sandbox.observe(gone) is None
    # A commit changes one object and drops another from Git.
    first = repo / "cfg-000.yaml"
    first.write_text(first.read_text().replace("n: '3'\n", "n: 'three'\n"))
    last = repo / "cfg-100.yaml"
    docs = last.read_text().split("---\n")
    last.write_text("---\n".join(d for d in docs if "name: cfg-119\n" not in d))
    git_in(repo, "commit", "-qam", "change one, drop one")

    plan = gitwave_run(env, "plan", str(repo), "-o", "json", code=1)  # 1: changes to sync
    assert changed_tasks(plan) == {
        f"/ConfigMap/{NAMESPACE}/cfg-7": ("update", [("data.n", "edited live", "7")]),
        f"/ConfigMap/{NAMESPACE}/cfg-3": ("update", [("data.n", "3", "three")]),
        f"/ConfigMap/{NAMESPACE}/cfg-60": ("create", []),
    }
    # Dropped from Git, prune off: listed, not pruned.
    assert plan[0]["requiresPruning"] == [f"/ConfigMap/{NAMESPACE}/cfg-119"]
    assert plan[0]["summary"]["unchanged"] == COUNT + 1 - 4

    # And a plan after that one (memo rewritten) still reports the same.
    again = gitwave_run(env, "plan", str(repo), "-o", "json", code=1)
    assert changed_tasks(again) == changed_tasks(plan)


def test_a_fresh_plan_checks_the_schema_of_an_object_changed_since(tmp_path: Path) -> None:
    # The pre-flight of the first plans passed for every object; the commit then
    # makes one object invalid. The next plan process must refuse it.
    repo = _write_repo(tmp_path / "repo")
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(tmp_path / "cache"),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "NO_COLOR": "1",
    }
    gitwave_run(env, "sync", str(repo))
    for _ in range(2):
        assert changed_tasks(gitwave_run(env, "plan", str(repo), "-o", "json")) == {}
    first = repo / "cfg-000.yaml"
    invalid = "  name: cfg-5\n  namespace: fresh\n  labels:\n    tier: 'not ok!'\n"
    first.write_text(first.read_text().replace("  name: cfg-5\n  namespace: fresh\n", invalid))
    git_in(repo, "commit", "-qam", "a label value Kubernetes refuses")

    done = subprocess.run(
        [sys.executable, "-m", "gitwave.tui.cli", "plan", str(repo)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout
    assert "the target would refuse 1 object" in done.stderr, done.stderr
    assert "ConfigMap/fresh/cfg-5 (cfg-000.yaml:" in done.stderr, done.stderr
    assert 'metadata.labels: Invalid value: "not ok!"' in done.stderr, done.stderr


def _waves(plan: Any) -> dict[str, tuple[str, int, int]]:
    (app,) = plan
    return {
        task["key"]: (wave["phase"], wave["wave"], wave["step"])
        for wave in app["waves"]
        for task in wave["tasks"]
    }


def test_a_fresh_plan_shows_a_changed_wave_and_dependency_order(tmp_path: Path) -> None:
    # The first plans keep the render's graph on disk (graph_cache); a commit then
    # moves one object to a later sync-wave and makes another wait for a third
    # (depends-on). The next plan process must place them in the new order.
    repo = _write_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_CACHE": str(cache),
        "GITWAVE_SANDBOX_ROLLOUT": "0",
        "NO_COLOR": "1",
    }
    gitwave_run(env, "sync", str(repo))
    for _ in range(2):  # the first keeps the graph, the second reads it back
        before = _waves(gitwave_run(env, "plan", str(repo), "-o", "json"))
    assert list((cache / "graphs").glob("*.json")), "the graph is kept on disk"
    cfg = f"/ConfigMap/{NAMESPACE}/cfg-%d"
    # Step 1 of wave 0: after their Namespace (step 0).
    assert before[cfg % 10] == before[cfg % 11] == before[cfg % 12] == ("Sync", 0, 1)

    first = repo / "cfg-000.yaml"
    text = first.read_text()
    text = text.replace(
        f"  name: cfg-10\n  namespace: {NAMESPACE}\n",
        f"  name: cfg-10\n  namespace: {NAMESPACE}\n"
        "  annotations:\n    argocd.argoproj.io/sync-wave: '5'\n",
    )
    text = text.replace(
        f"  name: cfg-11\n  namespace: {NAMESPACE}\n",
        f"  name: cfg-11\n  namespace: {NAMESPACE}\n"
        f"  annotations:\n    gitwave.dev/depends-on: ConfigMap/{NAMESPACE}/cfg-12\n",
    )
    first.write_text(text)
    git_in(repo, "commit", "-qam", "a later wave for one object, a dependency for another")

    after = _waves(gitwave_run(env, "plan", str(repo), "-o", "json", code=1))
    assert after[cfg % 10] == ("Sync", 5, 0)
    assert after[cfg % 11] == ("Sync", 0, 2)  # a step after what it waits for
    assert after[cfg % 12] == ("Sync", 0, 1)
    assert after[cfg % 13] == before[cfg % 13]

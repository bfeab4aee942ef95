"""Watch mode, the reconcile loop and ApplicationSets (issue 11): a deleted set's
apps are pruned, and a directory added where a git generator looks becomes an
app on the next save. Real files and watchfiles on a tmp Git work tree, a real
SandboxProvider, the watcher and the loop in a thread (``test_watch``'s
``Watcher``, ``test_loop``'s ``Loop``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from gitwave.engine.model import ResourceKey
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.test_loop import Loop
from tests.engine.test_watch import Watcher


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def watcher(tmp_path: Path) -> Iterator[Watcher]:
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        running = Watcher(sandbox, store)
        yield running
        running.close()
    store.close()


SET = """apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: team
spec:
{extra}  generators:
  - git:
      repoURL: .
      revision: HEAD
      directories:
      - path: apps/*
  template:
    metadata:
      name: '{{{{path.basename}}}}'
    spec:
      project: default
      source: {{repoURL: ., targetRevision: HEAD, path: '{{{{path}}}}'}}
      destination: {{server: https://kubernetes.default.svc, namespace: default}}
      syncPolicy:
        automated: {{prune: true}}
"""


def config_map(name: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
        "data:\n  value: v\n"
    )


def set_repo(tmp_path: Path, extra: str = "") -> Path:
    top = tmp_path / "repo"
    files = {"sets/set.yaml": SET.format(extra=extra), "sets/README.md": "the team's apps\n"}
    files |= {f"apps/{n}/cm.yaml": config_map(f"cm-{n}") for n in ("api", "web")}
    for name, text in files.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(text)
    repo = git.Repo.init(top)
    repo.index.add(list(files))
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("init", author=author, committer=author)
    repo.close()
    return top


def live_maps(watcher: Watcher) -> set[str]:
    return {
        live.key.name
        for live in watcher.sandbox.list(namespace="default")
        if live.key.kind == "ConfigMap"
    }


def cm(name: str) -> ResourceKey:
    return ResourceKey("", "ConfigMap", "default", name)


def test_deleting_the_set_file_prunes_its_apps(watcher: Watcher, tmp_path: Path) -> None:
    top = set_repo(tmp_path)
    watcher.start(top / "sets")
    watcher.wait_cycles(2)
    assert live_maps(watcher) == {"cm-api", "cm-web"}

    (top / "sets" / "set.yaml").unlink()
    # api and web prune; the directory, now without definitions, is an app of its own.
    cycles = [c for c in watcher.wait_cycles(5)[2:] if c.app != "sets"]

    assert sorted(c.app for c in cycles) == ["api", "web"], watcher.lines()
    assert all(c.message.startswith("set.yaml → 1 to prune → Synced") for c in cycles), (
        watcher.lines()
    )
    assert live_maps(watcher) == set()
    assert "removed from team" in watcher.store.history("api")[0].source


def test_deleting_a_set_that_preserves_resources_keeps_its_objects(
    watcher: Watcher, tmp_path: Path
) -> None:
    top = set_repo(tmp_path, extra="  syncPolicy: {preserveResourcesOnDeletion: true}\n")
    watcher.start(top / "sets")
    watcher.wait_cycles(2)
    before = watcher.sandbox.observe(cm("cm-api"))

    (top / "sets" / "set.yaml").unlink()
    cycles = [c for c in watcher.wait_cycles(5)[2:] if c.app != "sets"]

    assert sorted(c.app for c in cycles) == ["api", "web"], watcher.lines()
    after = watcher.sandbox.observe(cm("cm-api"))
    assert before is not None and after is not None
    assert after.resource_version == before.resource_version
    assert live_maps(watcher) == {"cm-api", "cm-web"}


def test_a_directory_added_where_the_git_generator_looks_is_a_new_app(
    watcher: Watcher, tmp_path: Path
) -> None:
    top = set_repo(tmp_path)
    watcher.start(top / "sets")
    watcher.wait_cycles(2)

    (top / "apps" / "new").mkdir()
    (top / "apps" / "new" / "cm.yaml").write_text(config_map("cm-new"))
    cycle = watcher.wait_cycles(3)[2]

    assert cycle.app == "new", watcher.lines()
    assert "1 to create → Synced" in cycle.message
    assert live_maps(watcher) == {"cm-api", "cm-new", "cm-web"}
    assert not (top / ".git" / "index.lock").exists()
    assert "apps/new/cm.yaml" in git.Repo(top).untracked_files, "nothing was committed"


def test_a_directory_made_under_a_generator_path_that_did_not_exist_is_seen(
    watcher: Watcher, tmp_path: Path
) -> None:
    top = set_repo(tmp_path)
    text = (top / "sets" / "set.yaml").read_text().replace("apps/*", "teams/*/app")
    (top / "sets" / "set.yaml").write_text(text)
    watcher.start(top / "sets")  # the set generates nothing yet: nothing to cycle
    assert watcher.quiet() == []

    (top / "teams" / "blue" / "app").mkdir(parents=True)
    (top / "teams" / "blue" / "app" / "cm.yaml").write_text(config_map("cm-blue"))
    cycles = watcher.wait_cycles(1)

    assert cycles[0].app == "app", watcher.lines()
    assert "cm-blue" in live_maps(watcher)


def test_run_prunes_the_apps_of_a_set_deleted_in_a_new_commit(tmp_path: Path) -> None:
    top = set_repo(tmp_path)
    store = Store(tmp_path / "state" / "gitwave.db")
    with SandboxProvider(tmp_path / "state", rollout_seconds=0.05) as sandbox:
        loop = Loop(top, sandbox, store)
        try:
            loop.start(str(top / "sets"), interval_s=0.2)
            loop.wait("both apps synced", lambda: live_names(sandbox) == {"cm-api", "cm-web"})
            repo = git.Repo(top)
            repo.index.remove(["sets/set.yaml"], working_tree=True)
            author = git.Actor("Test", "test@example.com")
            repo.index.commit("drop the set", author=author, committer=author)
            repo.close()
            loop.wait("the set's apps pruned", lambda: live_names(sandbox) == set())
            # The row of the prune is finished after its last delete: wait for it too.
            loop.wait(
                "the prune recorded",
                lambda: [r.result for r in store.history("web")] == ["Succeeded", "Succeeded"],
            )
        finally:
            loop.close()
    store.close()


def live_names(sandbox: SandboxProvider) -> set[str]:
    return {
        live.key.name for live in sandbox.list(namespace="default") if live.key.kind == "ConfigMap"
    }

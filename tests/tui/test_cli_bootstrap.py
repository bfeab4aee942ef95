"""The ``flux bootstrap`` layout (issue 12 item 1), synced with the CLI onto the sandbox.

tests/testdata/bootstrap is a repository as ``flux bootstrap`` writes it:
``clusters/staging/flux-system/{gotk-components,gotk-sync,kustomization}.yaml``
(Flux's installation, the ``flux-system`` GitRepository and the root
Kustomization of ``./clusters/staging``), a ``cluster-vars`` ConfigMap the root
applies, and sibling files whose Kustomizations (``infra-controllers`` →
``infra-configs`` → ``apps``, by dependsOn) reference ``flux-system``. It is
committed in tmp_path on branch ``main`` with the remote the GitRepository names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import git
import pytest

from tests.tui.cli_support import run, sandbox_state

DATA = Path(__file__).parent.parent / "testdata" / "bootstrap"
REMOTE = "git@github.com:acme/fleet.git"
SYNC_FILE = Path("clusters/staging/flux-system/gotk-sync.yaml")
WRITTEN_URL = "ssh://git@github.com/acme/fleet"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def make_repo(root: Path, *, url: str = WRITTEN_URL, region: str = "eu-central-1") -> Path:
    shutil.copytree(DATA, root)
    sync_file = root / SYNC_FILE
    sync_file.write_text(sync_file.read_text().replace(WRITTEN_URL, url))
    cluster_vars = root / "clusters" / "staging" / "cluster-vars.yaml"
    cluster_vars.write_text(cluster_vars.read_text().replace("eu-central-1", region))
    repo = git.Repo.init(root, initial_branch="main")
    repo.create_remote("origin", REMOTE)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("flux bootstrap", author=author, committer=author)
    repo.close()
    return root


def everything_live(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "sandbox", "get", "-A", "-o", "json")
    assert code == 0, err
    found = json.loads(out)
    items: list[dict[str, Any]] = found["items"] if isinstance(found, dict) else found
    return items


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/acme/fleet",  # what flux bootstrap writes
        "https://github.com/acme/fleet.git",
        "https://github.com/acme/fleet",
        "git@github.com:acme/fleet",
    ],
)
def test_sync_of_a_cluster_path_syncs_the_tree_in_dependency_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    repo = make_repo(tmp_path / "fleet", url=url)
    code, out, err = run(capsys, "sync", str(repo / "clusters" / "staging"))
    assert code == 0, out + err
    finished = [line.split(" -> ")[0] for line in out.splitlines() if " -> sandbox: " in line]
    # The root first (it applies cluster-vars), then dependsOn orders its children.
    assert finished == ["flux-system", "infra-controllers", "infra-configs", "apps"]

    items = everything_live(capsys)
    kinds = {(item["kind"], item["metadata"]["name"]) for item in items}
    assert ("ConfigMap", "ingress-settings") in kinds
    # apps substitutes from the ConfigMap the root applied (Flux's cluster-vars pattern).
    env = next(i for i in items if i["metadata"]["name"] == "podinfo-env")["data"]
    assert env == {"env": "staging", "region": "eu-central-1"}
    # Flux's own installation and its objects are left to Flux; its namespace is kept.
    assert ("Namespace", "flux-system") in kinds
    assert not [
        k
        for k in kinds
        if k[0] in ("CustomResourceDefinition", "Deployment", "Kustomization", "GitRepository")
    ]


def test_status_lists_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "fleet")
    assert run(capsys, "sync", str(repo / "clusters" / "staging"))[0] == 0
    code, out, err = run(capsys, "status", str(repo / "clusters" / "staging"), "-o", "json")
    assert code == 0, err
    names = [row["app"] if "app" in row else row["name"] for row in json.loads(out)]
    assert sorted(names) == ["apps", "flux-system", "infra-configs", "infra-controllers"]


def test_a_url_naming_another_repository_is_fetched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When flux-system's URL is not one of this repository's remotes, it is
    fetched as any GitRepository: what is synced comes from there."""
    other = make_repo(tmp_path / "other", region="from-the-other-repo")
    monkeypatch.setenv("GITWAVE_ALLOW_LOCAL_REPOS", str(other))
    repo = make_repo(tmp_path / "fleet", url=f"file://{other}")
    code, out, err = run(capsys, "sync", str(repo / "clusters" / "staging"))
    assert code == 0, out + err
    items = everything_live(capsys)
    env = next(i for i in items if i["metadata"]["name"] == "podinfo-env")["data"]
    assert env["region"] == "from-the-other-repo"


def test_a_broken_child_stops_its_tree_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Kustomization of the tree that cannot be read makes the root fail (its
    child list is partial: nothing is synced or pruned for it), and the
    children that follow the root are skipped, saying why."""
    repo = make_repo(tmp_path / "fleet")
    apps = repo / "clusters" / "staging" / "apps.yaml"
    apps.write_text(apps.read_text().replace("interval: 10m", "interval: banana"))
    git_repo = git.Repo(repo)
    git_repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    git_repo.index.commit("break", author=author, committer=author)
    git_repo.close()
    code, out, err = run(capsys, "sync", str(repo / "clusters" / "staging"))
    assert code != 0
    assert "clusters/staging/apps.yaml:1 (Kustomization/apps): spec.interval" in err
    assert "infra-configs: skipped, it follows flux-system, which failed" in out
    names = {item["metadata"]["name"] for item in everything_live(capsys)}
    assert names == {"default", "kube-system"}  # nothing applied


def test_a_kustomization_removed_from_the_tree_has_its_objects_pruned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As Flux does: the root (prune: true) deletes the Kustomization it no longer
    applies, and that one (prune: true) takes its objects with it."""
    repo = make_repo(tmp_path / "fleet")
    assert run(capsys, "sync", str(repo / "clusters" / "staging"))[0] == 0
    git_repo = git.Repo(repo)
    git_repo.index.remove(["clusters/staging/apps.yaml"], working_tree=True)
    author = git.Actor("Test", "test@example.com")
    git_repo.index.commit("drop apps", author=author, committer=author)
    git_repo.close()
    code, out, err = run(capsys, "sync", str(repo / "clusters" / "staging"))
    assert code == 0, out + err
    assert "apps (removed from flux-system)" in out
    assert "deleted    ConfigMap/podinfo/podinfo-env" in out
    names = {item["metadata"]["name"] for item in everything_live(capsys)}
    assert "podinfo-env" not in names
    assert {"podinfo", "ingress-settings", "cluster-vars"} <= names  # a Namespace is kept

"""``gitwave run`` on a repository in the ``flux bootstrap`` layout (issue 12
item 1): the loop treats ``flux-system`` as the root, syncs the tree in
dependsOn order, and a new commit (the cluster variables changed) reaches the
Kustomization that substitutes them."""

from __future__ import annotations

import git

from gitwave.engine.model import ResourceKey
from tests.engine.test_loop import Loop, loop  # noqa: F401  (the loop fixture)
from tests.tui.test_cli_bootstrap import make_repo

ENV = ResourceKey("", "ConfigMap", "podinfo", "podinfo-env")


def test_run_reconciles_the_bootstrap_tree_and_follows_commits(loop: Loop) -> None:  # noqa: F811
    make_repo(loop.root)

    def region() -> str:
        live = loop.sandbox.observe(ENV)
        return "" if live is None else str(live.manifest["data"]["region"])

    loop.start(str(loop.root / "clusters" / "staging"))
    tree = ("flux-system", "infra-controllers", "infra-configs", "apps")
    # The history rows are written when each sync ends: wait for them, not for time.
    loop.wait("every app of the tree synced", lambda: all(loop.results(app) for app in tree))
    for app in tree:
        assert [result for _, result in loop.results(app)][:1] == ["Succeeded"], app
    assert region() == "eu-central-1"

    cluster_vars = loop.root / "clusters" / "staging" / "cluster-vars.yaml"
    cluster_vars.write_text(cluster_vars.read_text().replace("eu-central-1", "us-east-2"))
    repo = git.Repo(loop.root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("move region", author=author, committer=author)
    repo.close()
    loop.wait("the new region substituted", lambda: region() == "us-east-2")

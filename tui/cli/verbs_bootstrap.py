"""``gitwave bootstrap --context C REPO PATH``: install gitwave into a cluster and let
it manage itself from Git, as ``flux bootstrap`` does.

1. write gitwave's install (engine/controller/deploy/) and the ``gitwave``
   Application (REPO at PATH, automated) under PATH in the repository's work
   tree, and commit them (engine.controller.bootstrap says what is written);
2. sync that Application once from this machine, with the spec the controller
   will read (so the objects carry the tracking id the controller expects):
   CRDs, namespace, RBAC, the controller Deployment, then the Application;
3. from then on the controller in the cluster syncs PATH from Git: a change to
   its own manifests there is applied by itself.

REPO is a local Git work tree (a path or ``file://``); pushing it to where the
cluster can fetch it is the operator's (``--push`` pushes the branch to origin).
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import yaml

from gitwave.engine.apps.argo import parse_argo
from gitwave.engine.controller.app_objects import repo_resolver
from gitwave.engine.controller.bootstrap import APP_FILE, check_repo_path, repository_files
from gitwave.engine.model import SourceRef
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.source_bootstrap import commit_files, open_work_tree
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.sync_results import summary_line


def _install_files() -> dict[str, str]:
    """engine/controller/deploy/'s YAML files, by their path inside it."""
    root = resources.files("gitwave.engine.controller") / "deploy"
    found: dict[str, str] = {}

    def walk(node: object, prefix: str) -> None:
        for child in node.iterdir():  # type: ignore[attr-defined]
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{name}/")
            elif child.name.endswith(".yaml"):
                found[name] = child.read_text()

    walk(root, "")
    return found


def cmd_bootstrap(ctx: Context) -> int:
    args = ctx.args
    tree = open_work_tree(args.repo, branch=args.branch)
    path = check_repo_path(args.path)
    files = repository_files(
        install=_install_files(), repo_url=tree.url, path=path, revision=tree.branch
    )
    message = f"gitwave bootstrap: install gitwave and manage it from {path}"
    if commit_files(tree, files, message=message, push=args.push):
        ctx.err(f"committed gitwave's install under {path} on {tree.branch}")
    application = yaml.safe_load(files[f"{path}/{APP_FILE}"])
    app = parse_argo(
        application, SourceRef(f"{path}/{APP_FILE}", 1), repo_resolver((str(tree.top),))
    )
    # The controller's identity for this Application (Kind/namespace/name), so
    # the objects carry the very tracking id it writes (issue 16) and its first
    # sync finds them its own as they are.
    meta = application["metadata"]
    app = replace(app, store_name=f"Application/{meta['namespace']}/{meta['name']}")
    synced = sync_app(app, targets=ctx.targets, store=ctx.store, request=SyncRequest())
    result = synced.result
    ctx.out(summary_line(ctx.terminal, result))
    if not result.ok:
        return EXIT_FAILED
    ctx.out(
        f"gitwave is installed in {ctx.target_name}; the Application gitwave-system/gitwave "
        f"now syncs {path} from {tree.url}@{tree.branch} (the controller manages itself)"
    )
    return EXIT_OK

"""The arguments of the verbs working on apps from a path: validate, render,
graph, plan/diff, sync, wait, status, history, rollback and tui (added by
``parser.build_parser``; each verb's function is imported when it runs).
"""

from __future__ import annotations

import argparse

from gitwave.tui.cli.lazy_verbs import (
    cmd_graph,
    cmd_history,
    cmd_plan,
    cmd_render,
    cmd_rollback,
    cmd_status,
    cmd_sync,
    cmd_tui,
    cmd_validate,
    cmd_wait,
)
from gitwave.tui.cli.parser import (
    _Verbs,
    allow_local_repo_arg,
    app_or_path_args,
    at_least,
    concurrent_arg,
    controller_mode,
    create_namespace_arg,
    duration_seconds,
    namespace_arg,
    parallel_arg,
    path_args,
    prune_arg,
    revision_arg,
    wave_timeout_arg,
)
from gitwave.tui.cli.verb_args import add_app_arg, add_resource_args, add_selector_arg


def app_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """The verbs working on apps from a path (called once from ``parser.build_parser``)."""
    p = verbs.add_parser(
        "validate",
        parents=[common],
        help="check rendered objects against schemas and policies; exit 1 on violations",
    )
    path_args(p)
    _policy_args(p)
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report for CI")
    p.set_defaults(func=cmd_validate)

    p = verbs.add_parser("render", parents=[common], help="print the rendered manifests")
    path_args(p)
    p.set_defaults(func=cmd_render)

    p = verbs.add_parser("graph", parents=[common], help="print the sync waves or DOT")
    path_args(p)
    p.add_argument("--dot", action="store_true", help="print Graphviz DOT")
    p.set_defaults(func=cmd_graph)

    for name in ("plan", "diff"):
        p = verbs.add_parser(
            name,
            parents=[common],
            help="show what a sync would change; exit 1 when there are changes",
        )
        path_args(p)
        create_namespace_arg(p)
        p.add_argument("--prune", action="store_true", help="include prunes of removed objects")
        _guard_args(p, confirm=False)
        _adopt_arg(p)
        _policy_args(p)
        add_resource_args(p)
        p.set_defaults(func=cmd_plan)

    p = verbs.add_parser("sync", parents=[common], help="apply the desired state wave by wave")
    add_resource_args(p)
    path_args(p)
    create_namespace_arg(p)
    prune_arg(p)
    p.add_argument("--dry-run", action="store_true", help="validate and show, change nothing")
    _guard_args(p, confirm=True)
    wave_timeout_arg(p)
    parallel_arg(p)
    p.add_argument(
        "--wait",
        action="store_true",
        help="after the sync, wait for each app to be Healthy (exit 1 on timeout or Degraded)",
    )
    _adopt_arg(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="re-apply every object (taking over fields another applier owns; a HelmRelease's "
        "live CRDs too, whatever its install.crds/upgrade.crds policy) and run "
        "hooks already run for this revision again",
    )
    _lock_args(p)
    concurrent_arg(p)
    _policy_args(p)
    p.set_defaults(func=cmd_sync)
    controller_mode(p, "sync")

    p = verbs.add_parser(
        "wait",
        parents=[common],
        help="wait for an app to be Healthy and/or Synced (as argocd app wait)",
    )
    p.add_argument(
        "target_app",
        metavar="APP|PATH",
        help="an app's name (found under --path) or a location: every app there",
    )
    p.add_argument("--path", help="where APP is defined (default: .)")
    p.add_argument("--app", action="append", help="with a PATH: only this app (repeatable)")
    add_selector_arg(p)
    revision_arg(p)
    allow_local_repo_arg(p)
    namespace_arg(p)
    create_namespace_arg(p)
    p.add_argument("--health", action="store_true", help="wait for health Healthy")
    p.add_argument("--sync", action="store_true", help="wait for sync status Synced")
    p.add_argument(
        "--timeout",
        type=duration_seconds,
        metavar="DURATION",
        help="give up after this long (90s, 5m; default: the app's timeout, else 5m)",
    )
    p.set_defaults(func=cmd_wait)

    p = verbs.add_parser(
        "status",
        parents=[common],
        aliases=["get"],  # argocd app get APP
        help="sync status and health of each app",
    )
    path_args(p, optional=True)
    create_namespace_arg(p)
    p.set_defaults(func=cmd_status)
    controller_mode(p, "status")

    p = verbs.add_parser("history", parents=[common], help="past syncs of an app")
    app_or_path_args(p)
    p.add_argument(
        "--limit", type=at_least(1), default=50, metavar="N", help="at most this many, newest"
    )
    p.set_defaults(func=cmd_history, targetless="it reads the history gitwave keeps in --state")
    controller_mode(p, "history")

    p = verbs.add_parser(
        "rollback", parents=[common], help="re-apply the manifests of a history entry"
    )
    add_app_arg(p)
    p.add_argument(
        "id",
        metavar="ID",
        type=at_least(0),
        nargs="?",
        help="history id (default: previous; with --controller: status.history's id)",
    )
    p.add_argument("--prune", action="store_true", help="also delete objects not in that entry")
    p.add_argument(
        "--dry-run", action="store_true", help="show what it would apply, change nothing"
    )
    _guard_args(p, confirm=True)
    _adopt_arg(p)
    _lock_args(p)
    p.set_defaults(func=cmd_rollback)
    controller_mode(p, "rollback")

    p = verbs.add_parser("tui", parents=[common], help="the terminal UI (k9s-style)")
    p.add_argument("path", nargs="?", default=".", help="as for sync (default: .)")
    p.add_argument("--app", help="open this app's screen at start")
    p.add_argument("--read-only", action="store_true", help="hide and refuse every control")
    allow_local_repo_arg(p)
    p.add_argument(
        "--watch",
        action="store_true",
        help="follow the work tree and sync on every save, showing each cycle (as gitwave watch)",
    )
    concurrent_arg(p)
    p.set_defaults(func=cmd_tui)
    controller_mode(p, "tui")


def _adopt_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adopt",
        action="store_true",
        help="take over objects another app (or an app of the same name from another "
        "repository or path) manages, instead of refusing",
    )


def _prune_limit(text: str) -> float:
    """A ``--prune-limit`` value: a percentage (``40%``, ``40``)."""
    # Imported when --prune-limit is given: building the parser stays engine-free.
    from gitwave.engine.apps.fields import parse_percent

    limit = parse_percent(text)
    if limit is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage between 0% and 100%")
    return limit


def _guard_args(parser: argparse.ArgumentParser, *, confirm: bool) -> None:
    """The prune guard (engine.prune_guard): the limit, and the confirmation to pass it."""
    parser.add_argument(
        "--prune-limit",
        type=_prune_limit,
        metavar="PERCENT",
        help="share of an app's objects a sync may prune without --confirm-prune "
        "(default: the app's gitwave.dev/prune-limit annotation, else 25%%)",
    )
    if confirm:
        parser.add_argument(
            "--confirm-prune",
            action="store_true",
            help="sync even when the prune exceeds the prune limit or deletes a stateful "
            "object (PVC, StatefulSet, DBInstance, Bucket)",
        )


def _lock_args(parser: argparse.ArgumentParser) -> None:
    """How long to wait while another operation (a process, the loop, the TUI) holds an app."""
    parser.add_argument(
        "--lock-timeout",
        type=duration_seconds,
        default="5m",
        metavar="DURATION",
        help="wait this long for another operation on the app to end (plain: seconds) "
        "(default: 5m)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail at once when another operation holds the app (as --lock-timeout 0)",
    )


def _policy_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        action="append",
        metavar="DIR",
        help="ValidatingAdmissionPolicies and Rego policies to check first (repeatable)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="a plaintext Secret in Git is an error"
    )
    parser.add_argument(
        "--kubernetes-version",
        metavar="X.Y",
        help="check built-in kinds against this release's schemas (default: the target's)",
    )

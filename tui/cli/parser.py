"""The `gitwave` command line's flags and verbs (argparse), in one place.

Flags follow kubectl/argocd/flux habits: ``-o table|json|yaml``, ``--context``,
``-n``/``-A``; every verb takes the global flags too (``gitwave plan -o json``).
One module (about 450 lines) on purpose: the whole grammar of the command line
read top to bottom, so a flag is named the same way in every verb.
"""

from __future__ import annotations

import argparse

from gitwave.engine.apps.fields import parse_percent
from gitwave.engine.fleet_run import DEFAULT_CONCURRENT
from gitwave.providers.sealed_secrets import SealingScope
from gitwave.tui.cli.durations import parse_duration
from gitwave.tui.cli.verbs_app import (
    cmd_graph,
    cmd_history,
    cmd_plan,
    cmd_render,
    cmd_rollback,
)
from gitwave.tui.cli.verbs_cluster import cmd_cluster_add, cmd_cluster_list, cmd_cluster_rm
from gitwave.tui.cli.verbs_loop import cmd_events, cmd_run, cmd_unpin, cmd_watch
from gitwave.tui.cli.verbs_policy import cmd_validate
from gitwave.tui.cli.verbs_sandbox import cmd_sandbox_edit, cmd_sandbox_get, cmd_sandbox_scale
from gitwave.tui.cli.verbs_sandbox_aws import cmd_sandbox_aws_exec, cmd_sandbox_kms_create_key
from gitwave.tui.cli.verbs_seal import cmd_seal
from gitwave.tui.cli.verbs_status import cmd_status
from gitwave.tui.cli.verbs_sync import cmd_sync
from gitwave.tui.cli.verbs_tui import cmd_tui
from gitwave.tui.cli.verbs_wait import cmd_wait

# argparse's subparsers have no public type.
_Verbs = argparse._SubParsersAction


def common_flags() -> argparse.ArgumentParser:
    """The global flags, accepted before and after the verb."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        metavar="DIR",
        help="state directory of the sandbox and the history (default: $GITWAVE_STATE, "
        "else ~/.local/state/gitwave)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--target",
        help="where to reconcile: sandbox (default), kube (current context) or kube:CONTEXT",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--context",
        help="kubeconfig context (same as --target kube:CONTEXT)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file(s) (default: $KUBECONFIG, else ~/.kube/config)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "--allow-exec-plugins",
        action="store_true",
        help="allow a kubeconfig exec credential plugin to run (refused by default)",
        default=argparse.SUPPRESS,
    )
    common.add_argument(
        "-o",
        "--output",
        choices=["table", "json", "yaml"],
        default=argparse.SUPPRESS,
        help="output format (default: table)",
    )
    common.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS)
    return common


def _allow_local_repo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-local-repo",
        action="append",
        metavar="PATH",
        help="let an app's repoURL name this host directory outside the given repository "
        "(repeatable; also $GITWAVE_ALLOW_LOCAL_REPOS, separated by ':')",
    )


def _path_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", help="a directory, a Git repository (URL or path) or an Application file"
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    parser.add_argument("--revision", help="Git branch, tag or commit to read (default: HEAD)")
    _allow_local_repo(parser)


def _adopt_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adopt",
        action="store_true",
        help="take over objects another app (or an app of the same name from another "
        "repository or path) manages, instead of refusing",
    )


def _loop_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        help="a directory, a Git work tree or an Application file (default: .)",
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    parser.add_argument("--prune", action="store_true", help="delete objects removed from Git")
    parser.add_argument("--timeout", type=float, help="seconds to wait for each wave")
    parser.add_argument("--parallel", type=int, default=8, help="objects applied at once")
    _concurrent_arg(parser)
    _allow_local_repo(parser)


def _concurrent_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrent",
        type=int,
        default=DEFAULT_CONCURRENT,
        metavar="N",
        help=f"apps reconciled at once, dependsOn and app waves kept (default: "
        f"{DEFAULT_CONCURRENT}, as Flux's kustomize-controller; 1: one after another)",
    )


def _seconds(text: str) -> float:
    """A ``--timeout`` value: a duration (``90s``, ``5m``) or plain seconds."""
    try:
        return parse_duration(text, bare_seconds=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _prune_limit(text: str) -> float:
    """A ``--prune-limit`` value: a percentage (``40%``, ``40``)."""
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
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="wait this long for another operation on the app to end (default: 300)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail at once when another operation holds the app (as --lock-timeout 0)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The `gitwave` parser; each verb sets ``func``, the function that runs it."""
    common = common_flags()
    parser = argparse.ArgumentParser(
        prog="gitwave",
        description="GitOps engine: reconcile Git into the sandbox, Kubernetes and AWS "
        "in sync waves.",
        parents=[common],
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    _app_verbs(verbs, common)
    _sandbox_verbs(verbs, common)
    _cluster_verbs(verbs, common)
    _loop_verbs(verbs, common)
    return parser


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


def _app_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "validate",
        parents=[common],
        help="check rendered objects against schemas and policies; exit 1 on violations",
    )
    _path_args(p)
    _policy_args(p)
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report for CI")
    p.set_defaults(func=cmd_validate)

    p = verbs.add_parser("render", parents=[common], help="print the rendered manifests")
    _path_args(p)
    p.set_defaults(func=cmd_render)

    p = verbs.add_parser("graph", parents=[common], help="print the sync waves or DOT")
    _path_args(p)
    p.add_argument("--dot", action="store_true", help="print Graphviz DOT")
    p.set_defaults(func=cmd_graph)

    for name in ("plan", "diff"):
        p = verbs.add_parser(
            name,
            parents=[common],
            help="show what a sync would change; exit 1 when there are changes",
        )
        _path_args(p)
        p.add_argument("--prune", action="store_true", help="include prunes of removed objects")
        _guard_args(p, confirm=False)
        _adopt_arg(p)
        _policy_args(p)
        p.set_defaults(func=cmd_plan)

    p = verbs.add_parser("sync", parents=[common], help="apply the desired state wave by wave")
    _path_args(p)
    p.add_argument("--prune", action="store_true", help="delete objects removed from Git")
    p.add_argument("--dry-run", action="store_true", help="validate and show, change nothing")
    _guard_args(p, confirm=True)
    p.add_argument(
        "--timeout",
        type=_seconds,
        help="how long to wait for each wave to be healthy (90s, 5m; plain: seconds)",
    )
    p.add_argument("--parallel", type=int, default=8, help="objects applied at once in a wave")
    p.add_argument(
        "--wait",
        action="store_true",
        help="after the sync, wait for each app to be Healthy (exit 1 on timeout or Degraded)",
    )
    _adopt_arg(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="re-apply every object (taking over fields another applier owns) and run "
        "hooks already run for this revision again",
    )
    _lock_args(p)
    _concurrent_arg(p)
    _policy_args(p)
    p.set_defaults(func=cmd_sync)

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
    p.add_argument("--revision", help="Git branch, tag or commit to read (default: HEAD)")
    _allow_local_repo(p)
    p.add_argument("--health", action="store_true", help="wait for health Healthy")
    p.add_argument("--sync", action="store_true", help="wait for sync status Synced")
    p.add_argument(
        "--timeout",
        type=_seconds,
        help="give up after this long (90s, 5m; default: the app's timeout, else 5m)",
    )
    p.set_defaults(func=cmd_wait)

    p = verbs.add_parser("status", parents=[common], help="sync status and health of each app")
    _path_args(p)
    p.set_defaults(func=cmd_status)

    p = verbs.add_parser("history", parents=[common], help="past syncs of an app")
    p.add_argument("app_name", metavar="APP")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_history)

    p = verbs.add_parser(
        "rollback", parents=[common], help="re-apply the manifests of a history entry"
    )
    p.add_argument("app_name", metavar="APP")
    p.add_argument("id", metavar="ID", type=int, nargs="?", help="history id (default: previous)")
    p.add_argument("--prune", action="store_true", help="also delete objects not in that entry")
    p.add_argument("--dry-run", action="store_true")
    _guard_args(p, confirm=True)
    _adopt_arg(p)
    _lock_args(p)
    p.set_defaults(func=cmd_rollback)

    p = verbs.add_parser("tui", parents=[common], help="the terminal UI (k9s-style)")
    p.add_argument("path", nargs="?", default=".", help="as for sync (default: .)")
    p.add_argument("--app", help="open this app's screen at start")
    p.add_argument("--read-only", action="store_true", help="hide and refuse every control")
    _allow_local_repo(p)
    p.add_argument(
        "--watch",
        action="store_true",
        help="follow the work tree and sync on every save, showing each cycle (as gitwave watch)",
    )
    _concurrent_arg(p)
    p.set_defaults(func=cmd_tui)


def _sandbox_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sandbox = verbs.add_parser(
        "sandbox", parents=[common], help="look at or change the embedded sandbox by hand"
    )
    sverbs = sandbox.add_subparsers(dest="sandbox_verb", required=True, metavar="COMMAND")
    s = sverbs.add_parser("get", parents=[common], help="list live objects")
    s.add_argument("resource", nargs="?", help="KIND or KIND/NAME")
    s.add_argument("-n", "--namespace", default="default")
    s.add_argument("-A", "--all-namespaces", action="store_true")
    s.add_argument("--cluster", help="a named sandbox cluster (`gitwave cluster add --sandbox`)")
    s.set_defaults(func=cmd_sandbox_get)
    s = sverbs.add_parser("scale", parents=[common], help="change replicas out of band")
    s.add_argument("resource", help="KIND/NAME, e.g. deployment/guestbook-ui")
    s.add_argument("-n", "--namespace", default="default")
    s.add_argument("--replicas", type=int, required=True)
    s.add_argument("--cluster", help="a named sandbox cluster")
    s.set_defaults(func=cmd_sandbox_scale)
    s = sverbs.add_parser("edit", parents=[common], help="edit a live object in $EDITOR")
    s.add_argument("resource", help="KIND/NAME")
    s.add_argument("-n", "--namespace", default="default")
    s.add_argument("--cluster", help="a named sandbox cluster")
    s.set_defaults(func=cmd_sandbox_edit)
    s = sverbs.add_parser("kms", parents=[common], help="KMS keys in the embedded AWS emulator")
    kverbs = s.add_subparsers(dest="kms_verb", required=True, metavar="COMMAND")
    k = kverbs.add_parser(
        "create-key", parents=[common], help="make a key for `sops --kms` and print its ARN"
    )
    k.add_argument("--alias", help="also name it alias/NAME")
    k.set_defaults(func=cmd_sandbox_kms_create_key)
    s = sverbs.add_parser(
        "aws-exec",
        parents=[common],
        help="run a command (e.g. sops --encrypt --kms ARN) against the embedded AWS emulator",
    )
    s.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    s.set_defaults(func=cmd_sandbox_aws_exec)
    _seal_verb(verbs, common)


def _seal_verb(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "seal",
        parents=[common],
        help="seal a Secret into a SealedSecret (kubeseal's format; the sandbox's key)",
    )
    p.add_argument("-f", "--file", default="-", help="the Secret to seal (default: stdin)")
    p.add_argument(
        "--scope",
        choices=[s.value for s in SealingScope],
        help="where it may be unsealed (default: strict, or the Secret's scope annotation)",
    )
    p.add_argument("--cert", metavar="FILE", help="seal for this controller certificate (PEM)")
    p.add_argument(
        "-n", "--namespace", default="", help="namespace when the Secret names none (default)"
    )
    p.add_argument(
        "--fetch-cert", action="store_true", help="print the sandbox's certificate and exit"
    )
    p.set_defaults(func=cmd_seal)


def _cluster_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    cluster = verbs.add_parser(
        "cluster", parents=[common], help="the clusters apps can name as their destination"
    )
    cverbs = cluster.add_subparsers(dest="cluster_verb", required=True, metavar="COMMAND")
    c = cverbs.add_parser("add", parents=[common], help="register a cluster")
    c.add_argument("name", help="the name apps use (Argo CD destination.name)")
    c.add_argument("--server", help="its API server URL (destination.server)")
    # --context CTX (the global flag: reach it through that kubeconfig context) or:
    c.add_argument("--sandbox", action="store_true", help="a named sandbox cluster")
    c.add_argument("--label", action="append", metavar="KEY=VALUE", help="a label (repeatable)")
    c.add_argument(
        "--namespace", action="append", metavar="NS", help="limit apps to these namespaces"
    )
    c.add_argument("--replace", action="store_true", help="replace an entry of that name")
    c.set_defaults(func=cmd_cluster_add)
    c = cverbs.add_parser("list", parents=[common], help="every known cluster (no credentials)")
    c.add_argument("path", nargs="?", help="also the Argo CD cluster Secrets in this directory")
    c.set_defaults(func=cmd_cluster_list)
    c = cverbs.add_parser("rm", parents=[common], help="forget a registered cluster")
    c.add_argument("name")
    c.set_defaults(func=cmd_cluster_rm)


def _loop_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "watch",
        parents=[common],
        help="apply every save in a working tree (uncommitted edits included)",
    )
    _loop_args(p)
    p.add_argument(
        "--debounce",
        type=int,
        default=50,
        metavar="MS",
        help="quiet time that ends a burst of saves, in milliseconds (default: 50)",
    )
    p.set_defaults(func=cmd_watch)

    p = verbs.add_parser(
        "run",
        parents=[common],
        help="keep every app reconciled: poll Git, sync, heal drift (Ctrl-C to stop)",
    )
    _loop_args(p)
    p.add_argument(
        "--interval",
        metavar="DURATION",
        help="poll every source this often (default: each app's interval; Argo CD Applications 3m)",
    )
    p.add_argument(
        "--auto-rollback",
        action="store_true",
        help="roll back to the last healthy revision when health turns Degraded after a sync",
    )
    p.add_argument("--rollback-window", default="5m", metavar="DURATION")
    p.add_argument(
        "--heal-limit",
        type=int,
        default=3,
        metavar="N",
        help="heals of one field within --heal-window before healing it pauses (default: 3)",
    )
    p.add_argument("--heal-window", default="5m", metavar="DURATION")
    p.add_argument(
        "--metrics-addr",
        metavar="ADDR",
        help="serve Prometheus metrics at http://ADDR/metrics (:9090, 127.0.0.1:9090; "
        "default: off)",
    )
    p.add_argument(
        "--webhook-addr",
        metavar="ADDR",
        help="accept GitHub, GitLab and Gitea push webhooks at ADDR (POST /api/webhook) "
        "and poll the apps a push concerns at once",
    )
    p.add_argument(
        "--webhook-secret-file",
        metavar="FILE",
        help="the webhooks' shared secret (default: $GITWAVE_WEBHOOK_SECRET); "
        "requests not signed with it are refused",
    )
    p.add_argument(
        "--webhook-allow-unsigned",
        action="store_true",
        help="accept webhook requests that carry no signature (insecure)",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: every event as one JSON object a line on stdout (time, level, app, "
        "revision, kind, message)",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="with --log-format json: the lowest level logged (debug: every object applied)",
    )
    p.set_defaults(func=cmd_run)

    p = verbs.add_parser("events", parents=[common], help="replay an app's event timeline")
    p.add_argument("app_name", metavar="APP")
    p.add_argument("--since", help="only events after this: a duration (10m) or RFC 3339 time")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (the newest)")
    p.set_defaults(func=cmd_events)

    p = verbs.add_parser(
        "unpin", parents=[common], help="lift the pin a rollback put on an automated app"
    )
    p.add_argument("app_name", metavar="APP")
    p.set_defaults(func=cmd_unpin)

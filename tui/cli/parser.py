"""The `gitwave` command line's flags and verbs (argparse), in one place.

Flags follow kubectl/argocd/flux habits: ``-o table|json|yaml``, ``--context``,
``-n``/``-A``; every verb takes the global flags too (``gitwave plan -o json``).
One module (about 670 lines) on purpose: the whole grammar of the command line
read top to bottom, so a flag is named the same way in every verb; the value
types (durations, bounded numbers) and the "did you mean" parser come first.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

from gitwave.engine.apps.fields import parse_percent
from gitwave.engine.fleet_run import DEFAULT_CONCURRENT
from gitwave.providers.sealed_scope import SealingScope
from gitwave.tui.cli.controller_args import controller_mode, controller_verbs
from gitwave.tui.cli.durations import parse_duration
from gitwave.tui.cli.lazy_verbs import (
    cmd_cluster_add,
    cmd_cluster_list,
    cmd_cluster_rm,
    cmd_complete,
    cmd_completion,
    cmd_events,
    cmd_graph,
    cmd_history,
    cmd_plan,
    cmd_render,
    cmd_resume,
    cmd_rollback,
    cmd_run,
    cmd_sandbox_aws_exec,
    cmd_sandbox_edit,
    cmd_sandbox_get,
    cmd_sandbox_kms_create_key,
    cmd_sandbox_scale,
    cmd_seal,
    cmd_status,
    cmd_suspend,
    cmd_sync,
    cmd_tui,
    cmd_unpin,
    cmd_validate,
    cmd_version,
    cmd_wait,
    cmd_watch,
)
from gitwave.tui.cli.verb_args import (
    SELECTS_OBJECTS,
    add_app_arg,
    add_resource_args,
    add_selector_arg,
    bootstrap_verbs,
    image_verbs,
    promote_verbs,
    refresh_verbs,
    rollout_verbs,
    why_verbs,
)

# Why a verb takes no --target/--context/--kubeconfig (set as ``targetless``):
# given anyway, they are refused rather than silently ignored.
_SANDBOX_ONLY = "it works on the embedded sandbox only (a named one with --cluster)"


class _VersionFlag(argparse.Action):
    """``--version``, as argparse's ``version`` action prints it; the version is
    read when the flag is given, not for every command (importlib.metadata and
    its scan of the installed packages cost 30 ms of every start)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show program's version number and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from gitwave.tui.cli.version import version_line

        # The same line as `gitwave version` (its first).
        parser._print_message(f"{version_line()}\n", sys.stdout)
        parser.exit()


# argparse's subparsers have no public type.
_Verbs = argparse._SubParsersAction

_INVALID_CHOICE = re.compile(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)")


class _Parser(argparse.ArgumentParser):
    """argparse with what kubectl users expect of a mistyped verb: "did you mean"."""

    def error(self, message: str) -> NoReturn:
        found = _INVALID_CHOICE.fullmatch(message)
        if found is not None:
            given = found.group(2)
            choices = [c for c in re.findall(r"'([^']*)'", found.group(3)) if c[:1] != "_"]
            close = difflib.get_close_matches(given, choices, n=3, cutoff=0.6)
            message = f"unknown command {given!r} for {self.prog!r}"
            if close:
                message += f"; did you mean {' or '.join(close)}?"
            else:
                message += f"; commands: {', '.join(choices)}"
        super().error(message)


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help says its default, unless it says it already (or is a
    switch, whose default is off)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
            and "default" not in text
        ):
            shown = default if not isinstance(default, float) else f"{default:g}"
            text += f" (default: {str(shown).replace('%', '%%')})"
        return text


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number no smaller than ``minimum``."""

    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return number


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
        choices=["table", "json", "yaml", "wide", "name"],
        default=argparse.SUPPRESS,
        help="output format: json and yaml (one document), wide and name on list verbs "
        "(status, history, sandbox get, cluster list; events: wide) (default: table)",
    )
    common.add_argument(
        "--no-color",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no ANSI colours (also when NO_COLOR is set or stdout is not a terminal)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log what gitwave does on stderr (-v: info, -vv: debug; default: warnings only)",
    )
    common.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="log lines on stderr as text or as JSON objects, one a line; with json, run "
        "and watch print every event as a JSON line on stdout too (default: text)",
    )
    return common


def _allow_local_repo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-local-repo",
        action="append",
        metavar="PATH",
        help="let an app's repoURL name this host directory outside the given repository "
        "(repeatable; also $GITWAVE_ALLOW_LOCAL_REPOS, separated by ':')",
    )


def _path_args(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    parser.add_argument(
        "path",
        nargs="?" if optional else None,
        help="a directory, a Git repository (URL or path) or an Application file"
        + (" (with --controller: APP names, none for every app)" if optional else ""),
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    add_selector_arg(parser)
    parser.add_argument("--revision", help="Git branch, tag or commit to read (default: HEAD)")
    _allow_local_repo(parser)
    _namespace_arg(parser)


def _app_or_path_args(parser: argparse.ArgumentParser) -> None:
    """APP, or a PATH with ``--app``/``-l`` (``history``, ``events``: label_selection)."""
    parser.add_argument(
        "app_name",
        metavar="APP|PATH",
        nargs="?",
        help="an app's name, or where apps are defined: every app there (with -l and no "
        "argument: the apps under .)",
    )
    parser.add_argument("--app", action="append", help="with a PATH: only this app (repeatable)")
    add_selector_arg(parser)
    parser.add_argument("--revision", help="Git branch, tag or commit to read (default: HEAD)")
    _allow_local_repo(parser)


def _namespace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="namespace of the objects that name none, for apps naming no destination "
        "namespace (a plain directory) (default: the kubeconfig context's on a cluster, "
        "else default)",
    )


def _create_namespace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--create-namespace",
        action="store_true",
        help="create the namespaces the objects go to when missing (as helm; Argo CD's "
        "CreateNamespace=true)",
    )


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
    add_selector_arg(parser)
    parser.add_argument("--prune", action="store_true", help="delete objects removed from Git")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="DURATION",
        help="how long to wait for each wave to be healthy (90s, 5m; plain: seconds) "
        "(default: the app's timeout, else 5m)",
    )
    _parallel_arg(parser)
    _concurrent_arg(parser)
    _allow_local_repo(parser)


def _parallel_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--parallel", type=at_least(1), default=8, metavar="N", help="objects applied at once"
    )


def _concurrent_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrent",
        type=int,  # checked by engine.fleet_run.check_concurrent, with its hint
        default=DEFAULT_CONCURRENT,
        metavar="N",
        help=f"apps reconciled at once, dependsOn and app waves kept (default: "
        f"{DEFAULT_CONCURRENT}, as Flux's kustomize-controller; 1: one after another)",
    )


def _seconds(text: str) -> float:
    """A time flag's value: a duration (``90s``, ``5m``) or plain seconds; never negative."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r}: a duration cannot be negative")
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


def _positive_seconds(text: str) -> float:
    """A period (``--interval``): a duration or plain seconds, more than zero."""
    seconds = _seconds(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than zero")
    return seconds


def _milliseconds(text: str) -> int:
    """``--debounce``: a duration (``100ms``, ``0.2s``) or plain milliseconds."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r}: a duration cannot be negative")
    if re.fullmatch(r"\d+", text.strip()):
        return int(text)
    try:
        return round(parse_duration(text) * 1000)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _lock_args(parser: argparse.ArgumentParser) -> None:
    """How long to wait while another operation (a process, the loop, the TUI) holds an app."""
    parser.add_argument(
        "--lock-timeout",
        type=_seconds,
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


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The `gitwave` parser; each verb sets ``func``, the function that runs it.

    With ``verb`` (the command line's first word, ``main`` passes it), only that
    verb's parser is built: the others' hundreds of arguments cost every
    command about 25 ms before it could start. The result parses a command
    line of that verb as the full parser does (``--help`` included); a word
    that is no verb gets the full parser, so its error lists the verbs."""
    if verb is not None and verb.startswith("-"):
        verb = None  # a flag first (`gitwave -o json status`): the full grammar
    common = common_flags()
    parser = _Parser(
        prog="gitwave",
        description="GitOps engine: reconcile Git into the sandbox, Kubernetes and AWS "
        "in sync waves.",
        parents=[common],
        formatter_class=_HelpWithDefaults,
    )
    parser.add_argument("--version", action=_VersionFlag)
    # Verbs are _Parsers too (argparse makes them of the top parser's class).
    verbs = cast(
        "_Verbs[argparse.ArgumentParser]",
        parser.add_subparsers(dest="verb", required=True, metavar="COMMAND"),
    )
    adding = (
        verbs if verb is None else cast("_Verbs[argparse.ArgumentParser]", _OneVerb(verbs, verb))
    )
    _app_verbs(adding, common)
    _sandbox_verbs(adding, common)
    _cluster_verbs(adding, common)
    _loop_verbs(adding, common)
    _meta_verbs(adding, common)
    promote_verbs(adding, common)
    image_verbs(adding, common)  # gitwave image scan|update (Flux image automation)
    rollout_verbs(adding, common)
    why_verbs(adding, common)
    controller_verbs(adding, common)  # gitwave controller (issue 16)
    bootstrap_verbs(adding, common)  # gitwave bootstrap (issue 16)
    refresh_verbs(adding, common)  # gitwave refresh APP (argocd --refresh, flux reconcile)
    if verb is not None and verb not in verbs.choices:
        return build_parser()  # a mistyped verb: "did you mean" needs them all
    for one in _all_parsers(parser):
        one.formatter_class = _HelpWithDefaults  # every verb's help shows its defaults
    return parser


class _OneVerb:
    """The verbs' ``add_parser`` that builds one verb (and its aliases): any
    other is an ``_Unbuilt`` that takes its arguments and keeps none."""

    def __init__(self, verbs: _Verbs[argparse.ArgumentParser], wanted: str) -> None:
        self._verbs = verbs
        self._wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser | _Unbuilt:
        if self._wanted == name or self._wanted in kwargs.get("aliases", ()):
            return self._verbs.add_parser(name, **kwargs)
        return _Unbuilt()


class _Unbuilt:
    """A verb parser that was not built: each call on it (``add_argument``,
    ``set_defaults``, ``add_subparsers``, …) does nothing and answers itself."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return self._nothing

    def _nothing(self, *args: Any, **kwargs: Any) -> _Unbuilt:
        return self


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every verb's parser below it, nested verbs too."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _all_parsers(sub)
    return found


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
        _create_namespace_arg(p)
        p.add_argument("--prune", action="store_true", help="include prunes of removed objects")
        _guard_args(p, confirm=False)
        _adopt_arg(p)
        _policy_args(p)
        add_resource_args(p)
        p.set_defaults(func=cmd_plan)

    p = verbs.add_parser("sync", parents=[common], help="apply the desired state wave by wave")
    add_resource_args(p)
    _path_args(p)
    _create_namespace_arg(p)
    p.add_argument("--prune", action="store_true", help="delete objects removed from Git")
    p.add_argument("--dry-run", action="store_true", help="validate and show, change nothing")
    _guard_args(p, confirm=True)
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="DURATION",
        help="how long to wait for each wave to be healthy (90s, 5m; plain: seconds) "
        "(default: the app's timeout, else 5m)",
    )
    _parallel_arg(p)
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
    _concurrent_arg(p)
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
    p.add_argument("--revision", help="Git branch, tag or commit to read (default: HEAD)")
    _allow_local_repo(p)
    _namespace_arg(p)
    _create_namespace_arg(p)
    p.add_argument("--health", action="store_true", help="wait for health Healthy")
    p.add_argument("--sync", action="store_true", help="wait for sync status Synced")
    p.add_argument(
        "--timeout",
        type=_seconds,
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
    _path_args(p, optional=True)
    _create_namespace_arg(p)
    p.set_defaults(func=cmd_status)
    controller_mode(p, "status")

    p = verbs.add_parser("history", parents=[common], help="past syncs of an app")
    _app_or_path_args(p)
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
    _allow_local_repo(p)
    p.add_argument(
        "--watch",
        action="store_true",
        help="follow the work tree and sync on every save, showing each cycle (as gitwave watch)",
    )
    _concurrent_arg(p)
    p.set_defaults(func=cmd_tui)
    controller_mode(p, "tui")


def _sandbox_namespace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="namespace of a namespaced kind; cluster-scoped kinds ignore it (default: default)",
    )


def _sandbox_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sandbox = verbs.add_parser(
        "sandbox", parents=[common], help="look at or change the embedded sandbox by hand"
    )
    sverbs = sandbox.add_subparsers(dest="sandbox_verb", required=True, metavar="COMMAND")
    s = sverbs.add_parser("get", parents=[common], help="list live objects")
    s.add_argument("resource", nargs="?", help="KIND or KIND/NAME")
    _sandbox_namespace_arg(s)
    s.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    add_selector_arg(s, selects=SELECTS_OBJECTS)
    s.add_argument("--cluster", help="a named sandbox cluster (`gitwave cluster add --sandbox`)")
    s.set_defaults(func=cmd_sandbox_get, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser("scale", parents=[common], help="change replicas out of band")
    s.add_argument("resource", help="KIND/NAME, e.g. deployment/guestbook-ui")
    _sandbox_namespace_arg(s)
    s.add_argument("--replicas", type=at_least(0), required=True, help="the new replica count")
    s.add_argument("--cluster", help="a named sandbox cluster")
    s.set_defaults(func=cmd_sandbox_scale, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser("edit", parents=[common], help="edit a live object in $EDITOR")
    s.add_argument("resource", help="KIND/NAME")
    _sandbox_namespace_arg(s)
    s.add_argument("--cluster", help="a named sandbox cluster")
    s.set_defaults(func=cmd_sandbox_edit, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser("kms", parents=[common], help="KMS keys in the embedded AWS emulator")
    kverbs = s.add_subparsers(dest="kms_verb", required=True, metavar="COMMAND")
    k = kverbs.add_parser(
        "create-key", parents=[common], help="make a key for `sops --kms` and print its ARN"
    )
    k.add_argument("--alias", help="also name it alias/NAME")
    k.set_defaults(func=cmd_sandbox_kms_create_key, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser(
        "aws-exec",
        parents=[common],
        help="run a command (e.g. sops --encrypt --kms ARN) against the embedded AWS emulator",
    )
    s.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    s.set_defaults(func=cmd_sandbox_aws_exec, targetless=_SANDBOX_ONLY)
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
    p.set_defaults(
        func=cmd_seal, targetless="it seals for the sandbox's key, or for --cert's certificate"
    )


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
    add_selector_arg(c, selects="only the clusters whose labels match (cluster add --label)")
    c.set_defaults(func=cmd_cluster_list)
    c = cverbs.add_parser("rm", parents=[common], help="forget a registered cluster")
    c.add_argument("name", help="the registered cluster's name")
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
        type=_milliseconds,
        default=50,
        metavar="DURATION",
        help="quiet time that ends a burst of saves (100ms, 0.2s; plain: milliseconds) "
        "(default: 50ms)",
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
        type=_positive_seconds,
        metavar="DURATION",
        help="poll every source this often (default: each app's interval; Argo CD Applications 3m)",
    )
    p.add_argument(
        "--auto-rollback",
        action="store_true",
        help="roll back to the last healthy revision when health turns Degraded after a sync",
    )
    p.add_argument(
        "--rollback-window",
        type=_positive_seconds,
        default="5m",
        metavar="DURATION",
        help="how long after a sync a Degraded health rolls it back (--auto-rollback) "
        "(default: 5m)",
    )
    p.add_argument(
        "--heal-limit",
        type=at_least(1),
        default=3,
        metavar="N",
        help="heals of one field within --heal-window before healing it pauses (default: 3)",
    )
    p.add_argument(
        "--heal-window",
        type=_positive_seconds,
        default="5m",
        metavar="DURATION",
        help="the window --heal-limit counts heals in (default: 5m)",
    )
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
    # --log-format json (a global flag): every event as one JSON object a line on stdout.
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="with --log-format json: the lowest level logged (debug: every object applied)",
    )
    p.set_defaults(func=cmd_run)

    p = verbs.add_parser("events", parents=[common], help="replay an app's event timeline")
    _app_or_path_args(p)
    p.add_argument("--since", help="only events after this: a duration (10m) or RFC 3339 time")
    p.add_argument(
        "--limit", type=at_least(1), default=1000, metavar="N", help="at most this many, newest"
    )
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="then print each new event as it is recorded, until Ctrl-C (-o json: a line each)",
    )
    p.set_defaults(func=cmd_events, targetless="it reads the history gitwave keeps in --state")
    controller_mode(p, "events")

    for name, func, text in (
        ("suspend", cmd_suspend, "pause an app's automated syncs and heals (as flux suspend)"),
        ("resume", cmd_resume, "lift a suspend or a TUI pause (as flux resume)"),
    ):
        p = verbs.add_parser(name, parents=[common], help=text)
        add_app_arg(p)
        p.set_defaults(func=func, targetless="it sets the pause `gitwave run` and the TUI read")
        controller_mode(p, name)

    p = verbs.add_parser(
        "unpin", parents=[common], help="lift the pin a rollback put on an automated app"
    )
    add_app_arg(p)
    p.set_defaults(func=cmd_unpin, targetless="it reads the history gitwave keeps in --state")


def _meta_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser("version", parents=[common], help="print gitwave's version")
    p.set_defaults(func=cmd_version, targetless="it prints gitwave's own version")
    p = verbs.add_parser(
        "completion",
        parents=[common],
        help="print a shell completion script: source <(gitwave completion bash)",
    )
    p.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete in")
    p.set_defaults(func=cmd_completion, targetless="it prints a script")
    # Called by the completion scripts (no help: not listed).
    p = verbs.add_parser("__complete", parents=[common])
    p.add_argument("what", choices=["apps"], help="what to list: apps (names a sync recorded)")
    p.set_defaults(func=cmd_complete)

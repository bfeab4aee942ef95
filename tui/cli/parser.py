"""The `gitwave` command line's top level (argparse): the global flags, the
options several verbs share, and ``build_parser``, which adds each group of verbs.

Flags follow kubectl/argocd/flux habits: ``-o table|json|yaml``, ``--context``,
``-n``/``-A``; every verb takes the global flags too (``gitwave plan -o json``).
A flag two groups take is written here once, so it is named and explained the
same way in every verb. The groups, one module each (``_VERB_GROUPS``):

    app_args         validate, render, graph, plan/diff, sync, wait, status, history, rollback, tui
    sandbox_args     sandbox get|scale|edit|kms|aws-exec, seal, cluster add|list|rm
    loop_args        watch, run, events, suspend, resume, unpin
    verb_args        promote, drift, image, rollout, why, bootstrap, refresh
    controller_args  controller
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, cast

from gitwave.engine.fleet_run import DEFAULT_CONCURRENT
from gitwave.tui.cli.durations import parse_duration
from gitwave.tui.cli.lazy_verbs import LazyVerb, cmd_complete, cmd_completion, cmd_version
from gitwave.tui.cli.verb_args import add_selector_arg

# The verb groups as --help lists them, each "module:function" (the function
# adds the group's verbs). A group's module is imported only when one of its
# verbs, or the full parser, is built: `gitwave status` imports the first alone.
_VERB_GROUPS = (
    "app_args:app_verbs",
    "sandbox_args:sandbox_verbs",  # and seal
    "sandbox_args:cluster_verbs",
    "loop_args:loop_verbs",
    "parser:meta_verbs",
    "verb_args:promote_verbs",
    "verb_args:image_verbs",  # gitwave image scan|update (Flux image automation)
    "verb_args:rollout_verbs",
    "verb_args:why_verbs",
    "controller_args:controller_verbs",  # gitwave controller (issue 16)
    "verb_args:bootstrap_verbs",  # gitwave bootstrap (issue 16)
    "verb_args:refresh_verbs",  # gitwave refresh APP (argocd --refresh, flux reconcile)
)


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
    """argparse with what kubectl users expect of a bad command line: "did you
    mean" for a mistyped verb, the error and where help is (no usage block)."""

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
        # kubectl's form: the error, then where help is (argparse printed the
        # whole usage block first, a dozen lines above the one that matters).
        self.exit(2, f"error: {message}\nSee '{self.prog} --help' for help and examples.\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # Words no verb took: the help to name is the verb's (`gitwave sync
            # --help`), as kubectl's "See 'kubectl get -h'".
            words = list(sys.argv[1:] if args is None else args)
            _verb_parser(self, words).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


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


def duration_seconds(text: str) -> float:
    """A time flag's value: a duration (``90s``, ``5m``) or plain seconds; never negative."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r}: a duration cannot be negative")
    try:
        return parse_duration(text, bare_seconds=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _one_flag(*names: str, **options: Any) -> Callable[[argparse.ArgumentParser], None]:
    """An option several verbs take, written once: calling it adds it to a verb's parser."""

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*names, **options)

    return add


allow_local_repo_arg = _one_flag(
    "--allow-local-repo",
    action="append",
    metavar="PATH",
    help="let an app's repoURL name this host directory outside the given repository "
    "(repeatable; also $GITWAVE_ALLOW_LOCAL_REPOS, separated by ':')",
)
namespace_arg = _one_flag(
    "-n",
    "--namespace",
    metavar="NS",
    help="namespace of the objects that name none, for apps naming no destination "
    "namespace (a plain directory) (default: the kubeconfig context's on a cluster, "
    "else default)",
)
create_namespace_arg = _one_flag(
    "--create-namespace",
    action="store_true",
    help="create the namespaces the objects go to when missing (as helm; Argo CD's "
    "CreateNamespace=true)",
)
revision_arg = _one_flag("--revision", help="Git branch, tag or commit to read (default: HEAD)")
prune_arg = _one_flag("--prune", action="store_true", help="delete objects removed from Git")
wave_timeout_arg = _one_flag(
    "--timeout",
    type=duration_seconds,
    metavar="DURATION",
    help="how long to wait for each wave to be healthy (90s, 5m; plain: seconds) "
    "(default: the app's timeout, else 5m)",
)
parallel_arg = _one_flag(
    "--parallel", type=at_least(1), default=8, metavar="N", help="objects applied at once"
)
concurrent_arg = _one_flag(
    "--concurrent",
    type=int,  # checked by engine.fleet_run.check_concurrent, with its hint
    default=DEFAULT_CONCURRENT,
    metavar="N",
    help=f"apps reconciled at once, dependsOn and app waves kept (default: "
    f"{DEFAULT_CONCURRENT}, as Flux's kustomize-controller; 1: one after another)",
)


def path_args(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """PATH (where the apps are defined) and the flags choosing apps there."""
    parser.add_argument(
        "path",
        nargs="?" if optional else None,
        help="a directory, a Git repository (URL or path) or an Application file"
        + (" (with --controller: APP names, none for every app)" if optional else ""),
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    add_selector_arg(parser)
    revision_arg(parser)
    allow_local_repo_arg(parser)
    namespace_arg(parser)


def app_or_path_args(parser: argparse.ArgumentParser) -> None:
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
    revision_arg(parser)
    allow_local_repo_arg(parser)


def controller_mode(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--controller``: the verb reads and changes the Application/Kustomization
    objects an in-cluster ``gitwave controller`` runs (as ``argocd --core`` does),
    instead of working from a path on this machine (``verbs_remote``)."""
    parser.add_argument(
        "--controller",
        dest="controller_mode",
        action="store_true",
        help="act through the cluster's gitwave controller (--context): read the apps' "
        "status, ask for syncs by changing the app objects; apply nothing from here",
    )
    if verb == "status":
        parser.add_argument(
            "-A",
            "--all-namespaces",
            action="store_true",
            help="with --controller: apps in every namespace (the default when -n is not given)",
        )
    if verb == "tui":
        parser.add_argument(
            "-n",
            "--namespace",
            default="",
            metavar="NS",
            help="with --controller: only the apps in this namespace (default: every namespace)",
        )
    if verb == "sync":
        parser.add_argument(
            "--async",
            dest="no_wait_operation",
            action="store_true",
            help="with --controller: ask for the sync and return (as argocd app sync --async)",
        )
    parser.set_defaults(remote_func=LazyVerb("verbs_remote", f"cmd_remote_{verb}"))


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
    for group in _VERB_GROUPS:
        module, name = group.split(":")
        getattr(importlib.import_module(f"gitwave.tui.cli.{module}"), name)(adding, common)
        if verb in verbs.choices:
            break  # that verb's group is built: the others are not imported
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


def _verb_parser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The deepest verb's parser ``words`` name (``sandbox get`` -> its own)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word in words:
                if word in action.choices:
                    sub = action.choices[word]
                    return _verb_parser(sub, words[words.index(word) + 1 :])
    return parser


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every verb's parser below it, nested verbs too."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _all_parsers(sub)
    return found


def meta_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """version, completion and the completion scripts' __complete."""
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

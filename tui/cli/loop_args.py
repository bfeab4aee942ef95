"""The arguments of the long-running and timeline verbs: watch, run, events,
suspend, resume and unpin (added by ``parser.build_parser``; each verb's
function is imported when it runs).
"""

from __future__ import annotations

import argparse
import re

from gitwave.tui.cli.durations import parse_duration
from gitwave.tui.cli.lazy_verbs import (
    cmd_events,
    cmd_resume,
    cmd_run,
    cmd_suspend,
    cmd_unpin,
    cmd_watch,
)
from gitwave.tui.cli.parser import (
    _Verbs,
    allow_local_repo_arg,
    app_or_path_args,
    at_least,
    concurrent_arg,
    controller_mode,
    duration_seconds,
    parallel_arg,
    prune_arg,
    wave_timeout_arg,
)
from gitwave.tui.cli.verb_args import add_app_arg, add_selector_arg


def loop_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """watch, run, events, suspend, resume, unpin (called once from ``parser.build_parser``)."""
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
    app_or_path_args(p)
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


def _loop_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        help="a directory, a Git work tree or an Application file (default: .)",
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    add_selector_arg(parser)
    prune_arg(parser)
    wave_timeout_arg(parser)
    parallel_arg(parser)
    concurrent_arg(parser)
    allow_local_repo_arg(parser)


def _positive_seconds(text: str) -> float:
    """A period (``--interval``): a duration or plain seconds, more than zero."""
    period = duration_seconds(text)
    if period <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than zero")
    return period


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

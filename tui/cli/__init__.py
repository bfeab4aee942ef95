"""The `gitwave` command line.

Verbs follow kubectl/argocd/flux habits: ``-o table|json|yaml``, ``--context``,
``plan`` exiting 1 when there are changes (like ``kubectl diff``). The CLI
decides nothing itself: it calls the engine's operations layer
(``gitwave.engine.operations``) and renders its values.

    parser         argparse: the global flags, the options verbs share, build_parser
    app_args, loop_args, sandbox_args, verb_args, controller_args   each verb group's arguments
    context        Context: state dir, targets, store, flags as a SyncRequest, terminal; exit codes
    verbs_app      render, graph, plan, history, rollback
    verbs_sync     sync (apps at once, one line each, then the report)
    verbs_status   status
    verbs_wait     wait (and sync --wait), as argocd app wait
    verbs_policy   validate (schemas, admission policies, Rego)
    verbs_seal     seal (Sealed Secrets in kubeseal's format)
    verbs_cluster  cluster add, list, rm (the destination registry)
    verbs_loop     watch, run, unpin (the long-running modes)
    verbs_events   events (--follow): the timeline they store
    event_lines    their events as lines, JSON log lines and -o json/yaml streams
    verbs_autosync suspend, resume (the TUI's auto-sync pause, as flux suspend/resume)
    verbs_sandbox  sandbox get, scale, edit
    verbs_tui      tui (the Textual app)
    output         tables, colour, progress, JSON/YAML, sync results
    output_forms   which -o forms (json, yaml, wide, name) each verb prints; the others refused
    label_selection  -l/--selector on the verbs taking a PATH (apps by their labels)
    findings       policy warnings and denials as the CLI prints them
    signals        Ctrl-C as a stop request for every running app
    durations      duration and time flags (--interval, --since)
    kind_aliases   kubectl's resource short names (deploy/web), kinds the sandbox serves
    verbs_meta     version, completion (bash, zsh, fish)
    logs           -v/--verbose and --log-format json: operator logs on stderr

The age formatter and ANSI paint, which the screens share, are ``tui.formatting``.

Exit codes: 0 success (``plan``: no changes); 1 ``plan`` found changes or a
sync failed; 2 bad input or a refused operation (an app that cannot be loaded
or rendered: the others still run); 3 an unexpected failure (a bug: one line,
the traceback only with ``GITWAVE_DEBUG=1``).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from gitwave.tui.cli.logs import configure_logging
from gitwave.tui.cli.parser import build_parser

if TYPE_CHECKING:
    from gitwave.engine.source_bucket import BucketReader
    from gitwave.tui.cli.context import Context

_log = logging.getLogger("gitwave.cli")

__all__ = ["build_parser", "main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `gitwave` command line; returns its exit code."""
    # A plan of 10,000 objects makes hundreds of thousands of containers that live
    # to the end: with CPython's default thresholds (700, 10, 10) collecting
    # them over and over was a quarter of the command's CPU. Cycles are still
    # collected, less often (long-running verbs included).
    gc.set_threshold(50_000, 20, 100)
    words = list(sys.argv[1:] if argv is None else argv)
    # Only the verb's own parser is built (the first word; the full one otherwise).
    args = build_parser(words[0] if words else None).parse_args(words)
    # Imported once the verb is known, so `--help` and a bad flag answer at once.
    from gitwave.engine.bucket_readers import register_bucket_reader
    from gitwave.engine.errors import GitwaveError
    from gitwave.engine.lock_names import name_process
    from gitwave.tui.cli.context import EXIT_BUG, EXIT_OK, EXIT_USAGE, context_from_args

    register_bucket_reader(_s3_bucket_reader)
    name_process(f"gitwave {args.verb}")  # who holds an app, as others are told
    configure_logging(
        verbose=getattr(args, "verbose", 0), log_format=getattr(args, "log_format", "text")
    )
    ctx: Context | None = None
    if getattr(args, "controller_mode", False):
        # --controller: the verb acts through the cluster's objects, so it
        # takes --context even where it otherwise reaches no target.
        args.func, args.targetless = args.remote_func, None
    try:
        ctx = context_from_args(args)
        _log.info(
            "gitwave %s: state %s, target %s",
            " ".join(v for v in (args.verb, getattr(args, "sandbox_verb", None)) if v),
            ctx.state_dir,
            ctx.target_flag,
        )
        if hasattr(args, "path") or hasattr(args, "app_name"):  # APP or PATH, in every verb
            from gitwave.tui.cli.app_or_path import resolve_app_name, resolve_path_as_app

            resolve_app_name(ctx)
            resolve_path_as_app(ctx)
        code: int = args.func(ctx)
        return code
    except GitwaveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.cli_hint or exc.hint:
            print(f"hint: {exc.cli_hint or exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the last resort: a bug, never a traceback
        # Bad input is a GitwaveError (exit 2); anything else is gitwave's own
        # fault. A user gets one line to report, without the exception's text
        # (it may quote a value from Git, a Secret's too); GITWAVE_DEBUG=1 shows it.
        if os.environ.get("GITWAVE_DEBUG"):
            traceback.print_exc()
        print(
            f"error: internal error ({type(exc).__name__} at {_where(exc)})",
            file=sys.stderr,
        )
        print(
            "hint: this is a gitwave bug; run again with GITWAVE_DEBUG=1 for the "
            "traceback and report it",
            file=sys.stderr,
        )
        return EXIT_BUG
    finally:
        if ctx is not None:
            ctx.close()


def run() -> NoReturn:
    """The `gitwave` command (the console script, ``python -m gitwave.tui.cli``):
    ``main``, then leave at once."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once its output and exit handlers are done,
    without the interpreter's teardown: freeing every object one by one and a
    last full collection took ~0.3 s after a plan of 10,000 objects (a quarter
    of the command) for memory the kernel takes back at once. Everything the
    command opened is closed by then (``Context.close`` in ``main``; SQLite
    commits are on disk). When a thread that Python's shutdown would wait for
    still runs, the exit is the ordinary one."""
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.exit(code)
    atexit._run_exitfuncs()  # logging's shutdown, temporary directories' finalizers
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone (| head), a closed stream
            stream.flush()
    os._exit(code)


def _s3_bucket_reader() -> BucketReader:
    """The reader of Flux Bucket sources; boto3 is imported only when one is read."""
    from gitwave.providers.aws.bucket_source import S3BucketReader

    return S3BucketReader()


# The directory holding engine/, providers/, tui/ (the repository, or
# site-packages/gitwave once installed).
_PRODUCT_ROOT = Path(__file__).resolve().parents[2]


def _where(exc: BaseException) -> str:
    """``file:line`` of the innermost frame of gitwave's own code an exception passed."""
    where = "?"
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(_PRODUCT_ROOT) and ".venv" not in path.parts:
            where = f"{path.relative_to(_PRODUCT_ROOT)}:{frame.lineno}"
    return where

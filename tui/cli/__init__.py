"""The `gitwave` command line.

Verbs follow kubectl/argocd/flux habits: ``-o table|json|yaml``, ``--context``,
``plan`` exiting 1 when there are changes (like ``kubectl diff``). The CLI
decides nothing itself: it calls the engine's operations layer
(``gitwave.engine.operations``) and renders its values.

    parser         argparse: every verb and flag
    context        Context: state dir, targets, store, flags as a SyncRequest, terminal; exit codes
    verbs_app      render, graph, plan, sync, status, history, rollback
    verbs_loop     watch, run, events, unpin (long-running modes and their timeline)
    verbs_sandbox  sandbox get, scale, edit
    verbs_tui      tui (the Textual app)
    output         tables, colour, progress, JSON/YAML, sync results
    durations      duration and time flags (--interval, --since)
    kind_aliases   kubectl's resource short names (deploy/web)

The age formatter and ANSI paint, which the screens share, are ``tui.formatting``.

Exit codes: 0 success (``plan``: no changes); 1 ``plan`` found changes or a
sync failed; 2 bad input or a refused operation; 3 an unexpected failure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from gitwave.engine.errors import GitwaveError
from gitwave.engine.locks import name_process
from gitwave.tui.cli.context import EXIT_OK, EXIT_USAGE, Context, context_from_args
from gitwave.tui.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `gitwave` command line; returns its exit code."""
    args = build_parser().parse_args(argv)
    name_process(f"gitwave {args.verb}")  # who holds an app, as others are told
    ctx: Context | None = None
    try:
        ctx = context_from_args(args)
        code: int = args.func(ctx)
        return code
    except GitwaveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    finally:
        if ctx is not None:
            ctx.close()

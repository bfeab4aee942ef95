"""``gitwave tui``: open the Textual app on the same targets and history as the CLI."""

from __future__ import annotations

import os
import sys

from gitwave.engine.errors import ValidationError
from gitwave.engine.fleet_run import DEFAULT_CONCURRENT, check_concurrent
from gitwave.tui.cli.context import EXIT_OK, Context


def cmd_tui(ctx: Context) -> int:
    # Imported here: the other verbs start without loading Textual.
    from gitwave.tui.app import GitwaveApp
    from gitwave.tui.controller import Controller

    if getattr(ctx.args, "no_color", False):
        os.environ["NO_COLOR"] = "1"
    controller = Controller(
        ctx.args.path,
        targets=ctx.targets,
        fleet=ctx.fleet,
        store=ctx.store,
        state_dir=ctx.state_dir,
        allow_local_repos=ctx.allow_local_repos,
        concurrent=check_concurrent(getattr(ctx.args, "concurrent", DEFAULT_CONCURRENT)),
    )
    # A bad location or an unknown name fails here, before the screen opens,
    # with the error and exit code `gitwave status PATH` gives.
    controller.apps()
    if ctx.args.app:
        controller.app(ctx.args.app)
    if ctx.args.watch and ctx.args.read_only:
        raise ValidationError(
            "--watch", "watch mode applies every save; it cannot run with --read-only"
        )
    if not sys.stdout.isatty():
        # Escape codes in a pipe or a CI log help nobody (k9s refuses too).
        raise ValidationError(
            "gitwave tui",
            "standard output is not a terminal",
            hint="run it in a terminal (ssh -t HOST for a remote one); "
            "in scripts use `gitwave status` or `gitwave plan`",
        )
    GitwaveApp(
        controller,
        read_only=ctx.args.read_only,
        open_app=ctx.args.app,
        watch_path=ctx.args.path if ctx.args.watch else None,
    ).run()
    return EXIT_OK

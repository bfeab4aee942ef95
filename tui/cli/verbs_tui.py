"""``gitwave tui``: open the Textual app on the same targets and history as the CLI."""

from __future__ import annotations

import os

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
    if ctx.args.app:
        controller.app(ctx.args.app)  # an unknown name fails here, before the screen opens
    if ctx.args.watch and ctx.args.read_only:
        raise ValidationError(
            "--watch", "watch mode applies every save; it cannot run with --read-only"
        )
    GitwaveApp(
        controller,
        read_only=ctx.args.read_only,
        open_app=ctx.args.app,
        watch_path=ctx.args.path if ctx.args.watch else None,
    ).run()
    return EXIT_OK

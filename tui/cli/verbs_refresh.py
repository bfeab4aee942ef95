"""``gitwave refresh APP``: ask the in-cluster controller to look at an app again now.

As ``argocd app get APP --refresh`` (``--hard``: ``--hard-refresh``) for an
Application: the ``argocd.argoproj.io/refresh`` annotation, which the controller
removes once it compared the app with its source's newest commit (status
written first). As ``flux reconcile kustomization|helmrelease NAME`` for a Flux
object: the ``reconcile.fluxcd.io/requestedAt`` annotation, which the
controller echoes in ``status.lastHandledReconcileAt`` (a HelmRelease's
``--force`` and ``--reset`` add ``forceAt`` and ``resetAt`` of the same value,
as ``flux reconcile hr --force/--reset``). Nothing is rendered
or applied from this machine; by default the verb waits until the controller
acted and prints what the object's status then says.
"""

from __future__ import annotations

from dataclasses import asdict

from gitwave.engine.controller.objects import ARGO_KIND
from gitwave.engine.controller.requests import app_row
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.output import dump
from gitwave.tui.cli.verbs_remote import client, find_app, show_rows
from gitwave.tui.controller_client import ControllerClient


def cmd_refresh(ctx: Context) -> int:
    args = ctx.args
    remote = client(ctx)
    # An unreachable cluster fails here, naming the context and server (exit 2).
    obj = find_app(ctx, remote, args.app_ref, args.namespace or "")
    ask = remote.refresh_ask(obj, hard=args.hard, force=args.force, reset=args.reset)
    talk = ctx.output not in ("json", "yaml")  # progress on stderr: stdout, the result
    if talk:
        what = "a hard refresh" if args.hard and obj.kind == ARGO_KIND else "a refresh"
        if args.force or args.reset:
            what = "a " + " and ".join(
                w for w, on in (("forced release", args.force), ("reset", args.reset)) if on
            )
        ctx.err(f"► asking the controller for {what} of {obj.app_id}")
    remote.send(obj, ask)
    if not args.wait:
        if talk:
            ctx.err(f"✔ {obj.app_id}: refresh requested")
        else:
            ctx.out(dump({"app": obj.app_id, "requested": True}, ctx.output))
        return EXIT_OK
    if talk:
        ctx.err(f"◎ waiting for the controller to act (at most {args.timeout:g}s)")
    now = remote.wait(obj, ask, timeout_s=args.timeout, what="refresh")
    row = app_row(now)
    # A refresh of an Application compares: OutOfSync is an answer, not a failure
    # (as `argocd app get --refresh`). A Flux object is reconciled: not Ready
    # afterwards is a failure, as `flux reconcile` exits 1.
    ok = now.kind == ARGO_KIND or ControllerClient.succeeded(now)
    if ctx.output in ("json", "yaml"):
        ctx.out(dump({"app": row.app_id, "acted": True, **asdict(row)}, ctx.output))
    else:
        mark = "✔" if ok else "✗"
        at = f" at {row.revision}" if row.revision else ""
        ctx.err(f"{mark} {row.app_id}: {row.sync or 'Unknown'}, {row.health or 'Unknown'}{at}")
        show_rows(ctx, [row])
    if not ok and talk:
        ctx.err(f"{row.app_id}: not Ready after the reconcile: {row.message}")
    return EXIT_OK if ok else EXIT_FAILED

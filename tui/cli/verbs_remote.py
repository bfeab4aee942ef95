"""``--controller``: status, sync, suspend, resume, rollback and history through the
Application/Kustomization objects an in-cluster ``gitwave controller`` runs.

As ``argocd --core`` and ``flux``: nothing is rendered or applied from this
machine. A sync sets the Application's ``operation`` (``argocd app sync``) or
the Kustomization's ``reconcile.fluxcd.io/requestedAt`` annotation (``flux
reconcile``), then waits until the controller has acted (unless ``--async``)
and prints what its status says. The object changes themselves are
``engine.controller.requests``; finding and waiting, ``tui.controller_client``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.requests import AppRow, Ask, app_row, history_rows
from gitwave.engine.errors import GitwaveError, UnreachableError, ValidationError
from gitwave.engine.store import current_user
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.output import dump, short, table
from gitwave.tui.controller_client import ControllerClient

if TYPE_CHECKING:
    from gitwave.providers.kubernetes.controller_api import KubeControllerApi


def connect(ctx: Context) -> KubeControllerApi:
    """The management cluster of ``--context``/``--kubeconfig``."""
    from gitwave.providers.kubernetes.controller_api import KubeControllerApi

    if ctx.args.target not in (None, "kube") and not str(ctx.args.target).startswith("kube:"):
        raise ValidationError(
            f"--target {ctx.args.target}", "--controller talks to a cluster's gitwave controller"
        )
    context = ctx.args.context or (str(ctx.args.target or "").partition(":")[2] or None)
    return KubeControllerApi.connect(
        context=context,
        kubeconfig=ctx.args.kubeconfig,
        namespace="",
        in_cluster=False,
        allow_exec_plugins=ctx.args.allow_exec_plugins,
    )


def client(ctx: Context) -> ControllerClient:
    return ControllerClient(connect(ctx), user=current_user())


def find_app(ctx: Context, remote: ControllerClient, text: str, namespace: str = "") -> AppObject:
    """``remote.find``, an unreachable cluster told as such (naming the context and
    the server), not as gitwave's bug."""
    import urllib3

    from gitwave.providers.kubernetes.transport import describe_transport_error

    try:
        return remote.find(text, namespace=namespace)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        api_client = getattr(remote.objects, "api_client", None)
        server = str(getattr(getattr(api_client, "configuration", None), "host", "") or "?")
        where = f"context {ctx.args.context}" if ctx.args.context else "the current context"
        raise UnreachableError(where, f"{server}: {describe_transport_error(exc)}") from exc


def _row_dict(row: AppRow) -> dict[str, object]:
    return {"app": row.app_id, **asdict(row)}


def _row_cells(row: AppRow) -> list[str]:
    state = "Suspended" if row.suspended else ("Auto" if row.automated else "Manual")
    return [
        row.name,
        row.namespace,
        row.kind,
        row.sync or "-",
        row.health or "-",
        short(row.revision) if row.revision else "-",
        state,
        row.operation or "-",
        row.message.splitlines()[0][:80] if row.message else "",
    ]


_HEADERS = ["NAME", "NAMESPACE", "KIND", "SYNC", "HEALTH", "REVISION", "SYNC POLICY", "OPERATION"]


def show_rows(ctx: Context, rows: list[AppRow]) -> None:
    """The rows as a table, or as a JSON/YAML list (``-o``)."""
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([_row_dict(row) for row in rows], ctx.output))
        return
    ctx.out(table([*_HEADERS, "MESSAGE"], [_row_cells(row) for row in rows]))


def cmd_remote_status(ctx: Context) -> int:
    """``gitwave status --controller [APP]``: the apps and what their status says."""
    remote = client(ctx)
    namespace = "" if ctx.args.all_namespaces else (ctx.args.namespace or "")
    if ctx.args.path:
        rows = [app_row(find_app(ctx, remote, ctx.args.path, namespace))]
    else:
        rows = remote.rows(namespace)
    if not rows:
        raise GitwaveError(
            "no Application or Kustomization" + (f" in namespace {namespace}" if namespace else ""),
            hint="create one (kubectl apply -f app.yaml) for the controller to run",
        )
    show_rows(ctx, rows)
    return EXIT_OK  # a report, as `gitwave status PATH` and `argocd app list`


def _finish(ctx: Context, obj: AppObject, *, what: str) -> int:
    row = app_row(obj)
    show_rows(ctx, [row])
    ok = ControllerClient.succeeded(obj)
    if not ok and ctx.output == "table":
        ctx.err(f"{row.app_id}: the {what} did not succeed: {row.message or row.operation}")
    return EXIT_OK if ok else EXIT_FAILED


def _ask(
    ctx: Context, remote: ControllerClient, obj: AppObject, ask: Ask, *, what: str, wait: bool
) -> int:
    remote.send(obj, ask)
    if not wait:
        if ctx.output == "table":
            ctx.out(f"{obj.app_id}: {what} requested")
        return EXIT_OK
    timeout = getattr(ctx.args, "timeout", None) or 300.0
    return _finish(ctx, remote.wait(obj, ask, timeout_s=timeout, what=what), what=what)


def _refuse(flags: list[tuple[str, Callable[[], object]]]) -> None:
    for flag, given in flags:
        if given():
            raise ValidationError(flag, "is not taken with --controller", hint="drop it")


def cmd_remote_sync(ctx: Context) -> int:
    """``gitwave sync --controller APP``: as ``argocd app sync`` / ``flux reconcile ks``."""
    args = ctx.args
    _refuse(
        [
            ("--dry-run", lambda: args.dry_run),
            ("--resource", lambda: args.resource_refs),
            ("--app", lambda: args.app),
        ]
    )
    remote = client(ctx)
    obj = find_app(ctx, remote, args.path, args.namespace or "")
    ask = remote.sync_ask(obj, revision=args.revision or "", prune=args.prune)
    return _ask(ctx, remote, obj, ask, what="sync", wait=not args.no_wait_operation)


def _suspend(ctx: Context, *, suspended: bool) -> int:
    remote = client(ctx)
    obj = find_app(ctx, remote, ctx.args.app_name)
    ask = remote.suspend_ask(obj, suspended=suspended)
    if ask.token:
        # flux resume: wait for the reconcile it asked for, as flux does.
        return _ask(ctx, remote, obj, ask, what="resume", wait=True)
    remote.send(obj, ask)
    now = remote.objects.get_app(obj.kind, obj.namespace, obj.name) or obj
    if ctx.output in ("json", "yaml"):
        ctx.out(dump(_row_dict(app_row(now)), ctx.output))
    elif suspended:
        ctx.out(f"{obj.app_id}: suspended: the controller leaves it alone until resumed")
    else:
        ctx.out(f"{obj.app_id}: resumed")
    return EXIT_OK


def cmd_remote_suspend(ctx: Context) -> int:
    return _suspend(ctx, suspended=True)


def cmd_remote_resume(ctx: Context) -> int:
    return _suspend(ctx, suspended=False)


def cmd_remote_rollback(ctx: Context) -> int:
    """``gitwave rollback --controller APP [ID]``: as ``argocd app rollback``."""
    _refuse([("--dry-run", lambda: ctx.args.dry_run)])
    remote = client(ctx)
    obj = find_app(ctx, remote, ctx.args.app_name)
    return _ask(ctx, remote, obj, remote.rollback_ask(obj, ctx.args.id), what="rollback", wait=True)


def _one_app(ctx: Context) -> None:
    """``history``/``events --controller`` name one app: no PATH, ``--app`` or ``-l``."""
    _refuse([("-l", lambda: ctx.args.selector), ("--app", lambda: ctx.args.app)])
    if ctx.args.app_name is None:
        raise ValidationError(f"gitwave {ctx.args.verb} --controller", "needs an APP")


def cmd_remote_history(ctx: Context) -> int:
    """``gitwave history --controller APP``: the Application's ``status.history``."""
    _one_app(ctx)
    obj = find_app(ctx, client(ctx), ctx.args.app_name)
    rows = history_rows(obj)[-ctx.args.limit :]
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([asdict(row) for row in rows], ctx.output))
        return EXIT_OK
    if not rows:
        ctx.out(f"{obj.app_id}: no history yet")
        return EXIT_OK
    cells = [[str(r.id), r.deployed_at, short(r.revision), r.initiated_by] for r in rows]
    ctx.out(table(["ID", "DEPLOYED", "REVISION", "BY"], cells))
    return EXIT_OK


def cmd_remote_events(ctx: Context) -> int:
    """``gitwave events --controller APP``: the operations the controller's replicas
    ran on the app, from its Events (any replica's, kept in the cluster)."""
    from gitwave.engine.controller.timeline import timeline_row

    _refuse([("--follow", lambda: ctx.args.follow), ("--since", lambda: ctx.args.since)])
    _one_app(ctx)
    api = connect(ctx)
    obj = find_app(ctx, ControllerClient(api, user=""), ctx.args.app_name)
    rows = [timeline_row(event) for event in api.list_events(obj)][-ctx.args.limit :]
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([asdict(row) for row in rows], ctx.output))
        return EXIT_OK
    if not rows:
        ctx.out(f"{obj.app_id}: no operations recorded (Events expire after the API server's TTL)")
        return EXIT_OK
    cells = [[r.time, r.type, r.reason, r.replica, r.message] for r in rows]
    ctx.out(table(["TIME", "TYPE", "REASON", "REPLICA", "MESSAGE"], cells))
    return EXIT_OK


def cmd_remote_tui(ctx: Context) -> int:
    """``gitwave tui --controller``: the controller's apps, controls through the objects."""
    import sys

    from gitwave.tui.remote_app import ControllerApp

    if ctx.args.watch:
        raise ValidationError("--watch", "follows a work tree here; the controller watches Git")
    remote = client(ctx)
    remote.rows(ctx.args.namespace)  # an unreachable cluster fails before the screen opens
    if not sys.stdout.isatty():
        raise ValidationError(
            "gitwave tui",
            "standard output is not a terminal",
            hint="in scripts use `gitwave status --controller`",
        )
    ControllerApp(
        remote,
        where=ctx.args.context or "current context",
        namespace=ctx.args.namespace,
        read_only=ctx.args.read_only,
    ).run()
    return EXIT_OK

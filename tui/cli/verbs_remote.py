"""``--controller``: status, sync, suspend, resume, rollback and history through the
Application/Kustomization objects an in-cluster ``gitwave controller`` runs.

As ``argocd --core`` and ``flux``: nothing is rendered or applied from this
machine. A sync sets the Application's ``operation`` (``argocd app sync``) or
the Kustomization's ``reconcile.fluxcd.io/requestedAt`` annotation (``flux
reconcile``), then waits until the controller has acted (unless ``--async``)
and prints what its status says. The object changes themselves are
``engine.controller.requests``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, AppObject
from gitwave.engine.controller.requests import (
    AppRow,
    Ask,
    app_row,
    history_rows,
    is_suspended,
    rollback_ask,
    suspend_ask,
    sync_ask,
)
from gitwave.engine.controller.status import timestamp
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.store import current_user
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.output import dump, short, table

if TYPE_CHECKING:
    from gitwave.providers.kubernetes.controller_api import KubeControllerApi

_KIND_NAMES = {
    "app": ARGO_KIND,
    "apps": ARGO_KIND,
    "application": ARGO_KIND,
    "applications": ARGO_KIND,
    "ks": FLUX_KIND,
    "kustomization": FLUX_KIND,
    "kustomizations": FLUX_KIND,
}


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


def parse_app_ref(text: str, *, namespace: str = "") -> tuple[str, str, str]:
    """``NAME``, ``NAMESPACE/NAME``, ``KIND/NAME`` (app/, ks/) or ``KIND/NAMESPACE/NAME``
    → (kind or "", namespace or "", name)."""
    parts = text.strip().split("/")
    if not all(parts) or len(parts) > 3:
        raise ValidationError(text, "name an app as NAME, NAMESPACE/NAME or KIND/NAMESPACE/NAME")
    if len(parts) == 3:
        kind = _KIND_NAMES.get(parts[0].lower(), parts[0])
        if kind not in (ARGO_KIND, FLUX_KIND):
            raise ValidationError(text, f"{parts[0]!r} is not Application or Kustomization")
        return kind, parts[1], parts[2]
    if len(parts) == 2:
        kind = _KIND_NAMES.get(parts[0].lower(), "")
        return (kind, namespace, parts[1]) if kind else ("", parts[0], parts[1])
    return "", namespace, parts[0]


def find_app(api: KubeControllerApi, text: str, *, namespace: str = "") -> AppObject:
    """The one Application or Kustomization ``text`` names; a clear error otherwise."""
    kind, ns, name = parse_app_ref(text, namespace=namespace)
    found = [
        obj for obj in api.list_apps(ns) if obj.name == name and (not kind or obj.kind == kind)
    ]
    if not found:
        raise GitwaveError(
            f"{text}: no Application or Kustomization of that name"
            + (f" in namespace {ns}" if ns else ""),
            hint="`gitwave status --controller` lists the apps the controller runs",
        )
    if len(found) > 1:
        names = ", ".join(obj.app_id for obj in found)
        raise GitwaveError(f"{text}: names more than one app: {names}", hint="say KIND/NS/NAME")
    return found[0]


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


def _show(ctx: Context, rows: list[AppRow]) -> None:
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([_row_dict(row) for row in rows], ctx.output))
        return
    ctx.out(table([*_HEADERS, "MESSAGE"], [_row_cells(row) for row in rows]))


def cmd_remote_status(ctx: Context) -> int:
    """``gitwave status --controller [APP]``: the apps and what their status says."""
    api = connect(ctx)
    namespace = "" if ctx.args.all_namespaces else (ctx.args.namespace or "")
    if ctx.args.path:
        rows = [app_row(find_app(api, ctx.args.path, namespace=namespace))]
    else:
        rows = sorted(
            (app_row(obj) for obj in api.list_apps(namespace)),
            key=lambda row: (row.namespace, row.name, row.kind),
        )
    if not rows:
        raise GitwaveError(
            "no Application or Kustomization" + (f" in namespace {namespace}" if namespace else ""),
            hint="create one (kubectl apply -f app.yaml) for the controller to run",
        )
    _show(ctx, rows)
    bad = [row for row in rows if row.health in ("Degraded", "Missing")]
    return EXIT_FAILED if bad else EXIT_OK


def _now_text() -> str:
    return timestamp(datetime.now(UTC))


def _acted(ask: Ask, obj: AppObject) -> bool:
    """Whether the controller has acted on ``ask`` (re-read ``obj``)."""
    if obj.kind == FLUX_KIND:
        status = obj.body.get("status") or {}
        return bool(ask.token) and status.get("lastHandledReconcileAt") == ask.token
    return not obj.body.get("operation")


def _wait(
    api: KubeControllerApi, obj: AppObject, ask: Ask, *, timeout_s: float, what: str
) -> AppObject:
    """Re-read ``obj`` until the controller has acted on ``ask``."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = api.get_app(obj.kind, obj.namespace, obj.name)
        if now is None:
            raise GitwaveError(f"{obj.app_id}: deleted while waiting for the {what}")
        if _acted(ask, now):
            return now
        if time.monotonic() >= deadline:
            raise GitwaveError(
                f"{obj.app_id}: the controller did not run the {what} within {timeout_s:g}s",
                hint="is `gitwave controller` running, and the app's shard held? "
                "(kubectl get leases -n gitwave-system)",
            )
        time.sleep(0.5)


def _finish(ctx: Context, obj: AppObject, *, what: str) -> int:
    row = app_row(obj)
    _show(ctx, [row])
    if obj.kind == ARGO_KIND:
        state = (obj.body.get("status") or {}).get("operationState") or {}
        ok = state.get("phase") == "Succeeded"
    else:
        ok = row.health == "Healthy"
    if not ok and ctx.output == "table":
        ctx.err(f"{row.app_id}: the {what} did not succeed: {row.message or row.operation}")
    return EXIT_OK if ok else EXIT_FAILED


def _ask(
    ctx: Context,
    api: KubeControllerApi,
    obj: AppObject,
    ask: Ask,
    *,
    what: str,
    wait: bool,
) -> int:
    api.patch_app(obj, ask.patch)
    if not wait:
        if ctx.output == "table":
            ctx.out(f"{obj.app_id}: {what} requested")
        return EXIT_OK
    timeout = getattr(ctx.args, "timeout", None) or 300.0
    return _finish(ctx, _wait(api, obj, ask, timeout_s=timeout, what=what), what=what)


def _refuse(ctx: Context, flags: list[tuple[str, Callable[[], object]]]) -> None:
    for flag, given in flags:
        if given():
            raise ValidationError(flag, "is not taken with --controller", hint="drop it")


def cmd_remote_sync(ctx: Context) -> int:
    """``gitwave sync --controller APP``: as ``argocd app sync`` / ``flux reconcile ks``."""
    args = ctx.args
    _refuse(
        ctx,
        [
            ("--dry-run", lambda: args.dry_run),
            ("--resource", lambda: args.resource_refs),
            ("--app", lambda: args.app),
        ],
    )
    api = connect(ctx)
    obj = find_app(api, args.path, namespace=args.namespace or "")
    if is_suspended(obj):
        raise GitwaveError(
            f"{obj.app_id}: suspended; the controller would not sync it",
            hint=f"`gitwave resume --controller {obj.name}` first",
        )
    ask = sync_ask(
        obj, user=current_user(), now=_now_text(), revision=args.revision or "", prune=args.prune
    )
    return _ask(ctx, api, obj, ask, what="sync", wait=not args.no_wait_operation)


def _suspend(ctx: Context, *, suspended: bool) -> int:
    api = connect(ctx)
    obj = find_app(api, ctx.args.app_name)
    ask = suspend_ask(obj, suspended=suspended, now=_now_text())
    api.patch_app(obj, ask.patch)
    if ask.token:
        # flux resume: wait for the reconcile it asked for, as flux does.
        return _finish(ctx, _wait(api, obj, ask, timeout_s=300.0, what="resume"), what="resume")
    now = api.get_app(obj.kind, obj.namespace, obj.name) or obj
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
    _refuse(ctx, [("--dry-run", lambda: ctx.args.dry_run)])
    api = connect(ctx)
    obj = find_app(api, ctx.args.app_name)
    ask = rollback_ask(obj, ctx.args.id, user=current_user())
    return _ask(ctx, api, obj, ask, what="rollback", wait=True)


def cmd_remote_history(ctx: Context) -> int:
    """``gitwave history --controller APP``: the Application's ``status.history``."""
    api = connect(ctx)
    obj = find_app(api, ctx.args.app_name)
    rows = history_rows(obj)[-ctx.args.limit :]
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([asdict(row) for row in rows], ctx.output))
        return EXIT_OK
    if not rows:
        why = " (Flux keeps none)" if obj.kind == FLUX_KIND else ""
        ctx.out(f"{obj.app_id}: no history{why}")
        return EXIT_OK
    cells = [[str(r.id), r.deployed_at, short(r.revision), r.initiated_by] for r in rows]
    ctx.out(table(["ID", "DEPLOYED", "REVISION", "BY"], cells))
    return EXIT_OK


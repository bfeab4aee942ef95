"""What every verb over the apps of a PATH shares: the apps chosen (``--app``,
``-l``, ``-n``), an app's title, and how a broken app is reported. Apart from
``verbs_app`` so ``gitwave status`` does not import the plan and graph printers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gitwave.engine import operations
from gitwave.engine.app_choice import ChosenApp
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.tui.cli.context import Context
from gitwave.tui.cli.label_selection import selected_by_labels

__all__ = ["app_title", "chosen_apps", "error_dict", "refuse_empty", "report_error"]


def chosen_apps(ctx: Context, *, removed: bool = False, listing: bool = False) -> list[ChosenApp]:
    """The apps under PATH in sync order, filtered by ``--app`` and ``-l``, each
    broken one with its error; with ``removed``, then the child apps an app of
    apps here no longer holds. No app matching ``-l`` is an error (as ``argocd
    app sync -l``), except for a ``listing`` verb (``status``: none listed, as
    ``argocd app list -l``)."""
    chosen = selected_by_labels(ctx, _chosen(ctx, removed=removed), listing=listing)
    return [_namespace_flags(ctx, entry) for entry in chosen]


def _chosen(ctx: Context, *, removed: bool) -> list[ChosenApp]:
    return operations.select_app_set(
        ctx.args.path,
        revision=ctx.args.revision,
        only=tuple(ctx.args.app or ()),
        allow_local_repos=ctx.allow_local_repos,
        store=ctx.store if removed else None,
        clusters=ctx.fleet,  # the ApplicationSet clusters generator reads the registry
        default_namespace=ctx.default_namespace,
    )


def _namespace_flags(ctx: Context, entry: ChosenApp) -> ChosenApp:
    """``entry`` as ``-n`` and ``--create-namespace`` ask: ``-n`` contradicting an
    app's own destination namespace is refused (kubectl refuses an object whose
    namespace differs from ``-n``); ``--create-namespace`` turns on Argo CD's
    CreateNamespace=true for the app, as helm's flag does for a release."""
    app = entry.spec
    if app is None or entry.error is not None or app.removed_from:
        return entry
    given = getattr(ctx.args, "namespace", None)
    if given and app.destination_namespace != given:
        raise ValidationError(
            app.where,
            f"its destination namespace is {app.destination_namespace!r}; "
            f"-n {given} contradicts it",
            hint=f"drop -n, or pass -n {app.destination_namespace}",
        )
    if getattr(ctx.args, "create_namespace", False) and not app.policy.create_namespace:
        policy = dataclasses.replace(app.policy, create_namespace=True)
        return dataclasses.replace(entry, spec=dataclasses.replace(app, policy=policy))
    return entry


def app_title(app: AppSpec) -> str:
    return f"{app.name} (removed from {app.removed_from})" if app.removed_from else app.name


def report_error(
    ctx: Context, name: str, error: GitwaveError, docs: list[Any] | None = None, done: str = ""
) -> None:
    """An app's error on stderr; with ``docs``, its JSON entry or a line on what was ``done``."""
    ctx.err(ctx.paint(f"error: {name}: {error}", "red"))
    if error.cli_hint or error.hint:
        ctx.err(f"hint: {error.cli_hint or error.hint}")
    if docs is not None and ctx.output in ("json", "yaml"):
        docs.append(error_dict(name, error))
    elif docs is not None:
        ctx.out(ctx.paint(f"{name}: error (see stderr); {done}", "bold"))


def error_dict(name: str, error: GitwaveError, **more: object) -> dict[str, Any]:
    return {"app": name, "error": str(error), "hint": error.cli_hint or error.hint, **more}


def refuse_empty(state: operations.AppState) -> None:
    """An app that renders nothing and has nothing live is no app to plan, sync
    or report as Synced and Healthy: its path is wrong or holds no manifests
    (``kubectl apply -f`` of an empty directory: "no objects passed to apply").
    Argo CD's allowEmpty and a child removed from its app of apps are empty on
    purpose. Raises ValidationError naming where the app was read."""
    app = state.app
    if state.resources or any(True for _ in state.plan.tasks()):
        return
    if app.removed_from or app.policy.allow_empty:
        return
    where = app.source.path if app.source.path != "." else app.source.repo_url
    raise ValidationError(
        app.where,
        f"no manifests in {where}: nothing renders and nothing of the app is live",
        hint="a directory of .yaml, .yml or .json manifests, a kustomization.yaml or a "
        "Chart.yaml, or Application/Kustomization definitions",
    )

"""``-l/--selector`` on the verbs that take a PATH: the apps whose labels match
(``engine.label_selector``, ``operations.select_labelled``), and argocd's
answer when none does; and the APP|PATH of ``history`` and ``events``."""

from __future__ import annotations

from pathlib import Path

from gitwave.engine import operations
from gitwave.engine.app_choice import ChosenApp, no_match_error
from gitwave.engine.errors import ValidationError
from gitwave.engine.source_url import is_remote
from gitwave.tui.cli.context import Context


def selected_by_labels(ctx: Context, chosen: list[ChosenApp], *, listing: bool) -> list[ChosenApp]:
    """``chosen`` narrowed by ``-l`` (``operations.select_labelled``); none left is a
    ValidationError naming each app and its labels, unless ``listing``."""
    selector = getattr(ctx.args, "selector", None)
    if selector is None or selector.empty:
        return chosen
    kept = operations.select_labelled(chosen, selector)
    if not kept and not listing:
        apps = [e.spec for e in chosen if e.spec is not None]
        raise no_match_error(ctx.args.path, selector, apps)
    return kept


def named_or_selected(ctx: Context) -> tuple[list[str], bool]:
    """The apps ``history`` and ``events`` show, and whether they were read from a
    PATH (several apps: the output names each row's app).

    ``APP`` is an app name, as before; a PATH (a directory, a file or a Git URL),
    or no argument with ``-l`` (the current directory), means the apps defined
    there, narrowed by ``--app`` and ``-l`` as ``status PATH -l`` narrows them
    (none matching: no apps and, on stderr, what ``status`` says; a verb that
    reads answers as ``kubectl get -l``, exit 0). A name the store
    knows wins over a directory of the same name: ``history guestbook`` run from
    ``samples/`` is the app's history either way."""
    given = ctx.args.app_name
    selector = getattr(ctx.args, "selector", None)
    if given is None and selector is None and not ctx.args.app:
        raise ValidationError(
            f"gitwave {ctx.args.verb}",
            "needs an APP, a PATH, or -l SELECTOR (the apps under the current directory)",
            hint=f"gitwave {ctx.args.verb} guestbook; gitwave {ctx.args.verb} . -l env=prod",
        )
    if given is not None and not _location(ctx, given):
        if selector is not None and not selector.empty:
            # An app name and a selector: kubectl's `get NAME -l` answer, not
            # the app's whole history with -l silently dropped.
            raise ValidationError(
                f"gitwave {ctx.args.verb} {given}",
                "an app name cannot be provided when a selector is specified",
                hint=f"gitwave {ctx.args.verb} {given}; or gitwave {ctx.args.verb} PATH -l "
                f"{selector} (the apps defined under PATH whose labels match)",
            )
        return [given], False
    # The verbs reading a PATH take these; history and events read the apps' definitions only.
    ctx.args.path = given or "."
    ctx.args.revision = getattr(ctx.args, "revision", None)
    chosen = operations.select_app_set(
        ctx.args.path,
        revision=ctx.args.revision,
        only=tuple(ctx.args.app or ()),
        allow_local_repos=ctx.allow_local_repos,
        store=ctx.store,  # a child app its parent no longer holds keeps its history
        clusters=ctx.fleet,
        default_namespace=ctx.default_namespace,
    )
    kept = selected_by_labels(ctx, chosen, listing=True)
    if not kept and chosen and selector is not None:
        ctx.err(f"No apps found matching selector {selector}.")
    return [entry.name for entry in kept], True


def _location(ctx: Context, given: str) -> bool:
    """True when ``given`` names where apps are defined rather than an app: a URL,
    or an existing path that is not the name of an app the store knows."""
    if is_remote(given):
        return True
    if not Path(given).exists():
        return False
    return given not in ctx.known_apps() or ("/" in given or given in (".", ".."))

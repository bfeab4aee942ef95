"""``-l/--selector`` on the verbs that take a PATH: the apps whose labels match
(``engine.label_selector``, ``operations.select_labelled``), and argocd's
answer when none does."""

from __future__ import annotations

from gitwave.engine import operations
from gitwave.engine.app_choice import ChosenApp
from gitwave.engine.errors import ValidationError
from gitwave.tui.cli.context import Context


def selected_by_labels(ctx: Context, chosen: list[ChosenApp], *, listing: bool) -> list[ChosenApp]:
    """``chosen`` narrowed by ``-l`` (``operations.select_labelled``); none left is a
    ValidationError naming each app and its labels, unless ``listing``."""
    selector = getattr(ctx.args, "selector", None)
    if selector is None or selector.empty:
        return chosen
    kept = operations.select_labelled(chosen, selector)
    if not kept and not listing:
        shown = [
            f"{e.name} ({','.join(f'{k}={v}' for k, v in e.spec.labels) or 'no labels'})"
            for e in chosen
            if e.spec is not None
        ]
        raise ValidationError(
            ctx.args.path,
            f"No matching apps found for filter: selector {selector}",
            hint=("apps here: " + ", ".join(shown)) if shown else "",
        )
    return kept

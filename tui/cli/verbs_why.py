"""``gitwave why APP|PATH [RESOURCE]``: what an app (or one of its objects)
waits for, as a chain through the graph to the object that holds it
(``engine.why``), from the live health of every object:

    shop: Service/shop/web ← Deployment/shop/web: Progressing: 0 of 2 ready, 4m10s

The time is how long the holder has existed (its creationTimestamp). Exit 0
when it was answered (even when something waits), 2 for bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gitwave.engine import operations
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import ResourceKey
from gitwave.engine.why import Chain, blocking_chain, blocking_chains, since_created
from gitwave.tui.cli.app_listing import app_title, chosen_apps, error_dict, report_error
from gitwave.tui.cli.context import EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.kind_aliases import parse_kind_name
from gitwave.tui.cli.output import dump


def cmd_why(ctx: Context) -> int:
    docs: list[dict[str, Any]] = []
    code = EXIT_OK
    wanted = getattr(ctx.args, "resource", None)
    now = datetime.fromtimestamp(ctx.clock(), UTC)
    entries = chosen_apps(ctx)
    if not entries:
        raise ValidationError(ctx.args.path, "no apps here")
    for entry in entries:
        try:
            name, chains = _why(ctx, entry.loaded(), wanted, now)
        except GitwaveError as exc:
            report_error(ctx, entry.name, exc)
            docs.append(error_dict(entry.name, exc, chains=[]))
            code = EXIT_USAGE
            continue
        docs.append({"app": name, "chains": [chain.as_dict() for chain in chains]})
        if ctx.output in ("json", "yaml"):
            continue
        if not chains:
            ctx.out(f"{name}: nothing waits: every object is Healthy")
        for chain in chains:
            if len(chain.keys) == 1 and chain.health.code.is_settled:
                ctx.out(f"{name}: {chain.holder.display} is {chain.health}: it waits for nothing")
            else:
                ctx.out(f"{name}: {chain.text()}")
    if ctx.output in ("json", "yaml"):
        ctx.out(dump(docs, ctx.output))  # a list of apps, even for one
    return code


def _why(ctx: Context, app: Any, wanted: str | None, now: datetime) -> tuple[str, list[Chain]]:
    targets = ctx.fleet.targets_for(app)
    state = operations.plan(app, ctx.sync_request(), targets=targets)
    healths = operations.resource_healths(state, targets=targets)
    ages = {
        key: seconds
        for key, live in state.live.items()
        if (seconds := since_created(live, now)) is not None
    }
    graph = state.graph
    if wanted is None:
        return app_title(app), blocking_chains(graph, healths, for_s=ages)
    key = _find(wanted, graph.resources, app.where)
    chain = blocking_chain(graph, healths, key, for_s=ages)
    return app_title(app), [chain]


def _find(text: str, keys: Iterable[ResourceKey], where: str) -> ResourceKey:
    """The app's object ``text`` names (kubectl's ways of naming one)."""
    parts = text.split("/")
    namespace: str | None
    if len(parts) == 4:  # group/Kind/namespace/name, as -o json writes keys
        group, kind, namespace, name = parts
        candidates = [
            k
            for k in keys
            if (k.group, k.kind.lower(), k.namespace, k.name)
            == (group, kind.lower(), namespace, name)
        ]
    elif len(parts) == 1:  # a bare name, when one object of the app has it
        candidates = [k for k in keys if k.name == text]
    else:
        namespace = parts[1] if len(parts) == 3 else None
        group, kind, name = parse_kind_name(f"{parts[0]}/{parts[-1]}" if len(parts) > 1 else text)
        candidates = [
            k
            for k in keys
            if k.kind.lower() == kind.lower()
            and k.name == name
            and (not group or k.group == group)
            and (namespace is None or k.namespace == namespace)
        ]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValidationError(where, f"{text}: no such object in the app")
    names = ", ".join(k.display for k in sorted(candidates))
    raise ValidationError(
        where, f"{text} names several objects: {names}", hint="name its namespace: KIND/NS/NAME"
    )

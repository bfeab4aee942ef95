"""The verbs of one-shot work on apps: render, graph, plan, history and
rollback (sync is ``verbs_sync``, status ``verbs_status``). Each presents what the engine's
operations layer returns and decides nothing; ``-o json|yaml`` prints the same
values as data.

Each app fails alone: an app that cannot be loaded or rendered is reported
(``error: APP: …`` on stderr, ``{"app", "error"}`` in JSON) and the others
are still rendered, planned or synced; the exit code is then 2. A sync skips
only the apps that follow a failed one (dependsOn, later app-of-apps waves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitwave.engine import operations, prune_guard
from gitwave.engine.app_pipeline import desired_of
from gitwave.engine.apps import AppSpec, implicit_app, render_app
from gitwave.engine.clusters import ClusterKind
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventKind
from gitwave.engine.graph import to_dot
from gitwave.engine.graph_secrets import connection_secrets
from gitwave.engine.mask import shown_manifest
from gitwave.engine.model import ResourceKey
from gitwave.engine.plan_report import plan_to_dict
from gitwave.engine.render import Rendered
from gitwave.engine.router import ProviderRouter
from gitwave.engine.signed_files import decoded_frozen
from gitwave.engine.source import opened_once
from gitwave.engine.store import SyncRecord
from gitwave.tui.cli.app_listing import app_title, chosen_apps, refuse_empty, report_error
from gitwave.tui.cli.context import EXIT_CHANGES, EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.findings import print_findings
from gitwave.tui.cli.kept_plan import KeptPlan, keep_if_no_op, kept_plan
from gitwave.tui.cli.label_selection import named_or_selected
from gitwave.tui.cli.output import Progress, dump, local_time, rfc3339, short, table
from gitwave.tui.cli.sync_results import print_result
from gitwave.tui.formatting import revision_text
from gitwave.tui.plan_text import format_plan


def destination_text(ctx: Context, app: AppSpec) -> str:
    """Where ``app`` goes, for a header line: the current target's description,
    or the cluster's name and server."""
    cluster = ctx.fleet.destination_of(app).cluster
    if cluster.kind is ClusterKind.CURRENT:
        return ctx.target_name
    return f"{cluster.name} ({cluster.server})"


def _both(*sinks: Callable[[Any], None] | None) -> Callable[[Any], None]:
    active = [s for s in sinks if s is not None]

    def sink(event: Any) -> None:
        for one in active:
            one(event)

    return sink


def _lock_notices(ctx: Context) -> Callable[[Any], None]:
    """An EventSink printing, on stderr, whom a sync waits for (another
    operation holds the app): scripts and people both see why it is slow."""

    def sink(event: Any) -> None:
        if event.kind is EventKind.WAITING and event.resource is None and not event.wave:
            ctx.err(event.message)

    return sink


def render_offline(ctx: Context, app: AppSpec) -> Rendered:
    """Render offline, unless the app's sops keys are in a Secret on the target
    (Flux's ``decryption.secretRef``) or its postBuild variables are in
    ConfigMaps/Secrets there (``substituteFrom``): then the target is read."""
    decryption = app.source.render.decryption
    if (decryption is not None and decryption.secret_ref) or (
        app.post_build is not None and app.post_build.substitute_from
    ):
        return render_for(app, ctx.targets)
    return render_app(app)


def cmd_render(ctx: Context) -> int:
    docs = []
    errors = False
    for entry in chosen_apps(ctx):
        try:
            resources = render_offline(ctx, entry.loaded()).resources
        except GitwaveError as exc:
            report_error(ctx, entry.name, exc)
            errors = True
            continue
        for resource in resources:
            docs.append(shown_manifest(resource))
    if ctx.output in ("json", "yaml"):  # one document, as `kubectl get -o yaml` prints a List
        ctx.out(dump({"apiVersion": "v1", "kind": "List", "items": docs}, ctx.output))
    else:  # the default: a YAML stream, for `| kubectl apply -f -`
        ctx.out(dump(docs, "yaml-stream").rstrip())
    return EXIT_USAGE if errors else EXIT_OK


def cmd_graph(ctx: Context) -> int:
    errors = False
    graphs: list[dict[str, Any]] = []
    for entry in chosen_apps(ctx):
        try:
            app = entry.loaded()
            desired = desired_of(render_offline(ctx, app).resources)
            graph = desired.graph
        except GitwaveError as exc:
            report_error(ctx, entry.name, exc)
            errors = True
            continue
        if ctx.args.dot:
            ctx.out(to_dot(graph))
            continue
        # Secrets a managed resource writes (not in Git, never applied): shown
        # between the writer and the workloads that wait for it.
        secrets = connection_secrets(graph, desired.composed.edges)
        written = {s.writer: s for s in secrets}
        via = {(s.writer, r): s.key for s in secrets for r in s.readers}
        if ctx.output in ("json", "yaml"):
            graphs.append(
                {
                    "app": app.name,
                    "stages": [
                        {"stage": stage.label, "resources": [str(k) for k in stage.keys]}
                        for stage in graph.stages
                    ],
                    "edges": sorted(
                        [str(u), str(v)]
                        for u, v in (*graph.dag.edges, *(e for s in secrets for e in s.edges))
                    ),
                    "connectionSecrets": [
                        {
                            "resource": str(s.key),
                            "writtenBy": str(s.writer),
                            "readBy": [str(r) for r in s.readers],
                        }
                        for s in secrets
                    ],
                }
            )
            continue
        ctx.out(ctx.paint(f"{app.name}: {len(graph.resources)} resources", "bold"))
        for stage in graph.stages:
            ctx.out(f"{stage.label}")
            for key in stage.keys:
                deps = [
                    d.display + (f" via {via[(d, key)].display}" if (d, key) in via else "")
                    for d in graph.dependencies_of(key)
                ]
                after = f"  (after {', '.join(deps)})" if deps else ""
                ctx.out(f"  {key.display}{after}")
                if key in written:
                    readers = ", ".join(r.display for r in written[key].readers)
                    read_by = f"  (read by {readers})" if readers else ""
                    ctx.out(f"    writes {written[key].key.display}{read_by}")
    if ctx.output in ("json", "yaml") and not ctx.args.dot:
        ctx.out(dump(graphs, ctx.output))  # one document: a list of apps
    return EXIT_USAGE if errors else EXIT_OK


def cmd_plan(ctx: Context) -> int:
    # One snapshot of each repository for the whole command, as status and sync
    # read it: loading the apps and rendering each ask Git once, not three times.
    # Renders and graphs read back from the caches live to the end of the
    # command: frozen out of the cyclic collector's walks (a tenth of its CPU).
    with opened_once(), decoded_frozen():
        return _plan_apps(ctx)


def _plan_apps(ctx: Context) -> int:
    changed = False
    errors = False
    docs: list[dict[str, Any]] = []
    entries = chosen_apps(ctx, removed=True)
    # An empty directory is an error when it is all there is (not beside the
    # apps an ApplicationSet deleted from it left, which are pruned).
    alone = len(entries) == 1
    for entry in entries:
        kept = KeptPlan()
        form = f"table color={ctx.color}"
        try:
            app = entry.loaded()
            targets = ctx.fleet.targets_for(app)
            request = ctx.sync_request()
            if ctx.output not in ("json", "yaml"):
                # Nothing changed since a plan that found nothing to do: its text.
                kept = kept_plan(app, request, targets, form=form)
                if kept.text is not None:
                    header = f"{app_title(app)} @ {short(kept.revision)} -> "
                    ctx.out(ctx.styled(header + destination_text(ctx, app), "bold"))
                    ctx.out(kept.text)
                    continue
            state = operations.plan(app, request, targets=targets, rendered=kept.rendered)
            if alone:
                refuse_empty(state)
        except GitwaveError as exc:
            report_error(ctx, entry.name, exc, docs, "nothing planned")
            errors = True
            continue
        created = namespaces_to_create(state, targets)
        changed = changed or state.plan.out_of_sync or bool(created)
        print_findings(ctx, state.findings)
        blast = prune_guard.blast_radius(state, limit=ctx.sync_request().prune_limit)
        if ctx.output in ("json", "yaml"):
            doc = plan_to_dict(state.plan)
            if created:
                doc["createNamespaces"] = created
            if blast.pruned:
                doc["blastRadius"] = blast_dict(blast)
            docs.append(doc)
        else:
            header = f"{app_title(app)} @ {short(state.plan.revision)} -> "
            ctx.out(ctx.styled(header + destination_text(ctx, app), "bold"))
            if created:
                ctx.out(f"Namespaces created first (CreateNamespace): {', '.join(created)}")
            text = format_plan(state.plan, color=ctx.color).rstrip()
            ctx.out(text)
            if blast.pruned:
                for line in blast.lines():
                    ctx.out(ctx.styled(line, "red") if line.startswith("guard:") else line)
            keep_if_no_op(
                kept,
                state,
                text,
                request=request,
                targets=targets,
                form=form,
                shown_more=bool(created or blast.pruned or state.findings),
            )
    if docs and ctx.output in ("json", "yaml"):
        ctx.out(dump(docs, ctx.output))  # a list of apps, even for one
    if errors:
        return EXIT_USAGE
    return EXIT_CHANGES if changed else EXIT_OK


def blast_dict(blast: prune_guard.BlastRadius) -> dict[str, Any]:
    """The blast radius of a plan, for ``-o json|yaml``."""
    return {
        "pruned": [str(k) for k in blast.pruned],
        "inventory": blast.inventory,
        "percent": round(blast.percent, 1),
        "limit": blast.limit,
        "stateful": [str(k) for k in blast.stateful],
        "broken": {str(k): [str(u) for u in uses] for k, uses in blast.broken},
        "guarded": blast.stops,
        "reason": blast.reason,
    }


def namespaces_to_create(state: operations.AppState, targets: ProviderRouter) -> list[str]:
    """The namespaces a sync of ``state`` creates first (CreateNamespace=true,
    ``--create-namespace``): those its objects go to that neither the render
    nor the target holds, so that plan says what sync will do."""
    if not state.app.policy.create_namespace:
        return []
    tasks = list(state.plan.tasks())
    rendered = {t.key.name for t in tasks if t.key.group == "" and t.key.kind == "Namespace"}
    used = {t.key.namespace for t in tasks if t.desired is not None and t.key.namespace}
    missing = []
    for namespace in sorted(used - rendered):
        key = ResourceKey("", "Namespace", "", namespace)
        if targets.for_kind("v1", "Namespace").observe(key) is None:
            missing.append(namespace)
    return missing


def _record_dict(record: SyncRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "app": record.app,
        "revision": record.revision,
        "contentDigest": record.content_digest or None,
        "source": record.source,
        "started": rfc3339(record.started),
        # A sync still running (or killed before it ended) has no end yet.
        "finished": rfc3339(record.finished) if record.finished else None,
        "who": record.who,
        "result": record.result,
        "message": record.message,
        "prune": record.prune,
        "rollbackOf": record.rollback_of,
        "destination": record.destination or None,
    }


def fail_unknown_app(ctx: Context, name: str, *, what: str) -> bool:
    """True, after saying so on stderr, when the store has never seen ``name``
    (argocd and kubectl answer "not found", exit 1, for an unknown name)."""
    error = ctx.unknown_app(name, what=what)
    if error is None:
        return False
    ctx.err(f"error: {error}")
    if error.hint:
        ctx.err(f"hint: {error.hint}")
    return True


def cmd_history(ctx: Context) -> int:
    names, by_path = named_or_selected(ctx)
    limit = ctx.args.limit
    records = sorted(
        (r for name in names for r in operations.history(ctx.store, name, limit=limit)),
        key=lambda r: r.id,
        reverse=True,
    )[:limit]
    if not by_path and not records and fail_unknown_app(ctx, names[0], what="syncs"):
        return EXIT_FAILED
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([_record_dict(r) for r in records], ctx.output))
        return EXIT_OK
    if ctx.output == "name":
        for r in records:  # as `argocd app history -o id`: the ids, for `rollback APP ID`
            ctx.out(str(r.id))
        return EXIT_OK
    if not records:
        if names:  # none: -l matched no app, said on stderr
            ctx.out(f"no syncs recorded for {', '.join(names)}")
        return EXIT_OK
    wide = ctx.output == "wide"
    rows = [
        ([r.app] if by_path else [])
        + [
            r.id,
            revision_text(r.revision, r.content_digest),
            local_time(r.started),
            r.who,
            r.result + (f" (rollback of #{r.rollback_of})" if r.rollback_of else ""),
            r.destination or "-",
            r.source,
        ]
        + (_wide_record(r) if wide else [])
        for r in records
    ]
    headers = (["app"] if by_path else []) + [
        "id",
        "revision",
        "started",
        "who",
        "result",
        "destination",
        "source",
    ]
    ctx.out(table(headers + (["finished", "prune", "message"] if wide else []), rows))
    return EXIT_OK


def _wide_record(record: SyncRecord) -> list[str]:
    """-o wide: when it ended, whether it pruned, and its message's first line."""
    finished = local_time(record.finished) if record.finished else "-"
    message = (record.message.splitlines() or ["-"])[0] or "-"
    return [finished, "yes" if record.prune else "no", message]


def cmd_rollback(ctx: Context) -> int:
    name = ctx.args.app_name
    sync_id = ctx.args.id
    if sync_id is None:
        sync_id = operations.previous_success(ctx.store, name)
    # Back onto the cluster the entry was synced to.
    cluster = ctx.store.get(sync_id).destination.partition("/")[0]
    synced = operations.rollback(
        implicit_app(name),
        sync_id,
        targets=ctx.fleet.targets_named(cluster, f"history entry {sync_id}"),
        store=ctx.store,
        request=ctx.sync_request(dry_run=ctx.args.dry_run),
        sink=_both(Progress(), _lock_notices(ctx), ctx.timeline if not ctx.args.dry_run else None),
    )
    plan, result = synced.plan, synced.result
    if ctx.output in ("json", "yaml"):
        value = {
            "app": name,
            "rolledBackTo": sync_id,
            "phase": result.phase.value,
            "message": result.message,
        }
        ctx.out(dump(value, ctx.output))
    else:
        ctx.out(ctx.paint(f"{name}: rolling back to #{sync_id} @ {short(plan.revision)}", "bold"))
        ctx.out("  Secrets keep their live contents (secret values are never recorded).")
        print_result(ctx.terminal, plan, result)
    return EXIT_OK if result.ok else EXIT_FAILED

"""``gitwave cluster add|list|rm``: the clusters apps can name as their destination.

``add`` registers a kubeconfig context or a named sandbox cluster under a
server URL (what an Argo CD Application's ``destination.server`` names);
``list`` shows every known cluster — the current target (``in-cluster``), the
registered ones, Argo CD cluster Secrets in PATH (when given) and on the
current target — with name, server, kind, labels, namespaces and origin, never
a credential; ``rm`` forgets one (a sandbox cluster's objects stay in its store).
"""

from __future__ import annotations

from typing import Any

from gitwave.engine.cluster_registry import RegisteredCluster, check_name, parse_labels
from gitwave.engine.clusters import Cluster, ClusterKind
from gitwave.engine.errors import ValidationError
from gitwave.tui.cli.context import EXIT_OK, Context
from gitwave.tui.cli.output import dump, table


def _server(ctx: Context) -> str:
    args = ctx.args
    server = str(args.server or "")
    if args.sandbox:
        if not server:
            raise ValidationError(
                f"cluster {args.name}",
                "a sandbox cluster needs --server URL (the address apps name it by)",
                hint="e.g. --server https://127.0.0.2:6443",
            )
    else:
        from gitwave.providers.kubernetes import context_servers

        known = dict(context_servers(kubeconfig=args.kubeconfig))
        if args.context not in known:
            listed = ", ".join(known) or "none"
            raise ValidationError(
                f"--context {args.context}",
                f"not a context of the kubeconfig (contexts: {listed})",
                hint="pass --kubeconfig FILE holding it",
            )
        actual = known[args.context]
        if server and server.rstrip("/") != actual.rstrip("/"):
            raise ValidationError(
                f"cluster {args.name}",
                f"--server {server} is not the server of context {args.context} ({actual})",
            )
        server = actual
    if not server.startswith(("https://", "http://")):
        raise ValidationError(f"--server {server}", "expected an http(s) URL")
    return server


def cmd_cluster_add(ctx: Context) -> int:
    args = ctx.args
    if bool(args.sandbox) == bool(args.context):
        raise ValidationError(
            f"cluster {args.name}",
            "pass either --context CTX (a kubeconfig context) or --sandbox",
        )
    name = check_name(args.name)
    kind = ClusterKind.SANDBOX if args.sandbox else ClusterKind.KUBECONFIG
    entry = RegisteredCluster(
        cluster=Cluster(
            name=name,
            server=_server(ctx),
            kind=kind,
            labels=parse_labels(args.label or ()),
            namespaces=tuple(sorted(set(args.namespace or ()))),
            origin="registry",
        ),
        context="" if args.sandbox else str(args.context),
        kubeconfig="" if args.sandbox else str(args.kubeconfig or ""),
    )
    ctx.registry.add(entry, replace=args.replace)
    if ctx.output in ("json", "yaml"):  # the cluster as `cluster list -o json` shows it
        ctx.out(dump(_cluster_dict(entry.cluster), ctx.output))
        return EXIT_OK
    where = "a sandbox cluster" if args.sandbox else f"kubeconfig context {args.context}"
    ctx.out(f"cluster {name} added: {entry.cluster.server} ({where})")
    return EXIT_OK


def _cluster_dict(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "server": cluster.server,
        "kind": cluster.kind.value,
        "labels": dict(cluster.labels),
        "namespaces": list(cluster.namespaces),
        "origin": cluster.origin,
    }


def cmd_cluster_list(ctx: Context) -> int:
    clusters = ctx.fleet.clusters()
    selector = ctx.args.selector
    if selector is not None:
        clusters = [c for c in clusters if selector.matches(c.label_map)]
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([_cluster_dict(c) for c in clusters], ctx.output))
        return EXIT_OK
    if ctx.output == "name":
        for c in clusters:
            ctx.out(c.name)
        return EXIT_OK
    # -o wide: the table already shows every column (none is left out for width).
    rows = [
        [
            c.name,
            c.server,
            c.kind.value,
            ",".join(f"{k}={v}" for k, v in c.labels) or "-",
            ",".join(c.namespaces) or "*",
            c.origin,
        ]
        for c in clusters
    ]
    ctx.out(table(["name", "server", "kind", "labels", "namespaces", "origin"], rows))
    return EXIT_OK


def cmd_cluster_rm(ctx: Context) -> int:
    removed = ctx.registry.remove(ctx.args.name)
    kept = ""
    if removed.cluster.kind is ClusterKind.SANDBOX:
        kept = f" (its sandbox store stays in {ctx.registry.sandbox_dir(removed.cluster.name)})"
    if ctx.output in ("json", "yaml"):
        ctx.out(dump({"cluster": removed.cluster.name, "removed": True}, ctx.output))
    else:
        ctx.out(f"cluster {removed.cluster.name} removed{kept}")
    return EXIT_OK

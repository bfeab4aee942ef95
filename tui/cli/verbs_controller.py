"""``gitwave controller``: reconcile the Applications/Kustomizations of the cluster itself.

Out of cluster with ``--kubeconfig``/``--context``, or with ``--in-cluster``
(the pod's ServiceAccount, as engine/controller/deploy/ runs it). Runs until SIGTERM or Ctrl-C,
then hands its shards back between syncs. Each sync prints one JSON audit line
on stdout (app, replica, shard, start, finish, phase).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from gitwave.engine.controller.loop import (
    Controller,
    ControllerOptions,
    Operated,
    ShardKeeper,
    audit_line,
)
from gitwave.engine.errors import ValidationError
from gitwave.engine.router import ProviderRouter
from gitwave.tui.cli.context import Context
from gitwave.tui.cli.loop_http import parse_address
from gitwave.tui.cli.thread_profile import profiled_threads
from gitwave.tui.targets import build_targets


def _now() -> datetime:
    return datetime.now(UTC)


def _serve_metrics(address: str, keeper: ShardKeeper) -> tuple[Callable[[Operated], None], Any]:
    """Start /metrics on ``address``; the audit hook counting syncs, and the server."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

    where = parse_address(address, "--metrics-addr")
    registry = CollectorRegistry()
    held = Gauge(
        "gitwave_controller_shards_held", "shards whose Lease this replica holds", registry=registry
    )
    held.set_function(lambda: len(keeper.held()))
    syncs = Counter(
        "gitwave_controller_syncs", "syncs run by this replica", ["phase"], registry=registry
    )
    server, _thread = start_http_server(where.port, addr=where.host or "0.0.0.0", registry=registry)
    print(
        f"gitwave controller: metrics on http://{where.url_host}:{server.server_port}/metrics",
        file=sys.stderr,
        flush=True,
    )
    return lambda operated: syncs.labels(operated.phase).inc(), server


def cmd_controller(ctx: Context) -> int:
    with profiled_threads():  # only with $GITWAVE_CPROFILE set
        return _run_controller(ctx)


def _run_controller(ctx: Context) -> int:
    from gitwave.providers.kubernetes import KubernetesProvider
    from gitwave.providers.kubernetes.controller_api import KubeControllerApi

    # Taken first: a pod stopped while it connects and lists (a rollout, a
    # node drain) still exits cleanly, releasing whatever it got, not by the
    # default SIGTERM action.
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    args = ctx.args
    if args.shards < 1 or args.shards > 1024:
        raise ValidationError("--shards", f"must be 1 to 1024, got {args.shards}")
    if args.concurrent < 1 or args.concurrent > 256:
        raise ValidationError("--concurrent", f"must be 1 to 256, got {args.concurrent}")
    if args.renew * 2 > args.lease_duration:
        raise ValidationError("--renew", "must be at most half of --lease-duration")
    replica = args.replica or f"{socket.gethostname()}-{os.getpid()}"
    if args.in_cluster:
        api = KubeControllerApi.connect(
            context=None, kubeconfig=None, namespace=args.controller_namespace, in_cluster=True
        )
        provider = KubernetesProvider(api.api_client, name="kube:in-cluster")
    else:
        api = KubeControllerApi.connect(
            context=args.context,
            kubeconfig=args.kubeconfig,
            namespace=args.controller_namespace,
            in_cluster=False,
        )
        provider = KubernetesProvider(api.api_client, name=f"kube:{args.context or 'current'}")
    providers, _aws = build_targets(state_dir=ctx.state_dir, kube_side=provider, embedded_aws=False)
    options = ControllerOptions(
        replica=replica,
        shards=args.shards,
        concurrent=args.concurrent,
        lease_s=max(int(args.lease_duration), 2),
        renew_s=args.renew,
        resync_s=args.resync,
        allow_local_repos=tuple(args.allow_local_repo),
    )
    keeper = ShardKeeper(api, options, _now)
    api.start_watching()

    count: Callable[[Operated], None] | None = None
    server: Any = None
    if args.metrics_addr:
        count, server = _serve_metrics(args.metrics_addr, keeper)

    printing = threading.Lock()

    def audit(operated: Operated) -> None:
        if count is not None:
            count(operated)
        # From several worker threads: one whole line at a time, never two
        # lines' halves interleaved (print writes the newline separately).
        with printing:
            sys.stdout.write(audit_line(operated) + "\n")
            sys.stdout.flush()

    controller = Controller(
        api,
        keeper,
        targets=ProviderRouter(providers),
        store=ctx.store,
        options=options,
        clock=_now,
        audit=audit,
    )
    print(
        f"gitwave controller: replica {replica}, {args.shards} shards, "
        f"{args.concurrent} concurrent",
        file=sys.stderr,
        flush=True,
    )
    keeper_thread = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    keeper_thread.start()
    try:
        controller.run(stop)
    finally:
        keeper_thread.join(timeout=args.renew + 5)
        # Between syncs: the loop has returned once its workers were done, so
        # no app of any shard is in flight now.
        keeper.release_all()
        api.stop_watching()
        provider.close()
        if server is not None:
            server.shutdown()
    print(f"gitwave controller: replica {replica} stopped, shards released", file=sys.stderr)
    return 0

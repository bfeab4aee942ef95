"""The arguments of ``gitwave controller``, apart from its code: building the
parser must not import the engine the controller uses (``lazy_verbs``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from gitwave.tui.cli.durations import parse_duration
from gitwave.tui.cli.lazy_verbs import LazyVerb


def controller_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """The ``controller`` verb (called once from ``parser.build_parser``)."""
    p = verbs.add_parser(
        "controller",
        parents=[common],
        help="run as a Kubernetes controller: Application/Kustomization objects, sharded",
    )
    p.add_argument(
        "--in-cluster", action="store_true", help="use the pod's ServiceAccount, not a kubeconfig"
    )
    p.add_argument(
        "--namespace",
        dest="controller_namespace",
        default=os.environ.get("POD_NAMESPACE", "gitwave-system"),
        help="where the controller's Leases live",
    )
    p.add_argument(
        "--replica",
        default=os.environ.get("POD_NAME", ""),
        help="this replica's name (default: $POD_NAME, else host-pid)",
    )
    p.add_argument(
        "--shards",
        type=int,
        default=64,
        help="number of shards (64; the same on every replica)",
    )
    p.add_argument(
        "--concurrent",
        type=int,
        default=4,
        help="apps reconciled at once by this replica (4, as Flux's --concurrent)",
    )
    p.add_argument(
        "--lease-duration", type=parse_duration, default=10.0, help="Lease duration (10s)"
    )
    p.add_argument("--renew", type=parse_duration, default=2.0, help="Lease renew period (2s)")
    p.add_argument(
        "--resync", type=parse_duration, default=180.0, help="compare/sync period per app (3m)"
    )
    p.add_argument(
        "--allow-local-repo",
        action="append",
        default=[],
        metavar="DIR",
        help="a host directory apps may name as repoURL (file://; repeatable)",
    )
    p.add_argument(
        "--metrics-addr",
        default="",
        metavar="HOST:PORT",
        help="serve Prometheus /metrics here (:8080; off by default)",
    )
    p.set_defaults(func=LazyVerb("verbs_controller", "cmd_controller"))

"""Simulated controllers: the status a real cluster's controllers would write,
and the objects they would create (a Deployment's ReplicaSets and Pods).

There are no background threads. When an object's spec changes, its
controller writes the *started* status and the time the rollout will be done;
the first read after that time writes the *settled* status (see
``SandboxProvider``). Everything here is pure: a function of the object, the
rollout phase and the time it is given.

An object whose pod template (or, for a Pod, itself) carries the annotation
``sandbox.gitwave.dev/fail: "true"`` fails instead of settling: its pods crash
(or exit 1), a Deployment exceeds its progress deadline, a Job fails. Tests of
SyncFail hooks and failed rollouts use it.

One module per family of kinds (``workloads``, ``pods``, ``cluster``), each
registering its controllers in ``base``'s registry when imported.
"""

from . import cluster, pods, workloads  # noqa: F401  (importing them registers their controllers)
from .base import (
    FAIL_ANNOTATION,
    HOST_IP,
    NODE_NAME,
    Controller,
    Rollout,
    StatusContext,
    controller_for,
    pod_template_hash,
    register_later,
    safe_hash,
)

# Argo Rollouts' controller loads with the first Rollout met: few apps hold one.
register_later("argoproj.io", "Rollout", f"{__name__}.rollouts")

__all__ = [
    "FAIL_ANNOTATION",
    "HOST_IP",
    "NODE_NAME",
    "Controller",
    "Rollout",
    "StatusContext",
    "controller_for",
    "pod_template_hash",
    "safe_hash",
]

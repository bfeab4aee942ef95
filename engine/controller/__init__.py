"""gitwave as a Kubernetes controller: apps read from the cluster, sharded over replicas.

The pure parts live here (which shard an app is in, which replica a shard
belongs to, what to do with each shard Lease, how a sync result reads as an
Argo CD or Flux status); the loop (``loop.Controller``) drives them through a
small ``ControllerApi`` seam that ``providers.kubernetes.controller_api``
implements with the official client, so the engine still never imports
``kubernetes``.

```
 Application / Kustomization objects ──► parse (apps.argo / apps.flux) ──► AppSpec
        ▲                                                                   │
        │ status subresource (status.py)          shard_of(app) held? ──────┤
        └───────────────────────── operations.sync_app ◄────────────────────┘
 Leases: gitwave-member-<replica> (liveness), gitwave-shard-N-of-S (ownership)
```
"""

from gitwave.engine.controller.leases import LeasePlan, LeaseRecord, plan_leases
from gitwave.engine.controller.sharding import assign_shards, shard_of

__all__ = [
    "LeasePlan",
    "LeaseRecord",
    "assign_shards",
    "plan_leases",
    "shard_of",
]

"""What an RDS DB instance's status means: its health and its readiness.

The statuses are RDS's own (RDS user guide, "Viewing DB instance status"); a
status not listed is Unknown, naming it, rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitwave.engine.model import Health, HealthCode, Manifest

from .base import Readiness
from .translate import at_provider

# DB instance statuses (RDS user guide, "Viewing DB instance status").
_PROGRESSING = frozenset(
    {
        "backing-up",
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "configuring-log-exports",
        "converting-to-vpc",
        "creating",
        "delete-precheck",
        "deleting",
        "maintenance",
        "modifying",
        "moving-to-vpc",
        "rebooting",
        "resetting-master-credentials",
        "renaming",
        "starting",
        "stopping",
        "storage-config-upgrade",
        "storage-initialization",
        "storage-optimization",
        "upgrading",
    }
)
_DEGRADED = frozenset(
    {
        "failed",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "incompatible-create",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-parameters",
        "incompatible-restore",
        "insufficient-capacity",
        "restore-error",
        "storage-full",
    }
)
_SUSPENDED = frozenset({"stopped"})


def instance_health(manifest: Manifest) -> Health:
    """A DBInstance's health from the status RDS reported (``atProvider.dbInstanceStatus``)."""
    observed = at_provider(manifest)
    status = observed.get("dbInstanceStatus")
    if not status:
        return Health(HealthCode.PROGRESSING, "Waiting for the DB instance to report a status")
    status = str(status)
    if status == "available":
        pending = observed.get("pendingModifiedValues")
        if isinstance(pending, Mapping) and pending:
            names = ", ".join(sorted(pending))
            return Health(
                HealthCode.HEALTHY,
                f"DB instance is available; pending until the maintenance window: {names}",
            )
        return Health(HealthCode.HEALTHY, "DB instance is available")
    if status in _PROGRESSING:
        return Health(HealthCode.PROGRESSING, f"DB instance is {status}")
    if status in _SUSPENDED:
        return Health(HealthCode.SUSPENDED, f"DB instance is {status}")
    if status in _DEGRADED:
        return Health(HealthCode.DEGRADED, f"DB instance is {status}")
    return Health(HealthCode.UNKNOWN, f"DB instance status {status!r} is not known to gitwave")


def instance_readiness(status: str) -> Readiness:
    """Where a DB instance of that status is in its life (creating, available, …)."""
    if status == "available":
        return Readiness.AVAILABLE
    if status in ("creating", "backing-up") or status.startswith("storage-init"):
        return Readiness.CREATING
    if status in ("deleting", "delete-precheck"):
        return Readiness.DELETING
    return Readiness.UNAVAILABLE

"""Health of batch objects: Job and CronJob."""

from __future__ import annotations

from gitwave.engine.health.registry import register_health_check
from gitwave.engine.health.status import (
    as_int,
    condition_of,
    explain,
    has_status,
    plural,
    spec_of,
    status_of,
)
from gitwave.engine.model import Health, HealthCode, Manifest


@register_health_check("batch", "Job")
def _job(manifest: Manifest) -> Health:
    spec, status = spec_of(manifest), status_of(manifest)
    failed = condition_of(status, "Failed")
    if has_status(failed, "True") and failed is not None:
        return Health(HealthCode.DEGRADED, f"Job failed: {explain(failed, 'no reason given')}")
    if has_status(condition_of(status, "Complete"), "True"):
        return Health(HealthCode.HEALTHY, "Job completed")
    if spec.get("suspend") is True:
        return Health(HealthCode.SUSPENDED, "Job is suspended")
    active = as_int(status.get("active"))
    if active:
        return Health(HealthCode.PROGRESSING, f"Job is running ({plural(active, 'active pod')})")
    return Health(HealthCode.PROGRESSING, "Waiting for the job to start")


@register_health_check("batch", "CronJob")
def _cron_job(manifest: Manifest) -> Health:
    if spec_of(manifest).get("suspend") is True:
        return Health(HealthCode.SUSPENDED, "CronJob is suspended")
    last = status_of(manifest).get("lastScheduleTime")
    if last:
        return Health(HealthCode.HEALTHY, f"Last scheduled at {last}")
    return Health(HealthCode.HEALTHY, "Waiting for the first schedule")

"""Waits in a sync: a wave's objects until they are healthy, a deleted object
until it is gone. Polls start fast and back off to ``max_poll_interval_s``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from gitwave.engine.errors import ProviderError
from gitwave.engine.events import EventKind
from gitwave.engine.model import Health, HealthCode, Live, Resource, ResourceKey, Wave
from gitwave.engine.provider import Provider
from gitwave.engine.router import observe_all
from gitwave.engine.sync_run import SyncRun, WaveFailed


def wait_healthy(run: SyncRun, wave: Wave, applied: Mapping[ResourceKey, Resource]) -> None:
    """Block until every applied object of the wave is settled; raise WaveFailed on
    Degraded or on the wave timeout, naming the blocking resource."""
    deadline = time.monotonic() + run.options.wave_timeout_s
    pending = dict(applied)
    interval = 0.02
    last_blocker = ""
    while pending:
        # One bulk read a round where the target offers it: a wave of thousands
        # of objects is polled several times.
        observed = observe_all(pending.values(), run.targets, parallelism=run.options.parallelism)
        for key, resource in list(pending.items()):
            provider = run.targets.for_resource(resource)
            live = observed[key]
            health = (
                Health(HealthCode.MISSING, "not found") if live is None else provider.health(live)
            )
            previous = run.healths.get(key)
            if previous != health:
                run.healths[key] = health
                run.emit(EventKind.HEALTH_CHANGED, str(health), resource=key, wave=wave.label)
            if health.code.is_settled:
                del pending[key]
            elif health.code is HealthCode.DEGRADED:
                raise WaveFailed(f"{key.display} is Degraded: {health.message}", key=key)
        if not pending:
            break
        blocker_key = min(pending)
        blocker = f"waiting for {blocker_key.display}: {run.healths[blocker_key]}"
        if blocker != last_blocker:
            run.emit(EventKind.WAITING, blocker, resource=blocker_key, wave=wave.label)
            last_blocker = blocker
        if time.monotonic() >= deadline:
            raise WaveFailed(
                f"{wave.label} timed out after {run.options.wave_timeout_s:g}s {blocker}",
                key=blocker_key,
            )
        time.sleep(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def await_deleted(run: SyncRun, provider: Provider, key: ResourceKey) -> None:
    """Block until ``key`` is gone; ProviderError after the wave timeout."""
    deadline = time.monotonic() + run.options.wave_timeout_s
    interval = 0.02
    while provider.observe(key) is not None:
        if time.monotonic() >= deadline:
            raise ProviderError(
                key, f"still present {run.options.wave_timeout_s:g}s after it was deleted"
            )
        time.sleep(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def wait_absent(run: SyncRun, keys: Sequence[tuple[ResourceKey, Live]]) -> None:
    deadline = time.monotonic() + run.options.wave_timeout_s
    pending = list(keys)
    interval = 0.02
    while pending:
        pending = [(k, live) for k, live in pending if run.targets.for_live(live).observe(k)]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise WaveFailed(f"timed out waiting for {pending[0][0].display} to be deleted")
        time.sleep(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)

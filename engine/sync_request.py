"""What a user (or the loop) asks of an operation on an app, and what it means
for the executor: ``SyncRequest``, ``effective_prune`` and ``sync_options_for``.
Kept apart from ``operations`` so the helpers it uses (``sync_record``) can
read a request without importing the whole operations layer."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitwave.engine.apps import AppSpec
from gitwave.engine.lock_names import DEFAULT_LOCK_TIMEOUT_S
from gitwave.engine.model import ResourceKey
from gitwave.engine.plan_filters import ResourceRef
from gitwave.engine.policy.model import PolicyOptions

if TYPE_CHECKING:  # the executor's: a request is made by every verb, a sync by few
    from gitwave.engine.sync import SyncOptions

__all__ = ["DEFAULT_WAVE_TIMEOUT_S", "SyncRequest", "effective_prune", "sync_options_for"]

DEFAULT_WAVE_TIMEOUT_S = 300.0
_NO_POLICY_OPTIONS = PolicyOptions()


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncRequest:
    """What a user (or the loop) asked of an operation on an app.

    ``prune`` None follows the app's policy. ``wave_timeout_s`` None: the app's
    timeout, else 300 s. ``force`` re-applies every object, the ones already
    in sync too, taking over fields another applier owns (server-side apply
    with force re-asserts every field gitwave sets). ``resource`` limits the
    operation to that one object. ``retry`` False tries once whatever the
    app's retry policy says. ``adopt`` takes over objects another app
    (another name, or the same name from another source) owns, instead of
    refusing to plan. ``lock_timeout_s`` is how long to wait while another
    operation (another process, the loop, the TUI) holds the app; 0 asks once."""

    prune: bool | None = None
    adopt: bool = False
    dry_run: bool = False
    wave_timeout_s: float | None = None
    parallelism: int = 8
    retry: bool = True
    force: bool = False
    resource: ResourceKey | None = None
    # ``sync --resource`` (repeatable): only the objects these name (plan_filters).
    resources: tuple[ResourceRef, ...] = ()
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    # --policy directories, --strict, --kubernetes-version (engine.policy).
    policy: PolicyOptions = _NO_POLICY_OPTIONS
    # The prune guard (engine.prune_guard): ``confirm_prune`` lets a guarded
    # plan run (``sync --confirm-prune``, the TUI's typed confirmation; never
    # the loop); ``prune_limit`` (a percentage) overrides the app's limit.
    confirm_prune: bool = False
    prune_limit: float | None = None


def effective_prune(app: AppSpec, request: SyncRequest) -> bool:
    """Whether an operation on ``app`` prunes: the request's word, else the app's policy."""
    return app.policy.prune if request.prune is None else request.prune


def sync_options_for(
    app: AppSpec, request: SyncRequest, *, stop: threading.Event | None = None
) -> SyncOptions:
    """The executor's options for ``app``: its sync policy plus the request's."""
    from gitwave.engine.sync import FORCE_OPTION, SyncOptions

    return SyncOptions(
        dry_run=request.dry_run,
        propagation=app.policy.prune_propagation,
        create_namespace=app.policy.create_namespace,
        # `sync --force` is Argo CD's `app sync --force`: with server-side apply,
        # it takes over conflicting fields for this one operation.
        force_conflicts=request.force or FORCE_OPTION in app.policy.sync_options,
        wave_timeout_s=request.wave_timeout_s or app.timeout_s or DEFAULT_WAVE_TIMEOUT_S,
        parallelism=request.parallelism,
        stop=stop,
        health=app.health,
    )

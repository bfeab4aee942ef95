"""The operations layer: what the command line, the TUI, ``watch``, ``run``
and (later) the controller ask of the engine, each in one place.

- ``select_apps``: the apps a location defines, in sync order, filtered by name;
  ``select_app_set`` the same with each broken app beside the others (it fails alone);
  ``select_labelled`` narrows them by a label selector (``-l``);
- ``effective_prune``: whether a sync of an app prunes (the request, else its policy);
- ``plan``: one app through render → compose → graph → observe → plan (``AppState``),
  narrowed to what the request asked (one object, forced);
- ``sync``: run a plan (hooks once per revision when a ledger is given, drift-loop
  fields left alone) and record it in the history;
- ``sync_app``: plan and sync with the app's retry policy (``gitwave sync``);
- ``rollback``: re-apply the manifests of a history entry; ``history``: the
  past syncs of an app, a running or interrupted one included;
- ``resource_healths``, ``app_health`` (``engine.app_status``): health of an app's
  objects and of the app; ``plan_summary``, ``result_summary``: one-line texts.

Every operation that changes an app holds its lock (``engine.locks``: one
operation per app across processes) and writes its history row when it starts
and when it ends, so a killed sync shows as Interrupted.

The callers present these values and decide nothing themselves. This module
is the whole list of what a front end may ask of the engine; it plans and
waits itself, and names the operations that change an app, which live by job
in ``operation_sync`` (``sync``, ``sync_app``, ``Synced``) and
``operation_rollback`` (``rollback``) and are imported on first use:
`gitwave status` and `plan` only plan. The stages they string together live in
``app_choice``, ``app_pipeline``, ``sync``, ``sync_request``, ``sync_record``,
``plan_filters``, ``hooks``, ``locks`` and ``app_status``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitwave.engine import plan_filters
from gitwave.engine.app_choice import (
    ChosenApp,
    choose_app_set,
    choose_apps,
    select_app_set,
    select_apps,
    select_labelled,
)
from gitwave.engine.app_pipeline import (
    AppState,
    Desired,
    desired_of,
    plan_resources,
)
from gitwave.engine.app_status import app_health, plan_summary, resource_healths, result_summary
from gitwave.engine.apps import AppSpec
from gitwave.engine.clusters import IN_CLUSTER_NAME
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.fleet import check_cluster_scope
from gitwave.engine.kube_versions import kubernetes_version
from gitwave.engine.lazy_module import lazy_exports
from gitwave.engine.model import (
    SyncStatus,
)
from gitwave.engine.policy.gate import gate as policy_gate
from gitwave.engine.policy.gate import target_version
from gitwave.engine.projects import check_manual_window, check_project, window_verdict
from gitwave.engine.render import Rendered
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_record import (
    content_digest,
    history,
    previous_success,
)
from gitwave.engine.sync_request import (
    DEFAULT_WAVE_TIMEOUT_S,
    SyncRequest,
    effective_prune,
    sync_options_for,
)
from gitwave.engine.validate import preflight

# What syncs or rolls back an app, and waits for it, is imported by the
# operation that does it: `gitwave status` and `plan` only plan.
if TYPE_CHECKING:
    from gitwave.engine.app_wait import WaitFor, WaitOutcome
    from gitwave.engine.operation_rollback import rollback
    from gitwave.engine.operation_sync import Synced, sync, sync_app

_lazy = lazy_exports(
    __name__,
    {
        "WaitFor": "app_wait",
        "WaitOutcome": "app_wait",
        "Synced": "operation_sync",
        "sync": "operation_sync",
        "sync_app": "operation_sync",
        "rollback": "operation_rollback",
    },
    package="gitwave.engine",
)


def __getattr__(name: str) -> Any:
    return _lazy(name)


__all__ = [
    "DEFAULT_WAVE_TIMEOUT_S",
    "AppState",
    "ChosenApp",
    "SyncRequest",
    "SyncStatus",
    "Synced",
    "WaitFor",
    "WaitOutcome",
    "app_health",
    "check_manual_window",
    "choose_app_set",
    "choose_apps",
    "content_digest",
    "effective_prune",
    "history",
    "plan",
    "plan_summary",
    "previous_success",
    "resource_healths",
    "result_summary",
    "rollback",
    "select_app_set",
    "select_apps",
    "select_labelled",
    "sync",
    "sync_app",
    "sync_options_for",
    "wait",
    "window_verdict",
]


# --- planning ----------------------------------------------------------------------------


def plan(
    app: AppSpec,
    request: SyncRequest,
    *,
    targets: ProviderRouter,
    rendered: Rendered | None = None,
    desired: Desired | None = None,
) -> AppState:
    """Render, compose, graph, observe and plan ``app``; the plan narrowed to
    ``request.resource`` and forced when asked. ``rendered`` is the app's
    render and ``desired`` what it composes to, when the caller has them
    already (the reconcile loop keeps both per commit). Raises GitwaveError
    for bad input (nothing is applied): PreflightError for objects the
    target would refuse (``engine.validate``), ProjectError for what the app's
    AppProject refuses (``engine.projects``)."""
    # kustomize-controller reads the decryption.secretRef Secret as itself, not as the
    # Kustomization's serviceAccountName: the keys are read through the targets as given.
    keys_from = targets
    targets = targets_for(app, targets)
    prune = effective_prune(app, request)
    if app.removed_from:
        # A child gone from its app of apps: nothing to render, only what it left.
        state = plan_resources(
            app, (), revision="", targets=targets, prune=prune, adopt=request.adopt, removed=True
        )
    else:
        if rendered is None:
            rendered = render_for(app, keys_from)
        if desired is None:
            desired = desired_of(rendered.resources)
        # Before anything is observed: a forbidden destination is not even read.
        check_project(app, desired.graph)
        state = plan_resources(
            app,
            rendered.resources,
            revision=rendered.revision,
            targets=targets,
            prune=prune,
            parallelism=request.parallelism,
            rendered=rendered,
            desired=desired,
            adopt=request.adopt,
            force=request.force,
        )
    with kubernetes_version(target_version(targets, request.policy.kubernetes_version)):
        preflight(state, targets=targets)
    findings = policy_gate(state, request.policy, targets=targets)
    if findings:
        state = dataclasses.replace(state, findings=findings)
    if targets.cluster is not None:  # a destination limited to some namespaces
        check_cluster_scope(state.graph.resources.values(), targets.cluster, app.where)
    return _narrowed(state, request)


def targets_for(app: AppSpec, targets: ProviderRouter) -> ProviderRouter:
    """The targets as ``app`` reaches them: a Flux app with a
    ``serviceAccountName`` writes as that ServiceAccount (``Impersonate-User``),
    so the cluster's RBAC bounds it as kustomize-controller's does. The one
    place an operation picks its router for an app."""
    user = app.impersonate
    return targets.as_user(user) if user else targets


def cluster_name(targets: ProviderRouter) -> str:
    """The name of the cluster ``targets`` reach (``in-cluster``: the current target)."""
    return targets.cluster.name if targets.cluster is not None else IN_CLUSTER_NAME


def destination_text(targets: ProviderRouter, app: AppSpec) -> str:
    """``cluster/namespace`` of where ``targets`` apply ``app`` (``in-cluster``:
    the current target), for history rows."""
    cluster = targets.cluster.name if targets.cluster is not None else IN_CLUSTER_NAME
    namespace = app.destination_namespace
    return f"{cluster}/{namespace}" if namespace else cluster


def _narrowed(state: AppState, request: SyncRequest) -> AppState:
    shaped = state.plan
    if request.resource is not None:
        shaped = plan_filters.only(shaped, request.resource)
    if request.resources:
        shaped = plan_filters.only_refs(shaped, request.resources)
    if request.force:
        shaped = plan_filters.forced(shaped)
    return state if shaped is state.plan else state.with_plan(shaped)


# --- syncing -----------------------------------------------------------------------------


def wait(
    app: AppSpec,
    want: WaitFor,
    *,
    targets: ProviderRouter,
    on_progress: Callable[[str], None] = lambda line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Wait for ``app`` to be Healthy (and Synced) as ``want`` says
    (``engine.app_wait``, ``argocd app wait``); never applies anything."""
    from gitwave.engine.app_wait import wait_app

    return wait_app(
        app, want, targets=targets, plan=plan, on_progress=on_progress, clock=clock, sleep=sleep
    )

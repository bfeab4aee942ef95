"""``gitwave status``: each app's sync and health, its last sync, its pin and
its composites; an app that cannot be loaded or planned shows Unknown with its
error (exit 2) while the others are shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitwave.compositions import Composed
from gitwave.compositions.model import ConditionStatus
from gitwave.engine import operations
from gitwave.engine.app_pipeline import composite_status
from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.fleet import Destination
from gitwave.engine.loop_store import Pin
from gitwave.engine.model import Action, HealthCode, ResourceKey, SyncStatus
from gitwave.engine.pauses import AUTOSYNC_FILE, AutoSyncFlags
from gitwave.engine.render import Rendered
from gitwave.engine.source import opened_once, redact_url
from gitwave.engine.store import SyncRecord
from gitwave.tui.cli.app_listing import (
    app_title,
    chosen_apps,
    error_dict,
    refuse_empty,
    report_error,
)
from gitwave.tui.cli.context import EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.output import dump, rfc3339, short, table
from gitwave.tui.formatting import age, revision_text


@dataclass(frozen=True, slots=True)
class _AppStatus:
    """One app as `gitwave status` shows it, every value from the engine."""

    name: str
    sync: SyncStatus
    health: HealthCode
    revision: str
    digest: str  # of uncommitted edits' render ("" for a clean commit)
    resources: tuple[tuple[ResourceKey, HealthCode], ...]  # hooks left out
    pin: Pin | None
    last: SyncRecord | None
    composed: Composed | None
    destination: Destination
    # Keys a sync would create or change: composed resources not applied as composed.
    unsynced: frozenset[ResourceKey] = frozenset()
    # What the project's sync windows say now ("" without a matching window).
    window: str = ""
    # Gone from Git and still live: a sync with prune would delete them.
    unpruned: tuple[ResourceKey, ...] = ()
    helm_releases: tuple[_HelmRelease, ...] = ()
    # The app itself: what -o wide shows of it (project, repository, path, target).
    spec: AppSpec | None = None
    # Suspended by `gitwave suspend` or the TUI's pause (flux get's SUSPENDED).
    suspended: bool = False

    @property
    def sync_text(self) -> str:
        """``OutOfSync (requires pruning)`` as Argo CD says it while objects
        removed from Git are still live (prune off)."""
        if self.unpruned:
            return f"{self.sync.value} (requires pruning)"
        return self.sync.value


@dataclass(frozen=True, slots=True)
class _HelmRelease:
    """A Flux HelmRelease as ``flux get helmreleases`` shows it."""

    namespace: str
    name: str
    revision: str  # the chart's version
    ready: bool
    message: str


def _helm_releases(
    rendered: Rendered | None,
    healths: Mapping[ResourceKey, HealthCode],
    unsynced: frozenset[ResourceKey],
    left_alone: frozenset[ResourceKey] = frozenset(),
) -> tuple[_HelmRelease, ...]:
    """Each HelmRelease gitwave rendered, Ready when every object of its chart
    is applied as rendered and Healthy (what helm-controller's Ready condition
    says after an install or upgrade that waited for its objects)."""
    found: list[_HelmRelease] = []
    for info in rendered.helm_releases if rendered is not None else ():
        release = f"{info.release_namespace}/{info.release_name}"
        chart = f"{info.chart}@{info.version}"
        pending = [k for k in info.objects if k in unsynced]
        unhealthy = [
            (k, healths.get(k, HealthCode.MISSING))
            for k in info.objects
            if healths.get(k, HealthCode.MISSING) is not HealthCode.HEALTHY
            and (k in healths or k not in left_alone)  # a CRD its policy skips
        ]
        if pending:
            message = (
                f"release {release} with chart {chart} is not applied: "
                f"{len(pending)} object(s) to create or change, first {pending[0].display}"
            )
        elif unhealthy:
            key, code = unhealthy[0]
            message = f"release {release} with chart {chart}: {key.display} is {code.value}" + (
                f" (and {len(unhealthy) - 1} more)" if len(unhealthy) > 1 else ""
            )
        else:
            message = f"Helm release {release} with chart {chart} is applied and healthy"
        found.append(
            _HelmRelease(
                info.key.namespace,
                info.key.name,
                info.version,
                ready=not pending and not unhealthy,
                message=message,
            )
        )
    return tuple(found)


def _app_status(ctx: Context, app: AppSpec) -> _AppStatus:
    destination = ctx.fleet.destination_of(app)
    targets = ctx.fleet.targets_for(app)
    state = operations.plan(app, ctx.sync_request(), targets=targets)
    refuse_empty(state)
    by_key = operations.resource_healths(state, targets=targets)
    unsynced = frozenset(
        t.key for t in state.plan.tasks() if t.action in (Action.CREATE, Action.UPDATE)
    )
    return _AppStatus(
        name=app_title(app),
        sync=SyncStatus.of_plan(state.plan),
        health=operations.app_health(state, targets=targets).code,
        revision=state.plan.revision,
        digest=operations.content_digest(state),
        resources=tuple(
            (key, by_key[key].code if key in by_key else HealthCode.MISSING)
            for key in state.live
            if not state.graph.is_hook(key)
            # A CRD a HelmRelease's policy skips and nobody created is no object of it.
            and (key in by_key or key not in state.plan.left_alone)
        ),
        pin=ctx.loop_store.pin_of(app.name),
        suspended=AutoSyncFlags(ctx.state_dir / AUTOSYNC_FILE).is_paused(app.name),
        last=ctx.store.last(app.name),
        composed=composite_status(state, targets=targets),
        destination=destination,
        unsynced=unsynced,
        window=operations.window_verdict(app, datetime.fromtimestamp(ctx.clock(), UTC)).summary,
        unpruned=state.plan.unpruned,
        helm_releases=_helm_releases(
            state.rendered,
            {k: h.code for k, h in by_key.items()},
            unsynced,
            frozenset(state.plan.left_alone),
        ),
        spec=app,
    )


def cmd_status(ctx: Context) -> int:
    if not ctx.args.path:
        raise ValidationError(
            "gitwave status",
            "the following arguments are required: path",
            hint="name a directory, repository or Application file; or --controller "
            "for the apps a cluster's gitwave controller runs",
        )
    statuses: list[_AppStatus] = []
    errors: list[tuple[str, GitwaveError]] = []
    # One snapshot of each repository for the whole listing, as sync reads it:
    # loading the apps and rendering each ask Git once (rev-parse, status), not twice.
    with opened_once():
        for entry in chosen_apps(ctx, removed=True, listing=True):
            try:
                statuses.append(_app_status(ctx, entry.loaded()))
            except GitwaveError as exc:
                report_error(ctx, entry.name, exc)
                errors.append((entry.name, exc))
    if not statuses and not errors:
        if ctx.args.selector is None:
            raise ValidationError(ctx.args.path, "no apps here")
        # As `argocd app list -l` / `kubectl get -l`: nothing matched is no error.
        ctx.err(f"No apps found matching selector {ctx.args.selector}.")
    code = EXIT_USAGE if errors else EXIT_OK
    if ctx.output == "name":
        # As `argocd app list -o name`: the app's name, one a line.
        for name in [s.spec.name if s.spec else s.name for s in statuses] + [n for n, _ in errors]:
            ctx.out(name)
        return code
    if ctx.output in ("json", "yaml"):
        docs = [_status_dict(status) for status in statuses]
        unknown = {"sync": "Unknown", "health": "Unknown", "resources": []}
        docs += [error_dict(name, error, **unknown) for name, error in errors]
        ctx.out(dump(docs, ctx.output))  # a list of apps, even for one
        return code
    if not statuses and not errors:
        return code
    now = ctx.clock()
    wide = ctx.output == "wide"
    rows = []
    for status in statuses:
        sync = status.sync_text
        if status.pin is not None:
            # A rollback holds the app: auto-sync skips the newer commit.
            pin = status.pin
            sync += f" (pinned to {short(pin.revision)}, skipping {short(pin.skipped)})"
        if status.suspended:  # as `flux get` says it: nothing automated runs
            sync += " (suspended)"
        last = status.last
        last_text = f"{last.result} {age(now - last.finished)} ago" if last else "never"
        revision = revision_text(status.revision, status.digest)
        destination = status.destination.display
        row = [status.name, destination, sync, status.health.value, revision, last_text]
        rows.append(row + (_wide_cells(status.spec) if wide else []))
    for name, error in errors:
        first_line = (str(error).splitlines() or [""])[0]
        row = [name, "-", "Unknown (error)", HealthCode.UNKNOWN.value, "-", first_line]
        rows.append(row + (["-"] * len(_WIDE) if wide else []))
    headers = ["app", "destination", "sync", "health", "revision", "last sync"]
    ctx.out(table(headers + (list(_WIDE) if wide else []), rows))
    for status in statuses:
        if status.window:
            ctx.out(f"{status.name}: {status.window}")
    releases = [(s.name, r) for s in statuses for r in s.helm_releases]
    if releases:
        # As `flux get helmreleases` shows them: the chart version is the revision.
        ctx.out()
        rows = [
            [app, r.namespace, r.name, r.revision, str(r.ready), r.message] for app, r in releases
        ]
        ctx.out(table(["app", "namespace", "helmrelease", "revision", "ready", "message"], rows))
    for status in statuses:
        if status.composed and status.composed.composites:
            ctx.out()
            rows = _composite_rows(status.composed, status.unsynced)
            ctx.out(table(["name", "synced", "ready", "status"], rows))
    return code


# -o wide: what `argocd app list -o wide` adds (project, repository, path, target
# revision), and the app's kind and labels (what -l selects on).
_WIDE = ("kind", "project", "repo", "path", "target", "labels")


def _wide_cells(app: AppSpec | None) -> list[str]:
    if app is None:
        return ["-"] * len(_WIDE)
    labels = ",".join(f"{k}={v}" for k, v in app.labels) or "-"
    source = app.source
    repo = redact_url(source.repo_url) if source.repo_url else "-"
    project = app.project if app.kind is AppKind.ARGO else "-"  # an Argo CD notion only
    return [app.kind.label, project, repo, source.path, source.revision or "HEAD", labels]


def _status_dict(status: _AppStatus) -> dict[str, Any]:
    pin, last = status.pin, status.last
    doc: dict[str, Any] = {
        "app": status.name,
        "labels": dict(status.spec.labels) if status.spec else {},
        "destination": destination_dict(status.destination),
        "composites": _composite_dicts(status.composed, status.unsynced) if status.composed else [],
        "sync": status.sync.value,
        "syncWindow": status.window or None,
        "suspended": status.suspended,
        "pin": None
        if pin is None
        else {"revision": pin.revision, "skipped": pin.skipped, "reason": pin.reason},
        "health": status.health.value,
        "revision": status.revision,
        "contentDigest": status.digest or None,
        "lastSync": None
        if last is None
        else {
            "id": last.id,
            "result": last.result,
            "finished": rfc3339(last.finished) if last.finished else None,
        },
        "resources": [{"key": str(key), "health": code.value} for key, code in status.resources],
        # As `plan -o json` names them: removed from Git, still live, not pruned.
        "requiresPruning": [str(key) for key in status.unpruned],
    }
    if status.helm_releases:  # only where there are some: other apps' documents stay as they were
        doc["helmReleases"] = [
            {
                "namespace": r.namespace,
                "name": r.name,
                "revision": r.revision,
                "ready": "True" if r.ready else "False",
                "message": r.message,
            }
            for r in status.helm_releases
        ]
    return doc


def destination_dict(destination: Destination) -> dict[str, str]:
    cluster = destination.cluster
    return {"cluster": cluster.name, "server": cluster.server, "namespace": destination.namespace}


def _composite_rows(composed: Composed, unsynced: frozenset[ResourceKey]) -> list[list[str]]:
    """Each composite and its composed resources as ``crossplane beta trace`` shows
    them: NAME (a tree), SYNCED, READY, STATUS."""
    rows: list[list[str]] = []
    for node in composed.composites:
        synced, ready = node.conditions(unsynced)
        status = ready.text
        if synced.status is ConditionStatus.FALSE:
            status = f"{status}; {synced.text}"
        rows.append([node.key.display, synced.status.value, ready.status.value, status])
        parts = node.status.resources
        secret = [k for k in node.composed if k not in {r.key for r in parts}]
        children = [(r.key, r.ready, r.reason) for r in parts] + [(k, True, "") for k in secret]
        for i, (key, is_ready, reason) in enumerate(children):
            branch = "└─" if i == len(children) - 1 else "├─"
            in_sync = "False" if key in unsynced else "True"
            text = "Available" if is_ready else (reason or "not ready")
            rows.append([f"{branch} {key.display}", in_sync, str(is_ready), text])
    return rows


def _composite_dicts(composed: Composed, unsynced: frozenset[ResourceKey]) -> list[dict[str, Any]]:
    out = []
    for node in composed.composites:
        synced, ready = node.conditions(unsynced)
        out.append(
            {
                "composite": str(node.key),
                "composition": node.composition,
                "synced": synced.status is ConditionStatus.TRUE,
                "ready": node.status.ready,
                "conditions": [synced.as_dict(), ready.as_dict()],
                "resources": [
                    {
                        "key": str(r.key),
                        "name": r.name,
                        "synced": r.key not in unsynced,
                        "ready": r.ready,
                        "reason": r.reason,
                    }
                    for r in node.status.resources
                ],
                "connectionDetails": sorted(node.status.connection_details),
            }
        )
    return out

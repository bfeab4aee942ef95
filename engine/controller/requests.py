"""What an operator asks of an app the in-cluster controller runs, as object changes.

The CLI and the TUI in ``--controller`` mode never apply anything from the
operator's machine: they read the Application/Kustomization objects and
change them the way the upstream tools' clients do, and the controller that
holds the app's shard acts.

- sync: Argo, a top-level ``operation.sync`` (``argocd app sync``); Flux, the
  ``reconcile.fluxcd.io/requestedAt`` annotation (``flux reconcile``);
- suspend: Argo, the ``argocd.argoproj.io/skip-reconcile: "true"`` annotation;
  Flux, ``spec.suspend: true`` (``flux suspend``);
- resume: Argo, that annotation removed; Flux, ``spec.suspend: false`` and a
  reconcile request (``flux resume``);
- rollback: Argo, an ``operation.sync`` at a ``status.history`` revision
  (``argocd app rollback``); Flux, refused: Flux has no rollback (revert in Git);
- refresh: Argo, the ``argocd.argoproj.io/refresh: normal|hard`` annotation
  (``argocd app get --refresh``), compared at once by the controller and then
  removed; Flux, a reconcile request (a Flux app applies what it finds).

Pure: each function returns the merge patch to send, or the row to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.controller.objects import (
    ARGO_KIND,
    FLUX_KIND,
    FLUX_KINDS,
    HELM_KIND,
    AppObject,
)
from gitwave.engine.errors import GitwaveError

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
FORCE_AT = "reconcile.fluxcd.io/forceAt"
RESET_AT = "reconcile.fluxcd.io/resetAt"
SKIP_RECONCILE = "argocd.argoproj.io/skip-reconcile"
REFRESH = "argocd.argoproj.io/refresh"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def object_annotations(obj: AppObject) -> Mapping[str, Any]:
    return _mapping(_mapping(obj.body.get("metadata")).get("annotations"))


def is_suspended(obj: AppObject) -> bool:
    """Flux ``spec.suspend``; Argo CD's ``skip-reconcile`` annotation."""
    if obj.kind in FLUX_KINDS:
        return _mapping(obj.body.get("spec")).get("suspend") is True
    return str(object_annotations(obj).get(SKIP_RECONCILE, "")).lower() == "true"


def reconcile_requested(obj: AppObject) -> str:
    """A Flux reconcile request not handled yet: its value, else ""."""
    if obj.kind not in FLUX_KINDS:
        return ""
    asked = str(object_annotations(obj).get(REQUESTED_AT, "") or "")
    handled = str(_mapping(obj.body.get("status")).get("lastHandledReconcileAt", "") or "")
    return asked if asked and asked != handled else ""


def force_requested(obj: AppObject) -> str:
    """A HelmRelease's one-off forced release not handled yet (``flux reconcile hr
    --force``): the ``forceAt`` value, else "". As helm-controller v2, only
    together with a reconcile request of the same value, so a stale ``forceAt``
    left on the object never forces a later plain request."""
    if obj.kind != HELM_KIND:
        return ""
    annotations = object_annotations(obj)
    asked = str(annotations.get(FORCE_AT, "") or "")
    handled = str(_mapping(obj.body.get("status")).get("lastHandledForceAt", "") or "")
    if not asked or asked == handled or asked != str(annotations.get(REQUESTED_AT, "") or ""):
        return ""
    return asked


def refresh_requested(obj: AppObject) -> str:
    """An Argo refresh asked for and not done yet: "hard" for ``hard``, "normal"
    for any other value (as Argo CD's ``IsRefreshRequested`` reads it), else ""."""
    if obj.kind != ARGO_KIND:
        return ""
    annotations = object_annotations(obj)
    if REFRESH not in annotations:
        return ""
    return "hard" if str(annotations.get(REFRESH)) == "hard" else "normal"


def source_refresh_asked(obj: AppObject) -> bool:
    """True when whoever asks for this reconcile wants the source's branch or
    tag resolved anew, not from the answer the replica's apps share
    (``source_refs``): an Argo ``operation`` (``argocd app sync``), an Argo
    refresh annotation (``argocd app get --refresh``), a Flux reconcile
    request (``flux reconcile``)."""
    if reconcile_requested(obj):
        return True
    if obj.kind != ARGO_KIND:
        return False
    return bool(obj.body.get("operation")) or bool(refresh_requested(obj))


@dataclass(frozen=True)
class AppRow:
    """One app as ``gitwave status --controller`` and the TUI list it."""

    kind: str
    namespace: str
    name: str
    sync: str  # Synced, OutOfSync, Unknown ("" when no controller wrote status yet)
    health: str  # Healthy, Progressing, Degraded, … (Flux: from Ready)
    revision: str
    suspended: bool
    automated: bool
    operation: str  # Argo: operationState.phase; Flux: "Reconciling" while asked
    message: str
    reconciled_at: str

    @property
    def app_id(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def _ready(status: Mapping[str, Any]) -> Mapping[str, Any]:
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            return condition
    return {}


def app_row(obj: AppObject) -> AppRow:
    """What the object's status says, read the way ``kubectl get app/ks`` prints it."""
    status = _mapping(obj.body.get("status"))
    spec = _mapping(obj.body.get("spec"))
    if obj.kind == ARGO_KIND:
        sync = _mapping(status.get("sync"))
        health = _mapping(status.get("health"))
        operation = _mapping(status.get("operationState"))
        phase = str(operation.get("phase", "") or "")
        if obj.body.get("operation") and phase != "Running":
            phase = "Requested"
        conditions = [c for c in status.get("conditions") or () if isinstance(c, Mapping)]
        message = str(conditions[0].get("message", "")) if conditions else ""
        return AppRow(
            kind=obj.kind,
            namespace=obj.namespace,
            name=obj.name,
            sync=str(sync.get("status", "") or ""),
            health=str(health.get("status", "") or ""),
            revision=str(sync.get("revision", "") or ""),
            suspended=is_suspended(obj),
            automated=bool(_mapping(spec.get("syncPolicy")).get("automated") is not None),
            operation=phase,
            message=message or str(operation.get("message", "") or ""),
            reconciled_at=str(status.get("reconciledAt", "") or ""),
        )
    ready = _ready(status)
    state = str(ready.get("status", "") or "")
    reason = str(ready.get("reason", "") or "")
    if state == "True":
        health_text, sync_text = "Healthy", "Synced"
    elif state == "False" and reason in ("Progressing", "ProgressingWithRetry"):
        health_text, sync_text = "Progressing", "Synced"
    elif state == "False":
        health_text, sync_text = "Degraded", "OutOfSync"
    else:
        health_text, sync_text = "", ""
    applied = str(status.get("lastAppliedRevision", "") or "")
    if obj.kind == HELM_KIND:  # a HelmRelease's revision is the chart version released
        history = [h for h in status.get("history") or () if isinstance(h, Mapping)]
        applied = str(history[0].get("chartVersion", "") or "") if history else ""
    return AppRow(
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        sync=sync_text,
        health=health_text,
        revision=applied.rpartition(":")[2] if applied else "",
        suspended=is_suspended(obj),
        automated=not is_suspended(obj),
        operation="Reconciling" if reconcile_requested(obj) else "",
        message=str(ready.get("message", "") or ""),
        reconciled_at=str(ready.get("lastTransitionTime", "") or ""),
    )


@dataclass(frozen=True)
class Ask:
    """A change to one app object: a merge patch, and how to tell it was acted on."""

    patch: Mapping[str, Any]
    # Flux: the requestedAt value the controller echoes in status.lastHandledReconcileAt;
    # Argo: "" (the controller removes ``operation`` once it ran it).
    token: str = ""
    # Argo refresh: the annotation the controller removes once it compared the
    # app (its status written first), which is how ``argocd app get --refresh``
    # tells the refresh was done; "" for the other asks.
    cleared: str = ""


def sync_ask(
    obj: AppObject, *, user: str, now: str, revision: str = "", prune: bool = False
) -> Ask:
    """Ask for a sync now (``now``: RFC 3339, the Flux request's value)."""
    if obj.kind in FLUX_KINDS:
        if revision:
            raise GitwaveError(
                f"{obj.app_id}: a Flux Kustomization syncs its source's revision",
                hint="change the GitRepository's ref to sync another revision",
            )
        return Ask({"metadata": {"annotations": {REQUESTED_AT: now}}}, token=now)
    sync: dict[str, Any] = {}
    if revision:
        sync["revision"] = revision
    if prune:
        sync["prune"] = True
    return Ask({"operation": {"sync": sync, "initiatedBy": {"username": user}}})


def suspend_ask(obj: AppObject, *, suspended: bool, now: str) -> Ask:
    """Pause (``suspended``) or resume the controller's work on the app."""
    if obj.kind in FLUX_KINDS:
        if suspended:
            return Ask({"spec": {"suspend": True}})
        # As ``flux resume``: lift the suspend and ask for a reconcile at once.
        return Ask(
            {"spec": {"suspend": False}, "metadata": {"annotations": {REQUESTED_AT: now}}},
            token=now,
        )
    return Ask({"metadata": {"annotations": {SKIP_RECONCILE: "true" if suspended else None}}})


def refresh_ask(
    obj: AppObject, *, hard: bool, now: str, force: bool = False, reset: bool = False
) -> Ask:
    """Ask the controller to compare the app with its source's newest commit now
    (``argocd app get --refresh``, ``--hard-refresh``: its renders not reused).
    A Flux app has no compare without apply: it gets a reconcile request; a
    HelmRelease's may force a one-off release (``force``: ``flux reconcile hr
    --force``) or reset its failure count (``reset``: ``--reset``), each
    annotation of the request's own value, as helm-controller wants them."""
    if (force or reset) and obj.kind != HELM_KIND:
        flag = "--force" if force else "--reset"
        raise GitwaveError(
            f"{obj.app_id}: {flag} is for a HelmRelease (flux reconcile hr {flag})",
            hint=f"drop {flag}",
        )
    if obj.kind in FLUX_KINDS:
        annotations = {REQUESTED_AT: now}
        if force:
            annotations[FORCE_AT] = now
        if reset:
            annotations[RESET_AT] = now
        return Ask({"metadata": {"annotations": annotations}}, token=now)
    return Ask(
        {"metadata": {"annotations": {REFRESH: "hard" if hard else "normal"}}}, cleared=REFRESH
    )


@dataclass(frozen=True)
class HistoryRow:
    """One entry of an Application's ``status.history``."""

    id: int
    revision: str
    deployed_at: str
    initiated_by: str


def history_rows(obj: AppObject) -> list[HistoryRow]:
    """The app's ``status.history``, oldest first (Flux's: newest first in the
    object, one entry per applied set, numbered here from the oldest)."""
    history = _mapping(obj.body.get("status")).get("history")
    if obj.kind == FLUX_KIND:
        entries = (
            [h for h in history if isinstance(h, Mapping)] if isinstance(history, list) else []
        )
        return [
            HistoryRow(
                id=i,
                revision=str(_mapping(h.get("metadata")).get("revision", "")).rpartition(":")[2],
                deployed_at=str(h.get("lastReconciled", "")),
                initiated_by=str(h.get("lastReconciledStatus", "")),
            )
            for i, h in enumerate(reversed(entries))
        ]
    rows: list[HistoryRow] = []
    for entry in history if isinstance(history, Sequence) else ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), int):
            continue
        who = _mapping(entry.get("initiatedBy"))
        rows.append(
            HistoryRow(
                id=int(entry["id"]),
                revision=str(entry.get("revision", "") or ""),
                deployed_at=str(entry.get("deployedAt", "") or ""),
                initiated_by="automated" if who.get("automated") else str(who.get("username", "")),
            )
        )
    return rows


def rollback_ask(obj: AppObject, history_id: int | None, *, user: str) -> Ask:
    """Sync the revision of history entry ``history_id`` (None: the one before the
    last), as ``argocd app rollback``; refused for automated apps as Argo CD does,
    since the next automated sync would undo it at once."""
    if obj.kind != ARGO_KIND:
        raise GitwaveError(
            f"{obj.app_id}: Flux has no rollback (its history records what was applied)",
            hint="revert the commit in Git (or point the GitRepository at the old revision)",
        )
    if _mapping(_mapping(obj.body.get("spec")).get("syncPolicy")).get("automated") is not None:
        raise GitwaveError(
            f"{obj.app_id}: rollback cannot be started while automated sync is on "
            "(the next automated sync would undo it)",
            hint="remove spec.syncPolicy.automated first, as argocd app rollback asks",
        )
    rows = history_rows(obj)
    if history_id is None:
        if len(rows) < 2:
            raise GitwaveError(f"{obj.app_id}: no earlier history entry to roll back to")
        entry = rows[-2]
    else:
        found = [row for row in rows if row.id == history_id]
        if not found:
            known = ", ".join(str(row.id) for row in rows) or "none"
            raise GitwaveError(f"{obj.app_id}: no history entry {history_id} (ids: {known})")
        entry = found[0]
    if not entry.revision:
        raise GitwaveError(f"{obj.app_id}: history entry {entry.id} records no revision")
    return Ask(
        {
            "operation": {
                "sync": {"revision": entry.revision},
                "initiatedBy": {"username": user},
                "info": [{"name": "Rollback", "value": str(entry.id)}],
            }
        }
    )


def operation_revision(obj: AppObject) -> str:
    """The revision an Application's pending ``operation`` asks for ("" for the spec's)."""
    sync = _mapping(_mapping(obj.body.get("operation")).get("sync"))
    return str(sync.get("revision", "") or "")


__all__ = [
    "FORCE_AT",
    "REFRESH",
    "REQUESTED_AT",
    "RESET_AT",
    "SKIP_RECONCILE",
    "AppRow",
    "Ask",
    "HistoryRow",
    "app_row",
    "force_requested",
    "history_rows",
    "is_suspended",
    "object_annotations",
    "operation_revision",
    "reconcile_requested",
    "refresh_ask",
    "refresh_requested",
    "rollback_ask",
    "suspend_ask",
    "sync_ask",
]

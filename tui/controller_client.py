"""The operator's side of an in-cluster ``gitwave controller``: find an app object,
ask for a sync, a pause or a rollback by changing it, wait for the controller.

Shared by ``gitwave … --controller`` (tui/cli/verbs_remote.py) and the
controller-mode TUI (tui/remote_app.py). What each ask changes in the object
is ``engine.controller.requests``; this module only reads, patches and waits,
through the three calls of ``AppObjects`` (``KubeControllerApi`` has them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, FLUX_KINDS, HELM_KIND, AppObject
from gitwave.engine.controller.requests import (
    AppRow,
    Ask,
    app_row,
    is_suspended,
    object_annotations,
    refresh_ask,
    rollback_ask,
    suspend_ask,
    sync_ask,
)
from gitwave.engine.errors import GitwaveError, ValidationError

_KIND_NAMES = {
    "app": ARGO_KIND,
    "apps": ARGO_KIND,
    "application": ARGO_KIND,
    "applications": ARGO_KIND,
    "ks": FLUX_KIND,
    "kustomization": FLUX_KIND,
    "kustomizations": FLUX_KIND,
    "hr": HELM_KIND,
    "helmrelease": HELM_KIND,
    "helmreleases": HELM_KIND,
}


class AppObjects(Protocol):
    """The app objects of the management cluster, as the operator reaches them."""

    def list_apps(self, namespace: str = "") -> list[AppObject]:
        """Every Application and Kustomization (in ``namespace`` only, when given)."""
        ...

    def get_app(self, kind: str, namespace: str, name: str) -> AppObject | None:
        """One app object as it is now; None when it is gone."""
        ...

    def patch_app(self, obj: AppObject, patch: Mapping[str, Any]) -> None:
        """A merge patch to the object (not its status)."""
        ...


def parse_app_ref(text: str, *, namespace: str = "") -> tuple[str, str, str]:
    """``NAME``, ``NAMESPACE/NAME``, ``KIND/NAME`` (app/, ks/) or ``KIND/NAMESPACE/NAME``
    → (kind or "", namespace or "", name)."""
    parts = text.strip().split("/")
    if not all(parts) or len(parts) > 3:
        raise ValidationError(text, "name an app as NAME, NAMESPACE/NAME or KIND/NAMESPACE/NAME")
    if len(parts) == 3:
        kind = _KIND_NAMES.get(parts[0].lower(), parts[0])
        if kind not in (ARGO_KIND, *FLUX_KINDS):
            raise ValidationError(
                text, f"{parts[0]!r} is not Application, Kustomization or HelmRelease"
            )
        return kind, parts[1], parts[2]
    if len(parts) == 2:
        kind = _KIND_NAMES.get(parts[0].lower(), "")
        return (kind, namespace, parts[1]) if kind else ("", parts[0], parts[1])
    return "", namespace, parts[0]


class ControllerClient:
    """Asks of one management cluster's app objects, on behalf of ``user``."""

    def __init__(
        self,
        objects: AppObjects,
        *,
        user: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_s: float = 0.5,
    ) -> None:
        self.objects = objects
        self.user = user
        self._now = now
        self._poll_s = poll_s

    def rows(self, namespace: str = "") -> list[AppRow]:
        """Every app and what its status says, by namespace, name, kind."""
        return sorted(
            (app_row(obj) for obj in self.objects.list_apps(namespace)),
            key=lambda row: (row.namespace, row.name, row.kind),
        )

    def find(self, text: str, *, namespace: str = "") -> AppObject:
        """The one Application, Kustomization or HelmRelease ``text`` names; a clear
        error otherwise."""
        kind, ns, name = parse_app_ref(text, namespace=namespace)
        found = [
            obj
            for obj in self.objects.list_apps(ns)
            if obj.name == name and (not kind or obj.kind == kind)
        ]
        if not found:
            raise GitwaveError(
                f"{text}: no {kind or 'Application, Kustomization or HelmRelease'} of that name"
                + (f" in namespace {ns}" if ns else ""),
                hint="`gitwave status --controller` lists the apps the controller runs",
            )
        if len(found) > 1:
            names = ", ".join(obj.app_id for obj in found)
            raise GitwaveError(
                f"{text}: names more than one app: {names}", hint="say KIND/NAMESPACE/NAME"
            )
        return found[0]

    def _stamp(self) -> str:
        # RFC 3339 with microseconds, as `flux reconcile` writes RFC3339Nano: two
        # requests within one second must differ, or the second looks handled.
        return self._now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def sync_ask(self, obj: AppObject, *, revision: str = "", prune: bool = False) -> Ask:
        if is_suspended(obj):
            raise GitwaveError(
                f"{obj.app_id}: suspended; the controller would not sync it",
                hint=f"resume it first (`gitwave resume --controller {obj.name}`)",
            )
        return sync_ask(obj, user=self.user, now=self._stamp(), revision=revision, prune=prune)

    def suspend_ask(self, obj: AppObject, *, suspended: bool) -> Ask:
        return suspend_ask(obj, suspended=suspended, now=self._stamp())

    def refresh_ask(
        self, obj: AppObject, *, hard: bool, force: bool = False, reset: bool = False
    ) -> Ask:
        if is_suspended(obj):
            # As `flux reconcile` ("resource is suspended"): the controller would
            # leave it alone, and a wait would only time out.
            raise GitwaveError(
                f"{obj.app_id}: suspended; the controller would not look at it",
                hint=f"resume it first (`gitwave resume --controller {obj.name}`)",
            )
        return refresh_ask(obj, hard=hard, now=self._stamp(), force=force, reset=reset)

    def rollback_ask(self, obj: AppObject, history_id: int | None) -> Ask:
        return rollback_ask(obj, history_id, user=self.user)

    def send(self, obj: AppObject, ask: Ask) -> None:
        self.objects.patch_app(obj, ask.patch)

    @staticmethod
    def acted(ask: Ask, obj: AppObject) -> bool:
        """Whether the controller has acted on ``ask`` (``obj`` read after it was sent)."""
        if ask.cleared:
            return ask.cleared not in object_annotations(obj)
        if obj.kind in FLUX_KINDS:
            status = obj.body.get("status") or {}
            return bool(ask.token) and status.get("lastHandledReconcileAt") == ask.token
        return not obj.body.get("operation")

    def wait(self, obj: AppObject, ask: Ask, *, timeout_s: float, what: str) -> AppObject:
        """Re-read ``obj`` until the controller has acted on ``ask``."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = self.objects.get_app(obj.kind, obj.namespace, obj.name)
            if now is None:
                raise GitwaveError(f"{obj.app_id}: deleted while waiting for the {what}")
            if self.acted(ask, now):
                return now
            if time.monotonic() >= deadline:
                raise GitwaveError(
                    f"{obj.app_id}: the controller did not run the {what} within {timeout_s:g}s",
                    hint="is `gitwave controller` running and holding the app's shard? "
                    "(kubectl get leases -n gitwave-system)",
                )
            time.sleep(self._poll_s)

    @staticmethod
    def succeeded(obj: AppObject) -> bool:
        """After an ask was acted on: did the operation succeed (Argo) / is it Ready (Flux)?"""
        if obj.kind == ARGO_KIND:
            state = (obj.body.get("status") or {}).get("operationState") or {}
            return bool(state.get("phase") == "Succeeded")
        return app_row(obj).health == "Healthy"


__all__ = ["AppObjects", "ControllerClient", "parse_app_ref"]

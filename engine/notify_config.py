"""Notification configuration, read as-is from the repo gitwave syncs.

Flux's ``notification.toolkit.fluxcd.io`` ``Provider`` and ``Alert`` objects
(v1beta3, and the v1beta2 fields they kept) are what a Flux user already has in
Git, so gitwave reads those rather than a format of its own. A Provider's
``secretRef`` names a Secret in the same directory tree (``address``,
``token``, ``headers``); its values never leave the reading modules but as a
``Provider`` value whose ``repr`` hides them.

This module holds the configuration's values. It is read by
``engine.notify_load`` (the files of a checkout) with ``engine.notify_flux``
(Providers and Alerts) and ``engine.notify_argo`` (Argo CD's notifications
ConfigMap). Errors name ``file:line`` and ``Kind/namespace/name``; a bad object
refuses the whole configuration (nothing is sent rather than something half
configured).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitwave.engine.errors import GitwaveError

__all__ = [
    "Alert",
    "ArgoRoute",
    "EventSource",
    "NotificationConfig",
    "NotificationConfigError",
    "Provider",
]

NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"
PROVIDER_TYPES = frozenset({"generic", "generic-hmac", "slack"})
SEVERITIES = frozenset({"info", "error"})
# Apps are matched by name whatever kind the Alert names for them: an app in
# gitwave may come from an Argo Application, a Flux Kustomization or HelmRelease.
APP_KINDS = frozenset({"*", "Application", "Kustomization", "HelmRelease", "App"})
# Not a Flux field: how long an app may stay OutOfSync before the Alert's
# providers hear of it (``on-out-of-sync``). Unset: that trigger is off.
OUT_OF_SYNC_ANNOTATION = "notifications.gitwave.io/out-of-sync-after"


ARGO_CM = "argocd-notifications-cm"
ARGO_SECRET = "argocd-notifications-secret"
ARGO_TRIGGERS = frozenset(
    {
        "on-sync-failed",
        "on-sync-succeeded",
        "on-health-degraded",
        "on-deployed",
        "on-drift-detected",
        "on-out-of-sync",
    }
)


@dataclass(frozen=True, slots=True)
class ArgoRoute:
    """One (trigger, template, webhook service) of Argo CD's notifications
    ConfigMap, subscribed by its default ``subscriptions``."""

    trigger: str
    template: str
    service: str
    url: str = field(repr=False)
    method: str = "POST"
    body: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


class NotificationConfigError(GitwaveError):
    """A Provider, Alert or their Secret cannot be used."""


@dataclass(frozen=True, slots=True)
class Provider:
    """Where and how to send. ``address``, ``token`` and ``headers`` may come
    from a Secret: they are left out of ``repr`` so a log line cannot show them."""

    name: str
    namespace: str
    type: str
    address: str = field(repr=False)
    channel: str = ""
    username: str = ""
    token: str = field(default="", repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    suspended: bool = False

    def secrets(self) -> tuple[str, ...]:
        """What of this provider a message must never show."""
        found = {self.token, *(value for _, value in self.headers)}
        found.discard("")
        return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class EventSource:
    kind: str
    name: str  # may hold ``*`` wildcards, as Flux allows
    namespace: str = ""

    def matches(self, app: str) -> bool:
        if self.kind not in APP_KINDS:
            return False
        return re.fullmatch(".*".join(map(re.escape, self.name.split("*"))), app) is not None


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    namespace: str
    provider: str
    severity: str = "info"
    sources: tuple[EventSource, ...] = ()
    inclusion: tuple[re.Pattern[str], ...] = ()
    exclusion: tuple[re.Pattern[str], ...] = ()
    summary: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    out_of_sync_after_s: float | None = None
    suspended: bool = False

    def wants(self, app: str, severity: str, message: str) -> bool:
        """Flux's filter: the source, then the severity (``info`` takes both),
        then the inclusion list (one must match), then the exclusion list."""
        if self.suspended or not any(s.matches(app) for s in self.sources):
            return False
        if self.severity == "error" and severity != "error":
            return False
        if self.inclusion and not any(p.search(message) for p in self.inclusion):
            return False
        return not any(p.search(message) for p in self.exclusion)


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    providers: tuple[Provider, ...] = ()
    alerts: tuple[Alert, ...] = ()
    # Every value of every Secret found while reading: masked in every message.
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # Argo CD's argocd-notifications-cm: default subscriptions to webhooks.
    argo: tuple[ArgoRoute, ...] = ()

    def provider(self, alert: Alert) -> Provider | None:
        for provider in self.providers:
            if provider.name == alert.provider and provider.namespace == alert.namespace:
                return provider
        return None

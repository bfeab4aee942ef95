"""Notifications' messages: the trigger names, and the exact body and headers a
provider is sent for one (Flux's event shape, a Slack message, or a template
of Argo CD's notifications ConfigMap)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from gitwave.engine.notify_config import Alert, ArgoRoute, Provider

__all__ = [
    "ON_DEPLOYED",
    "ON_DRIFT_DETECTED",
    "ON_HEALTH_DEGRADED",
    "ON_OUT_OF_SYNC",
    "ON_SYNC_FAILED",
    "ON_SYNC_SUCCEEDED",
    "Delivery",
    "Notification",
    "argo_delivery",
    "delivery",
    "payload",
]

ON_SYNC_FAILED = "on-sync-failed"
ON_SYNC_SUCCEEDED = "on-sync-succeeded"
ON_HEALTH_DEGRADED = "on-health-degraded"
ON_DEPLOYED = "on-deployed"
ON_DRIFT_DETECTED = "on-drift-detected"
ON_OUT_OF_SYNC = "on-out-of-sync"
# Flux's event reasons, one per trigger (what a Flux receiver switches on).
_REASON = {
    ON_SYNC_FAILED: "SyncFailed",
    ON_SYNC_SUCCEEDED: "SyncSucceeded",
    ON_HEALTH_DEGRADED: "HealthDegraded",
    ON_DEPLOYED: "Deployed",
    ON_DRIFT_DETECTED: "DriftDetected",
    ON_OUT_OF_SYNC: "OutOfSync",
}
_ERROR_TRIGGERS = frozenset({ON_SYNC_FAILED, ON_HEALTH_DEGRADED})
USER_AGENT = "gitwave-notifications"


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell, already redacted."""

    trigger: str
    app: str
    revision: str
    message: str
    time: float

    @property
    def severity(self) -> str:
        return "error" if self.trigger in _ERROR_TRIGGERS else "info"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST: the provider (for its address and name) and the exact body."""

    provider: Provider
    body: bytes
    headers: tuple[tuple[str, str], ...]
    trigger: str
    app: str
    method: str = "POST"


def _rfc3339(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(note: Notification, alert: Alert, provider: Provider) -> dict[str, object]:
    """The JSON body for ``provider``: Flux's event shape for ``generic`` and
    ``generic-hmac`` (with gitwave's trigger, app and revision at the top),
    a Slack incoming-webhook message for ``slack``."""
    metadata = {key: value for key, value in alert.metadata}
    if note.revision:
        metadata["revision"] = note.revision
    if alert.summary:
        metadata["summary"] = alert.summary
    if provider.type == "slack":
        title = f"{note.app}: {note.trigger}"
        fields = [{"title": k, "value": v, "short": False} for k, v in sorted(metadata.items())]
        body: dict[str, object] = {
            "username": provider.username or "gitwave",
            "text": f"{title} — {note.message}" if note.message else title,
            "attachments": [
                {
                    "color": "danger" if note.severity == "error" else "good",
                    "title": title,
                    "text": note.message,
                    "fields": fields,
                    "mrkdwn_in": ["text"],
                }
            ],
        }
        if provider.channel:
            body["channel"] = provider.channel
        return body
    return {
        "involvedObject": {"kind": "Application", "name": note.app, "namespace": alert.namespace},
        "severity": note.severity,
        "timestamp": _rfc3339(note.time),
        "message": note.message,
        "reason": _REASON[note.trigger],
        "reportingController": "gitwave",
        "metadata": metadata,
        "trigger": note.trigger,
        "app": note.app,
        "revision": note.revision,
    }


def delivery(note: Notification, alert: Alert, provider: Provider) -> Delivery:
    """The POST of ``note`` to ``provider``: ``payload`` as JSON, the provider's
    headers, and Flux's ``X-Signature`` for ``generic-hmac``."""
    body = json.dumps(payload(note, alert, provider), ensure_ascii=False, sort_keys=True).encode()
    headers = [("Content-Type", "application/json"), ("User-Agent", USER_AGENT)]
    headers.extend(provider.headers)
    if provider.type == "generic-hmac":
        # Flux's generic-hmac: HMAC-SHA256 of the body with the token as key.
        digest = hmac.new(provider.token.encode(), body, hashlib.sha256).hexdigest()
        headers.append(("X-Signature", f"sha256={digest}"))
    return Delivery(provider, body, tuple(headers), note.trigger, note.app)


# Go template actions of Argo CD notifications this reads: ``{{.app.PATH}}``.
_ACTION = re.compile(r"{{\s*\.app\.([A-Za-z0-9_.]+)\s*}}")


def argo_delivery(note: Notification, route: ArgoRoute) -> Delivery:
    """A template of Argo CD's notifications ConfigMap filled for ``note``.
    Only ``{{.app.<path>}}`` actions over the fields below are read (no
    functions or pipelines); each value is escaped as JSON string content, so
    a quoted action in a JSON body stays valid JSON whatever the message."""
    phase = {"on-sync-failed": "Failed", "on-sync-succeeded": "Succeeded"}.get(note.trigger, "")
    fields = {
        "metadata.name": note.app,
        "status.sync.revision": note.revision,
        "status.operationState.message": note.message,
        "status.operationState.phase": phase,
        "status.operationState.syncResult.revision": note.revision,
    }

    def one(match: re.Match[str]) -> str:
        return json.dumps(fields.get(match.group(1), ""))[1:-1]

    body = _ACTION.sub(one, route.body).encode()
    provider = Provider(name=route.service, namespace="argocd", type="generic", address=route.url)
    headers = (("Content-Type", "application/json"), ("User-Agent", USER_AGENT), *route.headers)
    return Delivery(provider, body, headers, note.trigger, note.app, route.method)

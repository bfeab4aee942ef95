"""Notification configuration, read as-is from the repo gitwave syncs.

Flux's ``notification.toolkit.fluxcd.io`` ``Provider`` and ``Alert`` objects
(v1beta3, and the v1beta2 fields they kept) are what a Flux user already has in
Git, so gitwave reads those rather than a format of its own. A Provider's
``secretRef`` names a Secret in the same directory tree (``address``,
``token``, ``headers``); its values never leave this module but as a
``Provider`` value whose ``repr`` hides them.

Errors name ``file:line`` and ``Kind/namespace/name``; a bad object refuses the
whole configuration (nothing is sent rather than something half configured).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.mask import decode_base64, secret_values
from gitwave.engine.yamlio import iter_documents

NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"
PROVIDER_TYPES = frozenset({"generic", "generic-hmac", "slack"})
SEVERITIES = frozenset({"info", "error"})
# Apps are matched by name whatever kind the Alert names for them: an app in
# gitwave may come from an Argo Application, a Flux Kustomization or HelmRelease.
APP_KINDS = frozenset({"*", "Application", "Kustomization", "HelmRelease", "App"})
# Not a Flux field: how long an app may stay OutOfSync before the Alert's
# providers hear of it (``on-out-of-sync``). Unset: that trigger is off.
OUT_OF_SYNC_ANNOTATION = "notifications.gitwave.io/out-of-sync-after"
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


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


@dataclass(frozen=True, slots=True)
class _Found:
    manifest: Mapping[str, Any]
    where: str  # file:line

    @property
    def ident(self) -> str:
        meta = self.manifest.get("metadata") or {}
        return (
            f"{self.manifest.get('kind')}/{meta.get('namespace') or 'default'}/{meta.get('name')}"
        )


def load_notifications(root: Path) -> NotificationConfig:
    """The Providers and Alerts under ``root`` (a checkout), with the Secrets
    they name. Symlinks and ``.git`` are not followed: Git is untrusted and a
    link could point out of the checkout."""
    root = root.resolve()
    found: list[_Found] = []
    for path in _yaml_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "kind:" not in text:
            continue
        rel = path.relative_to(root).as_posix()
        try:
            docs = list(iter_documents(text, file=rel))
        except GitwaveError:
            continue  # not ours to judge: the render stage reports bad manifests
        for doc in docs:
            value = doc.value
            if isinstance(value, dict) and _interesting(value):
                found.append(_Found(value, f"{rel}:{doc.line}"))
    return parse_notifications(found)


def _yaml_files(root: Path) -> Iterable[Path]:
    pending = [root]
    while pending:
        folder = pending.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink() or entry.name == ".git":
                continue
            if entry.is_dir():
                pending.append(entry)
            elif entry.suffix in (".yaml", ".yml"):
                yield entry


def _interesting(manifest: Mapping[str, Any]) -> bool:
    api = str(manifest.get("apiVersion", ""))
    kind = manifest.get("kind")
    if api.startswith(NOTIFICATION_GROUP + "/"):
        return kind in ("Provider", "Alert")
    if kind == "ConfigMap" and api == "v1":
        return (manifest.get("metadata") or {}).get("name") == ARGO_CM
    return kind == "Secret" and api == "v1"


def parse_notifications(found: Iterable[_Found]) -> NotificationConfig:
    items = list(found)
    secrets = {
        (_meta(f)["namespace"], _meta(f)["name"]): f
        for f in items
        if f.manifest["kind"] == "Secret"
    }
    providers = [_provider(f, secrets) for f in items if f.manifest["kind"] == "Provider"]
    alerts = [_alert(f) for f in items if f.manifest["kind"] == "Alert"]
    names = {(p.namespace, p.name) for p in providers}
    for alert, f in zip(alerts, [f for f in items if f.manifest["kind"] == "Alert"], strict=True):
        if (alert.namespace, alert.provider) not in names:
            raise NotificationConfigError(
                f"{f.where}: {f.ident}: providerRef {alert.provider!r} is not a Provider "
                f"in namespace {alert.namespace}"
            )
    hidden: set[str] = set()
    for secret in secrets.values():
        hidden.update(secret_values(secret.manifest))
    for provider in providers:
        hidden.update(provider.secrets())
    argo: list[ArgoRoute] = []
    for f in items:
        if f.manifest["kind"] == "ConfigMap":
            argo.extend(_argo_routes(f, secrets, hidden))
    return NotificationConfig(tuple(providers), tuple(alerts), tuple(sorted(hidden)), tuple(argo))


def _meta(f: _Found) -> dict[str, str]:
    meta = f.manifest.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ValidationError(f.where, f"{f.manifest.get('kind')} without metadata.name")
    return {
        "name": str(meta["name"]),
        "namespace": str(meta.get("namespace") or "default"),
    }


def _spec(f: _Found) -> Mapping[str, Any]:
    spec = f.manifest.get("spec") or {}
    if not isinstance(spec, dict):
        raise ValidationError(f"{f.where}: {f.ident}", "spec must be a map")
    return spec


def _secret_data(secret: _Found) -> dict[str, str]:
    out: dict[str, str] = {}
    data = secret.manifest.get("data") or {}
    if isinstance(data, dict):
        for key, value in data.items():
            raw = decode_base64(str(value))
            if raw is None:
                raise NotificationConfigError(
                    f"{secret.where}: {secret.ident}: data.{key} is not base64"
                )
            out[str(key)] = raw.decode("utf-8", errors="replace")
    string_data = secret.manifest.get("stringData") or {}
    if isinstance(string_data, dict):
        out.update({str(k): str(v) for k, v in string_data.items()})
    return out


def _provider(f: _Found, secrets: Mapping[tuple[str, str], _Found]) -> Provider:
    meta, spec = _meta(f), _spec(f)
    subject = f"{f.where}: {f.ident}"
    kind = str(spec.get("type", ""))
    if kind not in PROVIDER_TYPES:
        raise ValidationError(
            subject,
            f"spec.type {kind!r} is not supported (supported: {', '.join(sorted(PROVIDER_TYPES))})",
        )
    address = str(spec.get("address") or "")
    token = ""
    headers: tuple[tuple[str, str], ...] = ()
    ref = spec.get("secretRef")
    if ref:
        name = str(ref.get("name", "")) if isinstance(ref, dict) else ""
        secret = secrets.get((meta["namespace"], name))
        if secret is None:
            raise NotificationConfigError(
                f"{subject}: secretRef {name!r} is not a Secret in namespace {meta['namespace']} "
                "in this repo"
            )
        values = _secret_data(secret)
        # Flux: the Secret's address wins over spec.address.
        address = values.get("address", "").strip() or address
        token = values.get("token", "").strip()
        if "headers" in values:
            parsed = yaml.safe_load(values["headers"]) or {}
            if not isinstance(parsed, dict):
                # The value itself is not quoted: it may be the secret.
                raise NotificationConfigError(
                    f"{secret.where}: {secret.ident}: headers is not a map"
                )
            headers = tuple(sorted((str(k), str(v)) for k, v in parsed.items()))
    if not address.startswith(("http://", "https://")):
        raise NotificationConfigError(
            f"{subject}: no http(s) address (spec.address or the Secret's address)"
        )
    if kind == "generic-hmac" and not token:
        raise NotificationConfigError(f"{subject}: generic-hmac needs a token in its secretRef")
    return Provider(
        name=meta["name"],
        namespace=meta["namespace"],
        type=kind,
        address=address,
        channel=str(spec.get("channel") or ""),
        username=str(spec.get("username") or ""),
        token=token,
        headers=headers,
        suspended=bool(spec.get("suspend", False)),
    )


def _alert(f: _Found) -> Alert:
    meta, spec = _meta(f), _spec(f)
    subject = f"{f.where}: {f.ident}"
    ref = spec.get("providerRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        raise ValidationError(subject, "spec.providerRef.name is required")
    severity = str(spec.get("eventSeverity") or "info")
    if severity not in SEVERITIES:
        raise ValidationError(subject, f"spec.eventSeverity {severity!r} is not info or error")
    sources = []
    for i, src in enumerate(spec.get("eventSources") or ()):
        if not isinstance(src, dict) or not src.get("kind") or not src.get("name"):
            raise ValidationError(subject, f"spec.eventSources[{i}] needs kind and name")
        sources.append(
            EventSource(str(src["kind"]), str(src["name"]), str(src.get("namespace") or ""))
        )
    if not sources:
        raise ValidationError(subject, "spec.eventSources is empty")
    annotations = (f.manifest.get("metadata") or {}).get("annotations") or {}
    after = annotations.get(OUT_OF_SYNC_ANNOTATION)
    metadata = spec.get("eventMetadata") or {}
    return Alert(
        name=meta["name"],
        namespace=meta["namespace"],
        provider=str(ref["name"]),
        severity=severity,
        sources=tuple(sources),
        inclusion=_patterns(subject, "inclusionList", spec.get("inclusionList")),
        exclusion=_patterns(subject, "exclusionList", spec.get("exclusionList")),
        summary=str(spec.get("summary") or ""),
        metadata=tuple(sorted((str(k), str(v)) for k, v in dict(metadata).items())),
        out_of_sync_after_s=None if after is None else _duration(subject, str(after)),
        suspended=bool(spec.get("suspend", False)),
    )


def _patterns(subject: str, name: str, values: Any) -> tuple[re.Pattern[str], ...]:
    out = []
    for i, value in enumerate(values or ()):
        try:
            out.append(re.compile(str(value)))
        except re.error as exc:
            raise ValidationError(subject, f"spec.{name}[{i}] is not a regex: {exc}") from None
    return tuple(out)


def _duration(subject: str, text: str) -> float:
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValidationError(
            subject, f"{OUT_OF_SYNC_ANNOTATION} {text!r} is not like 10m or 1h30m"
        )
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600.0 + minutes * 60.0 + seconds


def encode_secret_value(text: str) -> str:
    """Base64 as a Secret's ``data`` holds it (for tests and docs examples)."""
    return base64.b64encode(text.encode()).decode("ascii")


def _argo_yaml(f: _Found, key: str, text: Any) -> Any:
    try:
        return yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise NotificationConfigError(
            f"{f.where}: {f.ident}: data.{key}{where}: not YAML"
        ) from None


def _argo_routes(
    f: _Found, secrets: Mapping[tuple[str, str], _Found], hidden: set[str]
) -> list[ArgoRoute]:
    """Argo CD's shape: ``service.webhook.NAME`` (url, headers with ``$key``
    read from argocd-notifications-secret in the same namespace),
    ``template.NAME`` (``webhook.NAME.{method,path,body}``), ``trigger.NAME``
    (a list of ``send:`` template names; ``when`` is not evaluated: the trigger
    name says when) and ``subscriptions`` (recipients are webhook names)."""
    meta = _meta(f)
    data = f.manifest.get("data") or {}
    subject = f"{f.where}: {f.ident}"
    secret = secrets.get((meta["namespace"], ARGO_SECRET))
    values = _secret_data(secret) if secret is not None else {}

    def fill(text: str) -> str:
        # Argo's $name references to the notifications Secret.
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise NotificationConfigError(
                    f"{subject}: ${name} is not a key of {ARGO_SECRET} in namespace "
                    f"{meta['namespace']}"
                )
            return values[name]

        return re.sub(r"\$([A-Za-z0-9_.-]+)", one, text)

    services: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
    templates: dict[str, Mapping[str, Any]] = {}
    triggers: dict[str, list[str]] = {}
    for key, text in data.items():
        if key.startswith("service.webhook."):
            spec = _argo_yaml(f, key, text) or {}
            url = fill(str(spec.get("url", "")))
            if not url.startswith(("http://", "https://")):
                raise NotificationConfigError(f"{subject}: data.{key}: no http(s) url")
            headers = tuple(
                (str(h.get("name")), fill(str(h.get("value", ""))))
                for h in spec.get("headers") or ()
                if isinstance(h, dict)
            )
            hidden.update(v for _, v in headers if v)
            services[key.removeprefix("service.webhook.")] = (url, headers)
        elif key.startswith("template."):
            spec = _argo_yaml(f, key, text) or {}
            templates[key.removeprefix("template.")] = spec if isinstance(spec, dict) else {}
        elif key.startswith("trigger."):
            spec = _argo_yaml(f, key, text) or []
            sends = [
                str(t) for item in spec if isinstance(item, dict) for t in item.get("send") or ()
            ]
            triggers[key.removeprefix("trigger.")] = sends
    hidden.update(v for v in values.values() if v)
    routes: list[ArgoRoute] = []
    for i, sub in enumerate(_argo_yaml(f, "subscriptions", data.get("subscriptions", "")) or ()):
        for trigger in (sub or {}).get("triggers") or ():
            if trigger not in ARGO_TRIGGERS:
                raise ValidationError(
                    subject,
                    f"subscriptions[{i}]: trigger {trigger!r} is not one gitwave fires "
                    f"({', '.join(sorted(ARGO_TRIGGERS))})",
                )
            for recipient in sub.get("recipients") or ():
                service = str(recipient).split(":", 1)[0]
                if service not in services:
                    raise NotificationConfigError(
                        f"{subject}: subscriptions[{i}]: no service.webhook.{service}"
                    )
                url, headers = services[service]
                for name in triggers.get(trigger, []):
                    template = templates.get(name)
                    if template is None:
                        raise NotificationConfigError(
                            f"{subject}: trigger.{trigger}: no template.{name}"
                        )
                    hook = (template.get("webhook") or {}).get(service) or {}
                    routes.append(
                        ArgoRoute(
                            trigger=trigger,
                            template=name,
                            service=service,
                            url=url.rstrip("/") + str(hook.get("path", "")),
                            method=str(hook.get("method", "POST")).upper(),
                            body=str(hook.get("body", template.get("message", ""))),
                            headers=headers,
                        )
                    )
    return routes

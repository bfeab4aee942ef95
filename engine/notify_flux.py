"""Flux's notification objects read from Git: a ``Provider`` (with the Secret its
``secretRef`` names) and an ``Alert``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from gitwave.engine.errors import ValidationError
from gitwave.engine.notify_config import (
    OUT_OF_SYNC_ANNOTATION,
    PROVIDER_TYPES,
    SEVERITIES,
    Alert,
    EventSource,
    NotificationConfigError,
    Provider,
)
from gitwave.engine.notify_manifests import Found, meta_of, secret_data, spec_of

__all__ = ["alert_of", "provider_of"]

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def provider_of(f: Found, secrets: Mapping[tuple[str, str], Found]) -> Provider:
    """The Provider ``f`` says, its Secret read from ``secrets`` (by namespace and
    name); ValidationError or NotificationConfigError naming ``f``."""
    meta, spec = meta_of(f), spec_of(f)
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
        values = secret_data(secret)
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


def alert_of(f: Found) -> Alert:
    """The Alert ``f`` says; ValidationError naming ``f``."""
    meta, spec = meta_of(f), spec_of(f)
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

"""Notifications' configuration loaded from a checkout: the Flux Providers and
Alerts, Argo CD's notifications ConfigMap, and the Secrets they name. A bad
object refuses the whole configuration (nothing is sent rather than something
half configured)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitwave.engine.errors import GitwaveError
from gitwave.engine.mask import secret_values
from gitwave.engine.notify_argo import argo_routes
from gitwave.engine.notify_config import (
    ARGO_CM,
    NOTIFICATION_GROUP,
    ArgoRoute,
    NotificationConfig,
    NotificationConfigError,
)
from gitwave.engine.notify_flux import alert_of, provider_of
from gitwave.engine.notify_manifests import Found, meta_of
from gitwave.engine.yamlio import iter_documents

__all__ = ["load_notifications", "parse_notifications"]


def load_notifications(root: Path) -> NotificationConfig:
    """The Providers and Alerts under ``root`` (a checkout), with the Secrets
    they name. Symlinks and ``.git`` are not followed: Git is untrusted and a
    link could point out of the checkout."""
    root = root.resolve()
    found: list[Found] = []
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
                found.append(Found(value, f"{rel}:{doc.line}"))
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


def parse_notifications(found: Iterable[Found]) -> NotificationConfig:
    """The configuration the manifests ``found`` make, with every Secret value
    (and provider token and header) to mask; NotificationConfigError for an
    Alert whose providerRef is no Provider."""
    items = list(found)
    secrets = {
        (meta_of(f)["namespace"], meta_of(f)["name"]): f
        for f in items
        if f.manifest["kind"] == "Secret"
    }
    providers = [provider_of(f, secrets) for f in items if f.manifest["kind"] == "Provider"]
    alerts = [alert_of(f) for f in items if f.manifest["kind"] == "Alert"]
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
            argo.extend(argo_routes(f, secrets, hidden))
    return NotificationConfig(tuple(providers), tuple(alerts), tuple(sorted(hidden)), tuple(argo))

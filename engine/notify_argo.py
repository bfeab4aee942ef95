"""Argo CD's notifications read from Git: ``argocd-notifications-cm`` (webhook
services, templates, triggers and default subscriptions) with the
``argocd-notifications-secret`` its ``$name`` references read from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from gitwave.engine.errors import ValidationError
from gitwave.engine.notify_config import (
    ARGO_SECRET,
    ARGO_TRIGGERS,
    ArgoRoute,
    NotificationConfigError,
)
from gitwave.engine.notify_manifests import Found, meta_of, secret_data

__all__ = ["argo_routes"]


def _argo_yaml(f: Found, key: str, text: Any) -> Any:
    try:
        return yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise NotificationConfigError(
            f"{f.where}: {f.ident}: data.{key}{where}: not YAML"
        ) from None


def argo_routes(
    f: Found, secrets: Mapping[tuple[str, str], Found], hidden: set[str]
) -> list[ArgoRoute]:
    """Argo CD's shape: ``service.webhook.NAME`` (url, headers with ``$key``
    read from argocd-notifications-secret in the same namespace),
    ``template.NAME`` (``webhook.NAME.{method,path,body}``), ``trigger.NAME``
    (a list of ``send:`` template names; ``when`` is not evaluated: the trigger
    name says when) and ``subscriptions`` (recipients are webhook names)."""
    meta = meta_of(f)
    data = f.manifest.get("data") or {}
    subject = f"{f.where}: {f.ident}"
    secret = secrets.get((meta["namespace"], ARGO_SECRET))
    values = secret_data(secret) if secret is not None else {}

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

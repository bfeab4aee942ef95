"""The registry of AWS kinds, keyed by ``(group, kind)``.

Each kind module registers its handler with ``@register``. The engine's own
health registry is only told about AWS kinds on request
(``register_health_checks``): the engine and the TUI ask ``provider.health``,
and an import should not change what ``gitwave.engine.health`` knows.
"""

from __future__ import annotations

from typing import TypeVar

from gitwave.engine.health import register_health_check

from .base import KindHandler

_HANDLERS: dict[tuple[str, str], KindHandler] = {}

H = TypeVar("H", bound=type[KindHandler])


def register(handler: H) -> H:
    """Class decorator: make one instance of ``handler`` the handler of its kind."""
    instance = handler()
    _HANDLERS[(instance.group, instance.kind)] = instance
    return handler


def handler_for(group: str, kind: str) -> KindHandler | None:
    return _HANDLERS.get((group, kind))


def handlers() -> tuple[KindHandler, ...]:
    """Every registered handler, sorted by group and kind."""
    return tuple(_HANDLERS[k] for k in sorted(_HANDLERS))


def register_health_checks() -> None:
    """Put every AWS kind's health check into ``gitwave.engine.health``, so
    ``health_of`` (used on bare manifests, e.g. composed resources) reads AWS
    objects as precisely as ``AwsProvider.health``. Idempotent."""
    for handler in handlers():
        register_health_check(handler.group, handler.kind)(handler.health)

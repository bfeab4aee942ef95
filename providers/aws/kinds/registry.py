"""The registry of AWS kinds, keyed by ``(group, kind)``.

Each kind module registers its handler with ``@register``. The registry is the
AWS provider's own: ``AwsProvider.health`` answers for its kinds by asking their
handler, and nothing here writes into the engine's health registry (the
engine routes a cloud object's health to the provider that handles its kind).
"""

from __future__ import annotations

from typing import TypeVar

from .base import KindHandler

_HANDLERS: dict[tuple[str, str], KindHandler] = {}

H = TypeVar("H", bound=type[KindHandler])


def register(handler: H) -> H:
    """Class decorator: make one instance of ``handler`` the handler of its kind."""
    instance = handler()
    _HANDLERS[(instance.group, instance.kind)] = instance
    return handler


def handler_for(group: str, kind: str) -> KindHandler | None:
    """The handler of that kind, or None when it is no AWS kind gitwave manages."""
    return _HANDLERS.get((group, kind))


def handlers() -> tuple[KindHandler, ...]:
    """Every registered handler, sorted by group and kind."""
    return tuple(_HANDLERS[k] for k in sorted(_HANDLERS))

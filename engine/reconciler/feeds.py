"""Change feeds: how the loop learns cheaply which objects changed on a target.

A provider offers one by implementing the optional ``ChangeFeed`` capability
of the Provider protocol (the sandbox from its resource versions, Kubernetes
from its watches). A provider without one has its drift seen by polling at
the app's interval.
"""

from __future__ import annotations

from gitwave.engine.errors import ProviderError
from gitwave.engine.provider import ChangeFeed, Provider
from gitwave.engine.router import ProviderRouter


def change_feed(provider: Provider) -> ChangeFeed | None:
    """The provider's change feed, or None when it has none."""
    return provider if isinstance(provider, ChangeFeed) else None


def open_feeds(router: ProviderRouter, fed: set[int]) -> list[tuple[ChangeFeed, str]]:
    """The change feeds of ``router``'s providers not in ``fed`` (ids, updated),
    each with its current cursor ("" when the target cannot be read yet)."""
    opened = []
    for provider in router.providers:
        feed = change_feed(provider)
        if feed is None or id(provider) in fed:
            continue
        fed.add(id(provider))
        try:
            cursor, _ = feed.changes("")
        except ProviderError:
            cursor = ""
        opened.append((feed, cursor))
    return opened

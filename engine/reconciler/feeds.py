"""Change feeds: how the loop learns cheaply which objects changed on a target.

A provider offers one by implementing the optional ``ChangeFeed`` capability
of the Provider protocol (the sandbox from its resource versions, Kubernetes
from its watches). A provider without one has its drift seen by polling at
the app's interval.
"""

from __future__ import annotations

from gitwave.engine.provider import ChangeFeed, Provider


def change_feed(provider: Provider) -> ChangeFeed | None:
    """The provider's change feed, or None when it has none."""
    return provider if isinstance(provider, ChangeFeed) else None

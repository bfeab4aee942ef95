"""Change feeds: how the loop learns cheaply which objects changed on a target."""

from __future__ import annotations

from typing import Protocol

from gitwave.engine.model import Live, ResourceKey
from gitwave.engine.provider import ChangeFeed


class _VersionedTarget(Protocol):
    def changes_since(self, resource_version: str) -> tuple[str, list[Live]]: ...

    def deletions_since(self, resource_version: str) -> tuple[str, list[ResourceKey]]: ...


class _VersionFeed:
    """A ChangeFeed over a target that answers ``changes_since`` and
    ``deletions_since`` with resource versions (the sandbox)."""

    # A version no object has yet: asking for changes after it returns the
    # current version alone, without reading every object.
    _FUTURE = str(2**62)

    def __init__(self, target: _VersionedTarget) -> None:
        self._target = target

    def changes(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        if not cursor:
            current, _ = self._target.deletions_since(self._FUTURE)
            return current, frozenset()
        # Changes first: a deletion after that read shows up again next time
        # (the cursor is the first read's), never not at all.
        current, changed = self._target.changes_since(cursor)
        _, deleted = self._target.deletions_since(cursor)
        return current, frozenset(live.key for live in changed) | frozenset(deleted)


def change_feed(provider: object) -> ChangeFeed | None:
    """The provider's change feed: itself when it implements ``ChangeFeed``, an
    adapter when it answers ``changes_since``/``deletions_since`` (the sandbox),
    else None (its drift is seen by polling at the app's interval)."""
    if isinstance(provider, ChangeFeed):
        return provider
    if callable(getattr(provider, "changes_since", None)) and callable(
        getattr(provider, "deletions_since", None)
    ):
        return _VersionFeed(provider)  # type: ignore[arg-type]
    return None

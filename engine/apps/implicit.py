"""Apps with no definition file: a directory (or one file) synced as it is."""

from __future__ import annotations

from pathlib import Path

from gitwave.engine.apps.holder import Holder
from gitwave.engine.apps.model import AppKind, AppSource, AppSpec, dns_label
from gitwave.engine.model import SourceRef
from gitwave.engine.source import is_remote


def implicit_for(holder: Holder, target: Path) -> AppSpec:
    checkout = holder.checkout
    path = checkout.relpath(target)
    base = target.stem if target.is_file() else target.name
    if path == ".":
        # The checkout may be a cache directory named after a commit: name the app after
        # the repository instead.
        base = holder.fetch_from.rstrip("/").rpartition("/")[2].removesuffix(".git")
        if not is_remote(holder.fetch_from):
            base = Path(holder.fetch_from).name
    return AppSpec(
        name=dns_label(base),
        kind=AppKind.IMPLICIT,
        source=AppSource(
            repo_url=holder.fetch_from,
            revision=holder.fetch_revision or "HEAD",
            path=path,
            fetch_from=holder.fetch_from,
            fetch_revision=holder.fetch_revision,
        ),
        origin=SourceRef(path),
    )


def implicit_app(name: str, *, location: str = ".", path: str = ".") -> AppSpec:
    """An app with no definition file: ``path`` of the work tree at ``location``.

    For callers that know an app only by name (rollback from history) or want
    to render a directory without ``load_apps``.
    """
    return AppSpec(
        name=dns_label(name),
        kind=AppKind.IMPLICIT,
        source=AppSource(repo_url=location, revision="HEAD", path=path, fetch_from=location),
    )

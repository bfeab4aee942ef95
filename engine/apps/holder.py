"""Where an app file lives, and how to reopen it: the ``Holder``.

The holder is the repository an app file lives in; it decides what a repoURL
written there resolves to (see the package docstring for the rules).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.apps.model import AppSource, RepoResolver
from gitwave.engine.errors import ValidationError
from gitwave.engine.source import (
    Checkout,
    check_local_repo,
    current_branch,
    is_remote,
    normalise_repo_url,
    open_source,
    remote_urls,
)


@dataclass(frozen=True)
class Holder:
    """The repository holding an app file, and how ``open_source`` reopens it."""

    checkout: Checkout
    fetch_from: str
    fetch_revision: str | None
    same_repo_urls: frozenset[str]
    work_tree_branch: str | None
    # The repository as ``loader.repository_identity`` names it (read with the remotes).
    identity: str = ""

    @staticmethod
    def local(checkout: Checkout, top: Path, revision: str | None) -> Holder:
        remotes = remote_urls(top)
        urls = {normalise_repo_url(u) for u in remotes}
        urls.add(normalise_repo_url(str(top)))
        return Holder(
            checkout=checkout,
            fetch_from=str(top),
            fetch_revision=(checkout.revision or revision) if revision is not None else None,
            same_repo_urls=frozenset(urls),
            work_tree_branch=current_branch(top) if revision is None else None,
            identity=identity_of(str(top), remotes),
        )

    @staticmethod
    def remote(checkout: Checkout, url: str) -> Holder:
        return Holder(
            checkout=checkout,
            fetch_from=url,
            fetch_revision=checkout.revision or None,
            same_repo_urls=frozenset({normalise_repo_url(url)}),
            work_tree_branch=None,
            identity=identity_of(url, ()),
        )

    @staticmethod
    def for_source(checkout: Checkout, source: AppSource) -> Holder:
        if is_remote(source.fetch_from):
            return Holder.remote(checkout, source.fetch_from)
        top = Path(source.fetch_from)
        holder = Holder.local(checkout, top, source.fetch_revision)
        return holder

    def resolve(
        self, repo_url: str, revision: str, where: str, field_name: str
    ) -> tuple[str, str | None]:
        """``(fetch_from, fetch_revision)`` for a repoURL written in a file of this holder."""
        url = repo_url.strip()
        if self._is_this_repo(url, where, field_name):
            if revision in ("", "HEAD"):
                return self.fetch_from, self.fetch_revision
            if self.fetch_revision is None and revision == self.work_tree_branch:
                return self.fetch_from, None
            return self.fetch_from, revision
        return url, None if revision in ("", "HEAD") else revision

    def _is_this_repo(self, url: str, where: str, field_name: str) -> bool:
        path = url.removeprefix("file://") if url.startswith("file://") else None
        if path is None and not is_remote(url):
            path = url
        if path is not None:
            if not path.startswith("/"):
                if posixpath.normpath(path or ".") != ".":
                    raise ValidationError(
                        where,
                        f"{field_name}: relative repoURL {url!r} must be '.' (this repository)",
                        hint="use '.' for this repository or a full URL for another one",
                    )
                return True
            return normalise_repo_url(path) in self.same_repo_urls
        return normalise_repo_url(url) in self.same_repo_urls


def identity_of(fetch_from: str, remotes: Sequence[str]) -> str:
    """A repository in a comparable form: a URL normalised; a local repository
    by its first remote (sorted, ``remotes`` as ``remote_urls`` lists them), so
    two clones of one repository are one source, else by its absolute path."""
    if is_remote(fetch_from) or fetch_from.startswith("oci://"):  # oci://: a Helm registry
        return normalise_repo_url(fetch_from)
    found = sorted(normalise_repo_url(url) for url in remotes)
    return found[0] if found else normalise_repo_url(fetch_from)


def open_repository(
    resolve: RepoResolver,
    repo_url: str,
    revision: str,
    *,
    where: str,
    field_name: str,
    allowed: Sequence[Path],
    cache_dir: Path | None,
) -> Checkout:
    """The checkout a repoURL and revision written at ``where`` name: resolved
    by the holder's rules (``resolve``), a local repository only when
    ``allowed`` lists it, fetched through the checkout cache. What an
    ApplicationSet git generator and an ArtifactGenerator's GitRepository read.
    Raises ValidationError for a bad repoURL, what ``check_local_repo`` and
    ``open_source`` raise otherwise."""
    fetch_from, fetch_revision = resolve(repo_url, revision, where, field_name)
    check_local_repo(fetch_from, allowed=allowed, subject=where)
    return open_source(fetch_from, revision=fetch_revision, cache_dir=cache_dir)


__all__ = ["Holder", "identity_of", "open_repository"]

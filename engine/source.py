"""Source: a directory or Git repository, materialised at one revision.

``open_source`` turns a location into a ``Checkout`` — a directory on disk plus
the commit it holds:

- a local directory inside a Git work tree → the work tree itself (root = the
  top of the work tree, revision = HEAD, ``dirty`` when there are uncommitted
  or untracked changes — watch mode syncs those edits);
- a local repository with an explicit ``revision`` → that commit, cloned with
  ``git clone --shared`` into the cache so the user's tree, index and HEAD are
  never touched;
- a plain directory (no Git) → itself, with revision ``""``;
- a URL (``https://``, ``ssh://``, ``file://``, ``user@host:path``; ``http://``
  and ``git://`` only with ``GITWAVE_ALLOW_INSECURE_GIT=1``) → a shallow
  (depth 1) fetch of the branch, tag or commit into the cache, checked out
  detached.

Materialised checkouts live in the cache (0700) under names no one can guess
without the cache's key (``source_cache``), and are immutable: a commit's
content never changes, so a second call for the same commit reuses the
directory, once ``checkout_problem`` has found it still holds exactly that
commit (a checkout edited in the cache is discarded and checked out again,
never rendered; a controller's apps share that finding, and a remote's
branch heads, for ``--resync``: ``source_refs``). The cache defaults to ``~/.cache/gitwave/repos``
(``$GITWAVE_CACHE`` or ``$XDG_CACHE_HOME`` move it).

``safe_join`` is the one way any stage turns a repo-relative path from Git
content into a filesystem path: ``..``, absolute paths and symlinks that
resolve outside the repository are refused.

This module is the door: every name above is imported from here. The Git
plumbing (rev-parse, clone, fetch, repository questions) is in ``source_git``,
the location helpers (URL or path, redaction) in ``source_url``.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.errors import PathEscapeError, SourceError
from gitwave.engine.lazy_module import LazyModule
from gitwave.engine.private_files import private_directory
from gitwave.engine.source_cache import (
    checkout_dir,
    checkout_problem,
    discard,
    write_raw_attributes,
)
from gitwave.engine.source_git import (
    FULL_SHA,
    SHORT_SHA,
    clone_shared,
    commit_subject,
    current_branch,
    fetch,
    find_repo_root,
    known_refs_hint,
    list_tags,
    match_ref,
    materialise,
    remote_urls,
    rev_parse,
    tops_remembered,
)
from gitwave.engine.source_refs import checkout_whole, refs_of
from gitwave.engine.source_tree import work_tree_at
from gitwave.engine.source_url import (
    ALLOW_INSECURE_GIT_ENV,
    ALLOW_LOCAL_REPOS_ENV,
    allowed_local_repos,
    check_argument,
    check_local_repo,
    check_scheme,
    is_remote,
    local_path,
    normalise_repo_url,
    redact_url,
)

if TYPE_CHECKING:
    import git
else:
    git = LazyModule("git")  # GitPython: imported once a command needs more than HEAD

__all__ = [
    "ALLOW_INSECURE_GIT_ENV",
    "ALLOW_LOCAL_REPOS_ENV",
    "DIRTY_SUFFIX",
    "Checkout",
    "allowed_local_repos",
    "check_local_repo",
    "check_scheme",
    "commit_subject",
    "current_branch",
    "default_cache_dir",
    "find_repo_root",
    "is_dirty_revision",
    "is_remote",
    "list_tags",
    "local_path",
    "normalise_repo_url",
    "open_source",
    "redact_url",
    "remote_urls",
    "safe_join",
]


# What a revision carries when the work tree held uncommitted edits: what was
# applied is not that commit, and history must not say it was.
DIRTY_SUFFIX = "+dirty"


def is_dirty_revision(revision: str) -> bool:
    """True for a revision rendered from a work tree with uncommitted edits."""
    return revision.endswith(DIRTY_SUFFIX)


@dataclass(frozen=True)
class Checkout:
    """A directory holding one revision of a source.

    ``revision`` is the full commit SHA ("" for a plain directory or a
    repository without commits); ``dirty`` is True when the work tree differs
    from that commit; ``url`` is where it came from (a URL without any
    password, or the local path).
    """

    root: Path
    revision: str
    dirty: bool
    url: str

    def relpath(self, path: Path) -> str:
        """``path`` relative to ``root`` in POSIX form (``"."`` for the root itself)."""
        rel = os.path.relpath(path, self.root)
        return Path(rel).as_posix()

    @property
    def recorded_revision(self) -> str:
        """The revision a render of this checkout carries: the commit, with
        ``+dirty`` when the work tree differs from it."""
        return f"{self.revision}{DIRTY_SUFFIX}" if self.dirty and self.revision else self.revision

    @property
    def short_revision(self) -> str:
        """The first 8 characters of the commit, ``"-"`` without one, ``+dirty`` when edited."""
        text = self.revision[:8] if self.revision else "-"
        return f"{text}+dirty" if self.dirty else text


def default_cache_dir() -> Path:
    """``$GITWAVE_CACHE/repos``, else ``$XDG_CACHE_HOME/gitwave/repos``, else ``~/.cache/...``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "repos"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "repos"


class _Opened:
    """The checkouts one command opened (``opened_once``), one open per key even
    when many apps ask at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checkouts: dict[Hashable, Checkout] = {}
        self._opening: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, open_it: Callable[[], Checkout]) -> Checkout:
        with self._lock:
            found = self._checkouts.get(key)
            if found is not None:
                return found
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # the others wait for this open instead of opening again
            with self._lock:
                found = self._checkouts.get(key)
            if found is None:
                found = open_it()  # an error is not kept: the next app tries again
                with self._lock:
                    self._checkouts[key] = found
            return found


_OPENED: ContextVar[_Opened | None] = ContextVar("gitwave_opened_checkouts", default=None)


@contextmanager
def opened_once() -> Iterator[None]:
    """Within the block (and the app workers ``engine.fleet_run`` starts in
    it), ``open_source`` opens each location at each revision once: the apps
    of one command read one snapshot of a repository, and a fleet of a
    thousand apps in one repository asks Git (rev-parse, status, a cached
    checkout's tamper check) once, not a thousand times."""
    token = _OPENED.set(_Opened())
    try:
        with tops_remembered():  # and where each directory's work tree top is
            yield
    finally:
        _OPENED.reset(token)


def open_source(
    location: str,
    *,
    revision: str | None = None,
    shallow: bool = True,
    cache_dir: Path | None = None,
) -> Checkout:
    """Materialise ``location`` at ``revision`` (None: HEAD / the work tree as it is).

    Raises SourceError for a missing directory, an unreachable URL or an
    unknown revision; the message names the location and the revision.
    """
    opened = _OPENED.get()
    if opened is None:
        return _open_source(location, revision=revision, shallow=shallow, cache_dir=cache_dir)
    return opened.get(
        (location, revision, shallow, cache_dir),
        lambda: _open_source(location, revision=revision, shallow=shallow, cache_dir=cache_dir),
    )


def _open_source(
    location: str, *, revision: str | None, shallow: bool, cache_dir: Path | None
) -> Checkout:
    check_argument(location, what="location")
    if revision is not None:
        check_argument(revision, what="revision")
    check_scheme(location)
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    if is_remote(location):
        return _open_remote(location, revision=revision, shallow=shallow, cache=cache)
    return _open_local(Path(location), revision=revision, cache=cache)


def _open_local(path: Path, *, revision: str | None, cache: Path) -> Checkout:
    if not path.exists():
        raise SourceError(f"{path}: no such directory", hint="check the path")
    if not path.is_dir():
        raise SourceError(
            f"{path}: not a directory", hint="give the directory holding the manifests"
        )
    directory = path.resolve()
    if revision is None:
        tree = work_tree_at(directory)
        if tree is not None:  # the common case, without importing GitPython
            return Checkout(root=tree.top, revision=tree.head, dirty=tree.dirty, url=str(tree.top))
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except git.InvalidGitRepositoryError:
        if revision is not None:
            raise SourceError(
                f"{directory}: not a Git repository, so revision {revision!r} cannot be read",
                hint="drop --revision, or point at a Git work tree",
            ) from None
        return Checkout(root=directory, revision="", dirty=False, url=str(directory))
    try:
        if repo.bare or repo.working_tree_dir is None:
            return _open_remote(directory.as_uri(), revision=revision, shallow=False, cache=cache)
        top = Path(repo.working_tree_dir).resolve()
        # `git status` refreshes the index under .git/index.lock unless told not
        # to: while run or watch polls, a user's own `git commit` would fail.
        repo.git.update_environment(GIT_OPTIONAL_LOCKS="0")
        if revision is None:
            return Checkout(
                root=top,
                revision=rev_parse(repo, "HEAD") or "",
                dirty=repo.is_dirty(untracked_files=True),
                url=str(top),
            )
        sha = rev_parse(repo, revision)
        if sha is None:
            raise SourceError(
                f"{top}: revision {revision!r} not found",
                hint="give a branch, tag or commit of this repository (see git log, git tag)",
            )
        dest = checkout_dir(cache, "local", str(top), sha)
        if not _reusable(dest, sha):
            materialise(dest, lambda tmp: clone_shared(top, tmp, sha), what=f"{top}@{sha[:12]}")
        return Checkout(root=dest, revision=sha, dirty=False, url=str(top))
    finally:
        repo.close()


def _open_remote(url: str, *, revision: str | None, shallow: bool, cache: Path) -> Checkout:
    shown = redact_url(url)
    wanted = revision or "HEAD"
    ref: str | None = None
    if FULL_SHA.fullmatch(wanted):
        sha: str | None = wanted.lower()
    else:
        refs = refs_of(url)  # shared by a controller's apps (source_refs)
        ref, sha = match_ref(refs, wanted)
        if sha is None and not SHORT_SHA.fullmatch(wanted):
            raise SourceError(
                f"{shown}: revision {wanted!r} not found",
                hint=known_refs_hint(refs),
            )
    if sha is not None:
        cached = checkout_dir(cache, "remote", url, sha)
        if checkout_whole(cached, sha, lambda: _reusable(cached, sha)):
            return Checkout(root=cached, revision=sha, dirty=False, url=shown)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=private_directory(cache)))
    try:
        repo = git.Repo.init(tmp)
        write_raw_attributes(tmp / ".git")
        try:
            resolved = fetch(repo, url, ref=ref, sha=sha, wanted=wanted, shallow=shallow)
            repo.git.checkout("--detach", "--quiet", resolved)
        finally:
            repo.close()
        dest = checkout_dir(cache, "remote", url, resolved)
        if _reusable(dest, resolved):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            try:
                tmp.rename(dest)
            except OSError:  # another process materialised the same commit first
                shutil.rmtree(tmp, ignore_errors=True)
        return Checkout(root=dest, revision=resolved, dirty=False, url=shown)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _reusable(dest: Path, sha: str) -> bool:
    """True when ``dest`` holds exactly commit ``sha``; a checkout that does not
    (edited, added to, emptied) is discarded, so the caller checks it out again."""
    if not dest.is_dir():
        return False
    problem = checkout_problem(dest, sha)
    if problem is None:
        return True
    discard(dest, problem)
    return False


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative``, refusing any path that leaves ``root``.

    Refused (PathEscapeError): absolute paths, ``..`` that climbs above the
    root, paths through a symlink that resolves outside the root (or loops),
    and paths holding a NUL character. Returns
    the joined path (not resolved, so it still reads as repo-relative).
    """
    text = relative.strip()
    if text in ("", "."):
        return root
    if "\x00" in text:
        raise PathEscapeError(relative, reason="a path may not hold a NUL character")
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        raise PathEscapeError(relative, reason="absolute paths are not allowed")
    normal = posixpath.normpath(text.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        raise PathEscapeError(relative, reason="'..' leads outside the repository")
    joined = root / normal
    real_root = root.resolve()
    try:
        real = joined.resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop (Python < 3.13)
        raise PathEscapeError(relative, reason=f"it cannot be resolved ({err})") from None
    if real != real_root and not real.is_relative_to(real_root):
        raise PathEscapeError(
            relative, reason=f"a symlink resolves outside the repository to {real}"
        )
    return joined

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
- a URL (``https://``, ``ssh://``, ``git://``, ``file://``, ``user@host:path``)
  → a shallow (depth 1) fetch of the branch, tag or commit into the cache,
  checked out detached.

Materialised checkouts live at ``<cache>/<hash>/<sha>`` and are immutable: a
commit's content never changes, so a second call for the same commit reuses the
directory and an older ``Checkout`` keeps pointing at the files it was made
from. The cache defaults to ``~/.cache/gitwave/repos`` (``$GITWAVE_CACHE`` or
``$XDG_CACHE_HOME`` move it).

``safe_join`` is the one way any stage turns a repo-relative path from Git
content into a filesystem path: ``..``, absolute paths and symlinks that
resolve outside the repository are refused.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git

from gitwave.engine.errors import PathEscapeError, SourceError

_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,39}")
_URL_SCHEMES = ("http://", "https://", "ssh://", "git://", "file://", "git+ssh://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")

# Never let git wait on a terminal (credential prompt, ssh host key question):
# gitwave runs unattended, and a prompt would hang the reconcile loop.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


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
    def short_revision(self) -> str:
        """The first 8 characters of the commit, ``"-"`` without one, ``+dirty`` when edited."""
        text = self.revision[:8] if self.revision else "-"
        return f"{text}+dirty" if self.dirty else text


def is_remote(location: str) -> bool:
    """True when ``location`` is a Git URL rather than a local path."""
    return location.startswith(_URL_SCHEMES) or bool(_SCP_LIKE.match(location))


def redact_url(url: str) -> str:
    """``url`` without a password or token in its user part (safe for messages)."""
    if "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    # https://TOKEN@host/... carries a credential in the user part; ssh://git@host does not.
    has_secret = parts.password is not None or (
        parts.username is not None and parts.scheme in ("http", "https")
    )
    if not has_secret:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def normalise_repo_url(url: str) -> str:
    """A comparable form of a Git URL: ``host/path`` without scheme, user, ``.git`` or ``/``.

    ``git@github.com:org/repo.git``, ``ssh://git@github.com/org/repo`` and
    ``https://github.com/org/repo/`` all become ``github.com/org/repo``.
    """
    text = url.strip()
    scp = _SCP_LIKE.match(text)
    if scp:
        host = text[: scp.end() - 1].split("@", 1)[1]
        path = text[scp.end() :]
    elif "://" in text:
        parts = urllib.parse.urlsplit(text)
        if parts.scheme == "file":
            return "file:" + posixpath.normpath(urllib.parse.unquote(parts.path)).rstrip("/")
        host = (parts.hostname or "").lower()
        if parts.port and parts.port not in (22, 80, 443):
            host = f"{host}:{parts.port}"
        path = parts.path
    else:
        return "file:" + posixpath.normpath(os.path.abspath(text)).rstrip("/")
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return f"{host.lower()}/{path}"


def find_repo_root(path: Path) -> Path | None:
    """The top of the Git work tree holding ``path``, or None outside any (or in a bare repo)."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        top = repo.working_tree_dir
        return Path(top).resolve() if top is not None else None
    finally:
        repo.close()


def remote_urls(root: Path) -> tuple[str, ...]:
    """The fetch URLs of every remote of the repository at ``root`` (empty outside Git)."""
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return ()
    try:
        urls: list[str] = []
        for remote in repo.remotes:
            try:
                urls.extend(remote.urls)
            except git.GitCommandError:
                continue
        return tuple(urls)
    finally:
        repo.close()


def current_branch(root: Path) -> str | None:
    """The branch checked out at ``root``; None when detached or outside Git."""
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        return None if repo.head.is_detached else repo.head.reference.name
    except (TypeError, ValueError):
        return None
    finally:
        repo.close()


def list_tags(location: str) -> tuple[str, ...]:
    """Tag names of a local repository or a remote URL (for semver references).

    Raises SourceError when the location cannot be read.
    """
    _check_argument(location, what="location")
    try:
        if is_remote(location):
            out = git.Git().execute(
                ["git", "ls-remote", "--tags", "--refs", location], env=_GIT_ENV
            )
            lines = str(out).splitlines()
            return tuple(sorted(line.split("refs/tags/", 1)[1] for line in lines if "\t" in line))
        repo = git.Repo(location, search_parent_directories=True)
        try:
            return tuple(sorted(tag.name for tag in repo.tags))
        finally:
            repo.close()
    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError) as err:
        raise SourceError(
            f"{redact_url(location)}: cannot list tags: {_describe(err)}",
            hint="check the URL and that the repository is reachable",
        ) from None


def default_cache_dir() -> Path:
    """``$GITWAVE_CACHE/repos``, else ``$XDG_CACHE_HOME/gitwave/repos``, else ``~/.cache/...``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "repos"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "repos"


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
    _check_argument(location, what="location")
    if revision is not None:
        _check_argument(revision, what="revision")
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    if is_remote(location):
        return _open_remote(location, revision=revision, shallow=shallow, cache=cache)
    return _open_local(Path(location), revision=revision, cache=cache)


def _check_argument(value: str, *, what: str) -> None:
    # A value starting with "-" would be read by git as an option (--upload-pack=...).
    if not value or value.startswith("-"):
        raise SourceError(
            f"{what} {value!r} is not valid", hint=f"give a {what} not starting with '-'"
        )


def _open_local(path: Path, *, revision: str | None, cache: Path) -> Checkout:
    if not path.exists():
        raise SourceError(f"{path}: no such directory", hint="check the path")
    if not path.is_dir():
        raise SourceError(
            f"{path}: not a directory", hint="give the directory holding the manifests"
        )
    directory = path.resolve()
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
        if revision is None:
            return Checkout(
                root=top,
                revision=_rev_parse(repo, "HEAD") or "",
                dirty=repo.is_dirty(untracked_files=True),
                url=str(top),
            )
        sha = _rev_parse(repo, revision)
        if sha is None:
            raise SourceError(
                f"{top}: revision {revision!r} not found",
                hint="give a branch, tag or commit of this repository (see git log, git tag)",
            )
        dest = cache / "local" / _digest(str(top)) / sha
        if not dest.is_dir():
            _materialise(dest, lambda tmp: _clone_shared(top, tmp, sha))
        return Checkout(root=dest, revision=sha, dirty=False, url=str(top))
    finally:
        repo.close()


def _rev_parse(repo: git.Repo, revision: str) -> str | None:
    try:
        out = repo.git.rev_parse(
            "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
        )
    except git.GitCommandError:
        return None
    sha = str(out).strip()
    return sha or None


def _clone_shared(top: Path, tmp: Path, sha: str) -> None:
    # --shared borrows the user's object store through alternates, so even a
    # commit reachable from no branch is there, and nothing is copied.
    git.Repo.clone_from(str(top), str(tmp), shared=True, no_checkout=True, env=_GIT_ENV).close()
    repo = git.Repo(tmp)
    try:
        repo.git.checkout("--detach", "--quiet", sha)
    finally:
        repo.close()


def _open_remote(url: str, *, revision: str | None, shallow: bool, cache: Path) -> Checkout:
    shown = redact_url(url)
    base = cache / _digest(url)
    wanted = revision or "HEAD"
    ref: str | None = None
    if _FULL_SHA.fullmatch(wanted):
        sha: str | None = wanted.lower()
    else:
        refs = _ls_remote(url)
        ref, sha = _match_ref(refs, wanted)
        if sha is None and not _SHORT_SHA.fullmatch(wanted):
            raise SourceError(
                f"{shown}: revision {wanted!r} not found",
                hint=_known_refs_hint(refs),
            )
    if sha is not None and (base / sha).is_dir():
        return Checkout(root=base / sha, revision=sha, dirty=False, url=shown)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=base))
    try:
        repo = git.Repo.init(tmp)
        try:
            resolved = _fetch(repo, url, ref=ref, sha=sha, wanted=wanted, shallow=shallow)
            repo.git.checkout("--detach", "--quiet", resolved)
        finally:
            repo.close()
        dest = base / resolved
        if dest.is_dir():
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


def _fetch(
    repo: git.Repo, url: str, *, ref: str | None, sha: str | None, wanted: str, shallow: bool
) -> str:
    """Fetch the wanted commit into ``repo``; returns its full SHA."""
    depth = ["--depth=1"] if shallow else []
    target = ref or sha
    if target is not None:
        try:
            repo.git.fetch(
                *depth, "--no-tags", "--quiet", "--end-of-options", url, target, env=_GIT_ENV
            )
            fetched = _rev_parse(repo, "FETCH_HEAD")
            if fetched is not None:
                return fetched
        except git.GitCommandError as err:
            if sha is None or ref is not None:
                raise _fetch_error(url, wanted, err) from None
    # A short SHA, or a server that refuses to serve a commit by id: fetch every
    # branch and tag in full, then look the commit up locally.
    try:
        repo.git.fetch(
            "--quiet",
            "--end-of-options",
            url,
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/tags/*:refs/tags/*",
            env=_GIT_ENV,
        )
    except git.GitCommandError as err:
        raise _fetch_error(url, wanted, err) from None
    found = _rev_parse(repo, sha or wanted)
    if found is None:
        raise SourceError(
            f"{redact_url(url)}: revision {wanted!r} not found",
            hint="give a branch, tag or full commit SHA that exists in the repository",
        )
    return found


def _fetch_error(url: str, wanted: str, err: git.GitCommandError) -> SourceError:
    error = SourceError(
        f"{redact_url(url)}: cannot fetch revision {wanted!r}: {_first_lines(err)}",
        hint="check the URL, your network and credentials, and that the revision exists",
    )
    error.retriable = True
    return error


def _ls_remote(url: str) -> dict[str, str]:
    try:
        out = git.Git().execute(["git", "ls-remote", "--end-of-options", url], env=_GIT_ENV)
    except git.GitCommandError as err:
        error = SourceError(
            f"{redact_url(url)}: repository unreachable: {_first_lines(err)}",
            hint="check the URL, your network and credentials (gitwave never prompts for them)",
        )
        error.retriable = True
        raise error from None
    refs: dict[str, str] = {}
    for line in str(out).splitlines():
        sha, _, name = line.partition("\t")
        if name:
            refs[name] = sha
    return refs


def _match_ref(refs: dict[str, str], wanted: str) -> tuple[str | None, str | None]:
    """The ref name and commit SHA that ``wanted`` names; ``(None, None)`` when none does."""
    candidates = (
        [wanted]
        if wanted == "HEAD" or wanted.startswith("refs/")
        else [f"refs/heads/{wanted}", f"refs/tags/{wanted}"]
    )
    for name in candidates:
        peeled = refs.get(f"{name}^{{}}")  # an annotated tag: the commit it points at
        if peeled is not None:
            return name, peeled
        if name in refs:
            return name, refs[name]
    return None, None


def _known_refs_hint(refs: dict[str, str]) -> str:
    branches = sorted(n.removeprefix("refs/heads/") for n in refs if n.startswith("refs/heads/"))
    tags = sorted(
        n.removeprefix("refs/tags/")
        for n in refs
        if n.startswith("refs/tags/") and not n.endswith("^{}")
    )
    parts = []
    if branches:
        parts.append("branches: " + ", ".join(branches[:10]))
    if tags:
        parts.append("tags: " + ", ".join(tags[-10:]))
    known = "; ".join(parts) or "the repository has no branches or tags"
    return f"give a branch, tag or full commit SHA ({known})"


def _materialise(dest: Path, fill: Callable[[Path], None]) -> None:
    """Build ``dest`` in a temporary sibling, then rename: readers never see a half-made tree."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        fill(tmp)
        try:
            tmp.rename(dest)
        except OSError:  # another process made it first; theirs is identical
            shutil.rmtree(tmp, ignore_errors=True)
    except git.GitCommandError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"{dest.name}: cannot check out: {_first_lines(err)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _describe(err: Exception) -> str:
    if isinstance(err, git.GitCommandError):
        return _first_lines(err)
    return "not a Git repository" if isinstance(err, git.InvalidGitRepositoryError) else str(err)


def _first_lines(err: git.GitCommandError, count: int = 3) -> str:
    stderr = str(err.stderr or "").strip()
    stderr = stderr.removeprefix("stderr:").strip().strip("'").strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " / ".join(lines[:count]) or f"git exited with status {err.status}"


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative``, refusing any path that leaves ``root``.

    Refused (PathEscapeError): absolute paths, ``..`` that climbs above the
    root, and paths through a symlink that resolves outside the root. Returns
    the joined path (not resolved, so it still reads as repo-relative).
    """
    text = relative.strip()
    if text in ("", "."):
        return root
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        raise PathEscapeError(relative, reason="absolute paths are not allowed")
    normal = posixpath.normpath(text.replace("\\", "/"))
    if normal == ".." or normal.startswith("../"):
        raise PathEscapeError(relative, reason="'..' leads outside the repository")
    joined = root / normal
    real_root = root.resolve()
    real = joined.resolve()
    if real != real_root and not real.is_relative_to(real_root):
        raise PathEscapeError(
            relative, reason=f"a symlink resolves outside the repository to {real}"
        )
    return joined


def commit_subject(root: Path, sha: str) -> str:
    """The subject line of commit ``sha`` in the repository holding ``root``;
    "" when it cannot be read (no repository there, an unknown commit)."""
    if not sha:
        return ""
    try:
        repo = git.Repo(root, search_parent_directories=True)
        return str(repo.commit(sha).summary)
    except (git.GitError, ValueError, OSError):
        return ""

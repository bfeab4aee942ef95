"""Git plumbing behind ``open_source``: rev-parse, clone, ls-remote, fetch,
materialise a commit into the cache; and the questions the apps loader and the
TUI ask a repository (its root, remotes, branch, tags, a commit's subject).
GitPython is imported only by the engine/source*.py modules."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.errors import SourceError
from gitwave.engine.lazy_module import LazyModule
from gitwave.engine.source_cache import write_raw_attributes
from gitwave.engine.source_url import check_argument, check_scheme, is_remote, redact_url

if TYPE_CHECKING:
    import git
else:
    git = LazyModule("git")  # GitPython: imported once a command needs more than HEAD

FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,39}")

# Never let git wait on a terminal (credential prompt, ssh host key question):
# gitwave runs unattended, and a prompt would hang the reconcile loop.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


# Within ``tops_remembered`` (``source.opened_once``: one snapshot of each
# repository per command), a directory's work tree top is asked of Git once:
# loading the apps, opening the source and reading the holder's remotes and
# branch asked it four times of the same directory (three `git` processes
# more for every `gitwave status`).
_TOPS: ContextVar[dict[Path, str | None] | None] = ContextVar("gitwave_git_tops", default=None)
# And the branch the snapshot's `git status` saw checked out at a work tree's
# top (the holder's branch: no `git symbolic-ref` more).
_BRANCHES: ContextVar[dict[Path, str] | None] = ContextVar("gitwave_git_branches", default=None)


@contextmanager
def tops_remembered() -> Iterator[None]:
    """Within the block, ``git rev-parse --show-toplevel`` of a directory runs once."""
    token = _TOPS.set({})
    branches = _BRANCHES.set({})
    try:
        yield
    finally:
        _BRANCHES.reset(branches)
        _TOPS.reset(token)


def _bare_and_top(directory: Path) -> str | None:
    """What ``git rev-parse --is-bare-repository --show-toplevel`` prints in
    ``directory`` (an absolute, resolved path); None when it fails."""
    tops = _TOPS.get()
    if tops is not None and directory in tops:
        return tops[directory]
    found = _git_out(directory, "rev-parse", "--is-bare-repository", "--show-toplevel")
    if tops is not None:
        tops[directory] = found
        lines = (found or "").splitlines()
        if len(lines) == 2 and lines[0] == "false" and lines[1]:
            # The top of a work tree answers the same of itself (the loader
            # asks a directory in it, then opens the top).
            tops.setdefault(Path(lines[1]).resolve(), found)
    return found


def find_repo_root(path: Path) -> Path | None:
    """The top of the Git work tree holding ``path``, or None outside any (or in a bare repo)."""
    if path.is_dir():
        found = _bare_and_top(path.resolve())
        lines = (found or "").splitlines()
        if len(lines) == 2 and lines[0] == "false" and lines[1]:
            return Path(lines[1]).resolve()  # the common case, without importing GitPython
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
    fast = _remote_urls_of_work_tree(root)
    if fast is not None:
        return fast
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


def _remote_urls_of_work_tree(root: Path) -> tuple[str, ...] | None:
    """``remote_urls`` of the top of a work tree, read with the ``git`` command
    as GitPython reads them (``git remote get-url --all``, so ``insteadOf``
    applies); None for anything else, which GitPython answers."""
    target = _work_tree_top(root)
    if target is None:
        return None
    names = _git_out(target, "remote")
    if names is None or any(name.startswith("-") for name in names.split()):
        return None
    urls: list[str] = []
    for name in names.split():
        found = _git_out(target, "remote", "get-url", "--all", name)
        if found is not None:
            urls.extend(found.splitlines())
    return tuple(urls)


def _work_tree_top(root: Path) -> Path | None:
    """``root`` resolved when it is the top of a work tree, else None."""
    if not root.is_dir():
        return None
    target = root.resolve()
    lines = (_bare_and_top(target) or "").splitlines()
    if len(lines) != 2 or not lines[1] or Path(lines[1]).resolve() != target:
        return None
    return target


def current_branch(root: Path) -> str | None:
    """The branch checked out at ``root``; None when detached or outside Git."""
    target = _work_tree_top(root)
    seen = _BRANCHES.get()
    if target is not None and seen is not None and target in seen:
        return seen[target]
    if target is not None:  # without importing GitPython
        ref = _git_out(target, "symbolic-ref", "--quiet", "HEAD")
        if ref is None:
            return None  # detached (or the ref unreadable, which GitPython also calls None)
        parts = ref.strip().split("/", 2)
        if len(parts) == 3 and parts[0] == "refs":
            return parts[2]  # refs/heads/NAME → NAME, as GitPython names it
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
    check_argument(location, what="location")
    check_scheme(location)
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


def _git_out(directory: Path, *args: str) -> str | None:
    """What ``git -C DIRECTORY ARGS`` prints, None when it fails. ``directory``
    is an absolute path (never read as a flag); ``args`` are gitwave's own."""
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            check=False,
            # No optional locks: `git status` must not take .git/index.lock under a
            # user's own `git commit` while run or watch polls.
            env={**os.environ, **_GIT_ENV, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except OSError:
        return None  # no git command: GitPython says so in its words
    return done.stdout if done.returncode == 0 else None


def rev_parse(repo: git.Repo, revision: str) -> str | None:
    try:
        out = repo.git.rev_parse(
            "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
        )
    except git.GitCommandError:
        return None
    sha = str(out).strip()
    return sha or None


def clone_shared(top: Path, tmp: Path, sha: str) -> None:
    # --shared borrows the user's object store through alternates, so even a
    # commit reachable from no branch is there, and nothing is copied.
    git.Repo.clone_from(str(top), str(tmp), shared=True, no_checkout=True, env=_GIT_ENV).close()
    write_raw_attributes(tmp / ".git")
    repo = git.Repo(tmp)
    try:
        repo.git.checkout("--detach", "--quiet", sha)
    finally:
        repo.close()


def fetch(
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
            fetched = rev_parse(repo, "FETCH_HEAD")
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
    found = rev_parse(repo, sha or wanted)
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


def ls_remote(url: str) -> dict[str, str]:
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


def match_ref(refs: dict[str, str], wanted: str) -> tuple[str | None, str | None]:
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


def known_refs_hint(refs: dict[str, str]) -> str:
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


def materialise(dest: Path, fill: Callable[[Path], None], *, what: str) -> None:
    """Build ``dest`` in a temporary sibling, then rename: readers never see a half-made
    tree. ``what`` (the commit) names it in errors."""
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
        raise SourceError(f"{what}: cannot check out: {_first_lines(err)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _describe(err: Exception) -> str:
    if isinstance(err, git.GitCommandError):
        return _first_lines(err)
    return "not a Git repository" if isinstance(err, git.InvalidGitRepositoryError) else str(err)


def _first_lines(err: git.GitCommandError, count: int = 3) -> str:
    stderr = str(err.stderr or "").strip()
    stderr = stderr.removeprefix("stderr:").strip().strip("'").strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " / ".join(lines[:count]) or f"git exited with status {err.status}"

"""The checkout cache: private directories with unguessable names, and a
check that a cached checkout still holds exactly its commit.

Checkouts are rendered straight from the cache, so whoever can change a file
there changes what is applied, and whoever can guess a path can ask an app to
render another app's checkout. So:

- the cache directory is 0700 (``private_directory``: a shared one such as
  ``/tmp`` is left as it is) and every checkout in it is made by ``mkdtemp``
  (0700) and renamed into place;
- a checkout's name is an HMAC of what it holds (source and commit) under a
  random key kept in the cache (``.key``, 0600): the same commit finds the
  same directory again, and nobody without the key can work out its name;
- before a cached checkout is reused, ``checkout_problem`` compares its work
  tree with the commit's tree (HEAD, every file's blob hash and mode, no file
  added or removed, ignored ones included); a checkout that differs is moved
  aside and removed, and the caller checks the commit out again.
  A checkout found whole is remembered by the stat record of its entries
  (ctime included) for the process; while that record is unchanged it is not
  hashed again (``checkout_problem``).

Checkouts are written without Git's attribute-driven conversions (line
endings, smudge filters, ``ident``), so a work tree holds exactly the committed
bytes and the check needs no index, no ``git status`` and no filters.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.lazy_module import LazyModule
from gitwave.engine.private_files import private_directory

if TYPE_CHECKING:
    import git
else:
    git = LazyModule("git")  # GitPython: imported once a command needs more than HEAD

_KEY_FILE = ".key"
_KEY_BYTES = 32
_NAME_CHARS = 32
# Overrides any .gitattributes in the commit: check out blobs byte for byte.
RAW_ATTRIBUTES = "* -text -filter -ident -working-tree-encoding\n"
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_NO_REPLACE_OBJECTS": "1"}
_GITLINK = b"160000"

log = logging.getLogger(__name__)


def checkout_dir(cache: Path, *parts: str) -> Path:
    """The directory in ``cache`` that holds the checkout of ``parts`` (kind,
    source, commit): same parts, same directory; unguessable without the key."""
    private_directory(cache)
    digest = hmac.new(_key(cache), "\0".join(parts).encode(), hashlib.sha256).hexdigest()
    return cache / digest[:_NAME_CHARS]


def _key(cache: Path) -> bytes:
    path = cache / _KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    # Written beside, then linked into place: two processes starting together
    # agree on one key (the link of the second fails, and it reads the first's).
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=cache)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(_KEY_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def checkout_problem(root: Path, sha: str) -> str | None:
    """How the work tree at ``root`` differs from commit ``sha``: another HEAD,
    a file changed, added or removed; None when it holds exactly that commit.

    A checkout found whole once is not hashed again while no file or directory
    of it (nor ``.git/HEAD``) was touched since: its stat record (inode, size,
    mode, mtime and ctime of every entry, as Git's index keeps them) is kept for
    this process. Any write, chmod, rename or removal changes a ctime, which no
    user can set back, so the next check hashes everything again. A controller
    reuses one checkout for every app of a revision: hashing the whole tree for
    each app cost O(apps) per app."""
    started = time.time_ns()
    before = _stat_record(root)
    key = (os.fspath(root), sha)
    if before is not None:
        with _VERIFIED_LOCK:
            if _VERIFIED.get(key) == before:
                return None
    problem = _full_problem(root, sha)
    with _VERIFIED_LOCK:
        if problem is None and before is not None and not _racy(before, started):
            _VERIFIED[key] = before
        else:
            _VERIFIED.pop(key, None)
    return problem


# (checkout root, commit) → its stat record when last found whole.
_VERIFIED: dict[tuple[str, str], dict[bytes, tuple[int, ...]]] = {}
_VERIFIED_LOCK = threading.Lock()
# A ctime this close to the walk may be shared by a write right after it
# (timestamps tick coarsely): such a record is not kept ("racy Git").
_RACY_NS = 2_000_000_000


def _stat_record(root: Path) -> dict[bytes, tuple[int, ...]] | None:
    """path → (inode, mode, size, mtime_ns, ctime_ns) of every entry under
    ``root`` (``.git`` left out but its HEAD); None when it cannot be read."""
    top = os.fsencode(root)
    record: dict[bytes, tuple[int, ...]] = {}
    try:
        head = os.stat(os.path.join(top, b".git", b"HEAD"), follow_symlinks=False)
        record[b".git/HEAD"] = _stat_tuple(head)
        record[b""] = _stat_tuple(os.stat(top, follow_symlinks=False))
        stack = [b""]
        while stack:
            relative = stack.pop()
            with os.scandir(os.path.join(top, relative) if relative else top) as entries:
                for entry in entries:
                    if not relative and entry.name == b".git":
                        continue
                    path = relative + b"/" + entry.name if relative else entry.name
                    info = entry.stat(follow_symlinks=False)
                    record[path] = _stat_tuple(info)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(path)
    except OSError:
        return None
    return record


def _stat_tuple(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _racy(record: dict[bytes, tuple[int, ...]], started_ns: int) -> bool:
    return any(entry[4] >= started_ns - _RACY_NS for entry in record.values())


def _full_problem(root: Path, sha: str) -> str | None:
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return "it is not a Git checkout"
    try:
        head = str(repo.git.rev_parse("--verify", "--quiet", "HEAD", env=_GIT_ENV)).strip()
        if head != sha:
            return f"HEAD is {head[:12] or 'missing'}, not {sha[:12]}"
        listing = repo.git.execute(
            ["git", "ls-tree", "-r", "-z", "--full-tree", "--end-of-options", sha],
            env=_GIT_ENV,
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
    except git.GitCommandError:
        return "its Git data cannot be read"
    finally:
        repo.close()
    assert isinstance(listing, bytes)
    expected = _tree_entries(listing)
    return _compare(os.fsencode(root), expected)


def _tree_entries(listing: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """``git ls-tree -r -z`` output → {path: (mode, object id)}."""
    entries: dict[bytes, tuple[bytes, bytes]] = {}
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, _, rest = meta.partition(b" ")
        object_id = rest.rpartition(b" ")[2]
        entries[path] = (mode, object_id)
    return entries


def _compare(root: bytes, expected: dict[bytes, tuple[bytes, bytes]]) -> str | None:
    directories = {b""}
    for path, (mode, _) in expected.items():
        parts = path.split(b"/")
        directories.update(b"/".join(parts[:i]) for i in range(1, len(parts)))
        if mode == _GITLINK:
            directories.add(path)  # an uninitialised submodule: an empty directory
    seen: set[bytes] = set()
    stack = [b""]
    while stack:
        relative = stack.pop()
        with os.scandir(os.path.join(root, relative) if relative else root) as entries:
            for entry in entries:
                name = entry.name
                path = relative + b"/" + name if relative else name
                if not relative and name == b".git":
                    continue
                shown = os.fsdecode(path)
                if entry.is_dir(follow_symlinks=False):
                    if path not in directories:
                        return f"{shown}/ was added"
                    if path not in expected:
                        stack.append(path)
                    continue
                want = expected.get(path)
                if want is None:
                    return f"{shown} was added"
                if _entry_id(entry, want[1]) != want:
                    return f"{shown} was changed"
                seen.add(path)
    for path, (mode, _) in expected.items():
        if path not in seen and mode != _GITLINK:
            return f"{os.fsdecode(path)} was removed"
    return None


def _entry_id(entry: os.DirEntry[bytes], like: bytes) -> tuple[bytes, bytes]:
    """(mode, blob id) of a file or symlink, hashed as Git does (SHA-1 or SHA-256,
    the same kind as ``like``)."""
    info = entry.stat(follow_symlinks=False)
    if stat.S_ISLNK(info.st_mode):
        mode, data = b"120000", os.readlink(entry.path)
    elif stat.S_ISREG(info.st_mode):
        mode = b"100755" if info.st_mode & stat.S_IXUSR else b"100644"
        with open(entry.path, "rb") as handle:
            data = handle.read()
    else:
        return b"", b""  # a fifo or device node is never part of a commit
    digest = hashlib.sha256() if len(like) == 64 else hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return mode, digest.hexdigest().encode()


def discard(path: Path, why: str) -> None:
    """Take a checkout that is not what it should be out of use: moved aside at
    once (no reader finds it again), then removed."""
    log.warning("cached checkout %s: %s; checking the commit out again", path, why)
    trash = Path(tempfile.mkdtemp(prefix=".discard-", dir=path.parent))
    with contextlib.suppress(FileNotFoundError):  # another process discarded it first
        path.rename(trash / "checkout")
    shutil.rmtree(trash, ignore_errors=True)


def write_raw_attributes(git_dir: Path) -> None:
    """Make checkouts in the repository at ``git_dir`` byte-for-byte copies of the blobs."""
    info = git_dir / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "attributes").write_text(RAW_ATTRIBUTES, encoding="utf-8")


__all__ = [
    "checkout_dir",
    "checkout_problem",
    "discard",
    "write_raw_attributes",
]

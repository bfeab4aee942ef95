"""Changes gitwave writes into Git: a promotion, an ignore rule, an accepted
live value. Each is made in a private work tree of the repository at HEAD (a
``git worktree`` in a temporary directory), so the user's own work tree, index
and uncommitted edits are never touched; it becomes one commit on a new
branch, pushed to a remote when asked, or is thrown away (a dry run, or a
change the user did not confirm).

Named ``source_*`` because GitPython is imported only by the engine's
``source*`` modules (tests/engine/test_import_hygiene.py).

Git is untrusted input and so is the user's branch name: a branch name is
checked against Git's ref rules before it reaches git, every ref handed to git
starts with ``refs/`` (never read as a flag), a remote must be one the
repository has configured, and a path written must stay inside the repository
(``source.safe_join``; no write through a symlink).
"""

from __future__ import annotations

import contextlib
import difflib
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import git

from gitwave.engine.errors import PathEscapeError, SourceError, ValidationError
from gitwave.engine.source import safe_join

__all__ = [
    "Commit",
    "FileChange",
    "Scratch",
    "check_branch_name",
    "files_diff",
    "repo_root_of",
]

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
_DEFAULT_AUTHOR = ("gitwave", "gitwave@localhost")
# Git's check-ref-format rules for one branch name, plus no leading '-' (a flag).
_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}")


def check_branch_name(name: str) -> str:
    """``name`` when it is a branch name Git accepts and no flag; ValidationError
    naming it otherwise (``..``, ``@{``, a ``.lock`` or ``/`` end, spaces, …)."""
    bad = (
        not _BRANCH.fullmatch(name)
        or ".." in name
        or "//" in name
        or name.endswith(("/", ".", ".lock"))
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    )
    if bad:
        raise ValidationError(
            f"branch {name!r}",
            "not a valid branch name",
            hint="letters, digits and . _ / + -, not starting with '-' or '.', no '..'",
        )
    return name


def repo_root_of(path: Path) -> Path:
    """The top of the Git work tree holding ``path``; SourceError outside one."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(
            f"{path}: not in a Git work tree",
            hint="gitwave writes promotions and triage as commits: run it in a clone",
        ) from None
    try:
        top = repo.working_tree_dir
        if top is None:
            raise SourceError(f"{path}: a bare repository has no files to edit")
        return Path(top).resolve()
    finally:
        repo.close()


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file's content before and after a change (repo-relative POSIX path)."""

    path: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Commit:
    """A change written to Git: the branch, the commit, where it was pushed."""

    branch: str
    sha: str
    message: str
    pushed_to: str = ""


def files_diff(changes: Iterable[FileChange]) -> str:
    """The unified diff of ``changes`` as ``git diff`` prints it (a/ and b/ paths)."""
    lines: list[str] = []
    for change in changes:
        lines += difflib.unified_diff(
            change.before.splitlines(keepends=True),
            change.after.splitlines(keepends=True),
            fromfile=f"a/{change.path}",
            tofile=f"b/{change.path}",
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


class Scratch:
    """A private work tree of the repository at ``root``, at its HEAD commit.

    Use as a context manager: the work tree and its bookkeeping in ``.git``
    are removed on exit, whatever happened. ``read``/``write`` take
    repo-relative paths; ``commit`` turns what was written into a commit on a
    new branch of the repository."""

    def __init__(self, root: Path) -> None:
        self.root = repo_root_of(root)
        self._repo = git.Repo(self.root)
        try:
            self.base = self._repo.head.commit.hexsha
        except ValueError:
            self._repo.close()
            raise SourceError(f"{self.root}: the repository has no commit yet") from None
        self._holder = Path(tempfile.mkdtemp(prefix="gitwave-edit-"))
        self.path = self._holder / "tree"
        self._written: dict[str, str] = {}  # path -> content before

    def __enter__(self) -> Scratch:
        try:
            # The path is ours and the commit a hex id: neither can be read as a flag.
            self._repo.git.worktree("add", "--detach", "--quiet", str(self.path), self.base)
        except git.GitCommandError as exc:
            self._cleanup()
            raise SourceError(
                f"{self.root}: cannot make a work tree: {exc.stderr.strip()}"
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        try:
            if self.path.exists():
                self._repo.git.worktree("remove", "--force", str(self.path))
        except git.GitCommandError:
            pass
        finally:
            shutil.rmtree(self._holder, ignore_errors=True)
            with contextlib.suppress(git.GitCommandError):
                self._repo.git.worktree("prune")
            self._repo.close()

    def file(self, relative: str) -> Path:
        """The scratch path of ``relative``; PathEscapeError when it leaves the repository."""
        return safe_join(self.path, relative)

    def read(self, relative: str) -> str:
        """The text of a file at HEAD (with what this scratch wrote since)."""
        path = self.file(relative)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValidationError(relative, "no such file in the repository") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(relative, f"cannot read: {exc}") from None

    def write(self, relative: str, text: str) -> None:
        """Replace a file's text (a new file too); never through a symlink."""
        path = self.file(relative)
        if path.is_symlink():
            raise PathEscapeError(relative, reason="gitwave does not write through a symlink")
        key = path.relative_to(self.path).as_posix()
        if key not in self._written:
            self._written[key] = path.read_text(encoding="utf-8") if path.exists() else ""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def changes(self) -> tuple[FileChange, ...]:
        """Each file written whose text differs from HEAD's, by path."""
        found = []
        for key in sorted(self._written):
            after = (self.path / key).read_text(encoding="utf-8")
            if after != self._written[key]:
                found.append(FileChange(key, self._written[key], after))
        return tuple(found)

    def branch_exists(self, branch: str) -> bool:
        return f"refs/heads/{check_branch_name(branch)}" in {r.path for r in self._repo.refs}

    def free_branch(self, base: str) -> str:
        """``base``, or ``base-<HEAD's short id>`` when a branch ``base`` exists
        (a second promotion or triage of the same thing gets a branch of its own)."""
        return base if not self.branch_exists(base) else f"{base}-{self.base[:8]}"

    def first_file(self, directory: str, names: Iterable[str]) -> str:
        """The repo-relative path of the first of ``names`` that is a file in
        ``directory`` ("" or "." for the top of the repository), "" for none."""
        for name in names:
            relative = f"{directory}/{name}" if directory not in ("", ".") else name
            if self.file(relative).is_file():
                return relative
        return ""

    def commit(self, branch: str, message: str, *, push_to: str = "") -> Commit:
        """Commit what was written on a new ``branch`` of the repository (from
        HEAD), and push it to the remote ``push_to`` when given. ValidationError
        for a bad or existing branch, an unknown remote or nothing to commit;
        SourceError when the push fails (the branch stays, locally)."""
        check_branch_name(branch)
        if self.branch_exists(branch):
            raise ValidationError(
                f"branch {branch!r}", "exists already", hint="name another with --branch"
            )
        if push_to and (
            push_to.startswith("-") or push_to not in {r.name for r in self._repo.remotes}
        ):
            raise ValidationError(
                f"remote {push_to!r}",
                "the repository has no such remote",
                hint="`git remote -v` lists them",
            )
        changed = [c.path for c in self.changes()]
        if not changed:
            raise ValidationError(str(self.root), "nothing to commit: the files already say this")
        scratch = git.Repo(self.path)
        try:
            scratch.index.add(changed)
            author = self._author()
            made = scratch.index.commit(message, author=author, committer=author)
        finally:
            scratch.close()
        ref = f"refs/heads/{branch}"
        self._repo.git.update_ref(ref, made.hexsha, "0" * 40)  # refuses if it appeared since
        pushed = ""
        if push_to:
            try:
                with self._repo.git.custom_environment(**_GIT_ENV):
                    self._repo.git.push(push_to, f"{ref}:{ref}")
            except git.GitCommandError as exc:
                raise SourceError(
                    f"branch {branch} committed ({made.hexsha[:12]}) but the push to "
                    f"{push_to} failed: {exc.stderr.strip()}"
                ) from None
            pushed = push_to
        return Commit(branch, made.hexsha, message, pushed)

    def _author(self) -> git.Actor:
        reader = self._repo.config_reader()
        name = reader.get_value("user", "name", _DEFAULT_AUTHOR[0])
        email = reader.get_value("user", "email", _DEFAULT_AUTHOR[1])
        return git.Actor(str(name), str(email))

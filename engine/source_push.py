"""Writing back to a Git source: clone one branch, commit files, push.

For the automations that change Git (Flux's ImageUpdateAutomation): a scratch
clone of one branch, a commit by a named author, a push of ``HEAD`` to a
branch. GitPython puts ``--`` before the URL and path; the caller checks the
URL's scheme and that branch names are branch names (``check_branch``), so
nothing from Git reaches git's command line as an option.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.errors import SourceError, ValidationError
from gitwave.engine.lazy_module import LazyModule
from gitwave.engine.source_url import redact_url

if TYPE_CHECKING:
    import git
else:
    # Imported on first push: reading apps (which import image automation) needs no GitPython.
    git = LazyModule("git")

# A branch name git accepts that cannot be read as an option (check-ref-format's rules).
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/+-]+(?<![./])(?<!\.lock)$")


def check_branch(name: str, *, subject: str, what: str) -> str:
    """``name`` if it is a plain branch name; ValidationError naming ``subject`` otherwise."""
    if not _BRANCH.match(name):
        raise ValidationError(subject, f"{what} {name!r} is not a branch name")
    return name


@dataclass
class BranchClone:
    """A scratch clone of one branch of ``url`` in ``path``."""

    url: str
    branch: str
    path: Path
    subject: str

    @classmethod
    def clone(cls, url: str, branch: str, path: Path, *, subject: str) -> BranchClone:
        """Clone ``branch`` of ``url`` into ``path``; SourceError naming ``subject`` and the
        (redacted) URL when git cannot."""
        check_branch(branch, subject=subject, what="branch")
        try:
            git.Repo.clone_from(url, path, branch=branch, single_branch=True, no_tags=True)
        except git.GitCommandError as exc:
            raise SourceError(
                f"{subject}: cannot clone {redact_url(url)} at branch {branch!r}: {_last_line(exc)}"
            ) from None
        return cls(url=url, branch=branch, path=path, subject=subject)

    def commit(self, files: Sequence[str], message: str, *, name: str, email: str) -> str:
        """Commit ``files`` (repo-relative) by ``name <email>``; the new commit's SHA."""
        repo = git.Repo(self.path)
        repo.index.add(list(files))
        actor = git.Actor(name, email)
        return str(repo.index.commit(message, author=actor, committer=actor).hexsha)

    def push(self, branch: str, *, force: bool) -> None:
        """Push ``HEAD`` to ``branch`` of the origin (``force``: overwrite it)."""
        check_branch(branch, subject=self.subject, what="push branch")
        refspec = ("+" if force else "") + f"HEAD:refs/heads/{branch}"
        try:
            git.Repo(self.path).git.push("origin", refspec)
        except git.GitCommandError as exc:
            raise SourceError(
                f"{self.subject}: cannot push to {redact_url(self.url)} branch {branch!r}: "
                f"{_last_line(exc)}"
            ) from None


def _last_line(exc: git.GitCommandError) -> str:
    text = str(exc.stderr or exc).strip().replace("stderr: ", "")
    lines = [line.strip(" '") for line in text.splitlines() if line.strip(" '")]
    return lines[-1] if lines else str(exc.status)

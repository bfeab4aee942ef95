"""``gitwave bootstrap``'s write into the operator's own work tree: its files
committed on the checked-out branch (and pushed to origin when asked).

Unlike ``source_write`` (a private work tree, a new branch), bootstrap commits
where the operator stands, as ``flux bootstrap`` commits to the branch it
follows. Only the files bootstrap writes are staged (an operator's other
edits stay as they were); each path stays inside the work tree (``safe_join``:
no ``..``, no symlink out). GitPython lives in the engine's ``source*``
modules only (tests/engine/test_import_hygiene.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from gitwave.engine.errors import SourceError, ValidationError
from gitwave.engine.source import safe_join


@dataclass(frozen=True)
class WorkTree:
    """A local work tree named as REPO: its top and the branch checked out."""

    top: Path
    branch: str

    @property
    def url(self) -> str:
        return f"file://{self.top}"


def open_work_tree(text: str, *, branch: str = "") -> WorkTree:
    """REPO (a path or ``file://``) as the top of a Git work tree; ``branch``
    defaults to the one checked out. ValidationError when it is neither."""
    path = Path(text.removeprefix("file://")).expanduser().resolve()
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ValidationError(
            text, "is not a Git work tree", hint="git init it, or clone the repository first"
        ) from None
    if repo.working_tree_dir is None or Path(repo.working_tree_dir).resolve() != path:
        raise ValidationError(text, "name the top of the work tree (where .git is)")
    if not branch:
        if repo.head.is_detached:
            raise ValidationError("--branch", "the work tree is on a detached HEAD: name a branch")
        branch = repo.active_branch.name
    elif repo.head.is_detached or branch != repo.active_branch.name:
        raise ValidationError(
            "--branch", f"{branch!r} is not checked out in {path}", hint="git switch to it first"
        )
    return WorkTree(path, branch)


def commit_files(
    tree: WorkTree, files: Mapping[str, str], *, message: str, push: bool = False
) -> bool:
    """Write ``files`` (repo-relative path → text), stage only them, commit when
    they changed anything; push the branch to origin when ``push``. True when
    a commit was made."""
    repo = git.Repo(tree.top)
    for name, text in files.items():
        target = safe_join(tree.top, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    repo.git.add("--", *files)
    committed = False
    if repo.is_dirty(index=True, working_tree=False, untracked_files=False):
        repo.index.commit(message)
        committed = True
    if push:
        if "origin" not in [remote.name for remote in repo.remotes]:
            raise SourceError(f"{tree.top}: no remote named origin to push to")
        try:
            repo.git.push("origin", f"refs/heads/{tree.branch}:refs/heads/{tree.branch}")
        except git.GitCommandError as exc:
            raise SourceError(
                f"pushing {tree.branch} to origin failed: {exc.stderr.strip()}"
            ) from None
    return committed


__all__ = ["WorkTree", "commit_files", "open_work_tree"]

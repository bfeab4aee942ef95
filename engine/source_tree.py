"""A local work tree at its HEAD, read with two ``git`` processes (the top's
``rev-parse``, remembered per command, and one ``status``): the common case of
``open_source``, without importing GitPython."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.source_git import _BRANCHES, _bare_and_top, _git_out


@dataclass(frozen=True, slots=True)
class WorkTree:
    """A Git work tree at its HEAD: its top directory, the commit ("" without
    one) and whether the tree differs from it (untracked files count)."""

    top: Path
    head: str
    dirty: bool


def work_tree_at(directory: Path) -> WorkTree | None:
    """``directory``'s work tree, read with the ``git`` command (two calls, no
    GitPython to import); None for anything else (not a repository, a bare
    one, inside ``.git``, a repository git refuses): the caller asks GitPython,
    which answers those as it always did."""
    found = _bare_and_top(directory)
    if found is None:
        return None
    lines = found.splitlines()
    if len(lines) != 2 or lines[0] != "false" or not lines[1]:
        return None
    top = Path(lines[1]).resolve()
    # One `git status` says the commit, the branch and every change (untracked
    # files included), of one look at HEAD: `rev-parse HEAD` and a status
    # could see two commits.
    status = _git_out(
        top, "status", "--porcelain=v2", "--branch", "--no-ahead-behind", "--untracked-files=normal"
    )
    if status is None:
        return None
    head, branch, dirty = "", "", False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ")
            head = "" if oid == "(initial)" else oid  # "(initial)": no commit yet
        elif line.startswith("# branch.head "):
            branch = line.removeprefix("# branch.head ")
        elif line and not line.startswith("# "):
            dirty = True
    seen = _BRANCHES.get()
    # "(detached)" is also a valid branch name: `symbolic-ref` tells them apart.
    if seen is not None and branch and branch != "(detached)":
        seen[top] = branch
    return WorkTree(top=top, head=head, dirty=dirty)


__all__ = ["WorkTree", "work_tree_at"]

"""The diff of what a target would see: two renders of one app, object by
object, as a unified diff of their YAML (Secret values masked), the way
``argocd app diff`` and ``flux diff kustomization`` show a change in manifests
rather than in the files that produced them. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from gitwave.engine.mask import shown_manifest
from gitwave.engine.model import Resource
from gitwave.engine.yamlio import dump

__all__ = ["manifests_diff"]


def _by_key(resources: Iterable[Resource]) -> dict[str, str]:
    return {r.key.display: dump(shown_manifest(r)) for r in resources}


def manifests_diff(before: Iterable[Resource], after: Iterable[Resource]) -> str:
    """Unified diff of each object that differs, added or went, sorted by
    ``Kind/namespace/name``; "" when both renders are the same."""
    old, new = _by_key(before), _by_key(after)
    lines: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) == new.get(name):
            continue
        lines += difflib.unified_diff(
            old.get(name, "").splitlines(keepends=True),
            new.get(name, "").splitlines(keepends=True),
            fromfile=f"{name} (before)" if name in old else "/dev/null",
            tofile=f"{name} (after)" if name in new else "/dev/null",
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

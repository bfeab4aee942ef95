"""The render cache: Rendered values of clean, committed checkouts, keyed by commit and path.

Two levels: an LRU in this process, then files shared by every process
(``disk_cache.py``), so a fresh `gitwave plan` of an unchanged commit does not
parse its YAML again.

A checkout with no revision or with uncommitted changes is never cached: its
files can change under the same key. The key also holds the options and the
binary of the tool with its mtime, so a new kustomize or helm renders afresh.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from gitwave.engine.render.disk_cache import DiskRenderCache, default_render_cache_dir
from gitwave.engine.render.values import Rendered, RenderOptions, RenderTool
from gitwave.engine.source import Checkout

CacheKey = tuple[Hashable, ...]


class RenderCache:
    """A small thread-safe LRU of Rendered values."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[CacheKey, Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> Rendered | None:
        """The value cached under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: CacheKey, value: Rendered) -> None:
        """Cache ``value``, dropping the least recently used beyond the size."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()


CACHE = RenderCache(64)


def cache_key(
    checkout: Checkout, rel: str, options: RenderOptions, tool: RenderTool
) -> CacheKey | None:
    """The key rendering ``rel`` of ``checkout`` is cached under; None when it must not be."""
    if not checkout.revision or checkout.dirty:
        return None
    key: CacheKey = (str(checkout.root), checkout.revision, rel, options, _tool_identity(tool))
    if options.value_repos:
        # Helm values files read from ``ref`` sources (Argo CD multi-source) at
        # a branch: the render is theirs too, so it is keyed by their commits.
        # A commit to the values repository alone renders anew.
        refs = _ref_revisions(options)
        if refs is None:
            return None
        key += (refs,)
    if tool is RenderTool.HELM:
        # A chart renders what the target serves (``.Capabilities``): a CRD
        # installed since the last render changes its output.
        from gitwave.engine.render.helm import chart_capabilities

        capabilities = chart_capabilities()
        served = "\n".join((capabilities.kube_version, *capabilities.api_versions))
        key += (hashlib.sha256(served.encode()).hexdigest(),)
    return key


def _ref_revisions(options: RenderOptions) -> tuple[str, ...] | None:
    """The commit each ``ref`` source of ``options`` is at (``open_source``:
    once per command within ``opened_once``, so the render reads the same
    snapshot); None when one has none or has uncommitted edits (not cached)."""
    from gitwave.engine.source import open_source

    found: list[str] = []
    for repo in options.value_repos:
        ref = open_source(repo.fetch_from, revision=repo.fetch_revision)
        if not ref.revision or ref.dirty:
            return None
        found.append(ref.revision)
    return tuple(found)


def clear_render_cache() -> None:
    """Forget every render cached in this process (tests; after replacing a tool
    binary in place). The files on disk stay: their key holds the binary's mtime."""
    CACHE.clear()


_DISK: dict[str, DiskRenderCache] = {}
_DISK_LOCK = threading.Lock()


def disk_cache() -> DiskRenderCache:
    """The on-disk cache of the current cache directory (``$GITWAVE_CACHE``, …)."""
    root = default_render_cache_dir()
    with _DISK_LOCK:
        return _DISK.setdefault(str(root), DiskRenderCache(root))


def disk_key(key: CacheKey) -> str:
    """``key`` as the on-disk cache names it: with gitwave's own code identity, so
    a new gitwave (or an edited renderer in a checkout) renders afresh."""
    return repr((_code_identity(), key))


@functools.cache
def _code_identity() -> tuple[int, ...]:
    """The mtimes of the modules a render's output depends on."""
    engine = Path(__file__).resolve().parents[1]
    render = engine.joinpath("render").glob("*.py")
    files = sorted((*render, engine / "model.py", engine / "scope.py"))
    found = []
    for path in files:
        try:
            found.append(path.stat().st_mtime_ns)
        except OSError:
            found.append(0)
    return tuple(found)


def _tool_identity(tool: RenderTool) -> tuple[str, int]:
    """The binary a tool runs and its mtime: a new binary version invalidates the cache."""
    # The renderers are imported for their tool only: a directory of YAML (and a
    # render read back from the disk cache) needs neither helm nor kustomize.
    binary: str | None
    if tool is RenderTool.KUSTOMIZE:
        from gitwave.engine.render.kustomize import kustomize_command

        command = kustomize_command()
        binary = command[0] if command else None
    elif tool is RenderTool.HELM:
        from gitwave.engine.render.helm import helm_command

        binary = helm_command()
    else:
        return ("directory", 1)
    if binary is None:
        return ("", 0)
    try:
        return (binary, os.stat(binary).st_mtime_ns)
    except OSError:
        return (binary, 0)


__all__ = ["CACHE", "RenderCache", "cache_key", "clear_render_cache", "disk_cache", "disk_key"]

"""Render: one directory of a Checkout → typed, validated Resources.

The tool is chosen as Argo CD chooses it:

- a ``kustomization.yaml`` / ``kustomization.yml`` / ``Kustomization`` → Kustomize
  (``kustomize build``, else ``kubectl kustomize`` from the venv or PATH);
- a ``Chart.yaml`` → ``helm template``;
- otherwise every ``.yaml``/``.yml``/``.json`` file, recursively, in sorted
  order, each possibly holding several documents or a ``kind: List``.

Every document must be an object with apiVersion, kind and metadata.name
(metadata.generateName is accepted on hooks); every key must be unique. Any
problem raises RenderError naming ``file:line`` — a render error is never an
empty render. Paths never leave the repository: the app path, symlinks in the
tree, Kustomize bases and Helm values files all go through ``safe_join``;
remote Kustomize bases and ``helmCharts``, and Helm schema ``$ref``s to files
or URLs, are refused before the tool runs.

Where each job lives::

    values.py     RenderTool, RenderOptions, HelmOptions, Rendered
    directory.py  plain YAML/JSON files → documents with file:line; the tree walk
    kustomize.py  overlays (images through a throw-away overlay, decrypted copies)
    helm.py       charts (values files inside the repository only)
    remote_refs.py  what a kustomization or chart may reference: repository paths only
    sops.py       SOPS-encrypted manifests, decrypted with the sops binary
    tools.py      the one subprocess runner kustomize, helm and sops share
    resources.py  documents → validated Resources, namespaces settled
    cache.py      Rendered values of clean commits, keyed by commit and path
    disk_cache.py  those values in signed files (``cached_entry``: an entry's head)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.errors import RenderError
from gitwave.engine.lazy_module import lazy_exports
from gitwave.engine.model import SourceRef
from gitwave.engine.render.afresh import renders_afresh
from gitwave.engine.render.cache import CACHE, cache_key, clear_render_cache, disk_cache, disk_key
from gitwave.engine.render.disk_cache import EntryHead
from gitwave.engine.render.values import (
    KUSTOMIZATION_FILES,
    ChartSource,
    HelmOptions,
    MoreSource,
    Rendered,
    RenderOptions,
    RenderTool,
    ValueRepo,
)
from gitwave.engine.source import Checkout, safe_join

# The renderers are imported when a render runs, and these names on first use
# (PEP 562): a render read back from the cache (a fresh `gitwave status` or
# `plan` of an unchanged commit) needs neither helm, kustomize nor sops.
if TYPE_CHECKING:
    from gitwave.engine.render.directory import manifest_files, walk_tree
    from gitwave.engine.render.kustomize import check_kustomization, kustomize_command
    from gitwave.engine.render.sops import Decryption, DecryptionProvider

_WHERE = {
    "manifest_files": "directory",
    "walk_tree": "directory",
    "check_kustomization": "kustomize",
    "kustomize_command": "kustomize",
    "Decryption": "sops",
    "DecryptionProvider": "sops",
}


_lazy = lazy_exports(__name__, _WHERE)


def __getattr__(name: str) -> Any:
    return _lazy(name)


_DEFAULT_OPTIONS = RenderOptions()


def render(checkout: Checkout, path: str, *, options: RenderOptions = _DEFAULT_OPTIONS) -> Rendered:
    """Render ``path`` (relative to ``checkout.root``) into Resources.

    Raises PathEscapeError when the path or a file it uses leaves the
    repository, ToolMissingError when kustomize/helm is needed but absent, and
    RenderError (naming file:line) for anything malformed.
    """
    target, rel, tool = _located(checkout, path, options)
    key = cache_key(checkout, rel, options, tool)
    # A hard refresh renders anew; its render then replaces the cached one.
    if key is not None and not renders_afresh():
        cached = CACHE.get(key)
        if cached is None:
            cached = disk_cache().get(disk_key(key))
            if cached is not None:
                CACHE.put(key, cached)
        if cached is not None:
            return cached
    from gitwave.engine.render.resources import to_resources

    if tool is RenderTool.KUSTOMIZE:
        from gitwave.engine.render.kustomize import kustomize_docs

        docs = kustomize_docs(checkout, target, rel, options)
    elif tool is RenderTool.HELM:
        from gitwave.engine.render.helm import helm_docs

        docs = helm_docs(checkout, target, rel, options)
    else:
        from gitwave.engine.render.directory import directory_docs

        docs = directory_docs(checkout, target, rel, options)
    resources = to_resources(docs, options)
    result = Rendered(
        resources=resources,
        revision=checkout.recorded_revision,
        path=rel,
        tool=tool,
        # to_resources makes one Resource per document, in order.
        encrypted=frozenset(r.key for r, d in zip(resources, docs, strict=True) if d.encrypted),
    )
    if key is not None:
        CACHE.put(key, result)
        disk_cache().put(disk_key(key), result)
    return result


def _located(checkout: Checkout, path: str, options: RenderOptions) -> tuple[Path, str, RenderTool]:
    """Where ``path`` is, relative to the checkout, and the tool that renders it;
    the RenderErrors ``render`` raises before it renders."""
    target = safe_join(checkout.root, path)
    rel = checkout.relpath(target)
    if not target.exists():
        raise RenderError(SourceRef(rel), "no such file or directory in the repository")
    tool = RenderTool.DIRECTORY if target.is_file() else RenderTool.detect(target)
    if options.kustomize_images and tool is not RenderTool.KUSTOMIZE:
        raise RenderError(
            SourceRef(rel),
            f"kustomize images are set, but {rel} is rendered with {tool.value}, not kustomize",
            hint="add a kustomization.yaml to the path, or drop the images option",
        )
    return target, rel, tool


def cached_entry(
    checkout: Checkout, path: str, *, options: RenderOptions = _DEFAULT_OPTIONS
) -> EntryHead | None:
    """The head of the render cache entry ``render`` of these arguments would
    read back (same key, same checks), without decoding its objects; None
    when ``render`` would not read one back: a dirty or uncommitted checkout,
    a hard refresh (``rendered_afresh``), no entry, or a render this process
    holds in memory (it may not be the entry's). Raises what ``render`` raises
    before rendering."""
    _, rel, tool = _located(checkout, path, options)
    key = cache_key(checkout, rel, options, tool)
    if key is None or renders_afresh() or CACHE.get(key) is not None:
        return None
    return disk_cache().head(disk_key(key))


def render_chart(options: RenderOptions, *, where: str) -> tuple[Checkout, Rendered]:
    """Render the Helm repository chart ``options.chart`` names (Argo CD
    ``spec.source.chart``): the chart's directory in the chart cache as a
    checkout (its digest the commit), and its objects at the chart's version.
    Raises RenderError naming ``where`` and the URL when it cannot be fetched."""
    if options.chart is None:
        raise RenderError(SourceRef(where), "no chart to render")
    from gitwave.engine.render.helm import chart_source_docs
    from gitwave.engine.render.resources import to_resources

    chart, docs = chart_source_docs(options.chart, options, where=where)
    checkout = Checkout(root=chart.directory, revision=chart.digest, dirty=False, url=chart.url)
    resources = to_resources(docs, options)
    return checkout, Rendered(
        resources=resources, revision=chart.version, path=chart.label, tool=RenderTool.HELM
    )


__all__ = [
    "KUSTOMIZATION_FILES",
    "ChartSource",
    "Decryption",
    "DecryptionProvider",
    "EntryHead",
    "HelmOptions",
    "MoreSource",
    "RenderOptions",
    "RenderTool",
    "Rendered",
    "ValueRepo",
    "cached_entry",
    "check_kustomization",
    "clear_render_cache",
    "kustomize_command",
    "manifest_files",
    "render",
    "render_chart",
    "walk_tree",
]

"""Rendering an app once loaded: ``checkout_for`` and ``render_app`` (its own
objects: an app of apps' children, a Flux tree's machinery and an Argo app's
AppProjects left out), Argo CD multi-source included (moved out of ``loader.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.apps.doc_kinds import has_helm_releases
from gitwave.engine.apps.model import AppKind, AppSpec
from gitwave.engine.apps.projects import is_app_project
from gitwave.engine.apps.resource_kinds import (
    is_app_set_resource,
    is_argo_app_resource,
    is_flux_machinery,
)
from gitwave.engine.errors import RenderError
from gitwave.engine.model import SourceRef
from gitwave.engine.render import (
    EntryHead,
    Rendered,
    RenderTool,
    cached_entry,
    render,
    render_chart,
)
from gitwave.engine.source import Checkout, open_source

if TYPE_CHECKING:
    from gitwave.engine.render.postbuild import ObjectReader


def checkout_for(app: AppSpec, *, cache_dir: Path | None = None) -> Checkout:
    """Open (fetch if needed) the source ``app`` renders from, at its revision
    (a chart from a Helm repository: its directory in the chart cache)."""
    if app.source.render.chart is not None:
        from gitwave.engine.render.charts import fetched_chart_checkout

        return fetched_chart_checkout(app.source.render.chart, where=app.where)
    return open_source(
        app.source.fetch_from, revision=app.source.fetch_revision, cache_dir=cache_dir
    )


def render_app(
    app: AppSpec,
    *,
    cache_dir: Path | None = None,
    read: ObjectReader | None = None,
    kube_version: Callable[[], str] | None = None,
) -> Rendered:
    """Render ``app`` from its resolved source; child Applications are left out.
    A Flux app's ``postBuild`` variables are substituted, those of its
    substituteFrom objects read through ``read`` (None: no target, so a
    required one is missing).

    Raises what ``open_source`` and ``render`` raise, and ValidationError for a
    substitution that fails (see ``render.postbuild``). A HelmRelease in the
    render becomes its chart's objects (``helmrelease``), rendered for the
    Kubernetes release ``kube_version()`` names (asked only then; None or "":
    the default release, ``kube_versions``).
    """
    if app.kind is AppKind.APPSET:  # a set holds apps, never objects of its own
        return Rendered(resources=(), revision="", path=app.source.path, tool=RenderTool.DIRECTORY)
    if app.inline:
        checkout = Checkout(root=Path(app.source.path), revision="", dirty=False, url="")
        rendered = Rendered(
            resources=app.inline, revision="", path=app.source.path, tool=RenderTool.DIRECTORY
        )
    else:
        checkout, rendered = _own_objects(app, cache_dir)
    if app.post_build is not None:
        from gitwave.engine.render.postbuild import apply_post_build, variables_for

        variables = variables_for(app.post_build, read)
        rendered = apply_post_build(rendered, app.post_build, variables, app.source.render)
    if has_helm_releases(rendered):
        # gitwave plays helm-controller: each HelmRelease becomes its chart's objects.
        from gitwave.engine.apps.helmrelease import expand_helm_releases

        rendered = expand_helm_releases(
            rendered,
            checkout=checkout,
            source=app.source,
            read=read,
            kube_version=kube_version() if kube_version is not None else "",
            known_sources=app.flux_sources,
        )
    return rendered


def cached_render_entry(app: AppSpec, *, cache_dir: Path | None = None) -> EntryHead | None:
    """The head of the one render cache entry ``render_app`` would start from
    (``render.cached_entry``), for an app whose render reads that entry only:
    None for a set, inline objects, a chart from a Helm repository, several
    sources (Argo CD multi-source, Helm values from another one) and a Flux
    ``postBuild`` (objects read from the target). What ``render_app`` does with
    the entry's objects after it (leaving children, AppProjects or Flux
    machinery out, expanding HelmReleases) depends on them and on ``app``
    only, so the entry names the render whenever it is the render exactly
    (``plan_verdict``). Raises what ``open_source`` and ``render`` raise
    before rendering."""
    source = app.source
    if app.kind is AppKind.APPSET or app.inline or app.post_build is not None:
        return None
    if source.render.chart is not None or source.render.more_sources or source.render.value_repos:
        return None
    checkout = checkout_for(app, cache_dir=cache_dir)
    return cached_entry(checkout, source.path, options=source.render)


def _own_objects(app: AppSpec, cache_dir: Path | None) -> tuple[Checkout, Rendered]:
    checkout, rendered = render_whole(app, cache_dir=cache_dir)
    # An Argo app's AppProjects are gitwave's to read (like its child Applications), not to
    # apply; its ApplicationSets are read as its children (or fail alone).
    argo = app.kind is AppKind.ARGO
    if app.flux_tree:
        own = tuple(r for r in rendered.resources if not is_flux_machinery(r))
        return checkout, (
            rendered if len(own) == len(rendered.resources) else replace(rendered, resources=own)
        )
    if not app.children and not argo:
        return checkout, rendered
    own = tuple(
        r
        for r in rendered.resources
        if not (app.children and is_argo_app_resource(r))
        and not (argo and (is_app_project(r.manifest) or is_app_set_resource(r)))
    )
    return checkout, (
        rendered if len(own) == len(rendered.resources) else replace(rendered, resources=own)
    )


def render_whole(app: AppSpec, *, cache_dir: Path | None) -> tuple[Checkout, Rendered]:
    """The checkout of ``app``'s source and its render, child Applications included.

    Loading renders every Argo app this way to find its children, and
    ``render_app`` renders it again for the sync: both calls reach ``render``
    with the same checkout, path and options, so for a clean commit the second
    is a hit in render's cache. A work tree with uncommitted edits is rendered
    again on purpose: it may have changed in between (watch mode relies on that).
    """
    if app.source.render.chart is not None:  # Argo CD: a chart from a Helm repository
        checkout, rendered = render_chart(app.source.render, where=app.where)
    else:
        checkout = checkout_for(app, cache_dir=cache_dir)
        rendered = render(checkout, app.source.path, options=app.source.render)
    if app.source.render.more_sources:
        rendered = _with_more_sources(app, rendered, cache_dir)
    return checkout, rendered


def _with_more_sources(app: AppSpec, rendered: Rendered, cache_dir: Path | None) -> Rendered:
    """``rendered`` with the objects of the app's other rendering sources (Argo CD
    multi-source): an object two sources render is an error naming both."""
    resources = list(rendered.resources)
    seen = {r.key: r for r in resources}
    for more in app.source.render.more_sources:
        if more.options.chart is not None:
            _, extra = render_chart(more.options, where=app.where)
        else:
            checkout = open_source(
                more.fetch_from, revision=more.fetch_revision, cache_dir=cache_dir
            )
            extra = render(checkout, more.path, options=more.options)
        for resource in extra.resources:
            first = seen.get(resource.key)
            if first is not None:
                raise RenderError(
                    resource.source or SourceRef(extra.path),
                    f"{resource.key.display} is rendered by two sources of {app.where}: "
                    f"at {first.source} and at {resource.source}",
                )
            seen[resource.key] = resource
            resources.append(resource)
    return replace(rendered, resources=tuple(resources))


__all__ = ["cached_render_entry", "checkout_for", "render_app", "render_whole"]

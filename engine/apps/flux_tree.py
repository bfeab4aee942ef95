"""The ``flux bootstrap`` layout (``FluxTreeLoader``): the root Kustomizations of
``<target>/flux-system`` and, found by rendering them, the Kustomizations (and
the GitRepositories and Buckets they read) nested below, as kustomize-controller
applies them (moved out of ``loader.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.apps.app_render import render_whole
from gitwave.engine.apps.broken import definition_name, source_ref_kind, source_ref_name
from gitwave.engine.apps.files import app_kind, top_level_files
from gitwave.engine.apps.holder import Holder
from gitwave.engine.apps.load_state import LoaderBase, app_identity
from gitwave.engine.apps.model import MAX_APP_DEPTH, AppSpec
from gitwave.engine.apps.order import check_unique
from gitwave.engine.apps.resource_kinds import (
    BOOTSTRAP_DIR,
    is_bucket,
    is_flux_kustomization,
    is_git_repository,
    is_secret_document,
    same_object,
)
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import Resource, ResourceKey, SourceRef

if TYPE_CHECKING:
    from gitwave.engine.apps.flux import FluxSource
    from gitwave.engine.yamlio import Document


class FluxTreeLoader(LoaderBase):
    """The Flux-tree walk of a load."""

    def _nested_buckets(
        self, resources: Sequence[Resource], app: AppSpec
    ) -> tuple[list[FluxSource], dict[str, GitwaveError]]:
        """The Buckets the Kustomizations of a render (``resources``, ``app``'s)
        name, fetched, as sources: defined in that render (their Secrets too) or
        read before, as kustomize-controller finds them on the cluster; and the
        error of each that cannot be read, by name."""
        kustomizations = [
            r.manifest
            for r in resources
            if is_flux_kustomization(r)
            and not same_object(r, app)
            and source_ref_kind(r.manifest) == "Bucket"
        ]
        if not kustomizations:
            return [], {}
        from gitwave.engine.apps.bucket import bucket_sources, bucket_store

        here = {r.key: r for r in resources if is_bucket(r) or is_secret_document(r.manifest)}

        def find(key: ResourceKey) -> Resource | None:
            return here.get(key) or self._find_source(key)

        return bucket_sources(kustomizations, find, bucket_store(self.cache_dir))

    def _bootstrap(
        self, holder: Holder, target: Path, sources: list[FluxSource]
    ) -> tuple[list[AppSpec], set[str]]:
        """The root Kustomizations of a ``flux bootstrap`` layout (those defined in
        ``<target>/flux-system/``, with their children found by rendering them),
        and the names of every Kustomization in their trees. ``sources`` gets
        the GitRepositories defined there (``flux-system``: the repository the
        path lives in when its URL names it, see ``Holder.resolve``)."""
        directory = target / BOOTSTRAP_DIR if target.is_dir() else None
        if directory is None or not directory.is_dir():
            return [], set()
        from gitwave.engine.apps.flux import parse_flux, parse_git_repository

        checkout = holder.checkout
        kustomizations: list[tuple[Document, str]] = []
        for file in top_level_files(directory):
            rel = checkout.relpath(file)
            for doc in self._documents(file, rel):
                kind = app_kind(doc.value)
                where = f"{rel}:{doc.line}"
                if kind == "GitRepository":
                    self._pool_document(doc, rel)
                    try:
                        sources.append(parse_git_repository(doc.value, where, holder.resolve))
                    except GitwaveError as exc:
                        self._fail(definition_name(doc.value, where), exc)
                elif kind == "Kustomization":
                    kustomizations.append((doc, rel))
        roots: list[AppSpec] = []
        for doc, rel in kustomizations:
            origin = SourceRef(rel, doc.line)
            try:
                root = parse_flux(doc.value, origin, holder.resolve, sources)
                self._check_local(root)
            except GitwaveError as exc:
                self._fail(definition_name(doc.value, str(origin)), exc)
                continue
            roots.append(self._discover_flux(root, sources, depth=0, chain=()))
        return roots, self.flux_tree_names | {root.name for root in roots}

    def _discover_flux(
        self,
        app: AppSpec,
        sources: Sequence[FluxSource],
        *,
        depth: int,
        chain: tuple[AppSpec, ...],
    ) -> AppSpec:
        """``app`` with the Kustomizations its render holds as children (recursively),
        as kustomize-controller applies them; marked ``flux_tree``. A render that
        fails, or a child that cannot be read, makes ``app`` broken (nothing of
        it is pruned on a partial view)."""
        from gitwave.engine.apps.bucket import bucket_store
        from gitwave.engine.apps.flux import parse_flux, parse_git_repository

        app = self._namespaced(replace(app, flux_tree=True))
        if depth > MAX_APP_DEPTH or any(app_identity(a) == app_identity(app) for a in chain):
            loop = " -> ".join(a.where for a in (*chain, app))
            error = ValidationError(app.where, f"Kustomizations nest in a loop: {loop}")
            self._fail(app.name, error, app)
            return app
        try:
            checkout, rendered = render_whole(app, cache_dir=self.cache_dir)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        holder = Holder.for_source(checkout, app.source)
        self._pool(rendered.resources)
        found = list(sources)
        for resource in rendered.resources:
            if is_git_repository(resource):
                origin = resource.source or SourceRef(rendered.path)
                try:
                    where = str(origin)
                    found.append(parse_git_repository(resource.manifest, where, holder.resolve))
                except GitwaveError as exc:
                    self._fail(app.name, exc, app)
                    return app
        buckets, broken_buckets = self._nested_buckets(rendered.resources, app)
        found += buckets
        children: list[AppSpec] = []
        for resource in rendered.resources:
            if not is_flux_kustomization(resource) or same_object(resource, app):
                continue
            origin = resource.source or SourceRef(rendered.path)
            self.flux_tree_names.add(resource.key.name)
            try:
                bucket_error = broken_buckets.get(source_ref_name(resource.manifest))
                if source_ref_kind(resource.manifest) == "Bucket" and bucket_error is not None:
                    raise ValidationError(
                        f"{origin} (Kustomization/{resource.key.name})",
                        f"spec.sourceRef: its Bucket cannot be read: {bucket_error}",
                    )
                child = parse_flux(resource.manifest, origin, holder.resolve, found)
                self._check_local(child, also=(bucket_store(self.cache_dir),))
            except GitwaveError as exc:
                # As for an app of apps: the parent is broken (its child list is
                # partial), the children that could be read stay in its tree.
                self._fail(app.name, exc, app)
                continue
            # Flux deletes a child Kustomization its parent no longer applies, and
            # garbage-collects the child's objects when the child prunes.
            children.append(replace(child, cascade=child.policy.prune))
        if not children:
            return app
        try:
            check_unique(children)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        nested = [
            self._discover_flux(child, found, depth=depth + 1, chain=(*chain, app))
            for child in children
        ]
        nested.sort(key=lambda a: (a.wave, a.name))
        return replace(app, children=tuple(nested))


__all__ = ["FluxTreeLoader"]

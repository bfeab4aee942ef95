"""App of apps (``AppOfAppsLoader``): an Argo app rendered to find the
Applications and ApplicationSets it holds, recursively, each child failing
alone (moved out of ``loader.py``)."""

from __future__ import annotations

from dataclasses import replace

from gitwave.engine.apps.app_render import render_whole
from gitwave.engine.apps.broken import definition_name
from gitwave.engine.apps.holder import Holder
from gitwave.engine.apps.load_state import LoaderBase, app_identity
from gitwave.engine.apps.model import MAX_APP_DEPTH, AppSpec
from gitwave.engine.apps.order import check_unique
from gitwave.engine.apps.projects import is_app_project
from gitwave.engine.apps.resource_kinds import is_app_set_resource, is_argo_app_resource
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import SourceRef


class AppOfAppsLoader(LoaderBase):
    """The app-of-apps walk of a load."""

    def _discover(self, app: AppSpec, *, depth: int, chain: tuple[AppSpec, ...]) -> AppSpec:
        """``app`` with its child Applications (app of apps), found by rendering it.

        An app whose render fails, or a child Application that is malformed,
        makes ``app`` broken (its child list is partial); the children that
        could be read stay in its tree, each failing or loading alone.
        """
        app = self._namespaced(app)
        try:
            self._check_local(app)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        identity = app_identity(app)
        for i, ancestor in enumerate(chain):
            if app_identity(ancestor) == identity:
                loop = " -> ".join(a.where for a in (*chain[i:], app))
                error = ValidationError(
                    app.where,
                    f"app of apps cycle: {loop}",
                    hint="an Application must not (indirectly) render itself",
                )
                self._fail(app.name, error, app)
                return app
        if depth > MAX_APP_DEPTH:
            error = ValidationError(
                app.where, f"app of apps nested deeper than {MAX_APP_DEPTH} levels"
            )
            self._fail(app.name, error, app)
            return app
        refusal = self.projects.refusal(app)
        if refusal is not None:  # its project is known already: not even rendered
            self._fail(app.name, refusal, app)
            return app
        try:
            checkout, rendered = render_whole(app, cache_dir=self.cache_dir)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        for resource in rendered.resources:
            if is_app_project(resource.manifest):
                self.projects.read(resource.manifest, resource.source or SourceRef(rendered.path))
        child_resources = [r for r in rendered.resources if is_argo_app_resource(r)]
        set_resources = [r for r in rendered.resources if is_app_set_resource(r)]
        if not child_resources and not set_resources:
            return app
        holder = Holder.for_source(checkout, app.source)
        children: list[AppSpec] = []
        sets: list[AppSpec] = []
        for resource in set_resources:
            origin = resource.source or SourceRef(rendered.path)
            try:
                sets.append(self._set(self.sets.load(resource.manifest, origin, holder)))
            except GitwaveError as exc:  # the set fails alone; its apps are unknown
                self._fail(definition_name(resource.manifest, str(origin)), exc)
        from gitwave.engine.apps.argo import parse_argo

        for resource in child_resources:
            try:
                children.append(
                    parse_argo(
                        resource.manifest,
                        resource.source or SourceRef(rendered.path),
                        holder.resolve,
                    )
                )
            except GitwaveError as exc:
                self._fail(app.name, exc, app)
        check_unique(children + [a for s in sets for a in s.walk()])
        found = [self._discover(child, depth=depth + 1, chain=(*chain, app)) for child in children]
        found += [self._discover_set(s, depth=depth + 1, chain=(*chain, app)) for s in sets]
        found.sort(key=lambda a: (a.wave, a.name))
        return replace(app, children=tuple(found))

    def _discover_set(self, app_set: AppSpec, *, depth: int, chain: tuple[AppSpec, ...]) -> AppSpec:
        """An ApplicationSet with each generated app discovered (it may be an app of apps)."""
        found = [
            self._discover(child, depth=depth + 1, chain=(*chain, app_set))
            for child in app_set.children
        ]
        return replace(app_set, children=tuple(found))


__all__ = ["AppOfAppsLoader"]

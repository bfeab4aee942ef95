"""Which AppProject each Argo app belongs to, and the rules about the app itself.

``ProjectBook`` gathers the AppProjects a load finds (top-level files, then
the renders of Argo apps) and, once every one is known, gives each Argo app
its project's rules (``AppSpec.project_rules``). An app is refused, failing
alone (``BrokenApp``), when its project is not defined (``default`` is then
the implicit allow-everything project), is malformed, or refuses the app
itself: its repoURL (sourceRepos), its destination (destinations) or the
namespace of the Application (sourceNamespaces). The rules about each object
it renders are checked when it is planned (``engine.projects``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gitwave.engine.apps.broken import BrokenApp
from gitwave.engine.apps.model import DEFAULT_ARGO_SERVER, AppKind, AppSpec
from gitwave.engine.apps.projects import (
    DEFAULT_PROJECT,
    AppProject,
    app_namespace_permitted,
    destination_permitted,
    parse_app_project,
    source_permitted,
)
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import SourceRef

IN_CLUSTER = "in-cluster"  # Argo CD's name for the cluster it runs in


class ProjectBook:
    """The AppProjects one load found, by name (a malformed one, or two that
    differ under one name, by its error)."""

    def __init__(self) -> None:
        self._found: dict[str, AppProject | GitwaveError] = {}

    def read(self, doc: Mapping[str, Any], origin: SourceRef) -> None:
        """Read one AppProject document found at ``origin``."""
        name = _name_of(doc) or str(origin)
        try:
            project: AppProject | GitwaveError = parse_app_project(doc, origin)
        except GitwaveError as exc:
            project = exc
        known = self._found.get(name)
        if known is None or isinstance(known, GitwaveError):
            self._found.setdefault(name, project)
            return
        if isinstance(project, AppProject) and replace(project, origin=None) == replace(
            known, origin=None
        ):
            return  # the same project twice (an app of apps and its parent, say)
        self._found[name] = ValidationError(
            f"{origin} (AppProject/{name})",
            f"AppProject {name!r} is also defined, differently, at {known.origin}",
            hint="define each AppProject once",
        )

    def refusal(self, app: AppSpec) -> GitwaveError | None:
        """Why ``app``'s project refuses it, when its project is known now; None
        when it is allowed or its project may still be found."""
        if app.kind is not AppKind.ARGO:
            return None
        known = self._found.get(app.project)
        if known is None:
            return None
        if isinstance(known, GitwaveError):
            return ValidationError(
                app.where,
                f"spec.project: AppProject {app.project!r} cannot be read: {known}",
                hint=known.hint,
            )
        return app_refusal(app, known)

    def assign(self, apps: list[AppSpec], broken: list[BrokenApp]) -> list[AppSpec]:
        """``apps`` (trees) with each Argo app's project rules set; an app its
        project refuses, or naming a project nobody defined, is added to
        ``broken`` (it stays in its parent's tree, so it is not taken for removed)."""
        failed = {b.name for b in broken}
        return [self._assigned(app, broken, failed) for app in apps]

    def _assigned(self, app: AppSpec, broken: list[BrokenApp], failed: set[str]) -> AppSpec:
        children = tuple(self._assigned(child, broken, failed) for child in app.children)
        if children != app.children:
            app = replace(app, children=children)
        if app.kind is not AppKind.ARGO:
            return app
        known = self._found.get(app.project)
        if isinstance(known, AppProject):
            app = replace(app, project_rules=known)
        if app.name in failed:
            return app
        error = self.refusal(app)
        if error is None and known is None and app.project != DEFAULT_PROJECT:
            defined = ", ".join(sorted(n for n in self._found)) or "none"
            error = ValidationError(
                app.where,
                f"spec.project: AppProject {app.project!r} is not defined "
                f"(AppProjects found: {defined})",
                hint=f"add an AppProject named {app.project!r} beside the Application, "
                "or use project: default",
            )
        if error is not None:
            broken.append(BrokenApp(name=app.name, error=error, spec=app))
            failed.add(app.name)
        return app


def app_refusal(app: AppSpec, project: AppProject) -> GitwaveError | None:
    """The first rule of ``project`` that refuses ``app`` itself, or None."""
    rules: list[str] = []
    # Every source of a multi-source app counts, its ``ref`` sources too (as in Argo CD).
    render = app.source.render
    for repo_url in (
        app.source.repo_url,
        *(r.repo_url for r in render.value_repos),
        *(m.repo_url for m in render.more_sources),
    ):
        if repo_url and not source_permitted(project, repo_url):
            rules.append(f"sourceRepos does not allow {repo_url!r}")
    server, name = written_destination(app)
    if not destination_permitted(
        project, server=server, name=name, namespace=app.destination_namespace
    ):
        cluster = f"server {server!r}" if server else f"name {name!r}"
        rules.append(
            f"destinations do not allow namespace {app.destination_namespace!r} on {cluster}"
        )
    if not app_namespace_permitted(project, app.app_namespace):
        rules.append(
            f"sourceNamespaces does not allow Applications in namespace {app.app_namespace!r}"
        )
    if not rules:
        return None
    return ValidationError(
        app.where,
        f"{project.label}: " + "; ".join(rules),
        hint=f"change the Application, or allow it in {project.where}",
    )


def written_destination(app: AppSpec) -> tuple[str, str]:
    """``(server, name)`` of an Argo app's destination as written.

    Seam for issue 11 item 1: once ``AppSpec.destination_name`` holds
    ``destination.name``, it is read from there; until then
    ``destination_server`` holds either, and a value without ``://`` is a
    name. Argo CD's in-cluster pair (``https://kubernetes.default.svc`` and
    ``in-cluster``) names one cluster, so either form matches a project
    destination written with the other.
    """
    name = str(getattr(app, "destination_name", "") or "")
    server = app.destination_server
    if not name and server and "://" not in server:
        server, name = "", server
    if server == DEFAULT_ARGO_SERVER and not name:
        name = IN_CLUSTER
    elif name == IN_CLUSTER and not server:
        server = DEFAULT_ARGO_SERVER
    return server, name


def _name_of(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else ""


__all__ = ["IN_CLUSTER", "ProjectBook", "app_refusal", "written_destination"]

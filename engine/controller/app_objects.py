"""An app object read from the management cluster → the ``AppSpec`` it describes.

Argo CD ``Application`` (at the revision its ``operation`` asks for, with its
AppProject's rules from the controller's namespace), Flux ``Kustomization``
(its GitRepository from the cluster) and Flux ``HelmRelease`` (its chart
sources from the cluster) are read with the same parsers as files in Git, so
an app means the same thing in both places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from gitwave.engine.apps.argo import parse_argo
from gitwave.engine.apps.broken import BrokenApp
from gitwave.engine.apps.flux import parse_flux, parse_git_repository
from gitwave.engine.apps.model import AppSpec, RepoResolver
from gitwave.engine.apps.project_choice import ProjectBook
from gitwave.engine.controller.helm_releases import HelmSourceApi, release_app
from gitwave.engine.controller.keeper import ControllerApi
from gitwave.engine.controller.objects import ARGO_KIND, HELM_KIND, AppObject
from gitwave.engine.controller.requests import operation_revision
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import SourceRef
from gitwave.engine.source_url import allowed_local_repos, check_local_repo


def repo_resolver(allowed: Sequence[str]) -> RepoResolver:
    """repoURL → where to fetch it: a host directory only when the operator allowed it."""
    roots = allowed_local_repos(allowed)

    def resolve(
        repo_url: str, revision: str, where: str, field_name: str
    ) -> tuple[str, str | None]:
        url = repo_url.strip()
        fetch_revision = None if revision in ("", "HEAD") else revision
        if url.startswith("file://") or url.startswith("/"):
            path = url.removeprefix("file://")
            check_local_repo(path, allowed=roots, subject=f"{where}: {field_name}")
            return path, fetch_revision
        return url, fetch_revision

    return resolve


def _at_operation_revision(obj: AppObject) -> Mapping[str, Any]:
    """The Application's body with ``spec.source.targetRevision`` at the revision its
    ``operation`` asks for (a rollback, ``argocd app sync --revision``), so the
    revision goes through the same parsing and checks as one written in spec."""
    revision = operation_revision(obj)
    spec = obj.body.get("spec")
    source = spec.get("source") if isinstance(spec, Mapping) else None
    if not revision or not isinstance(spec, Mapping) or not isinstance(source, Mapping):
        return obj.body
    source = {**source, "targetRevision": revision}
    return {**obj.body, "spec": {**spec, "source": source}}


def parse_app_object(obj: AppObject, api: ControllerApi, resolve: RepoResolver) -> AppSpec:
    """The app ``obj`` describes, recorded in the state store as ``obj.app_id``;
    ValidationError naming the object for a bad one."""
    return replace(_parse(obj, api, resolve), store_name=obj.app_id)


def _parse(obj: AppObject, api: ControllerApi, resolve: RepoResolver) -> AppSpec:
    origin = SourceRef(f"{obj.kind}/{obj.namespace}/{obj.name}", 0)
    if obj.kind == ARGO_KIND:
        app = parse_argo(_at_operation_revision(obj), origin, resolve)
        return _with_project(obj, app, api)
    if obj.kind == HELM_KIND:
        found = api.list_helm_sources() if isinstance(api, HelmSourceApi) else []
        return release_app(obj, found)
    sources = []
    for repo in api.list_git_repositories():
        meta = repo.get("metadata") or {}
        where = f"GitRepository/{meta.get('namespace', '')}/{meta.get('name', '')}"
        sources.append(parse_git_repository(repo, where, resolve))
    return parse_flux(obj.body, origin, resolve, sources)


def _with_project(obj: AppObject, app: AppSpec, api: ControllerApi) -> AppSpec:
    """``app`` with its AppProject's rules, read from the cluster as Argo CD does;
    ValidationError when the project is missing, malformed or refuses the app."""
    book = ProjectBook()
    for doc in api.list_app_projects():
        meta = doc.get("metadata") or {}
        book.read(doc, SourceRef(f"AppProject/{meta.get('namespace')}/{meta.get('name')}", 0))
    broken: list[BrokenApp] = []
    [assigned] = book.assign([app], broken)
    if broken:
        error = broken[0].error
        if isinstance(error, ValidationError):
            raise error
        raise ValidationError(obj.app_id, str(error), hint=error.hint)
    return assigned


__all__ = ["parse_app_object", "repo_resolver"]

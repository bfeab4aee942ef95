"""Argo CD ``ApplicationSet`` (argoproj.io/v1alpha1) → the apps it generates.

An ApplicationSet becomes one ``AppSpec`` of kind ``APPSET`` whose children
are the generated apps: each parameter set of its generators (``generators``)
renders ``spec.template`` (``templating``) into an Application document, which
``parse_argo`` reads like any other, so every Application rule applies to it.
The set itself is never rendered or synced; its apps are (``--app SET`` means
all of them).

Deleting follows Argo CD: an app whose element is gone is deleted with its
objects (the ApplicationSet controller gives its apps the resources-finalizer)
unless ``syncPolicy.preserveResourcesOnDeletion`` is true or
``syncPolicy.applicationsSync`` is ``create-update`` (the app of apps
machinery in ``app_children`` does the pruning: the set is the parent).
``create-only`` and ``create-delete`` need the previous Application to hold
updates back, which gitwave does not keep: they are refused. So are
``strategy`` (progressive syncs) and per-generator templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.appset_spec import (
    Element,
    invalid_application,
    read_set,
    render_element,
    set_elements,
    shown,
)
from gitwave.engine.apps.argo import parse_argo
from gitwave.engine.apps.doc_kinds import is_app_set
from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.generators import Params
from gitwave.engine.apps.holder import Holder, open_repository
from gitwave.engine.apps.model import AppKind, AppSource, AppSpec, SyncPolicy
from gitwave.engine.clusters import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    Cluster,
    ClusterKind,
    ClusterSource,
)
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import SourceRef


@dataclass(frozen=True)
class CurrentTargetOnly:
    """The clusters when no registry is given: the current target, as ``in-cluster``."""

    def clusters(self) -> Sequence[Cluster]:
        return (Cluster(name=IN_CLUSTER_NAME, server=IN_CLUSTER_SERVER, kind=ClusterKind.CURRENT),)


@dataclass(frozen=True)
class LoadedSet:
    """An ApplicationSet as loaded: its app (children: the apps of the elements
    that generated one), and one error naming every element that did not (None
    when all did). A set with an error is partial: none of its apps is taken
    for removed, so nothing is pruned for the bad elements."""

    app: AppSpec
    error: ValidationError | None = None


def element_errors(where: str, failed: Sequence[ValidationError]) -> ValidationError | None:
    """One error naming every element in ``failed`` (None when there is none)."""
    if not failed:
        return None
    if len(failed) == 1:
        return failed[0]
    lines = "\n".join(f"  {err}" for err in failed)
    return ValidationError(
        where,
        f"{len(failed)} elements generate no valid Application (their apps are left alone):\n"
        + lines,
        hint=failed[0].hint,
    )


@dataclass(frozen=True)
class SetLoader:
    """How one load reads ApplicationSets: the clusters known and where repos may be."""

    clusters: ClusterSource
    local_repos: tuple[Path, ...]
    cache_dir: Path | None

    def load(
        self,
        doc: Mapping[str, Any],
        origin: SourceRef,
        holder: Holder,
        node: yaml.Node | None = None,
    ) -> LoadedSet:
        """The set at ``origin`` as an ``APPSET`` app whose children are its apps,
        and the error of the elements that generate no valid Application (a
        template that fails, an invalid Application): those elements are left
        out, the others' apps kept, as Argo CD does.

        Raises ValidationError naming ``file:line``, the set and the field for a
        malformed set, a refused generator or option, a generator that fails, or
        two generated apps of one name (the set fails as a whole)."""
        spec = read_set(doc, origin, node)
        where = spec.where
        if spec.applications_sync in ("create-only", "create-delete"):
            Reader(where).fail(
                f"spec.syncPolicy.applicationsSync: {spec.applications_sync} is not supported "
                "(gitwave does not keep generated Applications to hold their updates back); "
                "use sync or create-update"
            )
        # create-update: an app whose element is gone is deleted, its objects kept.
        cascade = spec.applications_sync == "sync" and not spec.preserve_resources
        reads: list[Path] = []
        elements = set_elements(spec, self.clusters, self._opener(holder, where), reads)
        apps: list[AppSpec] = []
        first: dict[str, tuple[str, Params]] = {}
        failed: list[ValidationError] = []
        for element in elements:
            try:
                document = render_element(spec, element)
                try:
                    app = parse_argo(document, origin, holder.resolve)
                except GitwaveError as err:
                    raise invalid_application(spec, element, err) from None
            except ValidationError as err:
                # Argo CD reports a bad element on the set and keeps the others' apps.
                failed.append(err)
                continue
            if app.name in first:
                earlier, earlier_params = first[app.name]
                raise ValidationError(
                    where,
                    f"two generated apps are named {app.name!r}: {earlier} "
                    f"({shown(earlier_params)}) and {element.label} ({shown(element.params)})",
                    hint="make spec.template.metadata.name differ per element",
                )
            first[app.name] = (element.label, element.params)
            apps.append(replace(app, cascade=cascade))
        return LoadedSet(
            AppSpec(
                name=spec.name,
                kind=AppKind.APPSET,
                source=AppSource(
                    repo_url=holder.fetch_from,
                    revision=holder.fetch_revision or "HEAD",
                    path=origin.file,
                    fetch_from=holder.fetch_from,
                    fetch_revision=holder.fetch_revision,
                ),
                policy=SyncPolicy(automated=True, prune=True),
                origin=origin,
                children=tuple(sorted(apps, key=lambda a: (a.wave, a.name))),
                reads=tuple(sorted({str(path) for path in reads})),
            ),
            element_errors(where, failed),
        )

    def _opener(self, holder: Holder, where: str) -> Any:
        opened: dict[tuple[str, str | None], Path] = {}

        def open_repo(repo_url: str, revision: str, field: str) -> Path:
            key = (repo_url, revision)
            if key not in opened:
                opened[key] = open_repository(
                    holder.resolve,
                    repo_url,
                    revision,
                    where=where,
                    field_name=field,
                    allowed=self.local_repos,
                    cache_dir=self.cache_dir,
                ).root
            return opened[key]

        return open_repo


__all__ = ["CurrentTargetOnly", "Element", "LoadedSet", "SetLoader", "element_errors", "is_app_set"]

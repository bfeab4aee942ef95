"""AppProject enforcement on what a sync would apply: every object of the final
desired set (rendered objects, hooks and the resources compositions compose)
against the app's project, before anything is applied.

Argo CD's rules (its ``AppProject.IsGroupKindNamePermitted`` and
``IsDestinationPermitted``, applied by the sync to every resource):

- a cluster-scoped object must match ``clusterResourceWhitelist`` (empty:
  nothing cluster-scoped is allowed) and not ``clusterResourceBlacklist``;
  entries match group, kind and, optionally, name with ``filepath.Match`` globs;
- a namespaced object must match ``namespaceResourceWhitelist`` when it is
  given (absent: every kind) and not ``namespaceResourceBlacklist``, and its
  namespace must be one ``destinations`` allows on the app's cluster.

With ``CreateNamespace=true``, each Namespace the sync would create is checked
too (as Argo CD checks its managed namespace): the cluster resource lists must
allow ``Namespace`` with that name, and ``destinations`` the namespace.

The blacklist wins over the whitelist. The rules about the app itself
(sourceRepos, destinations, sourceNamespaces) are checked when apps are
loaded (``engine.apps.project_choice``) and again here, so no path to a sync
skips them. A violation raises ``ProjectError``: the plan fails (exit 2)
naming the project, the rule and each object; nothing is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gitwave.engine.apps import AppSpec
from gitwave.engine.apps.project_choice import app_refusal, written_destination
from gitwave.engine.apps.projects import AppProject, destination_permitted, kind_refusal
from gitwave.engine.errors import ValidationError
from gitwave.engine.graph import ResourceGraph
from gitwave.engine.model import Resource
from gitwave.engine.scope import is_cluster_scoped, scopes_from_crds
from gitwave.engine.sync_windows import SyncWindowError, WindowVerdict, verdict

MAX_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Violation:
    """One object a project refuses: where it is written, and the rule."""

    where: str
    rule: str

    def __str__(self) -> str:
        return f"{self.where}: {self.rule}"


class ProjectError(ValidationError):
    """The app's AppProject refuses the app or some of its objects; nothing was applied."""

    def __init__(self, app: str, project: AppProject, violations: Iterable[Violation]) -> None:
        self.project = project
        self.violations = tuple(violations)
        shown = "\n  ".join(str(v) for v in self.violations[:MAX_SHOWN])
        more = len(self.violations) - MAX_SHOWN
        extra = f"\n  … and {more} more" if more > 0 else ""
        count = len(self.violations)
        noun = "object" if count == 1 else "objects"
        super().__init__(
            f"app {app}",
            f"{project.label} refuses {count} {noun}; nothing was applied:\n  {shown}{extra}",
            hint=f"remove those objects from the app, or allow them in {project.where}",
        )


def check_project(app: AppSpec, graph: ResourceGraph) -> None:
    """Raise when the app's AppProject refuses the app or any object of ``graph``,
    its final desired set (see the module docstring); no project rules: nothing
    to check."""
    project = app.project_rules
    if project is None:
        return
    refused = app_refusal(app, project)
    if refused is not None:
        raise refused
    in_order = set(graph.order)
    ordered = [graph.resources[key] for key in graph.order if key in graph.resources]
    ordered += [r for k, r in sorted(graph.resources.items()) if k not in in_order]
    violations = object_violations(project, ordered, server_and_name=written_destination(app))
    if app.policy.create_namespace:
        violations += created_namespace_violations(
            app, project, ordered, server_and_name=written_destination(app)
        )
    if violations:
        raise ProjectError(app.name, project, violations)


def object_violations(
    project: AppProject, resources: Iterable[Resource], *, server_and_name: tuple[str, str]
) -> list[Violation]:
    """Each object of ``resources`` that ``project`` refuses, in order, with the rule."""
    items = list(resources)
    crd_scopes = scopes_from_crds(r.manifest for r in items)
    server, name = server_and_name
    found: list[Violation] = []
    for resource in items:
        key = resource.key
        namespaced = bool(key.namespace) and not is_cluster_scoped(
            key.group, key.kind, extra=crd_scopes
        )
        rule = kind_refusal(
            project, group=key.group, kind=key.kind, name=key.name, namespaced=namespaced
        )
        if (
            rule is None
            and namespaced
            and not destination_permitted(
                project, server=server, name=name, namespace=key.namespace
            )
        ):
            cluster = f"server {server!r}" if server else f"name {name!r}"
            rule = f"destinations do not allow namespace {key.namespace!r} on {cluster}"
        if rule is not None:
            found.append(Violation(resource.where, f"{project.label}: {rule} ({key.display})"))
    return found


def created_namespace_violations(
    app: AppSpec,
    project: AppProject,
    resources: Iterable[Resource],
    *,
    server_and_name: tuple[str, str],
) -> list[Violation]:
    """CreateNamespace=true: the Namespace the sync would create for each
    namespace the objects use and the render does not define, checked as Argo CD
    checks its managed namespace (whether or not it exists yet): a cluster-scoped
    ``Namespace`` the cluster resource lists must allow, in a namespace
    ``destinations`` allow."""
    items = list(resources)
    crd_scopes = scopes_from_crds(r.manifest for r in items)
    defined = {r.key.name for r in items if r.key.group == "" and r.key.kind == "Namespace"}
    needed = sorted(
        {
            r.key.namespace
            for r in items
            if r.key.namespace
            and r.key.namespace not in defined
            and not is_cluster_scoped(r.key.group, r.key.kind, extra=crd_scopes)
        }
    )
    server, name = server_and_name
    found: list[Violation] = []
    for namespace in needed:
        rule = kind_refusal(project, group="", kind="Namespace", name=namespace, namespaced=False)
        if rule is None and not destination_permitted(
            project, server=server, name=name, namespace=namespace
        ):
            cluster = f"server {server!r}" if server else f"name {name!r}"
            rule = f"destinations do not allow namespace {namespace!r} on {cluster}"
        if rule is not None:
            found.append(
                Violation(
                    f"{app.where}: syncOptions CreateNamespace=true",
                    f"{project.label}: {rule} (Namespace/{namespace}, which it would create)",
                )
            )
    return found


__all__ = [
    "MAX_SHOWN",
    "ProjectError",
    "Violation",
    "check_manual_window",
    "check_project",
    "created_namespace_violations",
    "object_violations",
    "window_verdict",
]


def window_verdict(app: AppSpec, now: datetime) -> WindowVerdict:
    """What the sync windows of the app's project say at ``now`` (an aware
    datetime); no project or no windows: every sync allowed."""
    project = app.project_rules
    if project is None or not project.sync_windows:
        return WindowVerdict()
    server, name = written_destination(app)
    return verdict(
        project.sync_windows,
        now=now,
        app=app.name,
        namespace=app.destination_namespace,
        server=server,
        name=name,
    )


def check_manual_window(app: AppSpec, now: datetime) -> None:
    """Raise SyncWindowError when the app's sync windows refuse a manual sync
    at ``now`` (a deny window open, or no allow window open, without manualSync)."""
    found = window_verdict(app, now)
    if not found.manual_allowed:
        assert app.project_rules is not None
        raise SyncWindowError(app.name, app.project_rules.name, found)

"""Argo CD ``AppProject`` (argoproj.io/v1alpha1) documents, read as-is → ``AppProject``.

AppProjects are found where Applications are: in the top-level files of the
location given and in the renders of Argo apps (app of apps). Which fields
gitwave honours, and which it refuses or ignores, is in docs/projects.md; the
rule that decides: a field that would restrict a sync and that gitwave does
not enforce is refused (naming it), never silently ignored.

The checks themselves live in ``engine.projects``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.globs import argo_glob, kind_glob, regexp_or_glob
from gitwave.engine.model import SourceRef
from gitwave.engine.sync_windows import SyncWindow, WindowKind, valid_schedule

DEFAULT_PROJECT = "default"
# Argo CD's own namespace: where AppProjects live and Applications need no
# sourceNamespaces entry.
DEFAULT_CONTROL_NAMESPACE = "argocd"

# Restricting fields gitwave does not enforce (yet): a project setting them is
# refused rather than read as if it allowed more than it says.
_REFUSED = {
    "signatureKeys": "commit signature verification is not supported",
    "destinationServiceAccounts": (
        "Argo CD's sync impersonation is not supported; use a Flux Kustomization's "
        "serviceAccountName"
    ),
}
# Fields that govern who may use Argo CD's API or what it only reports: no
# effect on what a sync applies (docs/projects.md).
_IGNORED = frozenset({"description", "roles", "orphanedResources"})
_HONOURED = frozenset(
    {
        "sourceRepos",
        "destinations",
        "clusterResourceWhitelist",
        "clusterResourceBlacklist",
        "namespaceResourceWhitelist",
        "namespaceResourceBlacklist",
        "sourceNamespaces",
        "permitOnlyProjectScopedClusters",
        "syncWindows",
    }
)


@dataclass(frozen=True)
class ProjectDestination:
    """One ``spec.destinations`` entry: globs ("" matches only "", ``!`` negates)."""

    server: str = ""
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class GroupKindRule:
    """One entry of a resource white- or blacklist (``filepath.Match`` globs;
    ``name`` only in the cluster lists, "" for every name)."""

    group: str
    kind: str
    name: str = ""


@dataclass(frozen=True)
class AppProject:
    """An AppProject's rules, as written. ``namespace_whitelist`` is None when
    the field is absent (everything allowed) and ``()`` when it is an empty
    list (nothing namespaced allowed), as in Argo CD."""

    name: str
    origin: SourceRef | None = None
    namespace: str = DEFAULT_CONTROL_NAMESPACE
    source_repos: tuple[str, ...] = ()
    destinations: tuple[ProjectDestination, ...] = ()
    cluster_whitelist: tuple[GroupKindRule, ...] = ()
    cluster_blacklist: tuple[GroupKindRule, ...] = ()
    namespace_whitelist: tuple[GroupKindRule, ...] | None = None
    namespace_blacklist: tuple[GroupKindRule, ...] = ()
    source_namespaces: tuple[str, ...] = ()
    sync_windows: tuple[SyncWindow, ...] = ()

    @property
    def label(self) -> str:
        """``AppProject/name``, the subject of a refusal."""
        return f"AppProject/{self.name}"

    @property
    def where(self) -> str:
        """``AppProject/name (file:line)``."""
        return f"{self.label} ({self.origin})" if self.origin else self.label


def is_app_project(doc: Any) -> bool:
    """True for an ``argoproj.io/*`` ``AppProject`` document."""
    if not isinstance(doc, Mapping):
        return False
    group = str(doc.get("apiVersion", "")).rpartition("/")[0]
    return group == "argoproj.io" and doc.get("kind") == "AppProject"


def parse_app_project(doc: Mapping[str, Any], origin: SourceRef) -> AppProject:
    """The AppProject at ``origin``; ValidationError naming the field for a
    malformed one, or for a restricting field gitwave does not enforce."""
    reader = Reader(str(origin))
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.string(meta, "metadata.name", required=True)
    reader = Reader(f"{origin} (AppProject/{name})")
    spec = reader.mapping(doc, "spec")
    for field_name, why in _REFUSED.items():
        if spec.get(field_name):
            reader.fail(
                f"spec.{field_name}: {why}; remove it, or sync this project's apps with Argo CD"
            )
    if reader.boolean(spec, "spec.permitOnlyProjectScopedClusters"):
        reader.fail(
            "spec.permitOnlyProjectScopedClusters: project-scoped clusters are not "
            "supported; remove it and list the allowed clusters in spec.destinations"
        )
    unknown = sorted(set(spec) - _HONOURED - _IGNORED - set(_REFUSED))
    if unknown:
        reader.fail(
            f"spec.{unknown[0]}: unknown AppProject field (gitwave reads "
            f"{', '.join(sorted(_HONOURED | _IGNORED))})"
        )
    destinations = tuple(
        ProjectDestination(
            server=reader.string(d, f"spec.destinations[{i}].server"),
            name=reader.string(d, f"spec.destinations[{i}].name"),
            namespace=reader.string(d, f"spec.destinations[{i}].namespace"),
        )
        for i, d in enumerate(reader.mappings(spec, "spec.destinations"))
    )
    whitelist = spec.get("namespaceResourceWhitelist")
    return AppProject(
        name=name,
        origin=origin,
        namespace=reader.string(meta, "metadata.namespace") or DEFAULT_CONTROL_NAMESPACE,
        source_repos=tuple(reader.strings(spec, "spec.sourceRepos")),
        destinations=destinations,
        cluster_whitelist=_rules(reader, spec, "clusterResourceWhitelist", named=True),
        cluster_blacklist=_rules(reader, spec, "clusterResourceBlacklist", named=True),
        namespace_whitelist=None
        if whitelist is None
        else _rules(reader, spec, "namespaceResourceWhitelist", named=False),
        namespace_blacklist=_rules(reader, spec, "namespaceResourceBlacklist", named=False),
        source_namespaces=tuple(reader.strings(spec, "spec.sourceNamespaces")),
        sync_windows=_windows(reader, spec),
    )


# --- the rules, as Argo CD's AppProject methods decide them --------------------------


def normalise_git_url(url: str) -> str:
    """A repoURL as Argo CD compares it: lower case, ``.git`` dropped, the
    ``git@host:org/repo`` form as ``git@host/org/repo``."""
    url = url.strip().lower()
    if not url.startswith("ssh://") and re.match(r"^[\w.+-]+@[\w.-]+:", url):
        url = url.replace(":", "/", 1)
    return url.removesuffix(".git").removeprefix("ssh://")


def _glob(pattern: str, text: str, separators: str = "") -> bool:
    """Argo CD's ``globMatch`` with negation: ``!p`` matches what ``p`` does not."""
    if pattern.startswith("!"):
        return not argo_glob(pattern[1:], text, separators=separators)
    return argo_glob(pattern, text, separators=separators)


def source_permitted(project: AppProject, repo_url: str) -> bool:
    """True when ``sourceRepos`` allows ``repo_url``: some entry matches and no
    ``!`` entry excludes it (an unmatched ``!`` entry counts as a match)."""
    wanted = normalise_git_url(repo_url)
    matched = False
    for entry in project.source_repos:
        deny = entry.startswith("!")
        pattern = ("!" if deny else "") + normalise_git_url(entry.removeprefix("!"))
        if _glob(pattern, wanted, "/"):
            matched = True
        elif deny:
            return False
    return matched


def destination_permitted(project: AppProject, *, server: str, name: str, namespace: str) -> bool:
    """True when ``destinations`` allows the cluster (by server or name) and the
    namespace, and no ``!`` entry excludes them."""
    matched = False
    no_deny = True
    for item in project.destinations:
        name_ok = name != "" and _glob(item.name, name)
        server_ok = server != "" and _glob(item.server, server)
        namespace_ok = _glob(item.namespace, namespace)
        if (server_ok or name_ok) and namespace_ok:
            matched = True
        elif (
            (not name_ok and item.name.startswith("!"))
            or (not server_ok and item.server.startswith("!"))
            or (not namespace_ok and item.namespace.startswith("!"))
        ):
            no_deny = False
    return matched and no_deny


def app_namespace_permitted(project: AppProject, app_namespace: str) -> bool:
    """An Application outside the control namespace needs a ``sourceNamespaces``
    entry (a glob, or ``/regexp/``) matching its namespace."""
    if app_namespace in ("", project.namespace):
        return True
    return any(regexp_or_glob(entry, app_namespace) for entry in project.source_namespaces)


def _listed(rules: tuple[GroupKindRule, ...], group: str, kind: str, name: str) -> bool:
    return any(
        kind_glob(rule.kind, kind)
        and kind_glob(rule.group, group)
        and (not rule.name or kind_glob(rule.name, name))
        for rule in rules
    )


def kind_refusal(
    project: AppProject, *, group: str, kind: str, name: str, namespaced: bool
) -> str | None:
    """Which list refuses an object of ``group``/``kind`` named ``name``, as a
    phrase (``clusterResourceWhitelist does not allow …``); None when allowed.
    Cluster-scoped kinds must be whitelisted; namespaced ones are allowed
    unless a whitelist is given and lacks them. The blacklist wins."""
    what = kind_text(group, kind)
    if namespaced:
        allow, deny = project.namespace_whitelist, project.namespace_blacklist
        allow_name, deny_name = "namespaceResourceWhitelist", "namespaceResourceBlacklist"
        if allow is not None and not _listed(allow, group, kind, ""):
            return f"{allow_name} does not allow {what}"
        if _listed(deny, group, kind, ""):
            return f"{deny_name} denies {what}"
        return None
    if not _listed(project.cluster_whitelist, group, kind, name):
        return f"clusterResourceWhitelist does not allow {what}"
    if _listed(project.cluster_blacklist, group, kind, name):
        return f"clusterResourceBlacklist denies {what}"
    return None


def kind_text(group: str, kind: str) -> str:
    """``rbac.authorization.k8s.io/ClusterRole``; a core kind as ``Namespace (group "")``."""
    return f"{group}/{kind}" if group else f'{kind} (group "")'


# What a syncWindows entry may hold; syncOverrun (letting a started sync run past
# a window's edge) is moot here: gitwave decides at the start of a sync only.
_WINDOW_FIELDS = frozenset(
    {
        "kind",
        "schedule",
        "duration",
        "timeZone",
        "applications",
        "namespaces",
        "clusters",
        "manualSync",
        "andOperator",
        "description",
        "syncOverrun",
    }
)


def _windows(reader: Reader, spec: Mapping[str, Any]) -> tuple[SyncWindow, ...]:
    import zoneinfo  # a project with sync windows only (the tz database's index)

    windows = []
    for i, entry in enumerate(reader.mappings(spec, "spec.syncWindows")):
        where = f"spec.syncWindows[{i}]"
        unknown = sorted(set(entry) - _WINDOW_FIELDS)
        if unknown:
            reader.fail(f"{where}.{unknown[0]}: unknown sync window field")
        kind = reader.string(entry, f"{where}.kind", required=True)
        if kind not in ("allow", "deny"):
            reader.fail(f"{where}.kind must be allow or deny, not {kind!r}")
        schedule = reader.string(entry, f"{where}.schedule", required=True)
        if not valid_schedule(schedule):
            reader.fail(f"{where}.schedule: {schedule!r} is not a five-field cron schedule")
        duration = reader.duration(entry, f"{where}.duration", None)
        if duration is None or duration <= 0:
            reader.fail(f"{where}.duration is required and must be positive (like 1h)")
        time_zone = reader.string(entry, f"{where}.timeZone") or "UTC"
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            reader.fail(f"{where}.timeZone: unknown time zone {time_zone!r}")
        window = SyncWindow(
            kind=WindowKind(kind),
            schedule=schedule,
            duration_s=duration,
            time_zone=time_zone,
            applications=tuple(reader.strings(entry, f"{where}.applications")),
            namespaces=tuple(reader.strings(entry, f"{where}.namespaces")),
            clusters=tuple(reader.strings(entry, f"{where}.clusters")),
            manual_sync=reader.boolean(entry, f"{where}.manualSync"),
            and_operator=reader.boolean(entry, f"{where}.andOperator"),
            index=i,
        )
        if not (window.applications or window.namespaces or window.clusters):
            reader.fail(f"{where}: list applications, namespaces or clusters (it matches no app)")
        windows.append(window)
    return tuple(windows)


def _rules(
    reader: Reader, spec: Mapping[str, Any], field_name: str, *, named: bool
) -> tuple[GroupKindRule, ...]:
    rules = []
    for i, entry in enumerate(reader.mappings(spec, f"spec.{field_name}")):
        where = f"spec.{field_name}[{i}]"
        name = reader.string(entry, f"{where}.name")
        if name and not named:
            reader.fail(f"{where}.name: only the cluster resource lists match names")
        rules.append(
            GroupKindRule(
                group=reader.string(entry, f"{where}.group"),
                kind=reader.string(entry, f"{where}.kind", required=True),
                name=name,
            )
        )
    return tuple(rules)


__all__ = [
    "DEFAULT_CONTROL_NAMESPACE",
    "DEFAULT_PROJECT",
    "AppProject",
    "GroupKindRule",
    "ProjectDestination",
    "app_namespace_permitted",
    "destination_permitted",
    "is_app_project",
    "kind_refusal",
    "kind_text",
    "normalise_git_url",
    "parse_app_project",
    "source_permitted",
]

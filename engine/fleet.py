"""Where each app goes: its destination cluster, resolved before anything is
rendered, and one ``ProviderRouter`` per cluster, built on first use and shared
by every app of the command (one discovery and one list+watch cache each).

An app's destination comes from its definition:

- Argo CD ``spec.destination.server`` / ``.name``: ``https://kubernetes.default.svc``
  and ``in-cluster`` (and no destination at all) mean the command's current
  target; any other server or name must be a known cluster;
- Flux ``spec.kubeConfig.secretRef``: the kubeconfig in that Secret (found in
  the repository's files, else on the current target);
- implicit (directory) apps and Flux apps without a kubeConfig: the current target.

Known clusters, looked up in this order (each source read at most once, and
only when an earlier one did not answer): the registry (``gitwave cluster
add``), Argo CD cluster Secrets in the repository, kubeconfig contexts (a
server URL matches a context's cluster server, a name a context's name), Argo
CD cluster Secrets on the current target. A destination found nowhere is an
error naming the app and the destination; nothing connects to it.

The fleet knows no provider: the command line hands it ``connect`` (a
``Reach`` to a router) and the readers of each source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitwave.engine.app_choice import ChosenApp
from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.cluster_secrets import (
    Credentials,
    is_cluster_secret,
    parse_cluster_secret,
    parse_kubeconfig_secret,
)
from gitwave.engine.clusters import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    Cluster,
    ClusterKind,
)
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.fleet_sources import FleetSources, Manifest
from gitwave.engine.model import Resource
from gitwave.engine.provider import is_cloud_group
from gitwave.engine.router import ProviderRouter

CURRENT = Cluster(
    name=IN_CLUSTER_NAME,
    server=IN_CLUSTER_SERVER,
    kind=ClusterKind.CURRENT,
    origin="the current target",
)
REGISTER_HINT = (
    "register it: `gitwave cluster add NAME --server URL --context CTX` (or --sandbox), "
    "or add an Argo CD cluster Secret; `gitwave cluster list` shows the known clusters"
)


class DestinationError(ValidationError):
    """An app's destination is not a known cluster, or cannot be reached as
    defined (an exec plugin not allowed, a malformed Secret)."""


@dataclass(frozen=True)
class Destination:
    """Where an app's objects go: a cluster and the app's default namespace."""

    cluster: Cluster
    namespace: str = ""

    @property
    def display(self) -> str:
        """``cluster/namespace`` (``cluster`` without a namespace)."""
        return f"{self.cluster.name}/{self.namespace}" if self.namespace else self.cluster.name


@dataclass(frozen=True)
class Reach:
    """How to connect to one cluster: a sandbox store, a kubeconfig context, or
    credentials read from a Secret (never shown: ``repr`` leaves them out)."""

    cluster: Cluster
    sandbox_dir: Path | None = None
    context: str = ""
    kubeconfig: str = ""
    credentials: Credentials | None = field(default=None, repr=False)


def _same_server(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


class Fleet:
    """The destinations of one command and their routers (thread-safe)."""

    def __init__(
        self,
        *,
        current: Callable[[], ProviderRouter],
        connect: Callable[[Reach], ProviderRouter] | None = None,
        sources: FleetSources | None = None,
        current_server: str = "",
        allow_exec_plugins: bool = False,
    ) -> None:
        self._current = current
        self._connect = connect
        self._sources = sources or FleetSources()
        self._current_server = current_server
        self._allow_exec = allow_exec_plugins
        self._lock = threading.RLock()
        self._read: dict[str, Any] = {}
        self._routers: dict[str, ProviderRouter] = {}

    @classmethod
    def single(cls, targets: ProviderRouter) -> Fleet:
        """A fleet of the current target alone (any other destination is unknown)."""
        return cls(current=lambda: targets)

    # -- what the front ends ask ------------------------------------------------------

    def destination_of(self, app: AppSpec) -> Destination:
        """Where ``app`` goes; DestinationError (naming the app) when it is unknown."""
        return Destination(self._reach_of(app).cluster, app.destination_namespace)

    def targets_for(self, app: AppSpec) -> ProviderRouter:
        """The router of ``app``'s destination, built on first use and shared by
        every app going there. Raises DestinationError, or the connector's
        error (a kubeconfig that cannot be used)."""
        return self._router(self._reach_of(app), app.where)

    def _router(self, reach: Reach, subject: str) -> ProviderRouter:
        if reach.cluster.kind is ClusterKind.CURRENT:
            return self._current()
        with self._lock:
            router = self._routers.get(reach.cluster.name)
            if router is None:
                if self._connect is None:
                    raise DestinationError(subject, "this command reaches no other cluster")
                router = self._connect(reach)
                self._routers[reach.cluster.name] = router
            return router

    def check(self, apps: Iterable[AppSpec]) -> None:
        """Resolve the destination of every app (children included) without
        connecting anywhere; one DestinationError naming every app whose
        destination is unknown."""
        problems: list[GitwaveError] = []
        for top in apps:
            for app in top.walk():
                try:
                    self._reach_of(app)
                except DestinationError as exc:
                    problems.append(exc)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise DestinationError(
                f"{len(problems)} apps",
                "unknown destinations:\n" + "\n".join(f"  {p}" for p in problems),
                hint=REGISTER_HINT,
            )

    def with_destination_errors(self, chosen: Sequence[ChosenApp]) -> list[ChosenApp]:
        """``chosen`` with each app whose destination is unknown turned broken (its
        DestinationError as its error): sync, run and watch report it and never
        plan it, while the other apps go on (DESIGN: only that app stops)."""
        checked = []
        for entry in chosen:
            if entry.error is None and entry.spec is not None:
                try:
                    self.check([entry.spec])
                except GitwaveError as exc:
                    entry = replace(entry, error=exc)
            checked.append(entry)
        return checked

    def routers(self) -> list[ProviderRouter]:
        """The routers of other clusters built so far (not the current target's)."""
        with self._lock:
            return list(self._routers.values())

    def clusters(self) -> Sequence[Cluster]:
        """Every known cluster, the current target first (as ``in-cluster``):
        registered ones, then Argo CD cluster Secrets of the repository and of
        the current target (``engine.clusters.ClusterSource``)."""
        found: dict[str, Cluster] = {CURRENT.name: CURRENT}
        for reach in (*self._registered(), *self._repo_clusters(), *self._managed_clusters()):
            found.setdefault(reach.cluster.name, reach.cluster)
        return list(found.values())

    # -- resolution -------------------------------------------------------------------

    def _reach_of(self, app: AppSpec) -> Reach:
        if app.kind is AppKind.FLUX and app.kube_config is not None:
            return self._flux_reach(app)
        if app.kind is not AppKind.ARGO:
            return Reach(CURRENT)
        server, name = app.destination_server, app.destination_name
        if name == IN_CLUSTER_NAME or (not name and not server):
            return Reach(CURRENT)
        if server and (
            _same_server(server, IN_CLUSTER_SERVER)
            or (self._current_server and _same_server(server, self._current_server))
        ):
            return Reach(CURRENT)

        return self._lookup(name, server, app.where)

    def _lookup(self, name: str, server: str, subject: str) -> Reach:
        def matches(cluster: Cluster) -> bool:
            return cluster.name == name if name else _same_server(cluster.server, server)

        for tier in (self._registered, self._repo_clusters, self._contexts, self._managed_clusters):
            for reach in tier():
                if matches(reach.cluster):
                    return self._usable(reach, subject)
        wanted = f"name {name!r}" if name else f"server {server}"
        raise DestinationError(
            subject,
            f"destination {wanted} is not a known cluster; nothing was applied",
            hint=REGISTER_HINT,
        )

    def targets_named(self, name: str, subject: str) -> ProviderRouter:
        """The router of the cluster called ``name`` (``in-cluster``: the current
        target), e.g. the destination a history entry recorded; ``subject``
        names the asker in a DestinationError."""
        if name in ("", IN_CLUSTER_NAME):
            return self._current()
        return self._router(self._lookup(name, "", subject), subject)

    def _flux_reach(self, app: AppSpec) -> Reach:
        ref = app.kube_config
        assert ref is not None
        namespace = ref.namespace or "default"
        manifest: Manifest | None = None
        where = ""
        for candidate, at in self._once("repo_secrets", self._sources.repo_secrets):
            meta = candidate.get("metadata") or {}
            if (
                candidate.get("kind") == "Secret"
                and meta.get("name") == ref.name
                and (meta.get("namespace") or "default") == namespace
            ):
                manifest, where = candidate, at
                break
        if manifest is None:
            manifest = self._sources.management_secret(namespace, ref.name)
            where = "on the current target"
        if manifest is None:
            raise DestinationError(
                app.where,
                f"spec.kubeConfig.secretRef: Secret/{namespace}/{ref.name} is found neither "
                "in the repository nor on the current target; nothing was applied",
                hint="add that Secret (its kubeconfig under `value`), or drop spec.kubeConfig",
            )
        try:
            server, credentials = parse_kubeconfig_secret(manifest, key=ref.key, where=where)
        except ValidationError as exc:
            raise DestinationError(app.where, f"spec.kubeConfig: {exc}") from None
        for reach in self._registered():
            if reach.sandbox_dir is not None and _same_server(reach.cluster.server, server):
                return reach  # a sandbox cluster: its kubeconfig's credentials mean nothing
        cluster = Cluster(
            name=ref.name,
            server=server,
            kind=ClusterKind.KUBECONFIG,
            origin=credentials.subject,
        )
        return self._usable(Reach(cluster, credentials=credentials), app.where)

    def _usable(self, reach: Reach, subject: str) -> Reach:
        credentials = reach.credentials
        if credentials is not None and credentials.exec_command and not self._allow_exec:
            raise DestinationError(
                subject,
                f"destination {reach.cluster.name} ({credentials.subject}) gets its credentials "
                f"from an exec plugin ({credentials.exec_command!r}); gitwave does not run "
                "credential plugins unless allowed; nothing was applied",
                hint="pass --allow-exec-plugins if you trust that command",
            )
        return reach

    # -- the sources, each read once ---------------------------------------------------

    def _once(self, key: str, read: Callable[[], Any]) -> Any:
        with self._lock:
            if key not in self._read:
                self._read[key] = read()
            return self._read[key]

    def _registered(self) -> list[Reach]:
        def read() -> list[Reach]:
            found = []
            for entry in self._sources.registry():
                sandbox = None
                if entry.cluster.kind is ClusterKind.SANDBOX and self._sources.sandbox_dir:
                    sandbox = self._sources.sandbox_dir(entry.cluster.name)
                found.append(
                    Reach(
                        entry.cluster,
                        sandbox_dir=sandbox,
                        context=entry.context,
                        kubeconfig=entry.kubeconfig,
                    )
                )
            return found

        result: list[Reach] = self._once("registry", read)
        return result

    def _secret_clusters(self, items: Iterable[tuple[Manifest, str]]) -> list[Reach]:
        found = []
        for manifest, where in items:
            if is_cluster_secret(manifest):
                cluster, credentials = parse_cluster_secret(manifest, where=where)
                found.append(Reach(cluster, credentials=credentials))
        return found

    def _repo_clusters(self) -> list[Reach]:
        result: list[Reach] = self._once(
            "repo_clusters",
            lambda: self._secret_clusters(self._once("repo_secrets", self._sources.repo_secrets)),
        )
        return result

    def _managed_clusters(self) -> list[Reach]:
        def read() -> list[Reach]:
            items = [(m, "on the current target") for m in self._sources.management_secrets()]
            return self._secret_clusters(items)

        result: list[Reach] = self._once("managed_clusters", read)
        return result

    def _contexts(self) -> list[Reach]:
        def read() -> list[Reach]:
            return [
                Reach(
                    Cluster(
                        name=context,
                        server=server,
                        kind=ClusterKind.KUBECONFIG,
                        origin=f"kubeconfig context {context}",
                    ),
                    context=context,
                )
                for context, server in self._sources.kube_contexts()
            ]

        result: list[Reach] = self._once("contexts", read)
        return result


def check_cluster_scope(resources: Iterable[Resource], cluster: Cluster, app: str) -> None:
    """Argo CD's cluster ``namespaces`` restriction: every namespaced object in one
    of them, and cluster-scoped objects only with ``clusterResources``. Raises
    ValidationError naming the first object outside (before anything is applied)."""
    if not cluster.namespaces:
        return
    allowed = set(cluster.namespaces)
    for resource in resources:
        key = resource.key
        if is_cloud_group(key.group):
            continue  # a cloud resource goes to the cloud target, not into the cluster
        where = f"{key.display}" + (f" ({resource.source})" if resource.source else "")
        if key.namespace and key.namespace not in allowed:
            raise ValidationError(
                where,
                f"namespace {key.namespace} is outside cluster {cluster.name}'s namespaces "
                f"({', '.join(cluster.namespaces)}); nothing of {app} was applied",
                hint="move it to an allowed namespace or widen the cluster's namespaces",
            )
        if not key.namespace and not cluster.cluster_resources:
            raise ValidationError(
                where,
                f"cluster {cluster.name} is limited to namespaces "
                f"({', '.join(cluster.namespaces)}) without clusterResources; "
                f"nothing of {app} was applied",
                hint='set clusterResources: "true" in its cluster Secret',
            )

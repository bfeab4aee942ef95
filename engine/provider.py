"""The Provider protocol: what every target (sandbox, Kubernetes, AWS) implements.

Part of the engine's public API (see ``gitwave.engine.api``): providers import it
from there; the engine never imports a provider's implementation.

The sandbox is the reference implementation; ``tests/providers/contract.py``
runs one contract suite against every provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gitwave.engine.diff import SameValue
from gitwave.engine.model import (
    ChangeSetEntry,
    Health,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)

# API groups of cloud resources: the cloud providers reconcile them, never a
# Kubernetes-side target (the sandbox or a cluster).
CLOUD_GROUP_SUFFIXES = (".aws.crossplane.io", ".aws.upbound.io")


def is_cloud_group(group: str) -> bool:
    """True for an API group only a cloud provider handles."""
    return group.endswith(CLOUD_GROUP_SUFFIXES)


@runtime_checkable
class Provider(Protocol):
    """A target gitwave reconciles into.

    Errors: every method raises ``gitwave.engine.errors.ProviderError`` when the
    target refuses an operation on one object, and ``UnreachableError`` when it
    cannot be reached at all. A failed read never returns None: None means the
    object is known to be absent.
    """

    name: str

    def handles(self, api_version: str, kind: str) -> bool:
        """True when this provider manages objects of that apiVersion and kind."""
        ...

    def observe(self, key: ResourceKey) -> Live | None:
        """The live object, or None when it is known to be absent."""
        ...

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        """Create or update ``resource`` (server-side-apply semantics: the fields it
        sets become ours, others are left alone). Returns created, configured or
        unchanged, with the resulting Live. With ``dry_run`` nothing is stored
        but the returned Live is what would be stored, defaults included."""
        ...

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        """Delete the object; deleted, or unchanged when it was already absent."""
        ...

    def health(self, live: Live) -> Health:
        """The health of a live object (see ``gitwave.engine.health``)."""
        ...

    def list_tracked(self, app: str) -> Sequence[Live]:
        """Every live object labelled as applied by ``app`` (prune candidates).

        Raises rather than returning a partial list: nothing is pruned on a
        partial view."""
        ...


@runtime_checkable
class BulkReader(Protocol):
    """Optional fast paths a provider may add; the engine uses them when present.

    A plan of 10,000 objects makes 10,000 ``observe`` calls otherwise."""

    def observe_many(self, keys: Iterable[ResourceKey]) -> dict[ResourceKey, Live | None]:
        """``observe`` for every key, in one read. Raises like ``observe``."""
        ...

    def tracked_keys(self, app: str) -> list[ResourceKey]:
        """The keys of the objects ``list_tracked(app)`` returns. Raises on a failed read."""
        ...


@runtime_checkable
class StateStamp(Protocol):
    """A provider that can say, in one cheap read, whether anything it holds
    changed: what lets a fresh plan of an app nobody touched print the last
    plan's result (``engine.plan_verdict``) instead of reading every object."""

    def state_stamp(self, app: str) -> str | None:
        """A text that differs whenever anything a plan of ``app`` would read
        from this provider (its objects, the objects tracked for ``app``,
        served kinds, namespaces) may have changed since it was last given;
        None when the provider cannot tell (then every plan reads in full)."""
        ...


@runtime_checkable
class ChangeFeed(Protocol):
    """Optional: what changed on the target since a cursor, answered cheaply.

    The reconcile loop polls it (every ~200 ms) to see drift without observing
    every object: only the apps owning a changed key are planned again. The
    sandbox answers from its resource versions; a Kubernetes provider can
    answer from the watches it keeps open."""

    def changes(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        """The new cursor and the keys of the objects created, changed or deleted
        after ``cursor``. ``""`` starts the feed: the current cursor and no keys.

        The keys are None when the feed lost track (a cursor too old to answer
        from, like Kubernetes' 410 Gone): then any object may have changed.
        Raises UnreachableError when the target cannot be reached."""
        ...


@runtime_checkable
class ChangeWaiter(Protocol):
    """Optional, with ``ChangeFeed``: sleep until the feed moves.

    A wave's health wait observes its objects, then sleeps here instead of
    polling, and wakes on the watch event that may have settled one of them
    (a Kubernetes provider's watches; the sandbox polls)."""

    def wait_for_change(self, cursor: str, timeout: float) -> bool:
        """Block until something changed after ``cursor`` (a ``changes``
        cursor), at most ``timeout`` seconds; True when it did or when the
        cursor cannot tell (look again), False on timeout."""
        ...


@runtime_checkable
class Declaring(Protocol):
    """Optional: a provider that must see the desired objects before ``observe``.

    ``observe(key)`` only gets a key; a cloud provider needs more to find an
    object (its external name, region, provider config)."""

    def declare(self, resources: Iterable[Resource]) -> None:
        """Remember the desired objects this provider handles. Raises
        ProviderError for a malformed one."""
        ...


@runtime_checkable
class DryRunPlanner(Protocol):
    """Optional: a target that can say what it would store for an object.

    The plan confirms each update with it, so a difference only gitwave's
    field comparison sees (a field the server prunes or normalises) is not
    reported as drift."""

    def dry_run_apply(self, resource: Resource) -> Live:
        """The object the target would store for ``resource``; stores nothing.
        Raises like ``apply``."""
        ...


@runtime_checkable
class KindCatalog(Protocol):
    """Optional: a Kubernetes-shaped target that says which kinds it serves now.

    ``gitwave plan`` asks it about every kind the app does not define with a
    CustomResourceDefinition of its own (once per kind), so a kind the target
    would refuse ("no matches for kind") stops the plan, and a custom resource
    is checked against the schema of the CRD on the target. A target without
    it is not asked: it refuses such objects when they are applied."""

    def serves(self, api_version: str, kind: str) -> bool:
        """True when the target accepts objects of ``apiVersion``/``kind`` now.
        Raises UnreachableError when the target cannot be asked."""
        ...

    def custom_resource_definition(self, group: str, kind: str) -> Manifest | None:
        """The CustomResourceDefinition on the target that defines ``group``/``kind``
        (its schemas), or None when none does."""
        ...


@runtime_checkable
class ServerVersion(Protocol):
    """Optional: a Kubernetes-shaped target that says which release it runs, so
    built-in kinds are checked against that release's schemas."""

    def kubernetes_version(self) -> str:
        """``major.minor`` (``1.37``). Raises UnreachableError when it cannot be asked."""
        ...


@runtime_checkable
class ServedAPIVersions(Protocol):
    """Optional: a Kubernetes-shaped target that lists the API versions it serves,
    as Helm's ``.Capabilities.APIVersions`` holds them."""

    def api_versions(self) -> tuple[str, ...]:
        """``group/version`` and ``group/version/Kind`` (``v1``, ``v1/ConfigMap``
        for the core group). Raises UnreachableError when it cannot be asked."""
        ...


@runtime_checkable
class ObjectAdmission(Protocol):
    """Optional: a target whose controllers refuse objects the schema allows (the
    sandbox, playing the sealed-secrets controller, cannot open a SealedSecret
    sealed for another name, namespace, scope or key). The plan's pre-flight
    asks it about every object, so such an object stops the sync before
    anything is applied."""

    def refusal(self, resource: Resource) -> str | None:
        """Why the target would not accept ``resource``, or None. Never holds a
        secret value; stores nothing."""
        ...


@runtime_checkable
class ObjectLister(Protocol):
    """Optional: a target that can list every live object (the sandbox can; it lets the
    live tree show what an app's objects own)."""

    def list(self, *, kind: str | None = None, namespace: str | None = None) -> list[Live]:
        """Objects of ``kind`` in ``namespace`` (None: all), sorted by key."""
        ...


@runtime_checkable
class ValueComparer(Protocol):
    """Optional: a target whose API normalises values it stores (AWS returns an
    RDS maintenance window lower-cased) or owns fields Git only names (an
    observe-only managed resource). The plan's diff asks it, so such a value
    is no drift after a successful sync."""

    def value_comparer(self, resource: Resource) -> SameValue | None:
        """How to compare ``resource``'s fields with what this target reports
        (see ``diff.SameValue``); None when plain comparison is right."""
        ...


@runtime_checkable
class DependencyReader(Protocol):
    """Optional: a target whose objects name each other in ways only it can
    read (an RDS instance names its subnet group and its security groups' ids).
    Prune deletes an object that uses another before the one it uses."""

    def uses(self, live: Live, others: Sequence[Live]) -> tuple[ResourceKey, ...]:
        """The keys of the objects among ``others`` that ``live`` uses. Pure: reads
        the manifests, calls nothing."""
        ...


@runtime_checkable
class Impersonating(Protocol):
    """A target whose writes can be made as another user (Kubernetes
    ``Impersonate-User``): Flux's ``serviceAccountName`` boundary, enforced by
    the target's own authorisation."""

    def as_user(self, user: str) -> Provider:
        """This target writing (apply, dry run, delete) as ``user``; reads may
        share this provider's connection and caches. The same value for the
        same user, so its state lives as long as this provider."""
        ...


@dataclass(frozen=True, slots=True)
class TargetEvent:
    """One event the target recorded about an object (a Kubernetes core/v1
    Event), as ``kubectl describe`` lists them. ``last_seen`` is RFC 3339 ("" when
    the target gave no time)."""

    type: str  # Normal, Warning
    reason: str
    message: str
    count: int = 1
    last_seen: str = ""
    source: str = ""


@runtime_checkable
class EventReader(Protocol):
    """Optional: a target that keeps events about its objects (Kubernetes); the
    TUI's describe view shows the recent ones."""

    def object_events(self, key: ResourceKey, *, limit: int = 20) -> list[TargetEvent]:
        """The newest ``limit`` events about ``key``, oldest first. Raises
        ProviderError/UnreachableError like ``observe``."""
        ...


@runtime_checkable
class LogReader(Protocol):
    """Optional: a target that runs containers and keeps their output
    (Kubernetes); the sandbox simulates Pods and has none."""

    def pod_logs(
        self, namespace: str, name: str, *, container: str | None = None, tail: int = 200
    ) -> str:
        """The last ``tail`` lines a container of Pod ``namespace/name`` wrote (its
        only or first container when ``container`` is None). Raises ProviderError
        (no such Pod or container) or UnreachableError."""
        ...

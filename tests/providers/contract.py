"""The provider contract: one suite that every Kubernetes-shaped provider passes.

Plug it into a provider's test module by subclassing and supplying two fixtures::

    @pytest.fixture
    def provider(tmp_path) -> Provider: ...

    @pytest.fixture
    def contract_target(provider) -> ContractTarget: ...

    class TestMyProviderContract(ProviderContract):
        pass

Every test works in a fresh namespace of its own (the ``namespace`` fixture
creates it through the provider and deletes it afterwards), so the suite runs
against a real, shared cluster that cannot be wiped between tests. Waits poll
with a deadline (``ContractTarget.settle_seconds``): a real cluster's
controllers and garbage collector work asynchronously.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import (
    LABEL_APP,
    ChangeAction,
    HealthCode,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)
from gitwave.engine.provider import Provider

# (kind, namespace) → the live objects of that kind in that namespace.
ListObjects = Callable[[str, str], Sequence[Live]]
# (key, change, field manager): change the live object as another client would
# (``kubectl edit``); ``change`` gets a copy of the live manifest and returns the new one.
WriteAs = Callable[[ResourceKey, Callable[[Manifest], Manifest], str], None]


@dataclass(frozen=True)
class ContractTarget:
    """What a provider's test module supplies besides the provider itself."""

    list_objects: ListObjects
    write_as: WriteAs
    settle_seconds: float = 30.0  # deadline for rollouts and asynchronous deletes


def wait_until(
    condition: Callable[[], Any], *, seconds: float, what: str, step: float = 0.02
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds}s waiting for {what}")
        time.sleep(step)


def resource(manifest: Manifest, namespace: str = "") -> Resource:
    """A desired Resource from a manifest, placed in ``namespace`` when given."""
    manifest = {**manifest, "metadata": dict(manifest["metadata"])}
    if namespace:
        manifest["metadata"]["namespace"] = namespace
    return Resource(ResourceKey.of(manifest), str(manifest["apiVersion"]), manifest)


def contains(live: Any, desired: Any, path: str = "") -> list[str]:
    """Where ``live`` does not carry every field of ``desired`` (server defaults
    and extra fields in ``live`` are allowed; list items are matched by position)."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return [f"{path or '.'}: want a map, live has {live!r}"]
        problems = []
        for key, value in desired.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in live:
                problems.append(f"{where}: missing")
            else:
                problems += contains(live[key], value, where)
        return problems
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [f"{path}: want {desired!r}, live has {live!r}"]
        problems = []
        for i, (live_item, desired_item) in enumerate(zip(live, desired, strict=True)):
            problems += contains(live_item, desired_item, f"{path}[{i}]")
        return problems
    return [] if live == desired else [f"{path}: want {desired!r}, live has {live!r}"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------- manifests


def config_map(name: str = "settings", **data: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"tier": "config"}},
        "data": data or {"LOG_LEVEL": "info", "FEATURE_X": "on"},
    }


def secret(name: str = "db-credentials") -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {"username": b64("shop"), "password": b64("not-a-real-password")},
    }


def service(name: str = "web") -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]},
    }


def deployment(name: str = "web", *, image: str = "nginx:1.27", replicas: int = 2) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def job(name: str = "migrate") -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "busybox:1.36"}],
                }
            },
        },
    }


def with_labels(manifest: Manifest, **labels: str) -> Manifest:
    meta = dict(manifest["metadata"])
    meta["labels"] = {**meta.get("labels", {}), **labels}
    return {**manifest, "metadata": meta}


def with_annotations(manifest: Manifest, **annotations: str) -> Manifest:
    meta = dict(manifest["metadata"])
    meta["annotations"] = {**meta.get("annotations", {}), **annotations}
    return {**manifest, "metadata": meta}


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class ObjectCase:
    reason: str
    manifest: Manifest


OBJECTS = [
    ObjectCase("a ConfigMap", config_map()),
    ObjectCase("a Secret (data is base64, as stored)", secret()),
    ObjectCase("a Service (the server adds clusterIP, protocol, targetPort)", service()),
    ObjectCase("a Deployment (the server adds strategy, pull policy, …)", deployment()),
]


@dataclass(frozen=True)
class ChangeCase:
    reason: str
    before: Manifest
    after: Manifest
    bumps_generation: bool
    # Changed fields, as (dotted path, value) pairs to find on the live object.
    want: tuple[tuple[str, Any], ...] = field(default=())


CHANGES = [
    ChangeCase(
        "a new image rolls the Deployment: spec changed, generation bumps",
        deployment(),
        deployment(image="nginx:1.28"),
        bumps_generation=True,
        want=(("spec.template.spec.containers.0.image", "nginx:1.28"),),
    ),
    ChangeCase(
        "a new replica count is a spec change too",
        deployment(replicas=2),
        deployment(replicas=3),
        bumps_generation=True,
        want=(("spec.replicas", 3),),
    ),
    ChangeCase(
        "a label is metadata: configured, generation stays",
        deployment(),
        with_labels(deployment(), team="checkout"),
        bumps_generation=False,
        want=(("metadata.labels.team", "checkout"),),
    ),
    ChangeCase(
        "a ConfigMap value changes",
        config_map(LOG_LEVEL="info"),
        config_map(LOG_LEVEL="debug"),
        bumps_generation=False,
        want=(("data.LOG_LEVEL", "debug"),),
    ),
]


@dataclass(frozen=True)
class ForeignFieldCase:
    reason: str
    # What the other manager sets on the live object, as (dotted path, value).
    path: str
    value: str


FOREIGN_FIELDS = [
    ForeignFieldCase(
        "an annotation another tool added", "metadata.annotations.ops/owner", "oncall"
    ),
    ForeignFieldCase("a label another tool added", "metadata.labels.cost-center", "cc-42"),
    ForeignFieldCase("a data key another tool added", "data.EXTRA", "from-kubectl"),
]


@dataclass(frozen=True)
class RemovedFieldCase:
    reason: str
    before: Manifest
    after: Manifest
    gone: str  # dotted path that must be absent afterwards


REMOVED_FIELDS = [
    RemovedFieldCase(
        "a data key Git no longer sets",
        config_map(LOG_LEVEL="info", FEATURE_X="on"),
        config_map(LOG_LEVEL="info"),
        gone="data.FEATURE_X",
    ),
    RemovedFieldCase(
        "an annotation Git no longer sets",
        with_annotations(config_map(), **{"example.com/note": "temporary"}),
        config_map(),
        gone="metadata.annotations.example.com/note",
    ),
    RemovedFieldCase(
        "a label Git no longer sets",
        config_map(),
        {**config_map(), "metadata": {"name": "settings"}},
        gone="metadata.labels.tier",
    ),
]


def dig(manifest: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path; list indices are numbers; map keys may hold
    dots and slashes (``metadata.annotations.example.com/note``): the longest
    matching key wins. Returns KeyError's sentinel ``_ABSENT`` when missing."""
    node: Any = manifest
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if isinstance(node, list):
            index = int(parts[i])
            if index >= len(node):
                return _ABSENT
            node, i = node[index], i + 1
            continue
        if not isinstance(node, Mapping):
            return _ABSENT
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if candidate in node:
                node, i = node[candidate], j
                break
        else:
            return _ABSENT
    return node


_ABSENT = object()


def put(manifest: Manifest, dotted: str, value: Any) -> Manifest:
    """A copy of ``manifest`` with ``value`` at a two- or three-part dotted path
    (``data.KEY``, ``metadata.labels.KEY``; the last part may contain dots)."""
    head, _, rest = dotted.partition(".")
    if head == "metadata":
        sub, _, key = rest.partition(".")
        meta = dict(manifest.get("metadata", {}))
        meta[sub] = {**meta.get(sub, {}), key: value}
        return {**manifest, "metadata": meta}
    return {**manifest, head: {**manifest.get(head, {}), rest: value}}


# ---------------------------------------------------------------- the suite


class ProviderContract:
    """The behaviour gitwave relies on from every target. See the module docstring."""

    @pytest.fixture
    def namespace(self, provider: Provider, contract_target: ContractTarget) -> Iterator[str]:
        name = f"gw-contract-{uuid.uuid4().hex[:8]}"
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        provider.apply(resource(ns))
        yield name
        provider.delete(ResourceKey("", "Namespace", "", name), propagation=Propagation.BACKGROUND)

    def test_implements_the_provider_protocol(self, provider: Provider) -> None:
        assert isinstance(provider, Provider)
        assert provider.name
        for api_version, kind in [("v1", "ConfigMap"), ("apps/v1", "Deployment")]:
            assert provider.handles(api_version, kind)

    @pytest.mark.parametrize("case", OBJECTS, ids=[c.reason for c in OBJECTS])
    def test_create_then_observe_matches_desired(
        self, provider: Provider, namespace: str, case: ObjectCase
    ) -> None:
        desired = resource(case.manifest, namespace)
        entry = provider.apply(desired)
        assert entry.action is ChangeAction.CREATED
        assert entry.live is not None
        assert not contains(entry.live.manifest, desired.manifest)
        live = provider.observe(desired.key)
        assert live is not None
        assert live.complete
        assert not contains(live.manifest, desired.manifest)
        assert live.manifest["metadata"]["uid"] == entry.live.manifest["metadata"]["uid"]

    @pytest.mark.parametrize("case", OBJECTS, ids=[c.reason for c in OBJECTS])
    def test_reapplying_the_same_is_unchanged(
        self,
        provider: Provider,
        namespace: str,
        case: ObjectCase,
        contract_target: ContractTarget,
    ) -> None:
        # A real Deployment controller writes status within milliseconds of the
        # create, so compare against the object once it settled: what must hold
        # is that the re-apply itself writes nothing.
        desired = resource(case.manifest, namespace)
        provider.apply(desired)

        def settled() -> Live | None:
            live = provider.observe(desired.key)
            healthy = live is not None and provider.health(live).code is HealthCode.HEALTHY
            return live if healthy else None

        before = wait_until(
            settled, seconds=contract_target.settle_seconds, what=f"{desired.key.display} settled"
        )
        second = provider.apply(desired)
        assert second.action is ChangeAction.UNCHANGED
        assert second.live is not None
        assert second.live.resource_version == before.resource_version

    @pytest.mark.parametrize("case", CHANGES, ids=[c.reason for c in CHANGES])
    def test_changing_a_field_configures(
        self, provider: Provider, namespace: str, case: ChangeCase
    ) -> None:
        before = provider.apply(resource(case.before, namespace))
        after = provider.apply(resource(case.after, namespace))
        assert after.action is ChangeAction.CONFIGURED
        assert before.live is not None and after.live is not None
        assert after.live.resource_version != before.live.resource_version
        generation_before = before.live.manifest["metadata"].get("generation", 0)
        generation_after = after.live.manifest["metadata"].get("generation", 0)
        if case.bumps_generation:
            assert generation_after == generation_before + 1
        else:
            assert generation_after == generation_before
        live = provider.observe(after.key)
        assert live is not None
        for path, value in case.want:
            assert dig(live.manifest, path) == value, path

    @pytest.mark.parametrize("case", FOREIGN_FIELDS, ids=[c.reason for c in FOREIGN_FIELDS])
    def test_apply_keeps_fields_another_manager_set(
        self,
        provider: Provider,
        contract_target: ContractTarget,
        namespace: str,
        case: ForeignFieldCase,
    ) -> None:
        desired = resource(config_map(LOG_LEVEL="info"), namespace)
        provider.apply(desired)
        contract_target.write_as(
            desired.key, lambda live: put(live, case.path, case.value), "kubectl-edit"
        )
        entry = provider.apply(resource(config_map(LOG_LEVEL="debug"), namespace))
        assert entry.action is ChangeAction.CONFIGURED
        live = provider.observe(desired.key)
        assert live is not None
        assert dig(live.manifest, case.path) == case.value
        assert live.manifest["data"]["LOG_LEVEL"] == "debug"

    @pytest.mark.parametrize("case", REMOVED_FIELDS, ids=[c.reason for c in REMOVED_FIELDS])
    def test_a_field_removed_from_desired_is_dropped(
        self, provider: Provider, namespace: str, case: RemovedFieldCase
    ) -> None:
        provider.apply(resource(case.before, namespace))
        before = provider.observe(resource(case.before, namespace).key)
        assert before is not None and dig(before.manifest, case.gone) is not _ABSENT
        entry = provider.apply(resource(case.after, namespace))
        assert entry.action is ChangeAction.CONFIGURED
        live = provider.observe(entry.key)
        assert live is not None
        assert dig(live.manifest, case.gone) is _ABSENT

    def test_dry_run_create_stores_nothing_but_shows_defaults(
        self, provider: Provider, namespace: str
    ) -> None:
        desired = resource(deployment(), namespace)
        entry = provider.apply(desired, dry_run=True)
        assert entry.action is ChangeAction.CREATED
        assert entry.live is not None
        assert not contains(entry.live.manifest, desired.manifest)
        assert entry.live.manifest["spec"]["strategy"]["type"] == "RollingUpdate"
        assert provider.observe(desired.key) is None

    def test_dry_run_update_stores_nothing(self, provider: Provider, namespace: str) -> None:
        created = provider.apply(resource(deployment(image="nginx:1.27"), namespace))
        assert created.live is not None
        entry = provider.apply(resource(deployment(image="nginx:1.28"), namespace), dry_run=True)
        assert entry.action is ChangeAction.CONFIGURED
        assert entry.live is not None
        assert dig(entry.live.manifest, "spec.template.spec.containers.0.image") == "nginx:1.28"
        live = provider.observe(created.key)
        assert live is not None
        assert dig(live.manifest, "spec.template.spec.containers.0.image") == "nginx:1.27"
        assert (
            live.manifest["metadata"]["generation"]
            == created.live.manifest["metadata"]["generation"]
        )

    @pytest.mark.parametrize("case", OBJECTS, ids=[c.reason for c in OBJECTS])
    def test_delete_then_observe_is_none(
        self,
        provider: Provider,
        contract_target: ContractTarget,
        namespace: str,
        case: ObjectCase,
    ) -> None:
        desired = resource(case.manifest, namespace)
        provider.apply(desired)
        entry = provider.delete(desired.key)
        assert entry.action is ChangeAction.DELETED
        wait_until(
            lambda: provider.observe(desired.key) is None,
            seconds=contract_target.settle_seconds,
            what=f"{desired.key.display} to be gone",
        )

    def test_deleting_an_absent_object_is_unchanged(
        self, provider: Provider, namespace: str
    ) -> None:
        key = ResourceKey("", "ConfigMap", namespace, "never-created")
        assert provider.delete(key).action is ChangeAction.UNCHANGED

    def test_observing_an_absent_object_is_none(self, provider: Provider, namespace: str) -> None:
        assert provider.observe(ResourceKey("apps", "Deployment", namespace, "nope")) is None

    def test_an_object_in_a_missing_namespace_is_refused(self, provider: Provider) -> None:
        missing = f"gw-missing-{uuid.uuid4().hex[:8]}"
        desired = resource(config_map(), missing)
        with pytest.raises(ProviderError) as caught:
            provider.apply(desired)
        assert missing in str(caught.value)
        assert caught.value.key == desired.key
        assert provider.observe(desired.key) is None

    @pytest.mark.parametrize("manifest", [deployment(replicas=2), job()], ids=["Deployment", "Job"])
    def test_health_becomes_healthy(
        self,
        provider: Provider,
        contract_target: ContractTarget,
        namespace: str,
        manifest: Manifest,
    ) -> None:
        desired = resource(manifest, namespace)
        provider.apply(desired)

        def healthy() -> bool:
            live = provider.observe(desired.key)
            return live is not None and provider.health(live).code is HealthCode.HEALTHY

        wait_until(
            healthy, seconds=contract_target.settle_seconds, what=f"{desired.key.display} healthy"
        )

    def test_list_tracked_returns_only_the_apps_objects(
        self, provider: Provider, namespace: str
    ) -> None:
        mine, theirs = f"{namespace}-shop", f"{namespace}-billing"
        for name, app in [("a", mine), ("b", mine), ("c", theirs)]:
            provider.apply(resource(with_labels(config_map(name), **{LABEL_APP: app}), namespace))
        provider.apply(resource(config_map("unlabelled"), namespace))
        tracked = provider.list_tracked(mine)
        assert sorted(live.key.name for live in tracked) == ["a", "b"]
        assert all(live.complete for live in tracked)

    def test_foreground_delete_of_a_deployment_removes_replicasets_and_pods(
        self, provider: Provider, contract_target: ContractTarget, namespace: str
    ) -> None:
        desired = resource(deployment(replicas=2), namespace)
        provider.apply(desired)
        wait_until(
            lambda: len(contract_target.list_objects("Pod", namespace)) == 2,
            seconds=contract_target.settle_seconds,
            what="two pods",
        )
        assert contract_target.list_objects("ReplicaSet", namespace)
        entry = provider.delete(desired.key, propagation=Propagation.FOREGROUND)
        assert entry.action is ChangeAction.DELETED

        def all_gone() -> bool:
            return (
                provider.observe(desired.key) is None
                and not contract_target.list_objects("ReplicaSet", namespace)
                and not contract_target.list_objects("Pod", namespace)
            )

        wait_until(all_gone, seconds=contract_target.settle_seconds, what="deployment tree gone")

"""Crossplane managed resources: the parts every AWS kind shares.

A managed resource (``spec.forProvider``, ``spec.deletionPolicy``,
``spec.managementPolicies``, ``spec.providerConfigRef``,
``spec.writeConnectionSecretToRef``, the ``crossplane.io/external-name``
annotation) is parsed once into a ``Managed`` value; bad input is a
ProviderError that names the object and the field, and nothing is applied.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.api import LAST_APPLIED_ANNOTATION
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ANNOTATION_TRACKING_ID, LABEL_APP, Manifest, Resource, ResourceKey

from .record import Record

ANNOTATION_EXTERNAL_NAME = "crossplane.io/external-name"
DEFAULT_PROVIDER_CONFIG = "default"

# Spec fields gitwave understands besides forProvider (Crossplane's ResourceSpec).
_SPEC_FIELDS = frozenset(
    {
        "forProvider",
        "deletionPolicy",
        "managementPolicies",
        "providerConfigRef",
        "writeConnectionSecretToRef",
    }
)
# Metadata gitwave writes itself, derives, or must not copy into AWS tags.
_NOT_RECORDED_ANNOTATIONS = frozenset(
    {ANNOTATION_EXTERNAL_NAME, ANNOTATION_TRACKING_ID, LAST_APPLIED_ANNOTATION}
)
_NOT_RECORDED_LABELS = frozenset({LABEL_APP})


class DeletionPolicy(enum.Enum):
    """What deleting the managed resource does to the AWS resource."""

    DELETE = "Delete"
    ORPHAN = "Orphan"

    @property
    def removes_external(self) -> bool:
        return self is DeletionPolicy.DELETE


class ManagementAction(enum.Enum):
    """One entry of ``spec.managementPolicies`` (Crossplane's names)."""

    ALL = "*"
    OBSERVE = "Observe"
    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"
    LATE_INITIALIZE = "LateInitialize"


@dataclass(frozen=True, slots=True)
class ManagementPolicies:
    """The actions gitwave may take on one resource; ``["*"]`` by default."""

    actions: frozenset[ManagementAction] = frozenset({ManagementAction.ALL})

    @property
    def names(self) -> list[str]:
        """The policies as written, in a stable order."""
        return sorted(a.value for a in self.actions)

    def allows(self, action: ManagementAction) -> bool:
        return ManagementAction.ALL in self.actions or action in self.actions

    @property
    def writes(self) -> bool:
        """False for an observe-only resource: gitwave never changes it in AWS."""
        return any(
            self.allows(a)
            for a in (ManagementAction.CREATE, ManagementAction.UPDATE, ManagementAction.DELETE)
        )

    @classmethod
    def parse(cls, key: ResourceKey, value: Any) -> ManagementPolicies:
        if value is None:
            return cls()
        if not isinstance(value, list) or not value:
            raise ProviderError(
                key, 'spec.managementPolicies must be a non-empty list, e.g. ["*"] or [Observe]'
            )
        actions = set()
        for item in value:
            try:
                actions.add(ManagementAction(item))
            except ValueError:
                allowed = ", ".join(a.value for a in ManagementAction)
                raise ProviderError(
                    key, f"spec.managementPolicies: unknown policy {item!r} (allowed: {allowed})"
                ) from None
        if ManagementAction.OBSERVE not in actions and ManagementAction.ALL not in actions:
            raise ProviderError(
                key,
                'spec.managementPolicies must include Observe (or "*"): gitwave always '
                "observes what it manages",
            )
        return cls(frozenset(actions))


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A Secret in the Kubernetes-side target: ``namespace/name``."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """One key of a Secret (Crossplane's SecretKeySelector)."""

    namespace: str
    name: str
    key: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}[{self.key}]"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Managed:
    """A desired managed resource, parsed and checked."""

    key: ResourceKey
    api_version: str
    for_provider: Mapping[str, Any]
    external_name: str | None
    deletion_policy: DeletionPolicy
    policies: ManagementPolicies
    provider_config: str
    connection_secret: SecretRef | None
    app: str | None
    tracking_id: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    # The spec as written, minus forProvider: recorded in AWS tags as is.
    extra_spec: Mapping[str, Any]
    manifest: Manifest = field(repr=False)

    @classmethod
    def parse(cls, resource: Resource) -> Managed:
        """Parse ``resource``; ProviderError naming the field when it is malformed."""
        key = resource.key
        manifest = resource.manifest
        spec = manifest.get("spec")
        if not isinstance(spec, Mapping):
            raise ProviderError(key, "spec must be a map with spec.forProvider")
        for_provider = spec.get("forProvider")
        if not isinstance(for_provider, Mapping):
            raise ProviderError(key, "spec.forProvider must be a map")
        unknown = sorted(set(spec) - _SPEC_FIELDS)
        if unknown:
            raise ProviderError(
                key,
                f"spec.{unknown[0]} is not supported by gitwave's AWS provider "
                f"(supported: {', '.join(sorted(_SPEC_FIELDS))})",
            )
        try:
            deletion = DeletionPolicy(spec.get("deletionPolicy", "Delete"))
        except ValueError:
            raise ProviderError(
                key,
                f"spec.deletionPolicy must be Delete or Orphan, not {spec.get('deletionPolicy')!r}",
            ) from None
        policies = ManagementPolicies.parse(key, spec.get("managementPolicies"))
        config_ref = spec.get("providerConfigRef")
        if config_ref is not None and not (
            isinstance(config_ref, Mapping) and isinstance(config_ref.get("name"), str)
        ):
            raise ProviderError(key, "spec.providerConfigRef must be a map with a name")
        provider_config = str(_mapping(config_ref).get("name") or DEFAULT_PROVIDER_CONFIG)
        connection = _secret_ref(key, spec.get("writeConnectionSecretToRef"))
        annotations = {str(k): str(v) for k, v in resource.annotations.items()}
        labels = {str(k): str(v) for k, v in resource.labels.items()}
        external = annotations.get(ANNOTATION_EXTERNAL_NAME) or None
        return cls(
            key=key,
            api_version=resource.api_version,
            for_provider=dict(for_provider),
            external_name=external,
            deletion_policy=deletion,
            policies=policies,
            provider_config=provider_config,
            connection_secret=connection,
            app=labels.get(LABEL_APP) or None,
            tracking_id=annotations.get(ANNOTATION_TRACKING_ID) or None,
            labels={k: v for k, v in labels.items() if k not in _NOT_RECORDED_LABELS},
            annotations={
                k: v for k, v in annotations.items() if k not in _NOT_RECORDED_ANNOTATIONS
            },
            extra_spec={k: v for k, v in spec.items() if k != "forProvider"},
            manifest=manifest,
        )

    def record(self, *, owner: str | None, write_only: Iterable[str]) -> Record:
        """The record to keep on the AWS resource: ``write_only`` names the
        forProvider fields AWS does not report back."""
        spec: dict[str, Any] = dict(self.extra_spec)
        inputs = {k: self.for_provider[k] for k in sorted(write_only) if k in self.for_provider}
        if inputs:
            spec["forProvider"] = inputs
        metadata: dict[str, Any] = {}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        body: dict[str, Any] = {}
        if spec:
            body["spec"] = spec
        if metadata:
            body["metadata"] = metadata
        return Record(
            key=str(self.key),
            owner=owner,
            app=self.app,
            tracking_id=self.tracking_id,
            body=body,
        )


def _secret_ref(key: ResourceKey, value: Any) -> SecretRef | None:
    if value is None:
        return None
    ref = _mapping(value)
    name, namespace = ref.get("name"), ref.get("namespace")
    if not (isinstance(name, str) and name and isinstance(namespace, str) and namespace):
        raise ProviderError(key, "spec.writeConnectionSecretToRef needs a name and a namespace")
    return SecretRef(namespace, name)


def secret_key_ref(key: ResourceKey, path: str, value: Any) -> SecretKeyRef:
    """Parse a SecretKeySelector (``{namespace, name, key}``) at ``path``."""
    ref = _mapping(value)
    parts = (ref.get("namespace"), ref.get("name"), ref.get("key"))
    if not all(isinstance(p, str) and p for p in parts):
        raise ProviderError(key, f"{path} needs a namespace, a name and a key")
    return SecretKeyRef(str(parts[0]), str(parts[1]), str(parts[2]))


def gitwave_side(record: Record) -> tuple[dict[str, Any], Mapping[str, Any], Mapping[str, Any]]:
    """``(spec minus forProvider, forProvider inputs, metadata)`` of a record."""
    spec = {k: v for k, v in record.spec.items() if k != "forProvider"}
    inputs = _mapping(record.spec.get("forProvider"))
    return spec, inputs, record.metadata


def with_spec_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec fields Crossplane's API server defaults, filled in."""
    out = dict(spec)
    out.setdefault("deletionPolicy", DeletionPolicy.DELETE.value)
    out.setdefault("managementPolicies", [ManagementAction.ALL.value])
    out.setdefault("providerConfigRef", {"name": DEFAULT_PROVIDER_CONFIG})
    return out

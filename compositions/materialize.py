"""Desired composed manifests → Resources: names, namespaces, marks, references.

Shared by Crossplane compositions and kro graphs. For each desired manifest
(by its id: the composition resource ``name`` or the kro ``id``):

1. ``${…}`` expressions over the composite are evaluated; those over sibling
   resources are kept for late binding (see ``references``);
2. the name is the template's ``metadata.name``, else its
   ``crossplane.io/external-name`` annotation, else ``<composite>-<id>``
   (Crossplane itself appends a random suffix; gitwave must be deterministic);
3. cluster-scoped kinds lose any namespace; Crossplane managed resources
   (``*.crossplane.io``, ``*.upbound.io``, except the namespaced ``*.m.*``
   groups of Crossplane v2) count as cluster-scoped, as in Crossplane v1;
   other kinds without a namespace take the composite's;
4. the composite's labels and annotations are added (``gitwave.dev/composite``,
   ``crossplane.io/composite``, …), and ``gitwave.dev/references`` lists the
   sibling keys still referenced.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.compositions.references import ANNOTATION_REFERENCES, bind, references_annotation
from gitwave.engine.api import is_cluster_scoped
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Manifest, Resource, ResourceKey

__all__ = ["Materialized", "Owner", "materialize"]

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class Owner:
    """The composite the manifests belong to, and how to mark and name them."""

    resource: Resource = field(repr=False)
    known: Mapping[str, Any] = field(repr=False)
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    subject: str
    name_prefix: str | None
    cluster_kinds: Collection[tuple[str, str]] = ()


@dataclass(frozen=True)
class Materialized:
    """The composed Resources by id, and (u, v) edges for their references."""

    resources: dict[str, Resource]
    edges: list[tuple[ResourceKey, ResourceKey]]


def materialize(desired: Mapping[str, Manifest], *, owner: Owner) -> Materialized:
    """Turn ``desired`` (id → manifest, owned by the caller: changed in place)
    into Resources.

    Raises ValidationError naming the composite and the resource id for an
    expression problem, a name that is missing (kro) or only known late, or
    a reference to a resource that the composition does not have.
    """
    ids = list(desired)
    late_by_id: dict[str, frozenset[str]] = {}
    keys: dict[str, ResourceKey] = {}
    for ident in ids:
        manifest = desired[ident]
        subject = f"{owner.subject}, resource {ident}"
        late_by_id[ident] = bind(
            manifest, known=owner.known, late=ids, subject=subject, own_id=ident
        )
        keys[ident] = _place(manifest, ident, owner, subject)
    out: dict[str, Resource] = {}
    edges: list[tuple[ResourceKey, ResourceKey]] = []
    for ident in ids:
        manifest = desired[ident]
        late = late_by_id[ident]
        if late:
            manifest["metadata"]["annotations"][ANNOTATION_REFERENCES] = references_annotation(
                {name: keys[name] for name in late}
            )
            edges.extend((keys[name], keys[ident]) for name in sorted(late))
        out[ident] = Resource(keys[ident], manifest["apiVersion"], manifest, owner.resource.source)
    return Materialized(out, edges)


def _place(manifest: Manifest, ident: str, owner: Owner, subject: str) -> ResourceKey:
    """Set name, namespace, labels and annotations on ``manifest``; return its key."""
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not kind:
        raise ValidationError(subject, "the composed resource needs apiVersion and kind")
    meta = manifest.get("metadata")
    if meta is None:
        meta = manifest["metadata"] = {}
    elif not isinstance(meta, dict):
        raise ValidationError(subject, "metadata must be an object")
    annotations = _string_map(meta, "annotations", subject)
    labels = _string_map(meta, "labels", subject)
    name = meta.get("name") or annotations.get("crossplane.io/external-name")
    if not name:
        if owner.name_prefix is None:
            raise ValidationError(subject, "the template sets no metadata.name")
        name = f"{owner.name_prefix}-{_NOT_DNS.sub('-', ident.lower()).strip('-')}"
    if not isinstance(name, str):
        raise ValidationError(subject, "metadata.name must be a string")
    if "${" in name:
        raise ValidationError(
            subject,
            f"metadata.name {name!r} reads another resource's status; it must be known "
            "when composing",
        )
    meta["name"] = name
    group = api_version.rpartition("/")[0]
    namespace = meta.get("namespace") or ""
    if not isinstance(namespace, str):
        raise ValidationError(subject, "metadata.namespace must be a string")
    if "${" in namespace:
        raise ValidationError(
            subject, "metadata.namespace reads another resource's status; it must be known"
        )
    if _cluster_scoped(group, kind, owner.cluster_kinds):
        namespace = ""
        meta.pop("namespace", None)
    elif not namespace and owner.resource.key.namespace:
        namespace = owner.resource.key.namespace
        meta["namespace"] = namespace
    labels.update(owner.labels)
    annotations.update(owner.annotations)
    return ResourceKey(group, kind, namespace, name)


def _string_map(meta: dict[str, Any], name: str, subject: str) -> dict[str, Any]:
    value = meta.get(name)
    if value is None:
        value = meta[name] = {}
    if not isinstance(value, dict):
        raise ValidationError(subject, f"metadata.{name} must be an object")
    return value


def _cluster_scoped(group: str, kind: str, extra: Collection[tuple[str, str]]) -> bool:
    if is_cluster_scoped(group, kind, extra=extra):
        return True
    managed = group.endswith((".crossplane.io", ".upbound.io"))
    return managed and ".m." not in f".{group}"

"""Validation: parsed documents → typed Resources, one per object, namespaces settled.

Every document must be an object with apiVersion, kind and metadata.name
(metadata.generateName is accepted on hooks); an object may appear once per
app. Cluster-scoped objects lose a stray namespace, namespaced ones get the
default or target namespace. A value still holding SOPS ciphertext fails
the render (see sops.py). Problems raise RenderError naming ``file:line``.
"""

from __future__ import annotations

from typing import Any

from gitwave.engine.errors import RenderError
from gitwave.engine.model import ANNOTATION_HOOK_ARGO, Manifest, Resource, ResourceKey, SourceRef
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.shape import check_shape
from gitwave.engine.render.sops import refuse_ciphertext
from gitwave.engine.render.values import RenderOptions
from gitwave.engine.scope import is_cluster_scoped, scopes_from_crds

_HELM_HOOK = "helm.sh/hook"


def to_resources(docs: list[Doc], options: RenderOptions) -> tuple[Resource, ...]:
    """The Resources of ``docs``, in order; RenderError for a malformed or repeated object."""
    # Before anything else, so no Resource is built from a document that still holds ciphertext.
    refuse_ciphertext((d.value, d.source) for d in docs)
    crd_scopes = scopes_from_crds(d.value for d in docs if isinstance(d.value, dict))
    seen: dict[ResourceKey, SourceRef] = {}
    resources: list[Resource] = []
    for doc in docs:
        resource = _to_resource(doc, options, crd_scopes)
        first = seen.get(resource.key)
        if first is not None:
            raise RenderError(
                doc.source,
                f"{resource.key.display} is defined twice: at {first} and at {doc.source}",
                hint="every object may appear once per app; remove or rename one of them",
            )
        seen[resource.key] = doc.source
        resources.append(resource)
    return tuple(resources)


def _to_resource(
    doc: Doc, options: RenderOptions, crd_scopes: frozenset[tuple[str, str]]
) -> Resource:
    value = doc.value
    if not isinstance(value, dict):
        raise RenderError(
            doc.source,
            f"document is a {type(value).__name__}, not a Kubernetes object",
            hint="each document must be a mapping with apiVersion, kind and metadata.name",
        )
    api_version = value.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        raise RenderError(doc.source, "apiVersion is missing")
    kind = value.get("kind")
    if not isinstance(kind, str) or not kind:
        raise RenderError(doc.source, "kind is missing")
    meta = value.get("metadata")
    if not isinstance(meta, dict):
        raise RenderError(doc.source, f"{kind}: metadata.name is missing")
    name = meta.get("name")
    if name is None or name == "":
        name = _hook_generate_name(meta)
        if name is None:
            raise RenderError(
                doc.source,
                f"{kind}: metadata.name is missing",
                hint="only hooks may use metadata.generateName instead",
            )
    if not isinstance(name, str):
        raise RenderError(doc.source, f"{kind}: metadata.name must be a string")
    namespace = meta.get("namespace") or ""
    if not isinstance(namespace, str):
        raise RenderError(doc.source, f"{kind}/{name}: metadata.namespace must be a string")
    group = api_version.rpartition("/")[0]
    manifest: Manifest = value
    if is_cluster_scoped(group, kind, extra=crd_scopes):
        if namespace:
            # The API server drops it anyway; keeping it would make the key disagree with live.
            manifest = _with_namespace(value, None)
            namespace = ""
    else:
        wanted = options.target_namespace or (namespace or options.default_namespace)
        if wanted != namespace:
            manifest = _with_namespace(value, wanted)
            namespace = wanted
    key = ResourceKey(group, kind, namespace, name)
    check_shape(manifest, key, doc.source)
    return Resource(
        key=key,
        api_version=api_version,
        manifest=manifest,
        source=doc.source,
    )


def _hook_generate_name(meta: dict[str, Any]) -> str | None:
    generate = meta.get("generateName")
    annotations = meta.get("annotations")
    if not isinstance(generate, str) or not generate or not isinstance(annotations, dict):
        return None
    if ANNOTATION_HOOK_ARGO in annotations or _HELM_HOOK in annotations:
        return generate
    return None


def _with_namespace(value: Manifest, namespace: str | None) -> Manifest:
    """A copy of ``value`` with metadata.namespace set (or removed); the input is untouched."""
    meta = dict(value["metadata"])
    if namespace is None:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = namespace
    copy = dict(value)
    copy["metadata"] = meta
    return copy


__all__ = ["to_resources"]

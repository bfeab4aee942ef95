"""The composite's own connection Secret: ``spec.writeConnectionSecretToRef`` of an XR or claim.

Crossplane writes the connection details a Composition declares (each resource
template's ``connectionDetails``, from its composed resource and that
resource's connection Secret), filtered by the XRD's ``connectionSecretKeys``,
into the Secret the composite names: an XR's ``{name, namespace}``, a claim's
``{name}`` in the claim's namespace. Its type is
``connection.crossplane.io/v1alpha1``.

In gitwave the composite is composed away, so the Secret is one more composed
resource of it. Its values are only known once the resources they come from
exist, so compose leaves them to late binding, as it does ``${…}`` references:

- ``FromValue`` details are written at once (``data``, base64);
- the others are listed in the annotation ``gitwave.dev/connection-details``
  (JSON: detail name → ``{"from": id, "fieldPath": path}`` or
  ``{"from": id, "secretKey": key}``), and ``gitwave.dev/references`` lists the
  composed resources they read (``id``) and their connection Secrets
  (``id.connection``). :func:`gitwave.compositions.resolve` fills ``data`` in
  right before the Secret is applied, after the resources it reads (the graph
  has an edge from each), and drops both annotations.

Only the declarations of patch-and-transform steps are read (``mode:
Resources`` and ``function-patch-and-transform`` steps); details a custom
function adds are not written. Values never appear in an error: messages name
the detail, never its value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass

from gitwave.compositions.connection import (
    ANNOTATION_CONNECTION_DETAILS,
    SECRET_REFERENCE_SUFFIX,
    ConnectionSource,
    SourceKind,
    connection_sources,
    secret_key_of,
)
from gitwave.compositions.definitions import CompositeDefinition, Composition
from gitwave.compositions.functions import FunctionError
from gitwave.compositions.materialize import Materialized, Owner
from gitwave.compositions.patch_and_transform import template_names
from gitwave.compositions.references import ANNOTATION_REFERENCES, references_annotation
from gitwave.compositions.registry import FunctionRegistry
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Manifest, Resource, ResourceKey

__all__ = [
    "CONNECTION_SECRET_ID",
    "CONNECTION_SECRET_TYPE",
    "CompositeSecret",
    "composite_secret",
]

CONNECTION_SECRET_TYPE = "connection.crossplane.io/v1alpha1"
# The Secret's id among a composite's composed resources: no template can be called this.
CONNECTION_SECRET_ID = "(connection secret)"


@dataclass(frozen=True)
class CompositeSecret:
    """The composite's connection Secret and the (before, Secret) edges it needs."""

    resource: Resource
    edges: tuple[tuple[ResourceKey, ResourceKey], ...]


def composite_secret(
    xr: Resource,
    manifest: Manifest,
    xrd: CompositeDefinition,
    composition: Composition,
    materialized: Materialized,
    *,
    owner: Owner,
    registry: FunctionRegistry,
) -> CompositeSecret | None:
    """The Secret ``xr`` (an XR or a claim; ``manifest`` with defaults applied)
    asks for in ``spec.writeConnectionSecretToRef``; None when it asks for none.

    Raises ValidationError naming the composite when the reference has no name,
    or no namespace for a cluster-scoped XR.
    """
    spec = manifest.get("spec")
    ref = spec.get("writeConnectionSecretToRef") if isinstance(spec, Mapping) else None
    if ref is None:
        return None
    field = "spec.writeConnectionSecretToRef"
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref["name"]:
        raise ValidationError(xr.where, f"{field}.name is missing or not a string")
    # A claim's Secret always goes to the claim's namespace (its ref has no namespace).
    is_claim = bool(xrd.claim_kind) and xr.key.kind == xrd.claim_kind
    namespace = xr.key.namespace
    if not is_claim and isinstance(ref.get("namespace"), str) and ref["namespace"]:
        namespace = ref["namespace"]
    if not namespace:
        raise ValidationError(
            xr.where,
            f"{field}.namespace is required: the composite is cluster-scoped",
        )
    key = ResourceKey("", "Secret", namespace, str(ref["name"]))
    wanted = xrd.connection_secret_keys
    data: dict[str, str] = {}
    late: dict[str, dict[str, str]] = {}
    refs: dict[str, ResourceKey] = {}
    for ident, source in _declared(composition, registry, xr):
        composed = materialized.resources.get(ident)
        if composed is None or (wanted is not None and source.name not in wanted):
            continue
        # A later template's detail of the same name wins, as in Crossplane.
        data.pop(source.name, None)
        late.pop(source.name, None)
        if source.kind is SourceKind.FROM_VALUE:
            data[source.name] = base64.b64encode(source.argument.encode()).decode()
        elif source.kind is SourceKind.FROM_FIELD_PATH:
            refs[ident] = composed.key
            late[source.name] = {"from": ident, "fieldPath": source.argument}
        else:
            secret = secret_key_of(composed.manifest)
            if secret is None or not secret.namespace:
                continue  # the resource writes no connection Secret: nothing to read
            refs[ident] = composed.key
            refs[ident + SECRET_REFERENCE_SUFFIX] = secret
            late[source.name] = {"from": ident, "secretKey": source.argument}
    annotations = dict(owner.annotations)
    if late:
        annotations[ANNOTATION_REFERENCES] = references_annotation(refs)
        annotations[ANNOTATION_CONNECTION_DETAILS] = json.dumps(late, sort_keys=True)
    secret_manifest: Manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": key.name,
            "namespace": key.namespace,
            "labels": dict(owner.labels),
            "annotations": annotations,
        },
        "type": CONNECTION_SECRET_TYPE,
    }
    if data:
        secret_manifest["data"] = dict(sorted(data.items()))
    # After each composed resource it reads (a connection Secret is no node: its writer is).
    readers = {k for ident, k in refs.items() if not ident.endswith(SECRET_REFERENCE_SUFFIX)}
    edges = tuple(sorted((k, key) for k in readers if k != key))
    return CompositeSecret(Resource(key, "v1", secret_manifest, xr.source), edges)


def _declared(
    composition: Composition, registry: FunctionRegistry, xr: Resource
) -> list[tuple[str, ConnectionSource]]:
    """(template id, source) of every connectionDetails entry of the
    Composition's patch-and-transform steps, in order."""
    found: list[tuple[str, ConnectionSource]] = []
    for step in composition.steps:
        if not registry.is_builtin(step.function) or not isinstance(step.input, Mapping):
            continue
        templates = step.input.get("resources")
        if not isinstance(templates, list):
            continue
        try:
            names = template_names(templates)
            for ident, template in zip(names, templates, strict=True):
                for source in connection_sources(template, f"resource {ident}"):
                    found.append((ident, source))
        except FunctionError as err:
            raise ValidationError(xr.where, f"composition {composition.name}: {err}") from None
    return found

"""Compose one Crossplane composite resource (an XR or a claim).

Validate the XR against its XRD version's schema (defaults first), choose its
Composition (both in :mod:`gitwave.compositions.selection`), run the
Composition's pipeline (a ``mode: Resources`` Composition is a one-step
pipeline of function-patch-and-transform), then materialize the desired
composed resources.

With observed state the pipeline runs again, seeing the observed composed
resources (readiness, ToCompositeFieldPath patches, connection details); when
that gives the composite a status, once more with that status, so patches
reading ``status.*`` of the composite see it — the pure equivalent of
Crossplane's next reconcile.

When the composite asks for a connection Secret (``writeConnectionSecretToRef``)
it is composed too (see :mod:`gitwave.compositions.connection_secret`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gitwave.compositions.connection import ConnectionDetails, secret_data, secret_key_of
from gitwave.compositions.connection_secret import (
    CONNECTION_SECRET_ID,
    CompositeSecret,
    composite_secret,
)
from gitwave.compositions.definitions import (
    CompositeDefinition,
    Composition,
    CompositionMode,
    PipelineStep,
)
from gitwave.compositions.functions import (
    FunctionError,
    FunctionRequest,
    FunctionResponse,
    FunctionResult,
    Ready,
    Severity,
    empty_desired,
)
from gitwave.compositions.materialize import Materialized, Owner, materialize
from gitwave.compositions.model import (
    ANNOTATION_COMPOSITE,
    ANNOTATION_COMPOSITION_RESOURCE,
    LABEL_CLAIM_NAME,
    LABEL_CLAIM_NAMESPACE,
    LABEL_COMPOSITE,
    ComposedReadiness,
    CompositeNode,
    CompositeStatus,
)
from gitwave.compositions.readiness import check_readiness
from gitwave.compositions.registry import FunctionRegistry
from gitwave.compositions.selection import check_functions, select_composition, validated
from gitwave.compositions.values import copy_json
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import Live, Manifest, Resource, ResourceKey

__all__ = ["ComposedComposite", "compose_xr"]

_HEAD = ("apiVersion", "kind", "metadata")


@dataclass(frozen=True)
class ComposedComposite:
    """The result of composing one composite."""

    node: CompositeNode
    materialized: Materialized


def compose_xr(
    xr: Resource,
    xrd: CompositeDefinition,
    compositions: Sequence[Composition],
    *,
    registry: FunctionRegistry,
    observed: Mapping[ResourceKey, Live | None] | None,
    cluster_kinds: Collection[tuple[str, str]],
) -> ComposedComposite:
    """Compose ``xr`` (an XR or, when its kind is the XRD's claim kind, a claim).

    Raises ValidationError naming the XR for an invalid XR, no or an
    ambiguous Composition, and any failure of a pipeline step.
    """
    manifest = validated(xr, xrd)
    composition = select_composition(xr, manifest, xrd, compositions)
    check_functions(composition, registry)
    owner = _owner(xr, xrd, composition, manifest, cluster_kinds)
    composite_view = {"resource": manifest, "connectionDetails": {}}
    response = _run(composition, xr, registry, {"composite": composite_view, "resources": {}})
    owned = all(registry.is_builtin(step.function) for step in composition.steps)
    materialized = _materialize(response, owner, owned=owned)
    secret = composite_secret(
        xr, manifest, xrd, composition, materialized, owner=owner, registry=registry
    )
    if observed is None:
        status = _unobserved(materialized, response)
        return _composed(xr, xrd, composition, materialized, status, secret)

    observed_resources = _observed_by_name(materialized, observed)
    state = {"composite": composite_view, "resources": observed_resources}
    response = _run(composition, xr, registry, state)
    fields = response.desired.get("composite", {}).get("resource", {}).get("status")
    if isinstance(fields, Mapping) and fields:
        with_status = {**manifest, "status": copy_json(dict(fields))}
        state = {
            "composite": {"resource": with_status, "connectionDetails": {}},
            "resources": observed_resources,
        }
        response = _run(composition, xr, registry, state)
    materialized = _materialize(response, owner, owned=owned)
    status = _status(materialized, response, observed, xrd)
    return _composed(xr, xrd, composition, materialized, status, secret)


def _composed(
    xr: Resource,
    xrd: CompositeDefinition,
    composition: Composition,
    materialized: Materialized,
    status: CompositeStatus,
    secret: CompositeSecret | None,
) -> ComposedComposite:
    """The result; the composite's connection Secret (when it asks for one) is
    composed last, after the resources it reads. Status rows leave it out: it is
    not a resource of the Composition."""
    node = _node(xr, xrd, composition, materialized, status)
    if secret is None:
        return ComposedComposite(node, materialized)
    with_secret = Materialized(
        {**materialized.resources, CONNECTION_SECRET_ID: secret.resource},
        [*materialized.edges, *secret.edges],
    )
    node = dataclasses.replace(node, composed=(*node.composed, secret.resource.key))
    return ComposedComposite(node, with_secret)


def _owner(
    xr: Resource,
    xrd: CompositeDefinition,
    composition: Composition,
    manifest: Manifest,
    cluster_kinds: Collection[tuple[str, str]],
) -> Owner:
    labels = {LABEL_COMPOSITE: xr.key.name}
    if xr.key.kind == xrd.claim_kind and xrd.claim_kind:
        labels[LABEL_CLAIM_NAME] = xr.key.name
        labels[LABEL_CLAIM_NAMESPACE] = xr.key.namespace
    else:
        for name in (LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE):
            if name in xr.labels:
                labels[name] = str(xr.labels[name])
    return Owner(
        resource=xr,
        known={"schema": manifest, "xr": manifest},
        labels=labels,
        annotations={ANNOTATION_COMPOSITE: xr.key.display},
        subject=f"{xr.where}: composition {composition.name}",
        name_prefix=xr.key.name,
        cluster_kinds=cluster_kinds,
    )


def _run(
    composition: Composition,
    xr: Resource,
    registry: FunctionRegistry,
    observed: Mapping[str, Any],
) -> FunctionResponse:
    """Run every step in order, each on the previous step's desired state."""
    desired = empty_desired()
    context: dict[str, Any] = {}
    results: list[FunctionResult] = []
    for step in composition.steps:
        function = registry.get(step.function)
        assert function is not None  # check_functions ran first
        builtin = registry.is_builtin(step.function)
        request = FunctionRequest(
            observed=observed if builtin else copy_json(dict(observed)),
            desired=desired if builtin else copy_json(desired),
            input=step.input if builtin else copy_json(step.input),
            context=context if builtin else copy_json(context),
        )
        where = _step_label(composition, step)
        try:
            response = function(request)
        except FunctionError as err:
            raise ValidationError(xr.where, f"{where}: {err}") from None
        except GitwaveError:
            raise
        except Exception as err:
            raise ValidationError(
                xr.where, f"{where}: function {step.function} failed: {type(err).__name__}: {err}"
            ) from None
        if not isinstance(response, FunctionResponse):
            raise ValidationError(
                xr.where, f"{where}: function {step.function} did not return a FunctionResponse"
            )
        for result in response.results:
            if result.severity.stops:
                about = f" (resource {result.resource})" if result.resource else ""
                raise ValidationError(xr.where, f"{where}{about}: {result.message}")
        results.extend(response.results)
        desired = _checked(response.desired, xr, where)
        context = dict(response.context)
    return FunctionResponse(desired=desired, context=context, results=tuple(results))


def _step_label(composition: Composition, step: PipelineStep) -> str:
    if composition.mode is CompositionMode.RESOURCES:
        return f"composition {composition.name}"
    return f"composition {composition.name}, step {step.name}"


def _checked(desired: Any, xr: Resource, where: str) -> dict[str, Any]:
    if not isinstance(desired, dict) or not isinstance(desired.get("resources", {}), dict):
        raise ValidationError(xr.where, f"{where}: the desired state is not a mapping")
    for name, entry in desired.get("resources", {}).items():
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("kind"), str):
            raise ValidationError(
                xr.where, f"{where}: desired resource {name!r} has no resource with a kind"
            )
        try:
            Ready.of(entry.get("ready"))
        except ValueError:
            raise ValidationError(
                xr.where, f"{where}: desired resource {name!r} has an unknown ready value"
            ) from None
    return desired


def _materialize(response: FunctionResponse, owner: Owner, *, owned: bool) -> Materialized:
    """Materialize the desired composed resources. ``owned``: only built-in
    functions ran, so the manifests are fresh copies nobody else holds and
    need not be copied again."""
    desired: dict[str, Manifest] = {}
    for name, entry in response.desired.get("resources", {}).items():
        source = entry["resource"] if owned else copy_json(entry["resource"])
        # apiVersion, kind and metadata first: composed manifests read like hand-written ones.
        manifest = {
            "apiVersion": source.get("apiVersion"),
            "kind": source.get("kind"),
            "metadata": source.get("metadata") or {},
            **{k: v for k, v in source.items() if k not in _HEAD},
        }
        if not isinstance(manifest["metadata"], dict):
            raise ValidationError(f"{owner.subject}, resource {name}", "metadata must be an object")
        annotations = manifest["metadata"].setdefault("annotations", {})
        if isinstance(annotations, dict):
            annotations[ANNOTATION_COMPOSITION_RESOURCE] = name
        desired[name] = manifest
    return materialize(desired, owner=owner)


def _observed_by_name(
    materialized: Materialized, observed: Mapping[ResourceKey, Live | None]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, resource in materialized.resources.items():
        live = observed.get(resource.key)
        if live is None:
            continue
        secret_key = secret_key_of(live.manifest) or secret_key_of(resource.manifest)
        secret = observed.get(secret_key) if secret_key is not None else None
        out[name] = {
            "resource": live.manifest,
            "connectionDetails": secret_data(secret.manifest if secret is not None else None),
        }
    return out


def _unobserved(materialized: Materialized, response: FunctionResponse) -> CompositeStatus:
    return CompositeStatus(
        ready=False,
        resources=tuple(
            ComposedReadiness(r.key, name, False, "not observed")
            for name, r in materialized.resources.items()
        ),
        warnings=_warnings(response),
        observed=False,
    )


def _status(
    materialized: Materialized,
    response: FunctionResponse,
    observed: Mapping[ResourceKey, Live | None],
    xrd: CompositeDefinition,
) -> CompositeStatus:
    reasons = {
        r.resource: r.message
        for r in response.results
        if r.resource and r.severity is Severity.NORMAL
    }
    entries = response.desired.get("resources", {})
    rows: list[ComposedReadiness] = []
    for name, resource in materialized.resources.items():
        live = observed.get(resource.key)
        if resource.key not in observed:
            rows.append(ComposedReadiness(resource.key, name, False, "not observed"))
            continue
        if live is None:
            rows.append(ComposedReadiness(resource.key, name, False, "not created yet"))
            continue
        ready = Ready.of(entries.get(name, {}).get("ready"))
        if ready is Ready.UNSPECIFIED:
            verdict = check_readiness(None, live.manifest)
            rows.append(ComposedReadiness(resource.key, name, verdict.ready, verdict.reason))
        else:
            ok = ready is Ready.TRUE
            reason = "" if ok else reasons.get(name, "the composition says it is not ready")
            rows.append(ComposedReadiness(resource.key, name, ok, reason))
    composite = response.desired.get("composite", {})
    fields = composite.get("resource", {}).get("status")
    details = ConnectionDetails(dict(composite.get("connectionDetails") or {}))
    return CompositeStatus(
        ready=bool(rows) and all(r.ready for r in rows),
        resources=tuple(rows),
        fields=MappingProxyType(copy_json(dict(fields)) if isinstance(fields, Mapping) else {}),
        connection_details=details.filtered(xrd.connection_secret_keys),
        warnings=_warnings(response),
    )


def _warnings(response: FunctionResponse) -> tuple[str, ...]:
    return tuple(
        (f"resource {r.resource}: " if r.resource else "") + r.message
        for r in response.results
        if r.severity is Severity.WARNING
    )


def _node(
    xr: Resource,
    xrd: CompositeDefinition,
    composition: Composition,
    materialized: Materialized,
    status: CompositeStatus,
) -> CompositeNode:
    return CompositeNode(
        key=xr.key,
        definition=xrd.name,
        composition=composition.name,
        composed=tuple(r.key for r in materialized.resources.values()),
        status=status,
        source=xr.source,
    )

"""Compose one instance of a kro ResourceGraphDefinition.

The instance is validated (and defaulted) against the RGD's SimpleSchema;
``includeWhen`` conditions (over ``schema`` only) drop resources — and every
resource that references a dropped one; templates are materialized with
``${schema.…}`` evaluated and ``${otherId.…}`` kept for late binding. With
observed state, ``readyWhen`` (over the resource itself; default: it exists)
decides readiness, and ``schema.status`` expressions fill the status.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from gitwave.compositions.crossplane import ComposedComposite
from gitwave.compositions.definitions import GraphDefinition
from gitwave.compositions.expressions import (
    ExpressionError,
    Template,
    evaluate,
    iter_strings,
    parse_template,
)
from gitwave.compositions.materialize import Owner, materialize
from gitwave.compositions.model import (
    ANNOTATION_COMPOSITE,
    ComposedReadiness,
    CompositeNode,
    CompositeStatus,
)
from gitwave.compositions.values import copy_json, json_type
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Live, Manifest, Resource, ResourceKey

__all__ = ["compose_instance"]

LABEL_INSTANCE = "kro.run/instance-name"
LABEL_INSTANCE_NAMESPACE = "kro.run/instance-namespace"
LABEL_GRAPH = "kro.run/resource-graph-definition-name"


def compose_instance(
    instance: Resource,
    rgd: GraphDefinition,
    *,
    observed: Mapping[ResourceKey, Live | None] | None,
    cluster_kinds: Collection[tuple[str, str]],
) -> ComposedComposite:
    """Compose ``instance``. Raises ValidationError naming the instance for an
    invalid instance, a bad condition or template."""
    want = f"{rgd.group}/{rgd.version}"
    if instance.api_version != want:
        raise ValidationError(
            instance.where, f"apiVersion is {instance.api_version}, {rgd.name} defines {want}"
        )
    manifest = rgd.schema.default(instance.manifest)
    problems = rgd.schema.problems(manifest)
    if problems:
        raise ValidationError(
            instance.where,
            "; ".join(str(p) for p in problems),
            hint=f"see the schema of {rgd.name} ({rgd.where})",
        )
    subject = f"{instance.where}: graph {rgd.name}"
    known = {"schema": manifest}
    included = _included(rgd, known, subject)
    desired = {r.id: copy_json(dict(r.template)) for r in rgd.resources if r.id in included}
    labels = {LABEL_INSTANCE: instance.key.name, LABEL_GRAPH: rgd.name}
    if instance.key.namespace:
        labels[LABEL_INSTANCE_NAMESPACE] = instance.key.namespace
    owner = Owner(
        resource=instance,
        known=known,
        labels=labels,
        annotations={ANNOTATION_COMPOSITE: instance.key.display},
        subject=subject,
        name_prefix=None,
        cluster_kinds=cluster_kinds,
    )
    materialized = materialize(desired, owner=owner)
    status = _status(rgd, materialized.resources, manifest, observed, subject)
    node = CompositeNode(
        key=instance.key,
        definition=rgd.name,
        composition="",
        composed=tuple(r.key for r in materialized.resources.values()),
        status=status,
        source=instance.source,
    )
    return ComposedComposite(node, materialized)


def _condition(text: str, subject: str, what: str) -> Template:
    try:
        template = parse_template(text)
    except ExpressionError as err:
        raise ValidationError(subject, f"{what}: {err}") from None
    if template is None or not template.standalone:
        raise ValidationError(subject, f"{what} {text!r} must be a single ${{…}} expression")
    return template


def _included(rgd: GraphDefinition, known: Mapping[str, Any], subject: str) -> set[str]:
    included: set[str] = set()
    for resource in rgd.resources:
        keep = True
        for text in resource.include_when:
            what = f"resource {resource.id}, includeWhen"
            template = _condition(text, subject, what)
            if template.names - known.keys():
                raise ValidationError(
                    subject, f"{what} {text!r} may only read schema (the instance)"
                )
            try:
                value = evaluate(template, known)
            except (KeyError, IndexError, ExpressionError) as err:
                raise ValidationError(subject, f"{what} {text!r}: {err}") from None
            if not isinstance(value, bool):
                raise ValidationError(
                    subject, f"{what} {text!r} gives {json_type(value)}, not a boolean"
                )
            keep = keep and value
        if keep:
            included.add(resource.id)
    # A resource that reads an excluded one cannot be built: drop it too (as kro does).
    names = {r.id: _names(r.template) for r in rgd.resources}
    changed = True
    while changed:
        changed = False
        for ident in sorted(included):
            if names[ident] & (names.keys() - included):
                included.discard(ident)
                changed = True
    return included


def _names(template: Mapping[str, Any]) -> frozenset[str]:
    found: frozenset[str] = frozenset()
    for _, _, text in iter_strings(dict(template)):
        try:
            parsed = parse_template(text)
        except ExpressionError:
            continue  # reported with its subject when the template is materialized
        if parsed is not None:
            found |= parsed.names
    return found


def _status(
    rgd: GraphDefinition,
    resources: Mapping[str, Resource],
    manifest: Manifest,
    observed: Mapping[ResourceKey, Live | None] | None,
    subject: str,
) -> CompositeStatus:
    if observed is None:
        return CompositeStatus(
            ready=False,
            resources=tuple(
                ComposedReadiness(r.key, ident, False, "not observed")
                for ident, r in resources.items()
            ),
            observed=False,
        )
    live: dict[str, Manifest] = {}
    rows: list[ComposedReadiness] = []
    by_id = {r.id: r for r in rgd.resources}
    for ident, resource in resources.items():
        found = observed.get(resource.key)
        if resource.key not in observed:
            rows.append(ComposedReadiness(resource.key, ident, False, "not observed"))
            continue
        if found is None:
            rows.append(ComposedReadiness(resource.key, ident, False, "not created yet"))
            continue
        live[ident] = found.manifest
        reason = ""
        for text in by_id[ident].ready_when:
            template = _condition(text, subject, f"resource {ident}, readyWhen")
            if template.names - {ident}:
                raise ValidationError(
                    subject, f"resource {ident}, readyWhen {text!r} may only read {ident}"
                )
            try:
                value = evaluate(template, {ident: found.manifest})
            except (KeyError, IndexError):
                value = False
            except ExpressionError as err:
                raise ValidationError(subject, f"resource {ident}, readyWhen: {err}") from None
            if value is not True:
                reason = f"readyWhen {text} is not true"
                break
        rows.append(ComposedReadiness(resource.key, ident, not reason, reason))
    fields = _status_fields(rgd.status, {"schema": manifest, **live})
    return CompositeStatus(
        ready=bool(rows) and all(r.ready for r in rows),
        resources=tuple(rows),
        fields=MappingProxyType(fields),
    )


def _status_fields(spec: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """kro's ``schema.status``: each ``${…}`` over the live resources; a value that
    is not known yet (or reads a resource not observed) is left out."""
    out: dict[str, Any] = {}
    for name, value in spec.items():
        if isinstance(value, Mapping):
            nested = _status_fields(value, variables)
            if nested:
                out[name] = nested
            continue
        if not isinstance(value, str):
            continue
        try:
            template = parse_template(value)
        except ExpressionError:
            continue
        if template is None:
            out[name] = value
            continue
        if template.names - variables.keys():
            continue
        try:
            out[name] = evaluate(template, variables)
        except (KeyError, IndexError, ExpressionError):
            continue
    return out

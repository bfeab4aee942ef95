"""``${…}`` references between resources: which ids a manifest waits for, and
their late binding.

The template syntax (``${expr}``, ``$${`` for a literal) and its CEL
evaluation are in :mod:`gitwave.compositions.expressions`. Two kinds of names
appear in expressions:

- the composite (``schema`` or ``xr``): known when composing, so compose
  evaluates those expressions at once;
- sibling resources, by their id (composition resource ``name`` or kro ``id``):
  their status is only known once they are applied and ready (late binding).
  Compose leaves those expressions in the manifest and records the ids it
  references in the annotation ``gitwave.dev/references`` as
  ``id=group/Kind/namespace/name`` pairs, comma separated. The sync stage calls
  :func:`resolve` right before applying, with the live objects; a value not
  there yet raises :class:`PendingReference` (retriable).

While a manifest still carries late expressions, every literal ``${`` in it is
kept escaped as ``$${``; resolve() unescapes them and drops the annotation,
so a resolved manifest is never resolved twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import Manifest, Resource, ResourceKey

# The expression language and the connection details are imported by what
# evaluates them (resolve, bind): ``references`` of an object with none, asked
# of every object of every app, needs neither.
if TYPE_CHECKING:
    from gitwave.compositions.expressions import Expression, Template

__all__ = [
    "ANNOTATION_REFERENCES",
    "COMPOSITE_NAMES",
    "PendingReference",
    "references",
    "resolve",
    "unresolved",
]

ANNOTATION_REFERENCES = "gitwave.dev/references"
# The names under which a template sees its composite resource.
COMPOSITE_NAMES = frozenset({"schema", "xr"})


class PendingReference(GitwaveError):
    """A referenced value is not available yet (the object is not applied, or
    its status field is not set). Retriable: try again once it is ready."""

    retriable = True

    def __init__(
        self, key: ResourceKey, expression: str, *, waits_for: ResourceKey | None, detail: str
    ) -> None:
        target = f" for {waits_for.display}" if waits_for is not None else ""
        super().__init__(
            f"{key.display}: waits{target}: ${{{expression}}} {detail}",
            hint="it is applied once the referenced resource is ready",
        )
        self.key = key
        self.expression = expression
        self.waits_for = waits_for
        self.detail = detail


# --- late binding: the annotation, unresolved() and resolve() -----------------------


def references(resource: Resource) -> Mapping[str, ResourceKey]:
    """The ids ``resource`` still references, each with the key it stands for
    (read from the ``gitwave.dev/references`` annotation; empty when resolved).

    Raises ValidationError for a malformed annotation.
    """
    raw = resource.annotations.get(ANNOTATION_REFERENCES)
    if not raw:
        return {}
    found: dict[str, ResourceKey] = {}
    for entry in str(raw).split(","):
        name, sep, key_text = entry.strip().partition("=")
        try:
            if not sep or not name:
                raise ValueError(entry)
            found[name] = ResourceKey.parse(key_text)
        except ValueError:
            raise ValidationError(
                resource.where,
                f"annotation {ANNOTATION_REFERENCES} has a malformed entry {entry.strip()!r}",
                hint="write id=group/Kind/namespace/name, comma separated",
            ) from None
    return found


def unresolved(resource: Resource) -> frozenset[str]:
    """The ids of the resources whose values ``resource`` still waits for."""
    return frozenset(references(resource))


def references_annotation(refs: Mapping[str, ResourceKey]) -> str:
    """The annotation value for ``refs`` (sorted by id, so output is deterministic)."""
    return ",".join(f"{name}={refs[name]}" for name in sorted(refs))


def resolve(resource: Resource, *, lookup: Callable[[ResourceKey], Manifest | None]) -> Resource:
    """``resource`` with every ``${…}`` evaluated against the live objects it references.

    ``lookup(key)`` returns the live manifest of a referenced object, or None
    when it does not exist yet. A resource without references is returned as
    it is. The result carries no ``gitwave.dev/references`` annotation.

    Raises PendingReference (retriable) when a referenced object or field is
    not there yet, and ValidationError for an expression that fails otherwise
    (a type error) or names an id the annotation does not list.
    """
    refs = references(resource)
    if not refs:
        return resource
    from gitwave.compositions.expressions import (
        ExpressionError,
        evaluate,
        iter_strings,
        parse_template,
    )

    manifest = _copy_without_annotation(resource.manifest)
    live: dict[str, Manifest] = {}
    for container, slot, text in list(iter_strings(manifest)):
        try:
            template = parse_template(text)
        except ExpressionError as err:
            raise ValidationError(resource.where, str(err)) from None
        if template is None:
            continue
        for expression in template.expressions:
            for name in sorted(expression.names):
                if name in live:
                    continue
                if name not in refs:
                    raise ValidationError(
                        resource.where,
                        f"${{{expression.source}}} reads {name!r}, which annotation "
                        f"{ANNOTATION_REFERENCES} does not list",
                    )
                found = lookup(refs[name])
                if found is None:
                    raise PendingReference(
                        resource.key,
                        expression.source,
                        waits_for=refs[name],
                        detail="is not known yet: the object does not exist",
                    )
                live[name] = found
        try:
            container[slot] = evaluate(template, live)
        except (KeyError, IndexError) as err:
            expression_source, waits_for = _culprit(template, live, refs)
            raise PendingReference(
                resource.key,
                expression_source,
                waits_for=waits_for,
                detail=f"is not known yet: field {_missing_name(err)} is not set",
            ) from None
        except ExpressionError as err:
            raise ValidationError(resource.where, f"${{{_sources(template)}}}: {err}") from None
    _fill_connection_details(resource, manifest, refs, lookup)
    return Resource(resource.key, resource.api_version, manifest, resource.source)


def _fill_connection_details(
    resource: Resource,
    manifest: Manifest,
    refs: Mapping[str, ResourceKey],
    lookup: Callable[[ResourceKey], Manifest | None],
) -> None:
    """A composite's connection Secret: its ``data`` from the live objects it reads."""
    from gitwave.compositions.connection import (
        ANNOTATION_CONNECTION_DETAILS,
        SECRET_REFERENCE_SUFFIX,
        fill_connection_details,
    )

    live: dict[str, Manifest] = {}
    while True:
        try:
            needed = fill_connection_details(manifest, refs, live)
        except ValueError as err:
            raise ValidationError(
                resource.where, f"annotation {ANNOTATION_CONNECTION_DETAILS}: {err}"
            ) from None
        if not needed:
            break
        for ident in needed:
            found = lookup(refs[ident])
            if found is None:
                writer = ident.removesuffix(SECRET_REFERENCE_SUFFIX)
                what = "connection Secret" if writer != ident else "object"
                raise PendingReference(
                    resource.key,
                    ident,
                    waits_for=refs[ident],
                    detail=f"is not known yet: the {what} does not exist",
                )
            live[ident] = found
    annotations = manifest.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict) and not annotations:
        del manifest["metadata"]["annotations"]


def _copy_without_annotation(manifest: Manifest) -> Manifest:
    from gitwave.compositions.values import copy_json

    copy: Manifest = copy_json(manifest)
    annotations = copy.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(ANNOTATION_REFERENCES, None)
        if not annotations:
            del copy["metadata"]["annotations"]
    return copy


def _culprit(
    template: Template, live: Mapping[str, Any], refs: Mapping[str, ResourceKey]
) -> tuple[str, ResourceKey | None]:
    """The first expression of ``template`` that cannot be evaluated yet."""
    from gitwave.compositions.expressions import ExpressionError

    for expression in template.expressions:
        try:
            expression.run(live)
        except (KeyError, IndexError, ExpressionError):
            names = sorted(expression.names & set(refs))
            return expression.source, refs[names[0]] if names else None
    return _sources(template), None


def _sources(template: Template) -> str:
    return "} ${".join(e.source for e in template.expressions)


def _missing_name(err: BaseException) -> str:
    if isinstance(err, KeyError) and err.args:
        return repr(err.args[0])
    return "(a list item)"


# --- compose time: evaluate what is known, keep what is late --------------------------


def bind(
    manifest: Manifest,
    *,
    known: Mapping[str, Any],
    late: Collection[str],
    subject: str,
    own_id: str = "",
) -> frozenset[str]:
    """Evaluate, in place, the expressions of ``manifest`` that read only ``known``
    names (the composite); keep those that read ``late`` ids for :func:`resolve`.

    Returns the late ids the manifest still references. When there are any,
    literal ``${`` stay escaped as ``$${`` for resolve(); otherwise they are
    unescaped now. Raises ValidationError (naming ``subject`` and the
    expression) for an unknown name, a reference to the resource itself, an
    expression mixing the composite with a late id, or one that fails.
    """
    from gitwave.compositions.expressions import (
        Expression,
        ExpressionError,
        escape_value,
        interpolate,
        iter_strings,
        parse_template,
        render,
    )

    late = frozenset(late)
    pending: list[tuple[Any, Any, tuple[str | Expression, ...] | None, Any]] = []
    late_ids: set[str] = set()
    for container, slot, text in list(iter_strings(manifest)):
        try:
            template = parse_template(text)
        except ExpressionError as err:
            raise ValidationError(subject, str(err)) from None
        if template is None:
            continue
        if template.standalone:
            expression = template.parts[0]
            assert isinstance(expression, Expression)
            _check_names(expression, known=known, late=late, subject=subject, own_id=own_id)
            if expression.names & late:
                late_ids.update(expression.names & late)
                pending.append((container, slot, template.parts, None))
            else:
                pending.append((container, slot, None, _run_known(expression, known, subject)))
            continue
        parts: list[str | Expression] = []
        for part in template.parts:
            if isinstance(part, str):
                parts.append(part)
                continue
            _check_names(part, known=known, late=late, subject=subject, own_id=own_id)
            if part.names & late:
                late_ids.update(part.names & late)
                parts.append(part)
            else:
                parts.append(interpolate(_run_known(part, known, subject)))
        pending.append((container, slot, tuple(parts), None))
    keep_escaped = bool(late_ids)
    for container, slot, parts_or_none, value in pending:
        if parts_or_none is None:
            container[slot] = escape_value(value) if keep_escaped else value
        elif keep_escaped:
            container[slot] = render(parts_or_none)
        else:
            container[slot] = "".join(p for p in parts_or_none if isinstance(p, str))
    return frozenset(late_ids)


def _run_known(expression: Expression, known: Mapping[str, Any], subject: str) -> Any:
    from gitwave.compositions.expressions import ExpressionError

    try:
        return expression.run(known)
    except (KeyError, IndexError) as err:
        raise ValidationError(
            subject, f"${{{expression.source}}}: field {_missing_name(err)} is not set"
        ) from None
    except ExpressionError as err:
        raise ValidationError(subject, f"${{{expression.source}}}: {err}") from None


def _check_names(
    expression: Expression,
    *,
    known: Mapping[str, Any],
    late: frozenset[str],
    subject: str,
    own_id: str,
) -> None:
    for name in sorted(expression.names):
        if own_id and name == own_id:
            raise ValidationError(
                subject,
                f"${{{expression.source}}} refers to the resource itself ({name!r})",
                hint="a resource cannot wait for its own status; read it from another resource",
            )
        if name not in known and name not in late:
            choices = ", ".join(sorted({*known, *late} - {own_id})) or "none"
            raise ValidationError(
                subject,
                f"${{{expression.source}}} refers to {name!r}, which is not a resource of "
                f"this composition or the composite (known: {choices})",
                hint="write $${ for a literal '${'",
            )
    if expression.names & known.keys() and expression.names & late:
        raise ValidationError(
            subject,
            f"${{{expression.source}}} mixes the composite with another resource's values",
            hint="split it into two ${…} expressions in the same string",
        )

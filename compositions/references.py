"""``${…}`` references between resources, evaluated with CEL (kro's syntax).

A string value of a composition template or a kro ResourceGraphDefinition may
hold expressions: ``${db.status.atProvider.endpoint.address}``,
``${schema.spec.parameters.size}``, ``"postgres://${db.status.host}:5432"``.
A string that is exactly one ``${expr}`` takes the CEL value's type; an
expression embedded in longer text is interpolated as text. ``$${`` writes a
literal ``${`` (for shell scripts in templates).

Two kinds of names appear in expressions:

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

Expressions are compiled once by the CEL library (``common-expression-language``)
and cached by text; no expression parsing happens here beyond finding the
matching ``}``.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import cel
from cel import stdlib as cel_stdlib

from gitwave.compositions.values import copy_json, go_string, to_json
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import Manifest, Resource, ResourceKey

__all__ = [
    "ANNOTATION_REFERENCES",
    "COMPOSITE_NAMES",
    "Expression",
    "ExpressionError",
    "PendingReference",
    "Template",
    "compile_expression",
    "evaluate",
    "parse_template",
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


class ExpressionError(ValueError):
    """An expression that does not compile or evaluate; the caller names the subject."""


# --- templates -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expression:
    """One compiled CEL expression and the top-level names it reads."""

    source: str
    program: Any = field(repr=False, compare=False)
    names: frozenset[str]
    uses_extensions: bool

    def run(self, variables: Mapping[str, Any]) -> Any:
        """The JSON value of the expression over ``variables``.

        Raises KeyError/IndexError for a field that is not there, and
        ExpressionError for anything else (a type error, an unknown function).
        """
        context: Any = dict(variables)
        if self.uses_extensions:
            context = cel.Context(dict(variables), _extension_functions())
        try:
            return _to_json(self.program.execute(context))
        except (KeyError, IndexError):
            raise
        except Exception as err:  # the Rust core raises TypeError/ValueError/RuntimeError
            raise ExpressionError(_first_line(err)) from None


@functools.cache
def _extension_functions() -> dict[str, Callable[..., Any]]:
    """cel-go's extension functions (lowerAscii, split, join, …) that kro templates use."""
    context = cel.Context()
    cel_stdlib.add_stdlib_to_context(context)
    return dict(context.functions)


# Names bound by comprehension macros (``list.map(x, x * 2)``) are not references.
_MACRO_BOUND = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter|transformList|transformMap)\s*\(\s*"
    r"([A-Za-z_][A-Za-z0-9_]*)\s*,(?:\s*([A-Za-z_][A-Za-z0-9_]*)\s*,)?"
)


@functools.lru_cache(maxsize=8192)
def compile_expression(source: str) -> Expression:
    """Compile ``source`` once (cached by text). Raises ExpressionError on a syntax error."""
    try:
        program = cel.compile(source)
    except Exception as err:
        raise ExpressionError(f"does not compile: {_first_line(err)}") from None
    bound: set[str] = set()
    for match in _MACRO_BOUND.finditer(source):
        bound.update(name for name in match.groups() if name)
    names = frozenset(program.variables()) - bound
    uses_extensions = bool(set(program.functions()) & set(_extension_functions()))
    return Expression(source, program, names, uses_extensions)


@dataclass(frozen=True, slots=True)
class Template:
    """A string split into literal text and expressions.

    ``parts`` alternate freely between ``str`` (literal, unescaped) and
    Expression. ``standalone`` is True when the whole string is one expression.
    """

    parts: tuple[str | Expression, ...]

    @property
    def standalone(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], Expression)

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(p for p in self.parts if isinstance(p, Expression))

    @property
    def names(self) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for expression in self.expressions:
            found |= expression.names
        return found


@functools.lru_cache(maxsize=16384)
def parse_template(text: str) -> Template | None:
    """The Template of ``text``; None when it holds no ``${`` at all.

    Raises ExpressionError for an unclosed ``${``, an empty one, or an
    expression that does not compile.
    """
    if "${" not in text:
        return None
    parts: list[str | Expression] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            source = text[i + 2 : end].strip()
            if not source:
                raise ExpressionError(f"empty expression in {text!r}")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(compile_expression(source))
            i = end + 1
            continue
        literal.append(text[i])
        i += 1
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` that closes a ``${`` whose body starts at ``start``."""
    depth, quote, i = 1, "", start
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ExpressionError(f"unclosed '${{' in {text!r}")


def evaluate(template: Template, variables: Mapping[str, Any]) -> Any:
    """The value of ``template``: the expression's own value when standalone,
    else the interpolated text.

    Raises KeyError/IndexError for a missing field, ExpressionError otherwise.
    """
    if template.standalone:
        expression = template.parts[0]
        assert isinstance(expression, Expression)
        return expression.run(variables)
    out: list[str] = []
    for part in template.parts:
        out.append(part if isinstance(part, str) else interpolate(part.run(variables)))
    return "".join(out)


def interpolate(value: Any) -> str:
    """A CEL value as embedded text: strings as they are, numbers and booleans as
    CEL prints them, null as ``null``, lists and maps as JSON."""
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return to_json(value)
    return go_string(value)


def escape(text: str) -> str:
    """``text`` with every ``${`` written as ``$${`` (a literal, not an expression)."""
    return text.replace("${", "$${")


def escape_value(value: Any) -> Any:
    """``value`` with every string in it escaped (see :func:`escape`)."""
    if isinstance(value, str):
        return escape(value) if "${" in value else value
    if isinstance(value, dict):
        return {k: escape_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_value(v) for v in value]
    return value


def render(parts: tuple[str | Expression, ...]) -> str:
    """The escaped text of ``parts``: literals escaped, expressions as ``${…}``."""
    return "".join(
        escape(part) if isinstance(part, str) else "${" + part.source + "}" for part in parts
    )


def _to_json(value: Any) -> Any:
    """A CEL result as a JSON value (timestamps and durations as text, bytes decoded)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, datetime.timedelta):
        return f"{value.total_seconds():g}s"
    return str(value)


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def iter_strings(value: Any) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, text) of every string holding ``${`` inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                if "${" in item:
                    yield value, key, item
            elif isinstance(item, dict | list):
                yield from iter_strings(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                if "${" in item:
                    yield value, index, item
            elif isinstance(item, dict | list):
                yield from iter_strings(item)


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
    return Resource(resource.key, resource.api_version, manifest, resource.source)


def _copy_without_annotation(manifest: Manifest) -> Manifest:
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

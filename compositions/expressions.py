"""``${…}`` templates: strings holding CEL expressions (kro's syntax).

A string value of a composition template or a kro ResourceGraphDefinition may
hold expressions: ``${db.status.atProvider.endpoint.address}``,
``${schema.spec.parameters.size}``, ``"postgres://${db.status.host}:5432"``.
A string that is exactly one ``${expr}`` takes the CEL value's type; an
expression embedded in longer text is interpolated as text. ``$${`` writes a
literal ``${`` (for shell scripts in templates).

Expressions are compiled once by the CEL library (``common-expression-language``)
and cached by text; no expression parsing happens here beyond finding the
matching ``}``. Which names an expression may read, and when it is evaluated,
is decided by :mod:`gitwave.compositions.references`.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.compositions.values import go_string, to_json

__all__ = [
    "Expression",
    "ExpressionError",
    "Template",
    "compile_expression",
    "escape",
    "escape_value",
    "evaluate",
    "interpolate",
    "iter_strings",
    "parse_template",
    "render",
]


class ExpressionError(ValueError):
    """An expression that does not compile or evaluate; the caller names the subject."""


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
            import cel

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
    import cel  # on first use: importing it costs 0.1 s (it pulls in prompt_toolkit)
    from cel import stdlib as cel_stdlib

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
    import cel

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

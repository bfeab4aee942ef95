"""The subset of Go's text/template that ApplicationSet templates are written in.

Argo CD renders ``goTemplate: true`` ApplicationSets with Go's text/template
and the Sprig functions. This is a small interpreter for what Argo CD users
write there: field chains (``{{ .path.basename }}``, ``{{ $.values.env }}``),
literals, function calls and pipelines (``{{ .name | lower | trunc 20 }}``),
parenthesised pipelines, variables (``{{ $x := .a }}``), ``if``/``else
if``/``else``, ``with``, ``range`` and ``end``, comments and ``{{-``/``-}}``
trimming. The functions are in ``gotemplate_funcs``: pure string and value
work, nothing that reads a file, the environment, the network or the clock.

Anything else (``define``, ``template``, ``block``, methods on values, an
unknown function) is a ``TemplateError`` naming the construct; the caller adds
the field and ``file:line``. Output is bounded (``max_output`` characters) and
so is nesting, so a template from Git cannot make gitwave build a huge string.

One module over 400 lines on purpose: lexer, parser and evaluator of one
small language share their node types and are read together.

Like Go: a missing map key prints ``<no value>`` unless the option
``missingkey=error`` is set; a field of a missing value is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.apps.gotemplate_funcs import (
    FUNCTIONS,
    MISSING,
    TemplateError,
    printable,
    truthy,
    value_size,
)

MAX_NESTING = 50
# Evaluation steps one render may take: nested ``range``s over numbers or long
# lists must not keep gitwave busy for hours while emitting nothing.
MAX_STEPS = 200_000

# --- lexing one action ---------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()|,])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _lex(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise TemplateError(f"unexpected {source[position : position + 10]!r} in action")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
        position = match.end()
    return tokens


# --- the parse tree ----------------------------------------------------------------


@dataclass(frozen=True)
class _Operand:
    kind: str  # string, number, bool, nil, field, variable, function, pipeline
    value: Any


@dataclass(frozen=True)
class _Pipeline:
    declare: tuple[str, ...]
    assign: bool
    commands: tuple[tuple[_Operand, ...], ...]


@dataclass
class _Block:
    keyword: str  # if, with, range
    branches: list[tuple[_Pipeline | None, list[Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class _Action:
    pipeline: _Pipeline


_KEYWORDS = {"if", "else", "end", "with", "range", "break", "continue"}
_REFUSED = {"define", "template", "block"}


class _ActionParser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise TemplateError("unexpected end of action")
        self.at += 1
        return token

    def pipeline(self, *, closing: str = "") -> _Pipeline:
        declare: list[str] = []
        assign = False
        # ``$x :=`` / ``$i, $v :=`` / ``$x =``
        save = self.at
        names: list[str] = []
        while (token := self.peek()) is not None and token.kind == "variable":
            names.append(self.take().text)
            nxt = self.peek()
            if nxt is not None and nxt.text == ",":
                self.take()
                continue
            break
        nxt = self.peek()
        if names and nxt is not None and nxt.kind in ("declare", "assign"):
            self.take()
            declare = names
            assign = nxt.kind == "assign"
        else:
            self.at = save
        commands: list[tuple[_Operand, ...]] = []
        while True:
            operands: list[_Operand] = []
            while (token := self.peek()) is not None and token.text not in ("|", ")"):
                operands.append(self.operand())
            if not operands:
                raise TemplateError("missing value in pipeline")
            commands.append(tuple(operands))
            token = self.peek()
            if token is None or (closing and token.text == closing):
                break
            if token.text == "|":
                self.take()
                continue
            raise TemplateError(f"unexpected {token.text!r} in pipeline")
        return _Pipeline(tuple(declare), assign, tuple(commands))

    def operand(self) -> _Operand:
        token = self.take()
        if token.kind == "string":
            try:
                return _Operand("string", json.loads(token.text))
            except json.JSONDecodeError:
                raise TemplateError(f"bad string literal {token.text}") from None
        if token.kind == "raw":
            return _Operand("string", token.text[1:-1])
        if token.kind == "number":
            text = token.text
            number: float | int = float(text) if any(c in text for c in ".eE") else int(text)
            return _Operand("number", number)
        if token.kind in ("field", "variable"):
            return _Operand(token.kind, token.text)
        if token.text == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise TemplateError(f"parentheses nested deeper than {MAX_NESTING}")
            inner = self.pipeline(closing=")")
            if self.take().text != ")":
                raise TemplateError("unclosed parenthesis")
            self.depth -= 1
            following = self.peek()
            if following is not None and following.kind == "field":
                raise TemplateError("a field of a parenthesised value is not supported")
            return _Operand("pipeline", inner)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return _Operand("bool", token.text == "true")
            if token.text == "nil":
                return _Operand("nil", None)
            if token.text in _KEYWORDS or token.text in _REFUSED:
                raise TemplateError(f"{token.text!r} is not allowed here")
            if token.text not in FUNCTIONS:
                raise TemplateError(f'function "{token.text}" not defined')
            return _Operand("function", token.text)
        raise TemplateError(f"unexpected {token.text!r}")


# --- parsing the template text -------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


@dataclass(frozen=True)
class GoTemplate:
    """A parsed template: render it with ``render(data, missing_key_error=...)``."""

    source: str
    nodes: tuple[Any, ...]
    max_output: int

    def render(self, data: Any, *, missing_key_error: bool = False) -> str:
        """The text; TemplateError for a failed evaluation or output over ``max_output``."""
        run = _Run(data, missing_key_error, self.max_output)
        run.nodes(list(self.nodes), data, {"$": data})
        return "".join(run.out)


def parse(source: str, *, max_output: int) -> GoTemplate:
    """Parse ``source``; TemplateError naming the unsupported or malformed construct."""
    root: list[Any] = []
    stack: list[tuple[_Block, list[Any]]] = []
    current = root
    position = 0
    trim_next = False
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if match.group(1):
            text = text.rstrip()
        if trim_next:
            text = text.lstrip()
        if text:
            current.append(text)
        position = match.end()
        trim_next = bool(match.group(3))
        body = match.group(2).strip()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError("unclosed comment")
            continue
        tokens = _lex(body)
        if not tokens:
            raise TemplateError("missing value for command")
        head = tokens[0].text if tokens[0].kind == "ident" else ""
        if head in _REFUSED:
            raise TemplateError(f"{{{{{head}}}}} is not supported in ApplicationSet templates")
        if head in ("break", "continue"):
            raise TemplateError(f"{{{{{head}}}}} is not supported")
        if head in ("if", "with", "range"):
            if len(stack) >= MAX_NESTING:
                raise TemplateError(f"blocks nested deeper than {MAX_NESTING}")
            block = _Block(head)
            block.branches.append((_parse_pipeline(tokens[1:]), []))
            current.append(block)
            stack.append((block, current))
            current = block.branches[-1][1]
        elif head == "else":
            if not stack:
                raise TemplateError("{{else}} without {{if}}, {{with}} or {{range}}")
            block = stack[-1][0]
            if block.branches[-1][0] is None:
                raise TemplateError("{{else}} after {{else}}")
            rest = tokens[1:]
            condition: _Pipeline | None = None
            if rest:
                if rest[0].text != block.keyword or block.keyword == "range":
                    raise TemplateError(f"{{{{else {rest[0].text}}}}} is not supported here")
                condition = _parse_pipeline(rest[1:])
            block.branches.append((condition, []))
            current = block.branches[-1][1]
        elif head == "end":
            if len(tokens) != 1:
                raise TemplateError("unexpected words after {{end}}")
            if not stack:
                raise TemplateError("{{end}} without {{if}}, {{with}} or {{range}}")
            _, current = stack.pop()
        else:
            current.append(_Action(_parse_pipeline(tokens)))
    text = source[position:]
    if trim_next:
        text = text.lstrip()
    if text:
        current.append(text)
    if stack:
        raise TemplateError(f"unclosed {{{{{stack[-1][0].keyword}}}}}: add {{{{end}}}}")
    return GoTemplate(source, tuple(root), max_output)


def _parse_pipeline(tokens: list[_Token]) -> _Pipeline:
    if not tokens:
        raise TemplateError("missing value")
    parser = _ActionParser(tokens)
    pipeline = parser.pipeline()
    if parser.peek() is not None:
        raise TemplateError(f"unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    return pipeline


# --- evaluation --------------------------------------------------------------------


class _Run:
    def __init__(self, data: Any, missing_key_error: bool, max_output: int) -> None:
        self.data = data
        self.missing_key_error = missing_key_error
        self.max_output = max_output
        self.out: list[str] = []
        self.size = 0
        self.steps = 0

    def emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.max_output:
            raise TemplateError(f"output over {self.max_output:,} characters")
        self.out.append(text)

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"more than {MAX_STEPS:,} evaluation steps")

    def nodes(self, nodes: Sequence[Any], dot: Any, scope: dict[str, Any]) -> None:
        for node in nodes:
            self.step()
            if isinstance(node, str):
                self.emit(node)
            elif isinstance(node, _Action):
                value = self.pipeline(node.pipeline, dot, scope)
                if not node.pipeline.declare:
                    self.emit(printable(value))
            else:
                self.block(node, dot, scope)

    def block(self, block: _Block, dot: Any, scope: dict[str, Any]) -> None:
        if block.keyword == "range":
            self.range(block, dot, scope)
            return
        for condition, body in block.branches:
            inner = dict(scope)
            if condition is None:
                self.nodes(body, dot, inner)
                return
            value = self.pipeline(condition, dot, inner)
            if truthy(value):
                self.nodes(body, value if block.keyword == "with" else dot, inner)
                return

    def range(self, block: _Block, dot: Any, scope: dict[str, Any]) -> None:
        condition, body = block.branches[0]
        assert condition is not None
        undeclared = _Pipeline((), False, condition.commands)
        value = self.pipeline(undeclared, dot, scope)
        items: list[tuple[Any, Any]]
        if isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            items = [(i, i) for i in range(min(value, self.max_output))]
        elif value is None or value is MISSING:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {printable(value)}")
        if not items:
            if len(block.branches) > 1:
                self.nodes(block.branches[1][1], dot, dict(scope))
            return
        for key, item in items:
            self.step()
            inner = dict(scope)
            names = condition.declare
            if len(names) == 1:
                inner[names[0]] = item
            elif len(names) == 2:
                inner[names[0]], inner[names[1]] = key, item
            self.nodes(body, item, inner)

    def pipeline(self, pipeline: _Pipeline, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = None
        for index, command in enumerate(pipeline.commands):
            piped = (value,) if index else ()
            value = self.command(command, dot, scope, piped)
        if pipeline.declare:
            if len(pipeline.declare) != 1:
                raise TemplateError("only one variable may be declared outside range")
            name = pipeline.declare[0]
            if pipeline.assign and name not in scope:
                raise TemplateError(f"undefined variable {name}")
            scope[name] = value
        return value

    def command(
        self,
        operands: tuple[_Operand, ...],
        dot: Any,
        scope: dict[str, Any],
        piped: tuple[Any, ...],
    ) -> Any:
        first = operands[0]
        if first.kind == "function":
            args = [self.operand(o, dot, scope) for o in operands[1:]]
            call: Callable[..., Any] = FUNCTIONS[first.value]
            if value_size([*args, *piped], self.max_output) > self.max_output:
                raise TemplateError(
                    f"arguments of {first.value} over {self.max_output:,} characters"
                )
            try:
                result = call(*args, *piped)
                if isinstance(result, str) and len(result) > self.max_output:
                    raise TemplateError(f"{first.value} made over {self.max_output:,} characters")
                return result
            except (TypeError, ValueError, RecursionError):
                shown = ", ".join(map(printable, [*args, *piped]))
                raise TemplateError(f"wrong arguments for {first.value}: {shown}") from None
        if len(operands) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {_shown(first)}")
        return self.operand(first, dot, scope)

    def operand(self, operand: _Operand, dot: Any, scope: dict[str, Any]) -> Any:
        if operand.kind == "field":
            return self.fields(dot, operand.value, ".")
        if operand.kind == "variable":
            name, _, rest = operand.value.partition(".")
            if name not in scope:
                raise TemplateError(f"undefined variable {name}")
            return self.fields(scope[name], "." + rest if rest else "", name)
        if operand.kind == "pipeline":
            return self.pipeline(operand.value, dot, dict(scope))
        if operand.kind == "function":
            return FUNCTIONS[operand.value]()
        return operand.value

    def fields(self, value: Any, chain: str, start: str) -> Any:
        if chain in ("", "."):
            return value
        walked = start
        for name in chain.strip(".").split("."):
            if value is MISSING or value is None:
                raise TemplateError(f"nil pointer evaluating {walked}.{name}")
            if not isinstance(value, Mapping):
                raise TemplateError(f"can't evaluate field {name} in {walked} (not a map)")
            if name in value:
                value = value[name]
            elif self.missing_key_error:
                raise TemplateError(f'map has no entry for key "{name}" (in {walked})')
            else:
                value = MISSING
            walked = f"{walked.rstrip('.')}.{name}"
        return value


def _shown(operand: _Operand) -> str:
    return str(operand.value)


__all__ = ["MISSING", "GoTemplate", "TemplateError", "parse"]

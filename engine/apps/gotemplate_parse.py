"""One action of a Go template (``{{ ... }}``) as ``engine.apps.gotemplate``
reads it: its tokens (``lex``), the parse tree's node types (``Operand``,
``Pipeline``, ``Block``, ``Action``) and the parser of a pipeline
(``parse_pipeline``). Nesting is bounded: a template from Git cannot make the
parser recurse without end.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.apps.gotemplate_funcs import (
    FUNCTIONS,
    TemplateError,
)

MAX_NESTING = 50

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
class Token:
    kind: str
    text: str


def lex(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise TemplateError(f"unexpected {source[position : position + 10]!r} in action")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group()))
        position = match.end()
    return tokens


# --- the parse tree ----------------------------------------------------------------


@dataclass(frozen=True)
class Operand:
    kind: str  # string, number, bool, nil, field, variable, function, pipeline
    value: Any


@dataclass(frozen=True)
class Pipeline:
    declare: tuple[str, ...]
    assign: bool
    commands: tuple[tuple[Operand, ...], ...]


@dataclass
class Block:
    keyword: str  # if, with, range
    branches: list[tuple[Pipeline | None, list[Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Action:
    pipeline: Pipeline


KEYWORDS = {"if", "else", "end", "with", "range", "break", "continue"}
REFUSED = {"define", "template", "block"}


class ActionParser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise TemplateError("unexpected end of action")
        self.at += 1
        return token

    def pipeline(self, *, closing: str = "") -> Pipeline:
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
        commands: list[tuple[Operand, ...]] = []
        while True:
            operands: list[Operand] = []
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
        return Pipeline(tuple(declare), assign, tuple(commands))

    def operand(self) -> Operand:
        token = self.take()
        if token.kind == "string":
            try:
                return Operand("string", json.loads(token.text))
            except json.JSONDecodeError:
                raise TemplateError(f"bad string literal {token.text}") from None
        if token.kind == "raw":
            return Operand("string", token.text[1:-1])
        if token.kind == "number":
            text = token.text
            number: float | int = float(text) if any(c in text for c in ".eE") else int(text)
            return Operand("number", number)
        if token.kind in ("field", "variable"):
            return Operand(token.kind, token.text)
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
            return Operand("pipeline", inner)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Operand("bool", token.text == "true")
            if token.text == "nil":
                return Operand("nil", None)
            if token.text in KEYWORDS or token.text in REFUSED:
                raise TemplateError(f"{token.text!r} is not allowed here")
            if token.text not in FUNCTIONS:
                raise TemplateError(f'function "{token.text}" not defined')
            return Operand("function", token.text)
        raise TemplateError(f"unexpected {token.text!r}")


def parse_pipeline(tokens: list[Token]) -> Pipeline:
    if not tokens:
        raise TemplateError("missing value")
    parser = ActionParser(tokens)
    pipeline = parser.pipeline()
    if parser.peek() is not None:
        raise TemplateError(f"unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    return pipeline

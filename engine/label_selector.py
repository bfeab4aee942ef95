"""Kubernetes label selectors written as text (``kubectl -l``, ``argocd app list -l``).

    env=prod,tier!=db          equality and inequality (``==`` is ``=``)
    env in (prod,staging)      set membership; ``notin`` also matches an absent key
    team, !legacy              the key exists / does not exist
    replicas>2                 whole-number comparison (``<`` too), as kubectl has it

Requirements are separated by commas and all must hold. The grammar, the
validation of keys and values and the error wording follow apimachinery's
``labels.Parse``, so a selector kubectl accepts is accepted here and one it
refuses is refused with the message a kubectl user knows. Neither the
kubernetes Python client nor any installed package parses selector text (the
client passes the string to the API server), hence this module. Pure: no I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gitwave.engine.errors import GitwaveError

_SPECIAL = frozenset("=!(),<>")
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_MAX = 63
_PREFIX_MAX = 253
_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc')"
)


class SelectorError(GitwaveError):
    """A selector that does not parse; the message is apimachinery's wording."""

    def __init__(self, selector: str, detail: str) -> None:
        super().__init__(
            f"unable to parse selector {selector!r}: {detail}",
            hint="e.g. -l env=prod,tier!=db  -l 'env in (prod,staging)'  -l team  -l '!legacy'",
        )
        self.selector = selector
        self.detail = detail


class Operator(enum.Enum):
    """What a requirement asks of one label."""

    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = ">"
    LESS_THAN = "<"

    def holds(self, labels: Mapping[str, str], key: str, values: tuple[str, ...]) -> bool:
        """True when ``labels`` satisfy ``key OPERATOR values``."""
        present = key in labels
        value = labels.get(key, "")
        if self is Operator.EXISTS:
            return present
        if self is Operator.DOES_NOT_EXIST:
            return not present
        if self in (Operator.EQUALS, Operator.IN):
            return present and value in values
        if self in (Operator.NOT_EQUALS, Operator.NOT_IN):
            # As Kubernetes: an absent key is "not equal" to anything.
            return not present or value not in values
        if not present:
            return False
        try:
            number = int(value)
        except ValueError:
            return False  # a label that is no number matches neither > nor <
        bound = int(values[0])
        return number > bound if self is Operator.GREATER_THAN else number < bound


@dataclass(frozen=True, slots=True)
class Requirement:
    """One comma-separated part of a selector: ``key operator values``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.operator.holds(labels, self.key, self.values)

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({','.join(self.values)})"
        return f"{self.key}{op.value}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """Requirements that must all hold; none selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every requirement holds for ``labels``."""
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


# -- parsing -------------------------------------------------------------------------


class _Tok(enum.Enum):
    IDENT = "identifier"
    END = "end of string"
    COMMA = ","
    OPEN = "("
    CLOSE = ")"
    NOT = "!"
    EQ = "="
    DEQ = "=="
    NEQ = "!="
    GT = ">"
    LT = "<"
    IN = "in"
    NOTIN = "notin"


_SYMBOLS = {t.value: t for t in (_Tok.COMMA, _Tok.OPEN, _Tok.CLOSE, _Tok.NOT, _Tok.EQ)} | {
    t.value: t for t in (_Tok.DEQ, _Tok.NEQ, _Tok.GT, _Tok.LT)
}
_KEYWORDS = {"in": _Tok.IN, "notin": _Tok.NOTIN}
_BINARY = {
    _Tok.EQ: Operator.EQUALS,
    _Tok.DEQ: Operator.EQUALS,
    _Tok.NEQ: Operator.NOT_EQUALS,
    _Tok.IN: Operator.IN,
    _Tok.NOTIN: Operator.NOT_IN,
    _Tok.GT: Operator.GREATER_THAN,
    _Tok.LT: Operator.LESS_THAN,
}


class _Fail(Exception):
    """A parse error's detail, turned into a SelectorError with the whole text."""


def _tokens(text: str) -> list[tuple[_Tok, str]]:
    """The selector cut into tokens; the longest operator wins (``!=`` over ``!``)."""
    found: list[tuple[_Tok, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t\n\r":
            i += 1
        elif ch in _SPECIAL:
            two = text[i : i + 2]
            if two in _SYMBOLS:
                found.append((_SYMBOLS[two], two))
                i += 2
            elif ch in _SYMBOLS:
                found.append((_SYMBOLS[ch], ch))
                i += 1
            else:
                raise _Fail(f"error expected: keyword found '{ch}'")
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIAL and text[i] not in " \t\n\r":
                i += 1
            word = text[start:i]
            found.append((_KEYWORDS.get(word, _Tok.IDENT), word))
    found.append((_Tok.END, ""))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self._items = _tokens(text)
        self._at = 0

    def _peek(self, *, value: bool = False) -> tuple[_Tok, str]:
        tok, lit = self._items[self._at]
        # In a value's place the keywords are plain words: ``x in (in)``.
        return (_Tok.IDENT, lit) if value and tok in (_Tok.IN, _Tok.NOTIN) else (tok, lit)

    def _take(self, *, value: bool = False) -> tuple[_Tok, str]:
        found = self._peek(value=value)
        self._at += 1
        return found

    def parse(self) -> list[Requirement]:
        found: list[Requirement] = []
        while True:
            tok, lit = self._peek(value=True)
            if tok is _Tok.END:
                return found
            if tok not in (_Tok.IDENT, _Tok.NOT):
                raise _Fail(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                found.append(self._requirement())
            except _Fail as exc:
                raise _Fail(f"unable to parse requirement: {exc}") from None
            tok, lit = self._take(value=True)
            if tok is _Tok.END:
                return found
            if tok is not _Tok.COMMA:
                raise _Fail(f"found '{lit}', expected: ',' or 'end of string'")
            after, after_lit = self._peek(value=True)
            if after not in (_Tok.IDENT, _Tok.NOT):
                raise _Fail(f"found '{after_lit}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        negated = False
        tok, lit = self._take(value=True)
        if tok is _Tok.NOT:
            negated = True
            tok, lit = self._take(value=True)
        if tok is not _Tok.IDENT:
            raise _Fail(f"found '{lit}', expected: identifier")
        key = _checked_key(lit)
        if negated:
            # ``!key`` takes no operator: what follows must be "," or the end
            # (``!env=prod`` is refused by the caller, as kubectl does).
            return Requirement(key, Operator.DOES_NOT_EXIST)
        if self._peek(value=True)[0] in (_Tok.END, _Tok.COMMA):
            return Requirement(key, Operator.EXISTS)
        tok, lit = self._take()
        if tok not in _BINARY:
            raise _Fail(f"found '{lit}', expected: =, !=, ==, in, notin, gt, lt")
        operator = _BINARY[tok]
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self._value_set()
        else:
            values = (self._exact_value(),)
        for value in values:
            _check_value(key, value)
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            try:
                int(values[0])
            except ValueError:
                raise _Fail(
                    f"for 'Gt', 'Lt' operators, the value must be an integer, not {values[0]!r}"
                ) from None
        return Requirement(key, operator, values)

    def _value_set(self) -> tuple[str, ...]:
        tok, lit = self._take(value=True)
        if tok is not _Tok.OPEN:
            raise _Fail(f"found '{lit}', expected: '('")
        values: list[str] = []
        expect_value = True  # after "(" or ",": an empty value is a value, as in Go's parser
        while True:
            tok, lit = self._take(value=True)
            if tok is _Tok.CLOSE:
                if expect_value:
                    values.append("")  # ``()`` and ``(a,)`` hold the empty value
                return tuple(sorted(set(values)))
            if tok is _Tok.COMMA:
                if expect_value:
                    values.append("")
                expect_value = True
            elif not expect_value:
                raise _Fail(f"found '{lit}', expected: ',' or ')'")
            elif tok is _Tok.IDENT:
                values.append(lit)
                expect_value = False
            else:
                raise _Fail(f"found '{lit}', expected: ',', ')' or identifier")

    def _exact_value(self) -> str:
        tok, lit = self._peek(value=True)
        if tok in (_Tok.END, _Tok.COMMA):
            return ""  # ``env=`` selects an empty value
        tok, lit = self._take(value=True)
        if tok is not _Tok.IDENT:
            raise _Fail(f"found '{lit}', expected: identifier")
        return lit


def _checked_key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    problems = []
    if slash and not prefix:
        problems.append("prefix part must be non-empty")
    elif slash and (len(prefix) > _PREFIX_MAX or not _SUBDOMAIN.fullmatch(prefix)):
        problems.append(
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character"
        )
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > _NAME_MAX:
        problems.append(f"name part must be no more than {_NAME_MAX} characters")
    elif not _NAME.fullmatch(name):
        problems.append(f"name part {_NAME_RULE}")
    if problems:
        raise _Fail(f'Invalid value: "{key}": {"; ".join(problems)}')
    return key


def _check_value(key: str, value: str) -> None:
    if value == "":
        return
    if len(value) > _NAME_MAX:
        raise _Fail(
            f'values[0][{key}]: Invalid value: "{value}": must be no more than '
            f"{_NAME_MAX} characters"
        )
    if not _NAME.fullmatch(value):
        raise _Fail(
            f'values[0][{key}]: Invalid value: "{value}": a valid label must be an empty '
            f"string or {_NAME_RULE.removeprefix('must ')}"
        )


def parse_selector(text: str) -> LabelSelector:
    """``text`` as a LabelSelector; SelectorError (kubectl's wording) when it does not parse.
    An empty or blank text selects everything."""
    try:
        found = _Parser(text).parse()
    except _Fail as exc:
        raise SelectorError(text, str(exc)) from None
    # Sorted by key, as apimachinery does: the same selector prints the same way.
    return LabelSelector(tuple(sorted(found, key=lambda r: r.key)))


__all__ = ["LabelSelector", "Operator", "Requirement", "SelectorError", "parse_selector"]

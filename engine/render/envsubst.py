"""``${var}`` expansion as Flux's post-build substitution does it (its fork of
drone/envsubst), in strict mode: a variable referenced without a default
operator and not set is an error, never an empty string.

What is recognised, and how (the fork's parser decides, not bash):

- ``$$`` writes one ``$`` (so ``$${var}`` leaves ``${var}`` as it is); a ``$``
  not followed by ``{`` stays; a bare ``$var`` is never expanded;
- ``${var}``; ``${#var}`` (its length); ``${var^}`` ``${var^^}`` ``${var,}``
  ``${var,,}`` (case); ``${var:n}`` ``${var:n:len}`` (substring, negative
  offsets from the end); ``${var#glob}`` ``${var##glob}`` ``${var%glob}``
  ``${var%%glob}`` (trim); ``${var/pat/rep}`` ``${var//pat/rep}``
  ``${var/#pat/rep}`` ``${var/%pat/rep}`` (replace, ``\\/`` escapes a slash);
- ``${var=default}``, ``${var:=default}``, ``${var:-default}`` (and ``:+``,
  ``:?``, which the fork parses but treats as ``:-``): the default when the
  variable is unset or empty; a default may itself hold ``${other}``.

``${var-default}`` (no colon) is a syntax error there, and so it is here.
Anything else after ``${`` that does not parse is an error naming what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Expansion", "SubstitutionError", "expand"]

Lookup = Callable[[str], str | None]

# Operators that supply their own fallback: an unset variable is no error with them.
_DEFAULT_OPS = frozenset({"=", ":=", ":-", ":+", ":?"})


class SubstitutionError(ValueError):
    """A ``${…}`` that does not parse, or names a variable that is not set.

    ``variable`` is the variable's name for the second case ("" otherwise)."""

    def __init__(self, message: str, variable: str = "") -> None:
        super().__init__(message)
        self.variable = variable


@dataclass
class Expansion:
    """What ``expand`` found on the way: the variables it read, and the text it
    produced from the ``tainted`` ones (secret-sourced values, to be masked)."""

    tainted: frozenset[str] = frozenset()
    used: set[str] = field(default_factory=set)
    tainted_output: set[str] = field(default_factory=set)


def expand(text: str, lookup: Lookup, expansion: Expansion | None = None) -> str:
    """``text`` with every ``${…}`` expanded through ``lookup`` (None: unset).
    Raises SubstitutionError for a malformed expression or an unset variable."""
    state = expansion if expansion is not None else Expansion()
    parser = _Parser(text, lookup, state)
    return parser.top()


class _Parser:
    """A recursive-descent reader over ``text``, evaluating as it goes."""

    def __init__(self, text: str, lookup: Lookup, state: Expansion) -> None:
        self.text = text
        self.pos = 0
        self.lookup = lookup
        self.state = state

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def top(self) -> str:
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            start = text.find("$", self.pos)
            if start < 0:
                out.append(text[self.pos :])
                break
            out.append(text[self.pos : start])
            self.pos = start
            following = self.peek(1)
            if following == "$":  # the escape: one literal dollar, not read again
                out.append("$")
                self.pos += 2
            elif following == "{":
                self.pos += 2
                out.append(self.expression())
            else:
                out.append("$")
                self.pos += 1
        return "".join(out)

    # -- one ${...} --------------------------------------------------------------

    def expression(self) -> str:
        if self.peek() == "#":  # ${#var}: the length
            self.pos += 1
            name = self.name()
            self.close()
            return self.evaluate(name, "#len", [])
        name = self.name()
        char = self.peek()
        if char == "}":
            self.pos += 1
            return self.evaluate(name, "", [])
        if char == ":":
            if self.peek(1) in ("=", "-", "?", "+"):
                op = ":" + self.peek(1)
                self.pos += 2
                return self.evaluate(name, op, [self.default_text()])
            self.pos += 1
            offset = self.argument(stop=":}")
            args = [offset]
            if self.peek() == ":":
                self.pos += 1
                args.append(self.argument(stop="}"))
            self.close()
            return self.evaluate(name, ":", args)
        if char == "=":
            self.pos += 1
            return self.evaluate(name, "=", [self.default_text()])
        if char in (",", "^"):
            op = char
            self.pos += 1
            if self.peek() in (",", "^"):
                op += self.peek()
                self.pos += 1
            self.close()
            return self.evaluate(name, op, [])
        if char == "/":
            return self.replace(name)
        if char in ("#", "%"):
            op = char
            self.pos += 1
            if self.peek() == char:
                op += char
                self.pos += 1
            pattern = self.argument(stop="}")
            self.close()
            return self.evaluate(name, op, [pattern])
        raise SubstitutionError(f"missing closing brace after ${{{name}")

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        if self.pos == start:
            raise SubstitutionError("unable to parse variable name after ${")
        return self.text[start : self.pos]

    def close(self) -> None:
        if self.peek() != "}":
            raise SubstitutionError("bad substitution (missing closing brace)")
        self.pos += 1

    def default_text(self) -> str:
        """A default's text up to the closing brace, ``${…}`` inside expanded."""
        value = self.argument(stop="}")
        self.close()
        return value

    def argument(self, *, stop: str, escapes: bool = False) -> str:
        """Text up to one of ``stop`` (not consumed); a ``${…}`` inside is
        expanded. With ``escapes`` (replace arguments): ``$$`` → ``$``,
        ``\\/`` → ``/``, ``\\\\`` → ``\\``."""
        out: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise SubstitutionError("bad substitution (missing closing brace)")
            if char in stop:
                return "".join(out)
            if char == "$" and self.peek(1) == "{":
                self.pos += 2
                out.append(self.expression())
                continue
            if escapes and char == "$" and self.peek(1) == "$":
                out.append("$")
                self.pos += 2
                continue
            if escapes and char == "\\" and self.peek(1) in ("/", "\\"):
                out.append(self.peek(1))
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1

    def replace(self, name: str) -> str:
        self.pos += 1  # the first slash
        op = "/"
        if self.peek() in ("/", "#", "%"):
            op += self.peek()
            self.pos += 1
        pattern = "" if self.peek() == "/" else self.argument(stop="/}", escapes=True)
        if self.peek() != "/":
            raise SubstitutionError(f"bad substitution in ${{{name}{op}…}}")
        self.pos += 1
        args = [pattern]
        if self.peek() != "}":
            args.append(self.argument(stop="}", escapes=True))
        self.close()
        return self.evaluate(name, op, args)

    # -- evaluation --------------------------------------------------------------

    def evaluate(self, name: str, op: str, args: list[str]) -> str:
        value = self.lookup(name)
        self.state.used.add(name)
        if value is None and op not in _DEFAULT_OPS:
            raise SubstitutionError(f"variable not set: {name!r}", variable=name)
        result = _apply(op, value or "", args)
        if name in self.state.tainted:
            if value:
                self.state.tainted_output.add(value)
            if result:
                self.state.tainted_output.add(result)
        return result


def _apply(op: str, value: str, args: list[str]) -> str:
    if op == "":
        return value
    if op == "#len":
        return str(len(value.encode()))
    if op in _DEFAULT_OPS:
        return value if value or not args else "".join(args)
    if op == "^":
        return value[:1].upper() + value[1:]
    if op == "^^":
        return value.upper()
    if op == ",":
        return value[:1].lower() + value[1:]
    if op == ",,":
        return value.lower()
    if op == ":":
        return _substring(value, args)
    if op in ("#", "##", "%", "%%"):
        return _trim(op, value, args[0])
    if op in ("/", "//", "/#", "/%"):
        return _replace(op, value, args)
    return value  # the fork's fallback (e.g. ``${v,^}``): the value as it is


_INT = re.compile(r"[+-]?[0-9]+\Z")


def _substring(value: str, args: list[str]) -> str:
    if not _INT.match(args[0]):
        return value  # bash returns the value when the offset does not parse
    pos = int(args[0])
    if pos < 0:
        pos = max(len(value) + pos, 0)
    if len(args) == 1:
        return value[pos:]
    if not _INT.match(args[1]):
        return value
    length = int(args[1])
    if length < 0:
        end = len(value) + length
        return "" if end < pos else value[pos:end]
    return value[pos : pos + length]


def _replace(op: str, value: str, args: list[str]) -> str:
    pattern = args[0]
    replacement = args[1] if len(args) > 1 else ""
    if op == "//":
        return value.replace(pattern, replacement)
    if op == "/":
        return value.replace(pattern, replacement, 1)
    if len(args) != 2:
        return value
    if op == "/#":
        return value.replace(pattern, replacement, 1) if value.startswith(pattern) else value
    return value[: len(value) - len(pattern)] + replacement if value.endswith(pattern) else value


def _trim(op: str, value: str, pattern: str) -> str:
    if op in ("%", "%%"):  # suffixes: the fork reverses the value and the pattern
        return _trim_prefix(value[::-1], pattern[::-1], longest=op == "%%")[::-1]
    return _trim_prefix(value, pattern, longest=op == "##")


def _trim_prefix(value: str, pattern: str, *, longest: bool) -> str:
    regex = _glob(pattern)
    if regex is None:
        return value
    match = ""
    for end in range(len(value), 0, -1):  # the longest prefix first, never the empty one
        if regex.fullmatch(value[:end]):
            match = value[:end]
            if longest:
                break
    return value[len(match) :]


def _glob(pattern: str) -> re.Pattern[str] | None:
    """Go's ``path.Match`` pattern as a regex (``*`` and ``?`` never match ``/``);
    None for a malformed pattern (the fork then leaves the value alone)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 >= len(pattern):
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return None
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            if not body:
                return None
            escaped = "".join("\\" + c if c in "\\]^[" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None

"""CEL as a Kubernetes API server evaluates admission policies.

The ``cel`` library (``common-expression-language``) gives the language and
cel-go's ``strings``/``lists``/``math`` extensions (``lowerAscii``, ``split``,
``join``, …); Kubernetes adds libraries of its own, of which these are here:
regex (``find``, ``findAll``), quantity (``quantity``, ``isQuantity``,
``compareTo``, ``isGreaterThan``, ``isLessThan``, ``add``, ``sub``,
``asInteger``, ``asApproximateFloat``, ``sign``, ``isInteger``), URLs (``url``,
``isURL``, ``getScheme``, ``getHost``, ``getHostname``, ``getPort``,
``getEscapedPath``, ``getQuery``) and ``isSorted``. ``authorizer`` is not
(gitwave is no API server: it cannot ask RBAC), nor the ``?.`` optional
syntax (the library does not parse it); a policy using either fails naming
the policy. A quantity is carried as ``{"@quantity": "1Gi"}``: an opaque value
only these functions read.
"""

from __future__ import annotations

import functools
import itertools
import re
import urllib.parse
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from gitwave.engine.quantity import parse_quantity

_Q = "@quantity"


class CelError(ValueError):
    """An expression that does not compile or evaluate."""


def _quantity(text: str) -> dict[str, str]:
    try:
        parse_quantity(text)
    except (ValueError, ArithmeticError, TypeError):
        raise ValueError(f"quantities must match the regular expression: {text!r}") from None
    return {_Q: str(text)}


def _qvalue(value: Any) -> Decimal:
    if isinstance(value, Mapping) and _Q in value:
        return parse_quantity(value[_Q])
    raise TypeError("not a quantity")


def _is_quantity(text: str) -> bool:
    try:
        parse_quantity(text)
    except (ValueError, ArithmeticError, TypeError):
        return False
    return True


def _compare(a: Any, b: Any) -> int:
    left, right = _qvalue(a), _qvalue(b)
    return (left > right) - (left < right)


def _qarith(a: Any, b: Any, sign: int) -> dict[str, str]:
    other = _qvalue(b) if isinstance(b, Mapping) else Decimal(b)
    return {_Q: str(_qvalue(a) + sign * other)}


def _url(text: str) -> dict[str, str]:
    parsed = urllib.parse.urlsplit(text)
    if not parsed.scheme and not text.startswith("/"):
        raise ValueError(f"URL must be an absolute URI or an absolute path: {text!r}")
    return {"@url": text}


def _split(value: Any) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(str(value["@url"]))


def _is_url(text: str) -> bool:
    try:
        _url(text)
    except ValueError:
        return False
    return True


def _port(value: Any) -> str:
    port = _split(value).port
    return "" if port is None else str(port)


def _find(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return match.group(0) if match else ""


def _find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m.group(0) for m in re.finditer(pattern, text)]
    return found if limit < 0 else found[:limit]


def _is_sorted(items: list[Any]) -> bool:
    return all(a <= b for a, b in itertools.pairwise(items))


_KUBERNETES: dict[str, Callable[..., Any]] = {
    "find": _find,
    "findAll": _find_all,
    "quantity": _quantity,
    "isQuantity": _is_quantity,
    "compareTo": _compare,
    "isGreaterThan": lambda a, b: _compare(a, b) > 0,
    "isLessThan": lambda a, b: _compare(a, b) < 0,
    "add": lambda a, b: _qarith(a, b, 1),
    "sub": lambda a, b: _qarith(a, b, -1),
    "asInteger": lambda q: int(_qvalue(q)),
    "isInteger": lambda q: _qvalue(q) == int(_qvalue(q)),
    "asApproximateFloat": lambda q: float(_qvalue(q)),
    "sign": lambda q: (_qvalue(q) > 0) - (_qvalue(q) < 0),
    "url": _url,
    "isURL": _is_url,
    "getScheme": lambda u: _split(u).scheme,
    "getHost": lambda u: _split(u).netloc.rpartition("@")[2],
    "getHostname": lambda u: _split(u).hostname or "",
    "getPort": _port,
    "getEscapedPath": lambda u: _split(u).path,
    "getQuery": lambda u: {k: v for k, v in urllib.parse.parse_qs(_split(u).query).items()},
    "isSorted": _is_sorted,
}


@functools.cache
def functions() -> dict[str, Callable[..., Any]]:
    """Every function a policy expression may call beyond CEL's own."""
    import cel  # on first use: importing it costs 0.1 s (it pulls in prompt_toolkit)
    from cel import stdlib as cel_stdlib

    context = cel.Context()
    cel_stdlib.add_stdlib_to_context(context)
    return {**dict(context.functions), **_KUBERNETES}


@functools.lru_cache(maxsize=4096)
def compile_cel(source: str) -> Any:
    """``source`` compiled once (cached by text); CelError when it does not parse."""
    import cel

    try:
        return cel.compile(source)
    except Exception as err:  # the Rust core raises ValueError with a caret diagram
        raise CelError(f"does not compile: {_first_line(err)}") from None


class Scope:
    """The variables of one admission request, converted to CEL once: every
    expression of a policy runs in it (building a context costs about 1 ms,
    running an expression in a built one a few microseconds)."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        import cel

        self._context = cel.Context(dict(variables), functions())

    def bind(self, name: str, value: Any) -> None:
        """Set (or replace) one variable: ``variables`` as it is composed."""
        self._context.add_variable(name, value)

    def run(self, source: str) -> Any:
        """The value of ``source`` here; CelError when it fails."""
        program = compile_cel(source)
        if "authorizer" in program.variables():
            raise CelError(
                "`authorizer` is not available: gitwave cannot ask the API server's RBAC"
            )
        try:
            return program.execute(self._context)
        except Exception as err:  # TypeError/ValueError/RuntimeError/KeyError from the core
            raise CelError(_first_line(err)) from None


def run(source: str, variables: Mapping[str, Any]) -> Any:
    """The value of ``source`` over ``variables`` (one expression); CelError when it fails."""
    return Scope(variables).run(source)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


__all__ = ["CelError", "Scope", "compile_cel", "functions", "run"]

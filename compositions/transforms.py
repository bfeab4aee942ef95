"""Crossplane patch transforms: map, match, string, math and convert.

One small function per transform type, in a registry keyed by the ``type``
field (Crossplane's spelling). Each takes the transform's spec and an input
value and returns the output; a bad spec or an input of the wrong type raises
TransformError, which the patch stage turns into a ValidationError naming the
resource, the patch and the transform.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType
from typing import Any

from gitwave.compositions.values import (
    SprintfError,
    copy_json,
    go_string,
    json_type,
    sprintf,
    to_json,
)
from gitwave.engine.api import parse_quantity

__all__ = ["TRANSFORMS", "TransformError", "apply_transforms"]


class TransformError(ValueError):
    """A transform could not run; the message says why (never a secret value).

    ``index`` and ``kind`` name the failing transform of a list (-1 and "" for
    a single transform run on its own).
    """

    def __init__(self, message: str, *, index: int = -1, kind: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.kind = kind

    def __str__(self) -> str:
        return self.message


Transform = Callable[[Mapping[str, Any], Any], Any]


def apply_transforms(transforms: Any, value: Any) -> Any:
    """Run ``transforms`` (a list of transform specs) on ``value`` in order.

    Raises TransformError whose ``index`` and ``kind`` name the failing transform.
    """
    if transforms is None:
        return value
    if not isinstance(transforms, list):
        raise TransformError("transforms must be a list")
    for index, spec in enumerate(transforms):
        try:
            value = _apply_one(spec, value)
        except TransformError as err:
            kind = spec.get("type") if isinstance(spec, Mapping) else None
            raise TransformError(err.message, index=index, kind=str(kind or "?")) from None
    return value


def _apply_one(spec: Any, value: Any) -> Any:
    if not isinstance(spec, Mapping):
        raise TransformError("a transform must be an object with a type")
    kind = spec.get("type")
    if kind is None:
        # Older Compositions leave out the type; the one config key present names it.
        kind = next((k for k in TRANSFORMS if k in spec), None)
    handler = TRANSFORMS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise TransformError(
            f"unknown transform type {kind!r}; use one of {', '.join(sorted(TRANSFORMS))}"
        )
    config = spec.get(kind)
    if not isinstance(config, Mapping):
        raise TransformError(f"transform of type {kind} needs a {kind!r} object")
    return handler(config, value)


# --- map ---------------------------------------------------------------------


def _map(config: Mapping[str, Any], value: Any) -> Any:
    if not isinstance(value, str):
        raise TransformError(f"map needs a string input, got {json_type(value)}")
    if value not in config:
        keys = ", ".join(repr(k) for k in sorted(config)) or "none"
        raise TransformError(f"key {value!r} is not in the map (keys: {keys})")
    return copy_json(config[value])


# --- match -------------------------------------------------------------------


def _match(config: Mapping[str, Any], value: Any) -> Any:
    patterns = config.get("patterns") or []
    if not isinstance(patterns, list):
        raise TransformError("match.patterns must be a list")
    for number, pattern in enumerate(patterns):
        if not isinstance(pattern, Mapping):
            raise TransformError(f"match pattern {number} must be an object")
        kind = pattern.get("type", "literal")
        if kind == "literal":
            if "literal" not in pattern:
                raise TransformError(f"match pattern {number} of type literal needs 'literal'")
            matched = isinstance(value, str) and value == pattern["literal"]
        elif kind == "regexp":
            expression = pattern.get("regexp")
            if not isinstance(expression, str):
                raise TransformError(f"match pattern {number} of type regexp needs 'regexp'")
            matched = isinstance(value, str) and _regex(expression).search(value) is not None
        else:
            raise TransformError(
                f"match pattern {number} has unknown type {kind!r}; use literal or regexp"
            )
        if matched:
            return copy_json(pattern.get("result"))
    fallback_to = config.get("fallbackTo", "Value")
    if fallback_to == "Input":
        return value
    if fallback_to != "Value":
        raise TransformError(f"match.fallbackTo is {fallback_to!r}; use Value or Input")
    return copy_json(config.get("fallbackValue"))


def _regex(expression: str) -> re.Pattern[str]:
    try:
        return re.compile(expression)
    except re.error as err:
        raise TransformError(f"invalid regexp {expression!r}: {err}") from None


# --- string ------------------------------------------------------------------


def _scalar_text(value: Any, what: str) -> str:
    """Go's %v of a scalar; objects and arrays are refused (they have no sensible text)."""
    if isinstance(value, dict | list):
        raise TransformError(f"{what} needs a string or scalar input, got {json_type(value)}")
    return go_string(value)


def _string(config: Mapping[str, Any], value: Any) -> Any:
    kind = config.get("type")
    if kind is None:
        kind = "Format" if "fmt" in config else "Convert" if "convert" in config else None
    if kind == "Format":
        fmt = config.get("fmt")
        if not isinstance(fmt, str):
            raise TransformError("string transform of type Format needs 'fmt'")
        try:
            return sprintf(fmt, [value])
        except SprintfError as err:
            raise TransformError(str(err)) from None
    if kind == "Convert":
        return _convert_string(config.get("convert"), value)
    if kind in ("TrimPrefix", "TrimSuffix"):
        trim = config.get("trim")
        if not isinstance(trim, str):
            raise TransformError(f"string transform of type {kind} needs 'trim'")
        text = _scalar_text(value, kind)
        if kind == "TrimPrefix":
            return text.removeprefix(trim)
        return text.removesuffix(trim)
    if kind == "Regexp":
        spec = config.get("regexp")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("match"), str):
            raise TransformError("string transform of type Regexp needs regexp.match")
        group = spec.get("group", 0)
        if isinstance(group, bool) or not isinstance(group, int) or group < 0:
            raise TransformError("regexp.group must be a non-negative integer")
        text = _scalar_text(value, "Regexp")
        found = _regex(spec["match"]).search(text)
        if found is None:
            raise TransformError(f"regexp {spec['match']!r} does not match the input")
        if group > (found.re.groups or 0):
            raise TransformError(
                f"regexp {spec['match']!r} has no group {group} (it has {found.re.groups or 0})"
            )
        return found.group(group) or ""
    if kind == "Join":
        spec = config.get("join")
        separator = spec.get("separator", "") if isinstance(spec, Mapping) else None
        if not isinstance(separator, str):
            raise TransformError("string transform of type Join needs join.separator")
        if not isinstance(value, list):
            raise TransformError(f"Join needs an array input, got {json_type(value)}")
        return separator.join(go_string(v) for v in value)
    raise TransformError(
        f"string transform type {kind!r} is unknown; use Format, Convert, TrimPrefix, "
        "TrimSuffix, Regexp or Join"
    )


def _convert_string(kind: Any, value: Any) -> str:
    if kind == "ToUpper":
        return _scalar_text(value, kind).upper()
    if kind == "ToLower":
        return _scalar_text(value, kind).lower()
    if kind == "ToBase64":
        return base64.b64encode(_scalar_text(value, kind).encode()).decode()
    if kind == "FromBase64":
        text = _scalar_text(value, kind)
        try:
            return base64.b64decode(text, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TransformError("FromBase64: the input is not valid base64 text") from None
    if kind == "ToJson":
        return to_json(value)
    hashes: Mapping[str, Callable[[bytes], Any]] = {
        "ToSha1": hashlib.sha1,
        "ToSha256": hashlib.sha256,
        "ToSha512": hashlib.sha512,
    }
    data = value.encode() if isinstance(value, str) else to_json(value).encode()
    if kind in hashes:
        return str(hashes[kind](data).hexdigest())
    if kind == "ToAdler32":
        return str(zlib.adler32(data))
    raise TransformError(
        f"string convert {kind!r} is unknown; use ToUpper, ToLower, ToBase64, FromBase64, "
        "ToJson, ToSha1, ToSha256, ToSha512 or ToAdler32"
    )


# --- math --------------------------------------------------------------------


def _math(config: Mapping[str, Any], value: Any) -> Any:
    kind = config.get("type")
    if kind is None:
        kind = "Multiply" if "multiply" in config else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TransformError(f"math needs a number input, got {json_type(value)}")
    field = {"Multiply": "multiply", "ClampMin": "clampMin", "ClampMax": "clampMax"}.get(
        kind if isinstance(kind, str) else ""
    )
    if field is None:
        raise TransformError(f"math type {kind!r} is unknown; use Multiply, ClampMin or ClampMax")
    operand = config.get(field)
    if isinstance(operand, bool) or not isinstance(operand, int | float):
        raise TransformError(f"math of type {kind} needs a numeric {field!r}")
    if kind == "Multiply":
        return value * operand
    if kind == "ClampMin":
        return type(value)(operand) if value < operand else value
    return type(value)(operand) if value > operand else value


# --- convert -----------------------------------------------------------------


def _quantity(text: str) -> Decimal:
    """A Kubernetes quantity (``1.5Gi``, ``500m``, ``2e3``) as an exact Decimal.

    Raises TransformError when the text is not a quantity.
    """
    try:
        return parse_quantity(text.strip())
    except ValueError:
        raise TransformError(f"{text!r} is not a Kubernetes quantity") from None


_TYPE_OF = {
    "string": "string",
    "integer": "int64",
    "number": "float64",
    "boolean": "bool",
    "object": "object",
    "array": "array",
}
_TO_TYPES = ("string", "int", "int64", "float64", "bool", "object", "array")


def _convert(config: Mapping[str, Any], value: Any) -> Any:
    to_type = config.get("toType")
    if to_type not in _TO_TYPES:
        raise TransformError(f"convert.toType is {to_type!r}; use one of {', '.join(_TO_TYPES)}")
    to_type = "int64" if to_type == "int" else to_type
    fmt = config.get("format", "none") or "none"
    if fmt not in ("none", "quantity", "json"):
        raise TransformError(f"convert.format is {fmt!r}; use none, quantity or json")
    from_type = _TYPE_OF.get(json_type(value))
    if from_type is None:
        raise TransformError(f"convert cannot read a {json_type(value)} input")
    if from_type == to_type and fmt == "none":
        return value
    handler = _CONVERSIONS.get((from_type, to_type, fmt))
    if handler is None:
        raise TransformError(
            f"cannot convert {json_type(value)} to {to_type}"
            + (f" with format {fmt}" if fmt != "none" else "")
        )
    return handler(value)


def _parse_int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise TransformError(f"cannot convert {text!r} to int64: not an integer") from None


def _parse_float(text: str) -> float:
    try:
        result = float(text)
    except ValueError:
        raise TransformError(f"cannot convert {text!r} to float64: not a number") from None
    return result


_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_BOOLS |= {"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def _parse_bool(text: str) -> bool:
    if text not in _BOOLS:
        raise TransformError(f"cannot convert {text!r} to bool")
    return _BOOLS[text]


def _quantity_int(text: str) -> int:
    return int(_quantity(text).to_integral_value(rounding=ROUND_CEILING))


def _quantity_float(text: str) -> float:
    return float(_quantity(text))


def _json_of(kind: type) -> Callable[[str], Any]:
    def load(text: str) -> Any:
        try:
            result = json.loads(text)
        except json.JSONDecodeError as err:
            raise TransformError(f"the input is not JSON: {err.msg}") from None
        if not isinstance(result, kind):
            raise TransformError(f"the JSON input is {json_type(result)}, not the wanted type")
        return result

    return load


def _float_text(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


_CONVERSIONS: Mapping[tuple[str, str, str], Callable[[Any], Any]] = MappingProxyType(
    {
        ("string", "int64", "none"): _parse_int,
        ("string", "float64", "none"): _parse_float,
        ("string", "bool", "none"): _parse_bool,
        ("string", "int64", "quantity"): _quantity_int,
        ("string", "float64", "quantity"): _quantity_float,
        ("string", "object", "json"): _json_of(dict),
        ("string", "array", "json"): _json_of(list),
        ("int64", "string", "none"): str,
        ("int64", "float64", "none"): float,
        ("int64", "bool", "none"): lambda v: v == 1,
        ("float64", "string", "none"): _float_text,
        ("float64", "int64", "none"): int,
        ("float64", "bool", "none"): lambda v: v == 1.0,
        ("bool", "string", "none"): lambda v: "true" if v else "false",
        ("bool", "int64", "none"): int,
        ("bool", "float64", "none"): float,
    }
)


TRANSFORMS: Mapping[str, Transform] = MappingProxyType(
    {
        "map": _map,
        "match": _match,
        "string": _string,
        "math": _math,
        "convert": _convert,
    }
)

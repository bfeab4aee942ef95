"""The functions ApplicationSet Go templates may call: Go's builtins, the Sprig
functions Argo CD's documentation and users reach for, and Argo CD's own
``normalize`` and ``slugify``.

All are pure: none reads a file, the environment, the network or the clock
(Argo CD too leaves out Sprig's ``env``, ``expandenv`` and ``getHostByName``).
Those that could build a large string from a small template (``repeat``,
``printf`` widths) are absent or bounded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from gitwave.engine.limits import current_limits


class TemplateError(Exception):
    """A template that cannot be parsed or evaluated; the message names the construct."""


class _Missing:
    """A map key that is not there (Go's zero reflect.Value): prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


def printable(value: Any) -> str:
    """``value`` as Go's ``fmt.Sprint`` prints it (what ``{{ . }}`` writes)."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    go_string = getattr(value, "go_string", None)
    if callable(go_string):  # a struct with Go's own printed form (image commit messages)
        return str(go_string())
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{printable(k)}:{printable(value[k])}" for k in sorted(value, key=str))
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(printable(v) for v in value) + "]"
    return str(value)


def truthy(value: Any) -> bool:
    """Go's truth: false, 0, nil, and empty strings, lists and maps are false."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def value_size(value: Any, cap: int) -> int:
    """About how many characters ``value`` prints to, counting each reference
    (a list holding one long string ten times counts it ten times); stops
    counting past ``cap``."""
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += len(item) + 1
            stack.extend(item)
        else:
            total += 8
    return total


def _replace(old: Any, new: Any, text: Any) -> str:
    source, before, after = _text(text), _text(old), _text(new)
    count = source.count(before) if before else len(source) + 1
    if len(source) + count * len(after) > current_limits().max_object_bytes:
        raise TemplateError("replace would make a string over the size limit")
    return source.replace(before, after)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else printable(value)


def _number(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise TemplateError(f"{name}: {printable(value)} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise TemplateError(f"{name}: {printable(value)} is not a whole number")


def _index(collection: Any, *keys: Any) -> Any:
    value = collection
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key, MISSING) if isinstance(key, str) else MISSING
        elif isinstance(value, list | tuple):
            position = _number(key, "index")
            if not 0 <= position < len(value):
                raise TemplateError(f"index out of range: {position}")
            value = value[position]
        elif value is MISSING or value is None:
            raise TemplateError("index of untyped nil")
        else:
            raise TemplateError(f"can't index item of type {type(value).__name__}")
    return value


def _length(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise TemplateError(f"len of {printable(value)}")


def _compare(a: Any, b: Any) -> int:
    if isinstance(a, bool) or isinstance(b, bool):
        raise TemplateError("incompatible types for comparison")
    if isinstance(a, int | float) and isinstance(b, int | float):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    raise TemplateError(f"incompatible types for comparison: {printable(a)}, {printable(b)}")


def _equal(a: Any, *others: Any) -> bool:
    def same(x: Any, y: Any) -> bool:
        if x is MISSING or y is MISSING:
            return x is y or (x is MISSING and y is None) or (y is MISSING and x is None)
        if isinstance(x, bool) != isinstance(y, bool):
            return False
        return bool(x == y)

    return any(same(a, b) for b in others)


_PRINTF_VERB = re.compile(r"%([-+ 0#]?)(\d{0,2})(?:\.(\d{1,2}))?([sdvqfxtX%])")


def _printf(pattern: str, *args: Any) -> str:
    values = list(args)

    def one(match: re.Match[str]) -> str:
        flag, width, precision, verb = match.groups()
        if verb == "%":
            return "%"
        if not values:
            return f"%!{verb}(MISSING)"
        value = values.pop(0)
        if verb == "q":
            return json.dumps(_text(value))
        if verb == "t":
            return printable(bool(value))
        if verb in "dxX":
            spec = f"{flag}{width}{verb}".replace("X", "X")
            return format(_number(value, "printf"), spec)
        if verb == "f":
            number = float(value) if isinstance(value, int | float | str) else 0.0
            return format(number, f"{flag}{width}.{precision or 6}f")
        return format(_text(value), f"{'<' if flag == '-' else ''}{width}")

    return _PRINTF_VERB.sub(one, _text(pattern))


def sanitize_name(name: str) -> str:
    """Argo CD's ``normalize`` (SanitizeName): a DNS-1123 subdomain-ish name."""
    text = re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253]
    return text.strip("-.")


def _slugify(*args: Any) -> str:
    if not args:
        raise TemplateError("slugify needs a string")
    max_size, smart = 50, True
    if len(args) > 1:
        max_size = _number(args[0], "slugify")
    if len(args) > 2:
        smart = truthy(args[1])
    slug = re.sub(r"[^a-z0-9]+", "-", _text(args[-1]).lower()).strip("-")
    if len(slug) > max_size:
        cut = slug[:max_size]
        if smart and "-" in cut and slug[max_size] != "-":
            cut = cut.rsplit("-", 1)[0]
        slug = cut.strip("-")
    return slug


def _trunc(length: Any, text: Any) -> str:
    count, value = _number(length, "trunc"), _text(text)
    if count < 0:
        return value[count:] if -count < len(value) else value
    return value[:count]


def _default(default: Any, *given: Any) -> Any:
    return given[0] if given and truthy(given[0]) else default


def _to_yaml(value: Any) -> str:
    text = yaml.dump(_plain(value), Dumper=yaml.CSafeDumper, sort_keys=True)
    return str(text).removesuffix("\n")


def _to_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if value is MISSING:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _from_yaml(text: Any) -> Any:
    try:
        return yaml.load(_text(text), Loader=yaml.CSafeLoader) or {}
    except yaml.YAMLError as err:
        return {"Error": str(err).splitlines()[0]}


def _from_json(text: Any) -> Any:
    try:
        return json.loads(_text(text))
    except json.JSONDecodeError as err:
        return {"Error": str(err)}


def _dict(*pairs: Any) -> dict[str, Any]:
    if len(pairs) % 2:
        raise TemplateError("dict needs key and value pairs")
    return {_text(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)}


def _b64dec(text: Any) -> str:
    try:
        return base64.b64decode(_text(text), validate=True).decode("utf-8", "replace")
    except ValueError as err:
        return str(err)


def _arith(op: Callable[[int, int], int]) -> Callable[..., int]:
    def run(*values: Any) -> int:
        numbers = [_number(v, "arithmetic") for v in values]
        result = numbers[0]
        for number in numbers[1:]:
            if abs(result) > 2**63 or abs(number) > 2**63:
                raise TemplateError("arithmetic overflow")
            try:
                result = op(result, number)
            except ZeroDivisionError:
                raise TemplateError("integer divide by zero") from None
        return result

    return run


def _case(words: Callable[[list[str]], str]) -> Callable[[Any], str]:
    def run(text: Any) -> str:
        parts = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", _text(text))
        return words([p.lower() for p in parts])

    return run


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go's builtins
    "and": lambda *v: next((x for x in v if not truthy(x)), v[-1]),
    "or": lambda *v: next((x for x in v if truthy(x)), v[-1]),
    "not": lambda v: not truthy(v),
    "eq": _equal,
    "ne": lambda a, b: not _equal(a, b),
    "lt": lambda a, b: _compare(a, b) < 0,
    "le": lambda a, b: _compare(a, b) <= 0,
    "gt": lambda a, b: _compare(a, b) > 0,
    "ge": lambda a, b: _compare(a, b) >= 0,
    "index": _index,
    "len": _length,
    "print": lambda *v: "".join(_text(x) for x in v),
    "printf": _printf,
    "println": lambda *v: " ".join(_text(x) for x in v) + "\n",
    # Argo CD's own
    "normalize": lambda text: sanitize_name(_text(text)),
    "slugify": _slugify,
    "toYaml": _to_yaml,
    "fromYaml": _from_yaml,
    "toJson": _to_json,
    "toRawJson": _to_json,
    "toPrettyJson": lambda v: json.dumps(_plain(v), sort_keys=True, indent=2),
    "fromJson": _from_json,
    # Sprig: strings
    "lower": lambda t: _text(t).lower(),
    "upper": lambda t: _text(t).upper(),
    "title": lambda t: _text(t).title(),
    "trim": lambda t: _text(t).strip(),
    "trimAll": lambda cut, t: _text(t).strip(_text(cut)),
    "trimPrefix": lambda prefix, t: _text(t).removeprefix(_text(prefix)),
    "trimSuffix": lambda suffix, t: _text(t).removesuffix(_text(suffix)),
    "replace": _replace,
    "trunc": _trunc,
    "quote": lambda *v: " ".join(json.dumps(_text(x)) for x in v if x is not None),
    "squote": lambda *v: " ".join(f"'{_text(x)}'" for x in v if x is not None),
    "contains": lambda sub, t: _text(sub) in _text(t),
    "hasPrefix": lambda prefix, t: _text(t).startswith(_text(prefix)),
    "hasSuffix": lambda suffix, t: _text(t).endswith(_text(suffix)),
    "nospace": lambda t: re.sub(r"\s+", "", _text(t)),
    "kebabcase": _case("-".join),
    "snakecase": _case("_".join),
    "cat": lambda *v: " ".join(_text(x) for x in v if x is not None and x is not MISSING),
    "join": lambda sep, items: _text(sep).join(_text(i) for i in (items or [])),
    "splitList": lambda sep, t: _text(t).split(_text(sep)),
    "toString": _text,
    "b64enc": lambda t: base64.b64encode(_text(t).encode()).decode(),
    "b64dec": _b64dec,
    "sha256sum": lambda t: hashlib.sha256(_text(t).encode()).hexdigest(),
    "sha1sum": lambda t: hashlib.sha1(_text(t).encode()).hexdigest(),
    # Sprig: values
    "default": _default,
    "empty": lambda v: not truthy(v),
    "coalesce": lambda *v: next((x for x in v if truthy(x)), None),
    "ternary": lambda yes, no, condition: yes if truthy(condition) else no,
    "list": lambda *v: list(v),
    "dict": _dict,
    "get": lambda m, k: m.get(_text(k), "") if isinstance(m, Mapping) else "",
    "hasKey": lambda m, k: isinstance(m, Mapping) and _text(k) in m,
    "keys": lambda *ms: [k for m in ms if isinstance(m, Mapping) for k in m],
    "first": lambda v: v[0] if isinstance(v, list | tuple) and v else None,
    "last": lambda v: v[-1] if isinstance(v, list | tuple) and v else None,
    "int": lambda v: _number(v, "int"),
    "atoi": lambda v: _number(v, "atoi"),
    "add": _arith(lambda a, b: a + b),
    "add1": lambda v: _number(v, "add1") + 1,
    "sub": _arith(lambda a, b: a - b),
    "mul": _arith(lambda a, b: a * b),
    "div": _arith(lambda a, b: int(a / b) if b else a // b),
    "mod": _arith(lambda a, b: a % b),
}


__all__ = [
    "FUNCTIONS",
    "MISSING",
    "TemplateError",
    "printable",
    "sanitize_name",
    "truthy",
    "value_size",
]

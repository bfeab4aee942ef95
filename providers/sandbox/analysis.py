"""Argo Rollouts analysis, as the sandbox plays it: one measurement per metric.

An ``analysis`` canary step names AnalysisTemplates; each metric of a
template is measured once, through its provider:

* ``web``: an HTTP GET of ``url`` (headers as given), the JSON answer read at
  ``jsonPath`` (``{$.data.ok}``) into ``result``;
* ``prometheus``: an instant query, ``GET {address}/api/v1/query?query=…``
  of any Prometheus-compatible API; a vector reads as the list of its sample
  values (``result[0]``), a scalar as its value;

then ``successCondition``/``failureCondition`` (Argo Rollouts' expression
language, the comparisons and ``&&``, ``||``, ``!`` of it) decide
Successful, Failed or Inconclusive. A request that fails is an Error.

The URLs come from Git: the sandbox performs these HTTP requests itself,
from the machine gitwave runs on, as the Argo Rollouts controller would from
the cluster. Only ``http``/``https`` URLs are requested (never ``file:`` or
another scheme); answers are capped at 1 MiB and 10 s. On a real cluster
gitwave requests nothing: the Rollouts controller runs the analysis.
"""

from __future__ import annotations

import ast
import enum
import functools
import json
import math
import re
import urllib.error
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib.request

MAX_ANSWER_BYTES = 1 << 20
DEFAULT_TIMEOUT_S = 10.0


class Phase(enum.Enum):
    """An analysis' outcome, in Argo Rollouts' words."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


@dataclass(frozen=True, slots=True)
class Measurement:
    metric: str
    phase: Phase
    value: str  # what was measured, as text ("" on an error)
    message: str = ""


# One HTTP GET: (url, headers, timeout) -> the answer's body. Raises OSError
# (urllib's errors are OSErrors) for a request that fails.
Fetch = Callable[[str, Mapping[str, str], float], bytes]


class AnalysisError(Exception):
    """A metric cannot be measured (a bad URL, an answer of the wrong shape)."""


def http_get(url: str, headers: Mapping[str, str], timeout: float) -> bytes:
    """``Fetch`` over the network: only http(s), at most 1 MiB."""
    import urllib.request

    check_url(url)
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    with _opener().open(request, timeout=timeout) as answer:
        body: bytes = answer.read(MAX_ANSWER_BYTES + 1)
    if len(body) > MAX_ANSWER_BYTES:
        raise AnalysisError(f"the answer of {url} is larger than 1 MiB")
    return body


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    # urllib.request (with http.client and ssl) is imported for the first
    # measurement, not with the sandbox: `gitwave status` never measures.
    import urllib.request

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        """Follow a redirect only to another http(s) URL (urllib would follow ftp too)."""

        def redirect_request(  # type: ignore[no-untyped-def]
            self, req, fp, code, msg, headers, newurl
        ):
            check_url(newurl)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(HttpOnlyRedirects())


def check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise AnalysisError(f"only http and https URLs are measured, not {url!r}")


_ARG = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


def substitute(text: str, args: Mapping[str, str]) -> str:
    """``{{args.name}}`` replaced by the argument's value; an unknown one is an error."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in args:
            raise AnalysisError(f"argument {name!r} has no value")
        return args[name]

    return _ARG.sub(one, text)


def template_args(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The template's ``spec.args`` defaults overridden by the step's ``args``."""
    found = template.get("spec")
    spec: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    values: dict[str, str] = {}
    for arg in spec.get("args") or []:
        if isinstance(arg, Mapping) and arg.get("name") and arg.get("value") is not None:
            values[str(arg["name"])] = str(arg["value"])
    values.update(given)
    return values


def measure_metric(metric: Mapping[str, Any], args: Mapping[str, str], fetch: Fetch) -> Measurement:
    """Measure one metric of an AnalysisTemplate once."""
    name = str(metric.get("name") or "metric")
    found = metric.get("provider")
    provider: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    try:
        if isinstance(provider.get("web"), Mapping):
            result = _web(provider["web"], args, fetch)
        elif isinstance(provider.get("prometheus"), Mapping):
            result = _prometheus(provider["prometheus"], args, fetch)
        else:
            kinds = ", ".join(sorted(provider)) or "none"
            raise AnalysisError(f"the sandbox measures web and prometheus metrics only ({kinds})")
        phase = _assess(metric, result)
    except (AnalysisError, OSError, ValueError) as exc:
        return Measurement(name, Phase.ERROR, "", f"metric {name!r}: {exc}")
    shown = json.dumps(result, sort_keys=True)
    message = "" if phase is Phase.SUCCESSFUL else f"metric {name!r} measured {shown}"
    return Measurement(name, phase, shown, message)


def _web(web: Mapping[str, Any], args: Mapping[str, str], fetch: Fetch) -> Any:
    url = substitute(str(web.get("url") or ""), args)
    check_url(url)
    headers = {
        str(h.get("key")): substitute(str(h.get("value") or ""), args)
        for h in web.get("headers") or []
        if isinstance(h, Mapping) and h.get("key")
    }
    timeout = float(web.get("timeoutSeconds") or DEFAULT_TIMEOUT_S)
    body = fetch(url, headers, min(timeout, DEFAULT_TIMEOUT_S))
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise AnalysisError(f"{url} did not answer JSON: {exc}") from None
    path = web.get("jsonPath")
    return json_path(document, str(path)) if path else document


def _prometheus(prom: Mapping[str, Any], args: Mapping[str, str], fetch: Fetch) -> Any:
    address = substitute(str(prom.get("address") or ""), args).rstrip("/")
    query = substitute(str(prom.get("query") or ""), args)
    if not query:
        raise AnalysisError("prometheus.query is empty")
    url = f"{address}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    check_url(url)
    try:
        answer = json.loads(fetch(url, {"Accept": "application/json"}, DEFAULT_TIMEOUT_S))
    except ValueError as exc:
        raise AnalysisError(f"{address} did not answer JSON: {exc}") from None
    if not isinstance(answer, Mapping) or answer.get("status") != "success":
        error = answer.get("error") if isinstance(answer, Mapping) else answer
        raise AnalysisError(f"prometheus query failed: {error}")
    found = answer.get("data")
    data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "vector" and isinstance(result, list):
        return [_sample(s.get("value")) for s in result if isinstance(s, Mapping)]
    if kind == "scalar":
        return _sample(result)
    raise AnalysisError(f"prometheus answered a {kind!r}; the sandbox reads vector and scalar")


def _sample(value: Any) -> float:
    if not isinstance(value, list) or len(value) != 2:
        raise AnalysisError(f"not a Prometheus sample: {value!r}")
    number = float(value[1])
    return number


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]")


def json_path(document: Any, path: str) -> Any:
    """A Kubernetes-style JSONPath (``{$.data.items[0].ok}``), the dotted subset."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    value, position = document, 0
    while position < len(text):
        match = _PATH_PART.match(text, position)
        if match is None:
            raise AnalysisError(f"cannot read jsonPath {path!r} at {text[position:]!r}")
        field, index, quoted = match.groups()
        try:
            value = value[int(index)] if index is not None else value[field or quoted]
        except (KeyError, IndexError, TypeError):
            raise AnalysisError(f"jsonPath {path!r} is not in the answer") from None
        position = match.end()
    return value


def _assess(metric: Mapping[str, Any], result: Any) -> Phase:
    success = str(metric.get("successCondition") or "")
    failure = str(metric.get("failureCondition") or "")
    if failure and evaluate(failure, result):
        return Phase.FAILED
    if success:
        if evaluate(success, result):
            return Phase.SUCCESSFUL
        return Phase.INCONCLUSIVE if failure else Phase.FAILED
    return Phase.SUCCESSFUL if failure else Phase.INCONCLUSIVE


# ------------------------------------------------------------------ conditions

_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Subscript,
    ast.Attribute,
    ast.List,
    ast.Tuple,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Call,
)
_FUNCTIONS: Mapping[str, Callable[[Any], Any]] = {
    "len": len,
    "isNaN": lambda v: isinstance(v, float) and math.isnan(v),
    "isInf": lambda v: isinstance(v, float) and math.isinf(v),
    "asInt": int,
    "asFloat": float,
    "all": all,
    "any": any,
}


def _to_python(expression: str) -> str:
    text = expression.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    return re.sub(
        r"\b(true|false|nil)\b",
        lambda m: {"true": "True", "false": "False"}.get(m.group(1), "None"),
        text,
    )


def evaluate(expression: str, result: Any) -> bool:
    """A condition over ``result``. Only comparisons, boolean operators,
    arithmetic, indexing, fields and a few functions: nothing else runs."""
    try:
        tree = ast.parse(_to_python(expression).strip(), mode="eval")
    except SyntaxError as exc:
        raise AnalysisError(f"cannot read condition {expression!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise AnalysisError(f"condition {expression!r} uses {type(node).__name__}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
        ):
            raise AnalysisError(f"condition {expression!r} calls an unknown function")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise AnalysisError(f"condition {expression!r} reads a private field")
    try:
        return bool(_eval(tree.body, result))
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise AnalysisError(f"condition {expression!r} on {result!r}: {exc}") from None


def _eval(node: ast.AST, result: Any) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id == "result":
            return result
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise KeyError(f"unknown name {node.id}")
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, result) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, result)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, result)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, result)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, result), _eval(node.right, result)
        return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Subscript):
        return _eval(node.value, result)[_eval(node.slice, result)]
    if isinstance(node, ast.Attribute):
        value = _eval(node.value, result)
        if isinstance(value, Mapping):
            return value[node.attr]
        raise TypeError(f"{value!r} has no field {node.attr}")
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, result) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _FUNCTIONS[node.func.id](*(_eval(a, result) for a in node.args))
    raise TypeError(f"cannot evaluate {type(node).__name__}")


_COMPARE: Mapping[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}

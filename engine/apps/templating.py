"""Rendering an ApplicationSet template with one set of generator parameters.

Argo CD renders each string of the template on its own (map keys are left
alone), in one of two syntaxes:

- fasttemplate (the default): ``{{path.basename}}`` is replaced by the
  parameter of that name (spaces inside the braces are ignored); a name with no
  parameter is left as written, as Argo CD leaves it;
- Go text/template (``goTemplate: true``): see ``gotemplate``; parameters are
  nested (``{{ .path.basename }}``), ``goTemplateOptions: ["missingkey=error"]``
  makes a missing key an error.

Pure string work on values from Git: nothing is read from the host, and the
rendered template is bounded in size (``Limits.max_object_bytes``, the most
the API server takes for one object).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gitwave.engine.apps.gotemplate import GoTemplate, TemplateError, parse
from gitwave.engine.apps.gotemplate_funcs import printable
from gitwave.engine.limits import current_limits

_FAST_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class TemplateFieldError(Exception):
    """A template string that failed: the field it is in, its text and why."""

    field: str
    template: str
    reason: str

    def __str__(self) -> str:
        shown = self.template if len(self.template) <= 120 else self.template[:117] + "..."
        return f"{self.field}: template {shown!r}: {self.reason}"


@dataclass(frozen=True)
class Syntax:
    """How a set's templates are written: Go templates or fasttemplate, and Go's options."""

    go: bool = False
    missing_key_error: bool = False


def render_tree(value: Any, params: Mapping[str, Any], syntax: Syntax, *, field: str) -> Any:
    """``value`` (a parsed YAML tree) with every string rendered with ``params``.

    Raises TemplateFieldError naming the field (``field`` is the dotted path of
    ``value``) for a template that cannot be parsed or evaluated, or for a
    result over the size limit."""
    limit = current_limits().max_object_bytes
    return _walk(value, params, syntax, field, [limit, limit])


def render_string(text: str, params: Mapping[str, Any], syntax: Syntax, *, field: str) -> str:
    """One string rendered with ``params`` (see ``render_tree``)."""
    limit = current_limits().max_object_bytes
    return str(_walk(text, params, syntax, field, [limit, limit]))


def _walk(
    value: Any, params: Mapping[str, Any], syntax: Syntax, field: str, budget: list[int]
) -> Any:
    if isinstance(value, str):
        result = _one(value, params, syntax, field, budget[1])
        budget[0] -= len(result)
        if budget[0] < 0:
            raise TemplateFieldError(field, value, "the rendered template is over the size limit")
        return result
    if isinstance(value, Mapping):
        return {k: _walk(v, params, syntax, f"{field}.{k}", budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, params, syntax, f"{field}[{i}]", budget) for i, v in enumerate(value)]
    return value


def _one(text: str, params: Mapping[str, Any], syntax: Syntax, field: str, limit: int) -> str:
    if "{{" not in text:
        return text
    if not syntax.go:
        return _fast(text, params, field, limit)
    try:
        return _parsed(text, limit).render(params, missing_key_error=syntax.missing_key_error)
    except TemplateError as err:
        raise TemplateFieldError(field, text, str(err)) from None
    except RecursionError:
        raise TemplateFieldError(field, text, "nested too deep") from None


@lru_cache(maxsize=512)
def _parsed(text: str, limit: int) -> GoTemplate:
    return parse(text, max_output=limit)


def _fast(text: str, params: Mapping[str, Any], field: str, limit: int) -> str:
    made = [len(text)]

    def replace(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if not key or key not in params:
            return match.group(0)
        value = params[key]
        shown = value if isinstance(value, str) else printable(value)
        made[0] += len(shown)
        if made[0] > limit:  # stop before a long value repeated builds a huge string
            raise TemplateFieldError(field, text, "the rendered template is over the size limit")
        return shown

    return _FAST_TAG.sub(replace, text)


def check_go_templates(value: Any, syntax: Syntax, *, field: str) -> None:
    """Parse every Go template string in ``value`` once, before any parameter set is
    rendered, so a malformed template fails even when a generator yields nothing."""
    if not syntax.go:
        return
    if isinstance(value, str):
        if "{{" in value:
            try:
                _parsed(value, current_limits().max_object_bytes)
            except TemplateError as err:
                raise TemplateFieldError(field, value, str(err)) from None
    elif isinstance(value, Mapping):
        for k, v in value.items():
            check_go_templates(v, syntax, field=f"{field}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_go_templates(v, syntax, field=f"{field}[{i}]")


__all__ = ["Syntax", "TemplateFieldError", "check_go_templates", "render_string", "render_tree"]

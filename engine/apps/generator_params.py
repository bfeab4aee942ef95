"""What ApplicationSet generators share: the ``Context`` they run in, parameter
values (flattened for fasttemplate, merged for goTemplate), generator
``values`` and label selectors (on clusters, and ``selector`` on any generator).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitwave.engine.apps.gotemplate_funcs import printable
from gitwave.engine.apps.templating import Syntax, TemplateFieldError, render_string
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.yamlio import iter_documents

Params = dict[str, Any]
# (repoURL, revision, field) -> the root of that repository's checkout
RepoOpener = Callable[[str, str, str], Path]


@dataclass(frozen=True)
class Context:
    """What generators need besides their spec: the syntax, the subject of
    errors (``file:line (ApplicationSet/name)``), the clusters, the repos."""

    syntax: Syntax
    where: str
    clusters: ClusterSource
    open_repo: RepoOpener
    # The directories git generators list or read, as they note them: what
    # watch mode follows so that a new directory there makes a new app.
    reads: list[Path] = field(default_factory=list)

    def fail(self, field: str, detail: str, hint: str = "") -> ValidationError:
        return ValidationError(self.where, f"{field}: {detail}", hint=hint)


def flatten(value: Mapping[str, Any], prefix: str = "") -> Params:
    """Nested parameters as fasttemplate sees them: ``a.b``, lists as ``a.0``, scalars as text."""
    flat: Params = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            flat.update(flatten(item, f"{name}."))
        elif isinstance(item, list):
            flat.update(flatten({str(i): v for i, v in enumerate(item)}, f"{name}."))
        elif item is None:
            flat[name] = ""
        else:
            flat[name] = item if isinstance(item, str) else printable(item)
    return flat


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Params:
    """``over`` merged into ``base``: mappings merge, anything else is replaced."""
    result: Params = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def with_values(params: Params, values: Any, field: str, ctx: Context) -> Params:
    if values is None:
        return params
    if not isinstance(values, Mapping):
        raise ctx.fail(field, "must be a mapping of strings")
    rendered: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(value, str):
            raise ctx.fail(f"{field}.{key}", "must be a string (quote it)")
        try:
            rendered[str(key)] = render_string(value, params, ctx.syntax, field=f"{field}.{key}")
        except TemplateFieldError as err:
            raise ctx.fail(err.field, f"template {err.template!r}: {err.reason}") from None
    if ctx.syntax.go:
        return {**params, "values": rendered}
    return {**params, **{f"values.{k}": v for k, v in rendered.items()}}


def labels_of(params: Params, ctx: Context) -> Mapping[str, str]:
    flat = flatten(params) if ctx.syntax.go else params
    return {k: v if isinstance(v, str) else printable(v) for k, v in flat.items()}


def selected(labels: Mapping[str, str], selector: Any, field: str, ctx: Context) -> bool:
    if not isinstance(selector, Mapping):
        raise ctx.fail(field, "must be a mapping (matchLabels, matchExpressions)")
    known_keys(selector, ("matchLabels", "matchExpressions"), field, ctx)
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise ctx.fail(f"{field}.matchLabels", "must be a mapping")
    for key, value in match_labels.items():
        if labels.get(str(key)) != str(value):
            return False
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ctx.fail(f"{field}.matchExpressions", "must be a list")
    for i, expression in enumerate(expressions):
        where = f"{field}.matchExpressions[{i}]"
        if not isinstance(expression, Mapping) or not isinstance(expression.get("key"), str):
            raise ctx.fail(where, "needs key, operator and (for In/NotIn) values")
        key, operator = expression["key"], expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise ctx.fail(
                f"{where}.operator", f"{operator!r} is not In, NotIn, Exists or DoesNotExist"
            )
        if not ok:
            return False
    return True


def known_keys(body: Mapping[str, Any], known: Sequence[str], field: str, ctx: Context) -> None:
    for key in body:
        if key not in known:
            raise ctx.fail(
                f"{field}.{key}", "is not supported", hint="known here: " + ", ".join(known)
            )


def no_template(body: Mapping[str, Any], field: str, ctx: Context) -> None:
    if body.get("template"):
        raise ctx.fail(
            f"{field}.template", "per-generator templates are not supported; use spec.template"
        )


def parse_yaml(text: str, field: str, ctx: Context) -> list[Any]:
    try:
        return [d.value for d in iter_documents(text, file=field)]
    except GitwaveError as err:
        raise ctx.fail(field, str(err)) from None


__all__ = [
    "Context",
    "Params",
    "RepoOpener",
    "deep_merge",
    "flatten",
    "known_keys",
    "labels_of",
    "no_template",
    "parse_yaml",
    "selected",
    "with_values",
]

"""ApplicationSet generators: each turns its spec into parameter sets.

Read as Argo CD reads them:

- ``list``: ``elements`` (or ``elementsYaml``, a YAML list in a string);
- ``clusters``: the clusters a ``ClusterSource`` knows, picked by a label
  ``selector`` (matchLabels, matchExpressions); without a selector every
  cluster, the current target (``in-cluster``) included; with one, only
  clusters that carry labels (Argo CD's local cluster has no Secret, so no
  labels); ``values`` are templated with the cluster's parameters;
- ``git`` ``directories`` (globs, ``exclude: true`` wins) and ``files`` (JSON
  or YAML, one parameter set per file or per item of a list), from the repo
  its ``repoURL``/``revision`` name, resolved as Application repoURLs are;
- ``matrix`` (two generators; the second is templated with each parameter set
  of the first) and ``merge`` (``mergeKeys``: later generators override the
  first one's sets that share those keys).

In fasttemplate mode parameters are flat (``path.basename``,
``metadata.labels.env``); with ``goTemplate`` they are nested
(``.path.basename``). Generators gitwave cannot run here (scmProvider,
pullRequest, clusterDecisionResource, plugin) are refused, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.apps.generator_git import git_params
from gitwave.engine.apps.generator_params import (
    Context,
    Params,
    RepoOpener,
    deep_merge,
    flatten,
    known_keys,
    labels_of,
    no_template,
    parse_yaml,
    selected,
    with_values,
)
from gitwave.engine.apps.gotemplate_funcs import printable, sanitize_name
from gitwave.engine.apps.templating import Syntax, TemplateFieldError, render_tree
from gitwave.engine.clusters import Cluster, ClusterKind

MAX_GENERATOR_DEPTH = 3
MAX_PARAM_SETS = 10_000
_REFUSED = ("scmProvider", "pullRequest", "clusterDecisionResource", "plugin")
_KNOWN = ("list", "clusters", "git", "matrix", "merge")


def generate(spec: Any, field: str, ctx: Context, *, depth: int = 0) -> list[Params]:
    """The parameter sets of the generator ``spec`` at ``field`` (``spec.generators[0]``).

    Raises ValidationError naming ``field`` for a malformed or refused generator."""
    if not isinstance(spec, Mapping):
        raise ctx.fail(field, "a generator must be a mapping")
    if depth > MAX_GENERATOR_DEPTH:
        raise ctx.fail(field, f"generators nested deeper than {MAX_GENERATOR_DEPTH} levels")
    refused = [k for k in spec if k in _REFUSED]
    if refused:
        raise ctx.fail(
            f"{field}.{refused[0]}",
            "this generator is not supported by gitwave",
            hint="use list, clusters, git, matrix or merge generators",
        )
    kinds = [k for k in spec if k in _KNOWN]
    unknown = [k for k in spec if k not in _KNOWN and k not in ("selector", "values")]
    if unknown:
        raise ctx.fail(
            f"{field}.{unknown[0]}",
            "unknown or unsupported generator field",
            hint="generators here: " + ", ".join(_KNOWN),
        )
    if len(kinds) != 1:
        raise ctx.fail(field, "a generator must have exactly one of " + ", ".join(_KNOWN))
    kind = kinds[0]
    body = spec[kind]
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise ctx.fail(f"{field}.{kind}", "must be a mapping")
    where = f"{field}.{kind}"
    if kind == "list":
        found = _list(body, where, ctx)
    elif kind == "clusters":
        found = _clusters(body, where, ctx)
    elif kind == "git":
        found = git_params(body, where, ctx)
    elif kind == "matrix":
        found = _matrix(body, where, ctx, depth)
    else:
        found = _merge(body, where, ctx, depth)
    if len(found) > MAX_PARAM_SETS:
        raise ctx.fail(
            field, f"{len(found):,} parameter sets, over the limit of {MAX_PARAM_SETS:,}"
        )
    selector = spec.get("selector")
    if selector is not None:
        found = [
            p for p in found if selected(labels_of(p, ctx), selector, f"{field}.selector", ctx)
        ]
    return found


# --- list ------------------------------------------------------------------------------


def _list(body: Mapping[str, Any], field: str, ctx: Context) -> list[Params]:
    known_keys(body, ("elements", "elementsYaml"), field, ctx)
    elements = body.get("elements")
    text = body.get("elementsYaml")
    if text is not None:
        if not isinstance(text, str):
            raise ctx.fail(f"{field}.elementsYaml", "must be a string holding a YAML list")
        documents = parse_yaml(text, f"{field}.elementsYaml", ctx)
        parsed = documents[0] if documents else []
        elements = [*(elements or []), *(parsed if isinstance(parsed, list) else [parsed])]
    if elements is None:
        raise ctx.fail(field, "elements or elementsYaml is required")
    if not isinstance(elements, list):
        raise ctx.fail(f"{field}.elements", "must be a list")
    found: list[Params] = []
    for i, element in enumerate(elements):
        if not isinstance(element, Mapping):
            raise ctx.fail(f"{field}.elements[{i}]", "each element must be a mapping")
        found.append(dict(element) if ctx.syntax.go else flatten(element))
    return found


# --- clusters ----------------------------------------------------------------------------


def _clusters(body: Mapping[str, Any], field: str, ctx: Context) -> list[Params]:
    known_keys(body, ("selector", "values"), field, ctx)
    selector = body.get("selector") or {}
    if not isinstance(selector, Mapping):
        raise ctx.fail(f"{field}.selector", "must be a mapping")
    found: list[Params] = []
    for cluster in ctx.clusters.clusters():
        if selector and not cluster.labels and cluster.kind is ClusterKind.CURRENT:
            continue  # Argo CD's local cluster has no Secret: no labels to select on
        if not selected(cluster.label_map, selector, f"{field}.selector", ctx):
            continue
        params = _cluster_params(cluster, ctx.syntax)
        found.append(with_values(params, body.get("values"), f"{field}.values", ctx))
    return found


def _cluster_params(cluster: Cluster, syntax: Syntax) -> Params:
    base: Params = {
        "name": cluster.name,
        "nameNormalized": sanitize_name(cluster.name),
        "server": cluster.server,
        "project": cluster.project,
    }
    if syntax.go:
        base["metadata"] = {
            "labels": dict(cluster.label_map),
            "annotations": dict(cluster.annotation_map),
        }
        return base
    for key, value in cluster.labels:
        base[f"metadata.labels.{key}"] = value
    for key, value in cluster.annotations:
        base[f"metadata.annotations.{key}"] = value
    return base


# --- matrix and merge --------------------------------------------------------------------


def _children(body: Mapping[str, Any], field: str, ctx: Context) -> list[Any]:
    children = body.get("generators")
    if not isinstance(children, list) or not children:
        raise ctx.fail(f"{field}.generators", "must be a non-empty list of generators")
    return children


def _matrix(body: Mapping[str, Any], field: str, ctx: Context, depth: int) -> list[Params]:
    known_keys(body, ("generators", "template"), field, ctx)
    no_template(body, field, ctx)
    children = _children(body, field, ctx)
    if len(children) != 2:
        raise ctx.fail(
            f"{field}.generators", f"a matrix combines exactly 2 generators, not {len(children)}"
        )
    found: list[Params] = []
    for first in generate(children[0], f"{field}.generators[0]", ctx, depth=depth + 1):
        try:
            second_spec = render_tree(
                children[1], first, ctx.syntax, field=f"{field}.generators[1]"
            )
        except TemplateFieldError as err:
            raise ctx.fail(err.field, f"template {err.template!r}: {err.reason}") from None
        for second in generate(second_spec, f"{field}.generators[1]", ctx, depth=depth + 1):
            found.append(_combined(first, second, field, ctx))
            if len(found) > MAX_PARAM_SETS:
                raise ctx.fail(field, f"over {MAX_PARAM_SETS:,} parameter sets")
    return found


def _combined(first: Params, second: Params, field: str, ctx: Context) -> Params:
    if ctx.syntax.go:
        return deep_merge(first, second)
    result = dict(first)
    for key, value in second.items():
        if key in result and result[key] != value:
            raise ctx.fail(
                field,
                f"both generators set parameter {key!r}, to {printable(result[key])!r} and "
                f"{printable(value)!r}",
                hint="rename one of them (e.g. with pathParamPrefix)",
            )
        result[key] = value
    return result


def _merge(body: Mapping[str, Any], field: str, ctx: Context, depth: int) -> list[Params]:
    known_keys(body, ("generators", "mergeKeys", "template"), field, ctx)
    no_template(body, field, ctx)
    keys = body.get("mergeKeys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ctx.fail(f"{field}.mergeKeys", "must be a non-empty list of parameter names")
    children = _children(body, field, ctx)
    base = generate(children[0], f"{field}.generators[0]", ctx, depth=depth + 1)
    for i, child in enumerate(children[1:], start=1):
        where = f"{field}.generators[{i}]"
        overrides: dict[tuple[str, ...], Params] = {}
        for params in generate(child, where, ctx, depth=depth + 1):
            key = _merge_key(params, keys)
            if key is None:
                continue
            if key in overrides:
                raise ctx.fail(
                    where,
                    f"two parameter sets share the merge keys {dict(zip(keys, key, strict=True))}",
                )
            overrides[key] = params
        merged: list[Params] = []
        for params in base:
            key = _merge_key(params, keys)
            match = overrides.get(key) if key is not None else None
            if match is None:
                merged.append(params)
            elif ctx.syntax.go:
                merged.append(deep_merge(params, match))
            else:
                merged.append({**params, **match})
        base = merged
    return base


def _merge_key(params: Params, keys: Sequence[str]) -> tuple[str, ...] | None:
    values: list[str] = []
    for key in keys:
        value: Any = params.get(key)
        if value is None and "." in key:  # goTemplate: a nested parameter
            value = params
            for part in key.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return None
        values.append(printable(value))
    return tuple(values)


__all__ = [
    "MAX_PARAM_SETS",
    "Context",
    "Params",
    "RepoOpener",
    "deep_merge",
    "flatten",
    "generate",
]

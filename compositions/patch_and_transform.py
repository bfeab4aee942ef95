"""Patch and transform: Crossplane's ``mode: Resources`` and function-patch-and-transform.

:func:`patch_and_transform` is a composition function. Its input is the
``Resources`` object of ``function-patch-and-transform``
(``{resources: [...], patchSets: [...]}``); a ``mode: Resources`` Composition
runs it as a one-step pipeline with its ``spec.resources`` and
``spec.patchSets``, so both modes share this code.

Template names are optional, all or none (see :func:`template_names`).
For every resource template, in order: copy ``base``, apply the patches in
order (From… patches read the observed composite, To… patches read the
observed composed resource and write the desired composite), then — when the
resource is observed — run its readiness checks and extract its connection
details (:func:`~gitwave.compositions.connection.template_connection_details`).

Patch types: FromCompositeFieldPath (the default), ToCompositeFieldPath,
CombineFromComposite, CombineToComposite, PatchSet. ``policy.fromFieldPath``:
Optional (default: a missing source skips the patch) or Required (a missing
source on the composite is an error; on an observed composed resource, where
it is only not set *yet*, a warning). ``policy.toFieldPath``: Replace
(default), MergeObjects, MergeObjectsAppendArrays, ForceMergeObjects,
ForceMergeObjectsAppendArrays; the older ``policy.mergeOptions``
(keepMapValues, appendSlice) is read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.compositions.connection import template_connection_details
from gitwave.compositions.expressions import escape_value
from gitwave.compositions.functions import (
    FunctionError,
    FunctionRequest,
    FunctionResponse,
    FunctionResult,
    Ready,
    Severity,
)
from gitwave.compositions.readiness import ReadinessError, check_readiness
from gitwave.compositions.transforms import TransformError, apply_transforms
from gitwave.compositions.values import SprintfError, copy_json, sprintf
from gitwave.engine.api import MISSING_FIELD, FieldPathError, get_field, set_field

__all__ = ["PATCH_TYPES", "patch_and_transform", "template_names"]

FROM_COMPOSITE = "FromCompositeFieldPath"
TO_COMPOSITE = "ToCompositeFieldPath"
COMBINE_FROM = "CombineFromComposite"
COMBINE_TO = "CombineToComposite"
PATCH_SET = "PatchSet"
PATCH_TYPES = (FROM_COMPOSITE, TO_COMPOSITE, COMBINE_FROM, COMBINE_TO, PATCH_SET)

_TO_POLICIES = {
    # name: (merge objects, keep existing values, append arrays)
    "Replace": (False, False, False),
    "MergeObjects": (True, True, False),
    "MergeObjectsAppendArrays": (True, True, True),
    "ForceMergeObjects": (True, False, False),
    "ForceMergeObjectsAppendArrays": (True, False, True),
}


@dataclass(frozen=True, slots=True)
class _Patch:
    """One patch to run, with the label errors use (``patch 2`` or
    ``patch 1 (patchSet common, patch 0)``)."""

    spec: Mapping[str, Any]
    label: str


class _Skip(Exception):
    """A source field is absent and the policy is Optional: the patch does nothing."""


def patch_and_transform(request: FunctionRequest) -> FunctionResponse:
    """Run the ``Resources`` input of ``request`` (see the module docstring).

    Raises FunctionError naming the resource, patch and transform for a bad
    template, patch or transform, and a Required field missing on the composite.
    """
    spec = request.input if isinstance(request.input, Mapping) else {}
    templates = spec.get("resources")
    if not isinstance(templates, list) or not templates:
        raise FunctionError("input has no resources to compose")
    patch_sets = _patch_sets(spec.get("patchSets"))
    composite = request.composite
    observed_resources = request.observed.get("resources") or {}

    desired_composite = request.desired.get("composite") or {}
    composite_out: dict[str, Any] = copy_json(dict(desired_composite.get("resource") or {}))
    connection: dict[str, bytes] = dict(desired_composite.get("connectionDetails") or {})
    resources: dict[str, Any] = dict(request.desired.get("resources") or {})
    results: list[FunctionResult] = []
    seen: set[str] = set()

    for name, template in zip(template_names(templates), templates, strict=True):
        if name in seen:
            raise FunctionError(f"resource name {name!r} is used twice")
        seen.add(name)
        where = f"resource {name}"
        base = template.get("base")
        if isinstance(base, Mapping):
            desired: dict[str, Any] = copy_json(dict(base))
        elif name in resources:
            desired = copy_json(dict(resources[name].get("resource") or {}))
        else:
            raise FunctionError(f"{where} has no base")
        if not isinstance(desired.get("apiVersion"), str) or not isinstance(
            desired.get("kind"), str
        ):
            raise FunctionError(f"{where}: base needs apiVersion and kind")
        observed_entry = observed_resources.get(name)
        observed = observed_entry.get("resource") if isinstance(observed_entry, Mapping) else None

        for patch in _expand(template.get("patches"), patch_sets, where):
            try:
                _run_patch(patch, composite, desired, observed, composite_out)
            except _Skip:
                continue
            except _Warning as warning:
                results.append(
                    FunctionResult(Severity.WARNING, f"{patch.label}: {warning}", resource=name)
                )
            except (TransformError, SprintfError, FieldPathError, _PatchError) as err:
                raise FunctionError(f"{where}, {patch.label}: {_describe(err)}") from None

        ready = Ready.UNSPECIFIED
        if observed is not None:
            try:
                verdict = check_readiness(template.get("readinessChecks"), observed)
            except ReadinessError as err:
                raise FunctionError(f"{where}: {err}") from None
            ready = Ready.TRUE if verdict.ready else Ready.FALSE
            if not verdict.ready:
                results.append(FunctionResult(Severity.NORMAL, verdict.reason, resource=name))
            connection.update(template_connection_details(template, observed_entry, where))
        resources[name] = {"resource": desired, "ready": ready.value}

    return FunctionResponse(
        desired={
            "composite": {"resource": composite_out, "connectionDetails": connection},
            "resources": resources,
        },
        context=dict(request.context),
        results=tuple(results),
    )


def template_names(templates: list[Any]) -> list[str]:
    """The name of each resource template, in order.

    ``name`` is optional in a Crossplane v1 ``mode: Resources`` Composition,
    but all or none of the templates must have one (Crossplane refuses a mix).
    An unnamed template at index ``i`` is called ``<kind>-<i>`` (its base's kind,
    lower-cased): what ``crossplane beta convert pipeline-composition`` names
    it, so a Composition keeps its composed resources' names when converted.
    The name is stable as long as the templates keep their order.

    Raises FunctionError for a template that is not an object, a mix of named
    and unnamed templates, or an unnamed template without a base kind.
    """
    names: list[str] = []
    named: bool | None = None
    for number, template in enumerate(templates):
        if not isinstance(template, Mapping):
            raise FunctionError(f"resources[{number}] must be an object")
        name = template.get("name")
        has_name = name is not None and name != ""
        if has_name and not isinstance(name, str):
            raise FunctionError(f"resources[{number}].name must be a string")
        if named is None:
            named = has_name
        elif named != has_name:
            raise FunctionError(
                f"resources[{number}].name: cannot mix named and anonymous resources, all "
                "resources must have a name or none must have a name"
            )
        if has_name:
            names.append(str(name))
            continue
        base = template.get("base")
        kind = base.get("kind") if isinstance(base, Mapping) else None
        if not isinstance(kind, str) or not kind:
            raise FunctionError(f"resources[{number}] has no name and no base kind to name it by")
        names.append(f"{kind.lower()}-{number}")
    return names


class _PatchError(ValueError):
    """A patch that cannot run; the caller adds the resource and patch."""


class _Warning(Exception):
    """A Required field of an observed resource is not set yet: reported, not fatal."""


def _patch_sets(value: Any) -> dict[str, list[Any]]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise FunctionError("patchSets must be a list")
    sets: dict[str, list[Any]] = {}
    for number, entry in enumerate(value):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise FunctionError(f"patchSets[{number}] needs a name")
        patches = entry.get("patches") or []
        if not isinstance(patches, list):
            raise FunctionError(f"patchSet {entry['name']}: patches must be a list")
        for index, patch in enumerate(patches):
            if isinstance(patch, dict | Mapping) and patch.get("type") == PATCH_SET:
                raise FunctionError(
                    f"patchSet {entry['name']}, patch {index}: a patch set cannot include "
                    "another patch set"
                )
        sets[entry["name"]] = patches
    return sets


def _expand(patches: Any, patch_sets: Mapping[str, list[Any]], where: str) -> list[_Patch]:
    if patches is None:
        return []
    if not isinstance(patches, list):
        raise FunctionError(f"{where}: patches must be a list")
    out: list[_Patch] = []
    for index, patch in enumerate(patches):
        if not isinstance(patch, dict | Mapping):
            raise FunctionError(f"{where}, patch {index}: must be an object")
        if patch.get("type") == PATCH_SET:
            name = patch.get("patchSetName")
            if not isinstance(name, str) or name not in patch_sets:
                known = ", ".join(sorted(patch_sets)) or "none"
                raise FunctionError(
                    f"{where}, patch {index}: patchSet {name!r} is not defined (defined: {known})"
                )
            for inner, inner_patch in enumerate(patch_sets[name]):
                if not isinstance(inner_patch, dict | Mapping):
                    raise FunctionError(f"patchSet {name}, patch {inner}: must be an object")
                label = f"patch {index} (patchSet {name}, patch {inner}: {_summary(inner_patch)})"
                out.append(_Patch(inner_patch, label))
        else:
            out.append(_Patch(patch, f"patch {index} ({_summary(patch)})"))
    return out


def _summary(patch: Mapping[str, Any]) -> str:
    """``FromCompositeFieldPath spec.parameters.size`` — how errors point at a patch."""
    kind = patch.get("type", FROM_COMPOSITE)
    path = patch.get("fromFieldPath") or patch.get("toFieldPath") or ""
    return f"{kind} {path}".strip()


def _run_patch(
    patch: _Patch,
    composite: Mapping[str, Any],
    desired: dict[str, Any],
    observed: Mapping[str, Any] | None,
    composite_out: dict[str, Any],
) -> None:
    spec = patch.spec
    kind = spec.get("type", FROM_COMPOSITE)
    raw_policy = spec.get("policy")
    policy: Mapping[str, Any] = raw_policy if isinstance(raw_policy, dict | Mapping) else {}
    required = _from_policy(policy) == "Required"
    if kind in (FROM_COMPOSITE, TO_COMPOSITE):
        source_path = spec.get("fromFieldPath")
        if not isinstance(source_path, str) or not source_path:
            raise _PatchError(f"{kind} needs fromFieldPath")
        to_path = spec.get("toFieldPath") or source_path
        if kind == FROM_COMPOSITE:
            value = _read(composite, source_path, required, "the composite")
            value = apply_transforms(spec.get("transforms"), copy_json(value))
            _write(desired, to_path, escape_value(value), policy)
        else:
            if observed is None:
                raise _Skip
            value = _read_observed(observed, source_path, required)
            value = apply_transforms(spec.get("transforms"), copy_json(value))
            _write(composite_out, to_path, value, policy)
    elif kind in (COMBINE_FROM, COMBINE_TO):
        to_path = spec.get("toFieldPath")
        if not isinstance(to_path, str) or not to_path:
            raise _PatchError(f"{kind} needs toFieldPath")
        if kind == COMBINE_TO and observed is None:
            raise _Skip
        source = composite if kind == COMBINE_FROM else observed
        assert source is not None
        value = _combine(spec.get("combine"), source, required, kind)
        value = apply_transforms(spec.get("transforms"), value)
        if kind == COMBINE_FROM:
            _write(desired, to_path, escape_value(value), policy)
        else:
            _write(composite_out, to_path, value, policy)
    else:
        supported = ", ".join(PATCH_TYPES)
        raise _PatchError(f"patch type {kind!r} is not supported; use one of {supported}")


def _from_policy(policy: Mapping[str, Any]) -> str:
    value = policy.get("fromFieldPath", "Optional") or "Optional"
    if value not in ("Optional", "Required"):
        raise _PatchError(f"policy.fromFieldPath is {value!r}; use Optional or Required")
    return str(value)


def _read(source: Mapping[str, Any], path: str, required: bool, what: str) -> Any:
    value = get_field(source, path)
    if value is MISSING_FIELD:
        if required:
            raise _PatchError(f"required field {path} is not set on {what}")
        raise _Skip
    return value


def _read_observed(observed: Mapping[str, Any], path: str, required: bool) -> Any:
    value = get_field(observed, path)
    if value is MISSING_FIELD:
        if required:
            # Observed state fills in over time: a missing field is "not yet", not an error.
            raise _Warning(f"required field {path} is not set on the observed resource yet")
        raise _Skip
    return value


def _combine(config: Any, source: Mapping[str, Any], required: bool, kind: str) -> Any:
    if not isinstance(config, Mapping):
        raise _PatchError(f"{kind} needs combine")
    variables = config.get("variables")
    if not isinstance(variables, list) or not variables:
        raise _PatchError("combine needs at least one variable")
    values: list[Any] = []
    for number, variable in enumerate(variables):
        path = variable.get("fromFieldPath") if isinstance(variable, Mapping) else None
        if not isinstance(path, str) or not path:
            raise _PatchError(f"combine variable {number} needs fromFieldPath")
        value = get_field(source, path)
        if value is MISSING_FIELD:
            if required and kind == COMBINE_FROM:
                raise _PatchError(f"required field {path} is not set on the composite")
            if required:
                raise _Warning(f"required field {path} is not set on the observed resource yet")
            raise _Skip
        values.append(value)
    strategy = config.get("strategy")
    if strategy != "string":
        raise _PatchError(f"combine strategy {strategy!r} is not supported; use string")
    fmt = config.get("string", {}).get("fmt") if isinstance(config.get("string"), Mapping) else None
    if not isinstance(fmt, str):
        raise _PatchError("combine strategy string needs string.fmt")
    return sprintf(fmt, values)


def _write(target: dict[str, Any], path: str, value: Any, policy: Mapping[str, Any]) -> None:
    merge, keep, append = _to_policy(policy)
    if merge:
        existing = get_field(target, path)
        if existing is not MISSING_FIELD:
            value = _merge(existing, value, keep=keep, append=append)
    set_field(target, path, value)


def _to_policy(policy: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    name = policy.get("toFieldPath")
    if name is not None:
        if name not in _TO_POLICIES:
            raise _PatchError(
                f"policy.toFieldPath is {name!r}; use one of {', '.join(_TO_POLICIES)}"
            )
        return _TO_POLICIES[name]
    options = policy.get("mergeOptions")
    if isinstance(options, Mapping):
        return (True, bool(options.get("keepMapValues")), bool(options.get("appendSlice")))
    return _TO_POLICIES["Replace"]


def _merge(existing: Any, value: Any, *, keep: bool, append: bool) -> Any:
    if isinstance(existing, dict) and isinstance(value, dict):
        out = dict(existing)
        for key, item in value.items():
            if key in out:
                out[key] = _merge(out[key], item, keep=keep, append=append)
            else:
                out[key] = item
        return out
    if append and isinstance(existing, list) and isinstance(value, list):
        return [*existing, *value]
    return existing if keep else value


def _describe(err: Exception) -> str:
    if isinstance(err, TransformError) and err.index >= 0:
        return f"transform {err.index} ({err.kind}): {err}"
    return str(err)

"""The Kubernetes API's schemas: what shape an object of a kind must have.

Built-in kinds are checked against the OpenAPI schema of the Kubernetes
release the end-to-end control plane runs (``KUBERNETES_VERSION``), which the
``kubernetes-validate`` package ships as JSON Schema; custom resources against
the ``openAPIV3Schema`` of the version their CustomResourceDefinition serves.
Both are compiled with ``jsonschema-rs`` once per kind and version (a
Deployment validates in a few microseconds; the pure-Python ``jsonschema``
took about a millisecond, a second per thousand objects) and kept for the
life of the process: schemas of built-in kinds never change, and a CRD's
compiled schema is keyed by the schema's own content.

Only the schema lives here, the errors it finds are ``FieldError`` values; the
rules beyond a schema (names, immutable fields) and the API server's message
are ``kube_rules``. The non-strict schemas are used on purpose: an API server
drops unknown fields with a warning (``fieldValidation=Warn``, its default
for server-side apply), it does not refuse them.

Limits for custom resources (the structural-schema subset): ``type``,
``properties``, ``items``, ``additionalProperties``, ``required``, ``enum``,
bounds, lengths, ``pattern``, ``nullable``, ``x-kubernetes-int-or-string``
and the ``allOf``/``anyOf``/``oneOf``/``not`` combinators are checked;
``format``, CEL rules (``x-kubernetes-validations``), list-type and map-type
uniqueness and defaulting are not: the API server still checks those.
"""

from __future__ import annotations

import enum
import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from gitwave.engine.kube_schema_index import SchemaFile, schema_file
from gitwave.engine.kube_versions import (
    current_version,
    schema_root,
    version_tuple,
)

_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
# One error per field is enough to fix it; a broken manifest can have hundreds.
MAX_ERRORS = 20


class FieldReason(enum.Enum):
    """The API server's kinds of field error (``field.ErrorType``), as it words them."""

    INVALID = "Invalid value"
    REQUIRED = "Required value"
    NOT_SUPPORTED = "Unsupported value"
    FORBIDDEN = "Forbidden"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused field: its path as the API server writes it
    (``spec.template.spec.containers[0].image``), why, the value (None when
    it is not shown: a Secret's, or a required field's) and a detail."""

    path: str
    reason: FieldReason
    # Kept out of repr: it may be a Secret's value.
    value: Any = field(default=None, repr=False)
    detail: str = ""
    show_value: bool = True

    def text(self, *, reveal: bool = True) -> str:
        """``path: Reason: "value": detail``; without the value when not ``reveal``."""
        parts = [self.path or "<root>", self.reason.value]
        if (
            self.show_value
            and reveal
            and self.reason
            in (
                FieldReason.INVALID,
                FieldReason.NOT_SUPPORTED,
            )
        ):
            parts.append(format_value(self.value))
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)


def format_value(value: Any, *, limit: int = 80) -> str:
    """A value as the API server quotes it: strings in double quotes, the rest as JSON."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_path(parts: Sequence[str | int]) -> str:
    """``["spec", "containers", 0, "image"]`` → ``spec.containers[0].image``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# --- built-in kinds ------------------------------------------------------------------


def _schema_dir(version: str) -> Path:
    """The schema directory of the newest shipped release not newer than ``version``."""
    root = schema_root()
    wanted = version_tuple(version)
    candidates = sorted(
        (version_tuple(p.name[1:].split("-")[0]), p)
        for p in root.iterdir()
        if p.name.startswith("v") and p.name.endswith("-local")
    )
    usable = [p for found, p in candidates if found[:2] <= wanted]
    if not usable:
        raise RuntimeError(f"kubernetes-validate ships no schema for Kubernetes {version}")
    return usable[-1]


def _builtin() -> SchemaFile:
    return _builtin_of(current_version())


@cache
def _builtin_of(version: str) -> SchemaFile:
    """The built-in kinds' definitions of ``version``: their index and each
    kind's schema are read from the schema cache when an earlier process kept
    them (``kube_schema_index``), the whole file (about 30 ms) otherwise."""
    return schema_file(_schema_dir(version) / "_definitions.json")


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def builtin_versions(group: str, kind: str) -> frozenset[str]:
    """The versions of a built-in kind Kubernetes ``KUBERNETES_VERSION`` defines;
    empty when ``group``/``kind`` is no built-in kind."""
    return _builtin().kinds.kinds.get((group, kind), frozenset())


def is_builtin(api_version: str, kind: str) -> bool:
    """True when ``apiVersion``/``kind`` is a built-in kind of this release."""
    group, version = split_api_version(api_version)
    return (group, version, kind) in _builtin().kinds.definitions


_lock = threading.Lock()
_compiled: dict[tuple[str, str, str, str], Any] = {}


def _builtin_validator(group: str, version: str, kind: str) -> Any | None:
    key = (current_version(), group, version, kind)
    validator = _compiled.get(key)
    if validator is not None:
        return validator
    builtin = _builtin()
    name = builtin.kinds.definitions.get(key[1:])
    if name is None:
        return None
    import jsonschema_rs  # with email.utils and socket: only when an object is checked

    with _lock:
        validator = _compiled.get(key)
        if validator is None:
            # A registry of the definitions this kind reaches, not of all 862:
            # the same schemas, so the same errors.
            document = {"$defs": builtin.reached(name)}
            registry = jsonschema_rs.Registry([(_DEFINITIONS_URI, document)])
            schema = {"$ref": f"{_DEFINITIONS_URI}#/$defs/{name}"}
            validator = jsonschema_rs.Draft202012Validator(schema, registry=registry)
            _compiled[key] = validator
    return validator


def builtin_errors(manifest: Mapping[str, Any]) -> list[FieldError] | None:
    """What the schema of a built-in kind finds wrong in ``manifest``; None when
    its apiVersion and kind are no built-in kind of this release."""
    group, version = split_api_version(str(manifest.get("apiVersion", "")))
    validator = _builtin_validator(group, version, str(manifest.get("kind", "")))
    if validator is None:
        return None
    return _errors(validator, manifest)


# --- custom resources --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrdSchema:
    """The compiled ``openAPIV3Schema`` of one served version of a CRD (None: the
    version declares no schema, anything goes)."""

    validator: Any | None

    def errors(self, manifest: Mapping[str, Any]) -> list[FieldError]:
        if self.validator is None:
            return []
        # The API server prunes nulls of non-nullable fields before validating,
        # and checks metadata itself (names), not with the CRD's schema.
        body = {k: v for k, v in _without_nulls(manifest).items() if k != "metadata"}
        return _errors(self.validator, body)


_crd_cache: dict[str, CrdSchema] = {}


def crd_versions(crd: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """The served versions of a CRD manifest and their ``openAPIV3Schema`` (or None)."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    found: dict[str, Mapping[str, Any] | None] = {}
    for entry in spec.get("versions") or ():
        if not isinstance(entry, Mapping) or not entry.get("name"):
            continue
        if entry.get("served", True) is False:
            continue
        validation = entry.get("schema") or spec.get("validation") or {}
        schema = validation.get("openAPIV3Schema") if isinstance(validation, Mapping) else None
        found[str(entry["name"])] = schema if isinstance(schema, Mapping) else None
    return found


def crd_schema(schema: Mapping[str, Any] | None) -> CrdSchema:
    """``schema`` (a CRD version's ``openAPIV3Schema``) compiled, from the cache
    when the same schema was compiled before. A schema jsonschema-rs cannot
    compile checks nothing: the API server refused that CRD already."""
    if schema is None:
        return CrdSchema(None)
    digest = hashlib.sha256(json.dumps(schema, sort_keys=True, default=str).encode()).hexdigest()
    found = _crd_cache.get(digest)
    if found is not None:
        return found
    import jsonschema_rs

    try:
        validator: Any = jsonschema_rs.Draft4Validator(
            to_json_schema(schema), validate_formats=False
        )
    except (ValueError, jsonschema_rs.ValidationError):
        validator = None
    compiled = CrdSchema(validator)
    with _lock:
        _crd_cache[digest] = compiled
    return compiled


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema draft 4: ``nullable`` and
    ``x-kubernetes-int-or-string`` become types; everything else is kept
    (draft 4 ignores the ``x-kubernetes-*`` keywords it does not know)."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, Mapping):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(value)
        elif key in ("nullable", "default", "example", "format", "description"):
            continue
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        int_or_string = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
        out = {"allOf": [out, int_or_string]} if "anyOf" in out else {**out, **int_or_string}
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# --- errors ------------------------------------------------------------------------------


def _errors(validator: Any, manifest: Mapping[str, Any]) -> list[FieldError]:
    try:
        raw = list(validator.iter_errors(manifest))
    except ValueError as exc:  # a value JSON cannot hold (a date, a set)
        return [FieldError("", FieldReason.INVALID, None, f"not JSON: {exc}", show_value=False)]
    found: list[FieldError] = []
    seen: set[str] = set()
    for error in raw:
        refused = _field_error(error)
        if refused.path in seen:
            continue
        seen.add(refused.path)
        found.append(refused)
        if len(found) >= MAX_ERRORS:
            break
    return found


def _types(kind_info: Mapping[str, Any]) -> list[str]:
    types = kind_info.get("types") or []
    return [t for t in (types if isinstance(types, list) else [types]) if t != "null"]


def _field_error(error: Any) -> FieldError:
    parts = list(error.instance_path)
    name = error.kind.name
    info = error.kind.as_dict()
    value = error.instance
    if name == "required":
        return FieldError(field_path([*parts, info["property"]]), FieldReason.REQUIRED)
    if name == "type":
        expected = _types(info)
        detail = f"must be of type {' or '.join(expected)}"
        if expected == ["string"] and isinstance(value, int | float):
            detail += " (quote the value in YAML)"
        return FieldError(field_path(parts), FieldReason.INVALID, value, detail)
    if name == "enum":
        options = ", ".join(format_value(o) for o in info.get("options") or [])
        return FieldError(
            field_path(parts), FieldReason.NOT_SUPPORTED, value, f"supported values: {options}"
        )
    if name in ("oneOf", "anyOf"):
        types: list[str] = []
        for branch in info.get("context") or []:
            for sub in branch:
                if sub.kind.name == "type":
                    types += [t for t in _types(sub.kind.as_dict()) if t not in types]
        detail = f"must be of type {' or '.join(types)}" if types else f"must match {name}"
        return FieldError(field_path(parts), FieldReason.INVALID, value, detail)
    return FieldError(field_path(parts), FieldReason.INVALID, value, _detail(name, info))


_DETAILS = {
    "minimum": "must be greater than or equal to {limit}",
    "maximum": "must be less than or equal to {limit}",
    "exclusiveMinimum": "must be greater than {limit}",
    "exclusiveMaximum": "must be less than {limit}",
    "minLength": "must be at least {limit} characters long",
    "maxLength": "may not be more than {limit} characters long",
    "minItems": "must have at least {limit} items",
    "maxItems": "must have at most {limit} items",
    "minProperties": "must have at least {limit} properties",
    "maxProperties": "must have at most {limit} properties",
    "multipleOf": "must be a multiple of {multiple_of}",
    "pattern": "must match the pattern {pattern}",
    "uniqueItems": "must not have duplicate items",
    "const": "must be {expected_value}",
    "not": "must not match the schema under 'not'",
}


def _detail(name: str, info: Mapping[str, Any]) -> str:
    template = _DETAILS.get(name)
    if template is None:
        return f"does not match the schema ({name})"
    try:
        return template.format(**info)
    except (KeyError, IndexError):
        return f"does not match the schema ({name})"

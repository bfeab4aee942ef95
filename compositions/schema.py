"""Structural OpenAPI v3 schemas (as in a CRD or XRD): defaulting and validation.

An XRD's ``openAPIV3Schema`` is checked with jsonschema after turning its
OpenAPI-isms into JSON Schema: ``nullable: true`` allows null,
``x-kubernetes-int-or-string`` allows an integer or a string, other
``x-kubernetes-*`` keys are dropped. Objects that list their properties refuse
unknown fields unless ``x-kubernetes-preserve-unknown-fields`` is set — what
``kubectl apply`` (strict field validation, the default since Kubernetes 1.27)
reports instead of silently pruning a misspelt parameter.

Defaults are applied first, as the API server does: every ``default`` in
``properties`` is set where the field is absent, recursively, including inside
defaults just set, list items and ``additionalProperties`` values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gitwave.compositions.values import copy_json

__all__ = [
    "SimpleSchemaError",
    "StructuralSchema",
    "ValidationProblem",
    "simple_schema_to_openapi",
    "to_json_schema",
]

# Fields Crossplane adds to every XR and claim spec, whatever the XRD says.
CROSSPLANE_SPEC_FIELDS: Mapping[str, Any] = MappingProxyType(
    {
        name: {}
        for name in (
            "compositionRef",
            "compositionSelector",
            "compositionRevisionRef",
            "compositionRevisionSelector",
            "compositionUpdatePolicy",
            "writeConnectionSecretToRef",
            "publishConnectionDetailsTo",
            "resourceRef",
            "resourceRefs",
            "claimRef",
            "environmentConfigRefs",
            "crossplane",
        )
    }
)


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """One schema violation: the dotted field path and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def to_json_schema(schema: Any, *, strict: bool = True) -> Any:
    """An OpenAPI v3 (structural) schema as a JSON Schema (draft 4) document.

    ``strict`` adds ``additionalProperties: false`` to objects that list their
    properties and do not preserve unknown fields.
    """
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "default", "example"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {
                name: to_json_schema(sub, strict=strict)
                for name, sub in (value.items() if isinstance(value, Mapping) else ())
            }
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value, strict=strict) if isinstance(value, Mapping) else value
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [to_json_schema(sub, strict=strict) for sub in value]
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("x-kubernetes-embedded-resource"):
        properties = dict(out.get("properties") or {})
        for name in ("apiVersion", "kind"):
            properties.setdefault(name, {"type": "string"})
        properties.setdefault("metadata", {"type": "object"})
        out["properties"] = properties
    if schema.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if (
        strict
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@dataclass(frozen=True)
class StructuralSchema:
    """One version's schema of a kind: applies defaults and validates objects.

    Built once per XRD version and reused for every XR of it.
    """

    openapi: Mapping[str, Any]
    validator: Any = field(repr=False)

    @classmethod
    def for_object(
        cls, openapi: Any, *, extra_spec_fields: Mapping[str, Any] = CROSSPLANE_SPEC_FIELDS
    ) -> StructuralSchema:
        """The schema of a whole object: the given one plus apiVersion, kind,
        metadata and status, and ``extra_spec_fields`` allowed under spec.

        Raises jsonschema.SchemaError when the schema itself is invalid.
        """
        import jsonschema  # here, not at the top: only apps with composites need it (40 ms)

        openapi = openapi if isinstance(openapi, Mapping) else {"type": "object"}
        root = to_json_schema(openapi)
        properties = dict(root.get("properties") or {})
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties["metadata"] = {"type": "object"}
        properties.setdefault("status", {"type": "object"})
        spec = properties.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("properties"), dict):
            spec = dict(spec)
            spec["properties"] = {**extra_spec_fields, **spec["properties"]}
            properties["spec"] = spec
        root = {**root, "type": "object", "properties": properties}
        jsonschema.Draft4Validator.check_schema(root)
        return cls(openapi=openapi, validator=jsonschema.Draft4Validator(root))

    def default(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` with every schema default filled in."""
        copy = copy_json(dict(obj))
        _apply_defaults(self.openapi, copy)
        return copy  # type: ignore[no-any-return]

    def problems(self, obj: Mapping[str, Any]) -> tuple[ValidationProblem, ...]:
        """Every violation of the schema by ``obj``, sorted by field path."""
        found = [
            ValidationProblem(_path_text(error.absolute_path), error.message)
            for error in self.validator.iter_errors(obj)
        ]
        return tuple(sorted(found, key=lambda p: (p.path, p.message)))


def _apply_defaults(schema: Any, value: Any) -> None:
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for name, sub in properties.items():
                if not isinstance(sub, Mapping):
                    continue
                if name not in value and "default" in sub:
                    value[name] = copy_json(sub["default"])
                if name in value:
                    _apply_defaults(sub, value[name])
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            known = properties if isinstance(properties, Mapping) else {}
            for name, item in value.items():
                if name not in known:
                    _apply_defaults(additional, item)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for item in value:
                _apply_defaults(items, item)
    for sub in schema.get("allOf") or ():
        _apply_defaults(sub, value)


def _path_text(path: Iterable[Any]) -> str:
    out: list[str] = []
    for part in path:
        if isinstance(part, int) or "." in str(part) or "/" in str(part):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)


# --- kro SimpleSchema ----------------------------------------------------------

_SIMPLE_TYPES = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "number": "number",
    "float": "number",
    "object": "object",
}


class SimpleSchemaError(ValueError):
    """A kro SimpleSchema field that cannot be read; the message names the field."""


def simple_schema_to_openapi(fields: Any, *, where: str = "spec") -> dict[str, Any]:
    """kro's SimpleSchema (``name: string | required=true default="x"``) as OpenAPI.

    Nested mappings are objects; ``[]T`` is a list, ``map[string]T`` a map.
    Markers: required, default, description, enum (comma separated), minimum,
    maximum. Raises SimpleSchemaError naming the field for anything else.
    """
    if fields is None:
        return {"type": "object"}
    if not isinstance(fields, Mapping):
        raise SimpleSchemaError(f"{where}: a SimpleSchema block must be a mapping")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, text in fields.items():
        path = f"{where}.{name}"
        if isinstance(text, Mapping):
            nested = simple_schema_to_openapi(text, where=path)
            if any("default" in p for p in nested["properties"].values()):
                # As kro does: an omitted block still gets its children's defaults.
                nested["default"] = {}
            properties[name] = nested
            continue
        if not isinstance(text, str):
            raise SimpleSchemaError(f"{path}: expected a type such as 'string', got {text!r}")
        type_text, _, marker_text = text.partition("|")
        prop = _simple_type(type_text.strip(), path)
        for marker, value in _markers(marker_text, path):
            if marker == "required":
                if value.lower() == "true":
                    required.append(name)
            elif marker == "default":
                prop["default"] = _marker_value(value, prop, path)
            elif marker == "description":
                prop["description"] = value
            elif marker == "enum":
                prop["enum"] = [_marker_value(v.strip(), prop, path) for v in value.split(",")]
            elif marker in ("minimum", "maximum"):
                prop[marker] = _marker_value(value, {"type": "number"}, path)
            else:
                raise SimpleSchemaError(f"{path}: unknown marker {marker!r}")
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = sorted(required)
    return schema


def _simple_type(text: str, path: str) -> dict[str, Any]:
    if text.startswith("[]"):
        return {"type": "array", "items": _simple_type(text[2:], path)}
    if text.startswith("map[") and "]" in text:
        key, _, value = text[4:].partition("]")
        if key.strip() != "string":
            raise SimpleSchemaError(f"{path}: map keys must be strings")
        return {"type": "object", "additionalProperties": _simple_type(value, path)}
    if text in _SIMPLE_TYPES:
        prop: dict[str, Any] = {"type": _SIMPLE_TYPES[text]}
        if text == "object":
            prop["x-kubernetes-preserve-unknown-fields"] = True
        return prop
    raise SimpleSchemaError(
        f"{path}: unknown type {text!r}; use string, integer, number, boolean, object, "
        "[]T or map[string]T"
    )


def _markers(text: str, path: str) -> list[tuple[str, str]]:
    """``required=true default="a b" enum="x,y"`` → [(name, value), …]."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise SimpleSchemaError(f"{path}: marker {text[i:].strip()!r} has no '='")
        name = text[i:eq].strip()
        i = eq + 1
        if i < n and text[i] == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise SimpleSchemaError(f"{path}: marker {name} has an unclosed quote")
            value = text[i + 1 : end].replace('\\"', '"')
            i = end + 1
        else:
            end = text.find(" ", i)
            end = n if end < 0 else end
            value = text[i:end]
            i = end
        out.append((name, value))
    return out


def _marker_value(text: str, prop: Mapping[str, Any], path: str) -> Any:
    kind = prop.get("type")
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
    except ValueError:
        raise SimpleSchemaError(f"{path}: {text!r} is not a valid {kind}") from None
    if kind in ("array", "object"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise SimpleSchemaError(f"{path}: default {text!r} is not JSON") from None
    return text

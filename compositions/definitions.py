"""Definitions read as-is from the render: Crossplane XRDs and Compositions, kro RGDs.

Each parser takes a rendered Resource and returns a frozen value, or raises
ValidationError naming the definition (``Kind/name (file:line)``) and the
field that is wrong. Schemas are compiled on first use and kept with the
definition, so 1,000 XRs of one XRD compile its schema once.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.compositions.functions import FunctionError
from gitwave.compositions.kinds import COMPOSITION, CROSSPLANE_GROUP, KRO_GROUP, RGD, XRD
from gitwave.compositions.patch_and_transform import template_names
from gitwave.compositions.schema import (
    SimpleSchemaError,
    StructuralSchema,
    simple_schema_to_openapi,
)
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Resource

__all__ = [
    "COMPOSITION",
    "CROSSPLANE_GROUP",
    "KRO_GROUP",
    "RGD",
    "XRD",
    "CompositeDefinition",
    "Composition",
    "CompositionMode",
    "GraphDefinition",
    "GraphResource",
    "PipelineStep",
    "parse_composition",
    "parse_graph_definition",
    "parse_xrd",
]


PATCH_AND_TRANSFORM = "function-patch-and-transform"
_KRO_ID = re.compile(r"^[a-z][A-Za-z0-9]*$")


def _spec(resource: Resource) -> Mapping[str, Any]:
    spec = resource.manifest.get("spec")
    if not isinstance(spec, Mapping):
        raise ValidationError(resource.where, "spec is missing")
    return spec


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _string(value: Any, resource: Resource, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(resource.where, f"{path} is missing or not a string")
    return value


# --- CompositeResourceDefinition --------------------------------------------------------


@dataclass(frozen=True)
class XRDVersion:
    name: str
    served: bool
    referenceable: bool
    openapi: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class CompositeDefinition:
    """A Crossplane CompositeResourceDefinition: the XR kind (and claim kind) it defines."""

    name: str
    group: str
    kind: str
    plural: str
    claim_kind: str
    versions: Mapping[str, XRDVersion]
    referenceable: str
    connection_secret_keys: tuple[str, ...] | None
    default_composition: str
    enforced_composition: str
    resource: Resource = field(repr=False)
    _schemas: dict[str, StructuralSchema] = field(default_factory=dict, repr=False, compare=False)

    @property
    def where(self) -> str:
        return self.resource.where

    def schema(self, version: str) -> StructuralSchema:
        """The compiled schema of ``version``. Raises ValidationError for an
        invalid openAPIV3Schema (naming the XRD)."""
        cached = self._schemas.get(version)
        if cached is None:
            import jsonschema  # only apps with composites need it (40 ms to import)

            try:
                cached = StructuralSchema.for_object(self.versions[version].openapi)
            except jsonschema.SchemaError as err:
                raise ValidationError(
                    self.where,
                    f"spec.versions[{version}].schema.openAPIV3Schema is not a valid schema: "
                    f"{err.message}",
                ) from None
            self._schemas[version] = cached
        return cached


def parse_xrd(resource: Resource) -> CompositeDefinition:
    """Read a CompositeResourceDefinition. Raises ValidationError when a required
    field is missing or no (or more than one) version is referenceable."""
    spec = _spec(resource)
    group = _string(spec.get("group"), resource, "spec.group")
    names = _mapping(spec.get("names"))
    kind = _string(names.get("kind"), resource, "spec.names.kind")
    plural = names.get("plural")
    plural = plural if isinstance(plural, str) and plural else kind.lower() + "s"
    claim_names = spec.get("claimNames")
    claim_kind = ""
    if isinstance(claim_names, Mapping):
        claim_kind = _string(claim_names.get("kind"), resource, "spec.claimNames.kind")
    raw_versions = spec.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        raise ValidationError(resource.where, "spec.versions must list at least one version")
    versions: dict[str, XRDVersion] = {}
    for number, entry in enumerate(raw_versions):
        if not isinstance(entry, Mapping):
            raise ValidationError(resource.where, f"spec.versions[{number}] must be an object")
        name = _string(entry.get("name"), resource, f"spec.versions[{number}].name")
        openapi = _mapping(entry.get("schema")).get("openAPIV3Schema")
        versions[name] = XRDVersion(
            name=name,
            served=bool(entry.get("served", True)),
            referenceable=bool(entry.get("referenceable", False)),
            openapi=openapi if isinstance(openapi, Mapping) else {"type": "object"},
        )
    referenceable = [v.name for v in versions.values() if v.referenceable]
    if len(versions) == 1 and not referenceable:
        referenceable = list(versions)
    if len(referenceable) != 1:
        raise ValidationError(
            resource.where,
            f"exactly one version must be referenceable, found {len(referenceable)}",
            hint="set referenceable: true on the version Compositions are written against",
        )
    keys = spec.get("connectionSecretKeys")
    return CompositeDefinition(
        name=str(resource.key.name),
        group=group,
        kind=kind,
        plural=plural,
        claim_kind=claim_kind,
        versions=versions,
        referenceable=referenceable[0],
        connection_secret_keys=tuple(str(k) for k in keys) if isinstance(keys, list) else None,
        default_composition=_ref_name(spec.get("defaultCompositionRef")),
        enforced_composition=_ref_name(spec.get("enforcedCompositionRef")),
        resource=resource,
    )


def _ref_name(ref: Any) -> str:
    return ref["name"] if isinstance(ref, Mapping) and isinstance(ref.get("name"), str) else ""


# --- Composition -------------------------------------------------------------------


class CompositionMode(enum.Enum):
    RESOURCES = "Resources"
    PIPELINE = "Pipeline"

    @property
    def label(self) -> str:
        return f"mode {self.value}"


@dataclass(frozen=True)
class PipelineStep:
    """One step: a function by name and its input. ``name`` is "" for the implied
    step of a ``mode: Resources`` composition (errors then leave the step out)."""

    name: str
    function: str
    input: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class Composition:
    """A Crossplane Composition: which XR type it composes and how."""

    name: str
    type_group: str
    type_kind: str
    labels: Mapping[str, str]
    mode: CompositionMode
    steps: tuple[PipelineStep, ...]
    resource: Resource = field(repr=False)

    @property
    def where(self) -> str:
        return self.resource.where

    def composes(self, group: str, kind: str) -> bool:
        return self.type_group == group and self.type_kind == kind


def parse_composition(resource: Resource) -> Composition:
    """Read a Composition. Raises ValidationError for a missing compositeTypeRef,
    an unknown mode, a Resources composition without resources (or mixing named
    and unnamed ones) or a pipeline step without a name or functionRef."""
    spec = _spec(resource)
    ref = spec.get("compositeTypeRef")
    if not isinstance(ref, Mapping):
        raise ValidationError(resource.where, "spec.compositeTypeRef is missing")
    api_version = _string(ref.get("apiVersion"), resource, "spec.compositeTypeRef.apiVersion")
    kind = _string(ref.get("kind"), resource, "spec.compositeTypeRef.kind")
    raw_mode = spec.get("mode", "Resources") or "Resources"
    try:
        mode = CompositionMode(raw_mode)
    except ValueError:
        raise ValidationError(
            resource.where, f"spec.mode is {raw_mode!r}; use Resources or Pipeline"
        ) from None
    if mode is CompositionMode.RESOURCES:
        resources = spec.get("resources")
        if not isinstance(resources, list) or not resources:
            raise ValidationError(resource.where, "spec.resources must list at least one resource")
        try:
            template_names(resources)
        except FunctionError as err:
            raise ValidationError(resource.where, f"spec.{err}") from None
        steps: tuple[PipelineStep, ...] = (
            PipelineStep(
                "",
                PATCH_AND_TRANSFORM,
                {"resources": resources, "patchSets": spec.get("patchSets") or []},
            ),
        )
    else:
        pipeline = spec.get("pipeline")
        if not isinstance(pipeline, list) or not pipeline:
            raise ValidationError(resource.where, "spec.pipeline must list at least one step")
        parsed: list[PipelineStep] = []
        for number, entry in enumerate(pipeline):
            if not isinstance(entry, Mapping):
                raise ValidationError(resource.where, f"spec.pipeline[{number}] must be an object")
            step = _string(entry.get("step"), resource, f"spec.pipeline[{number}].step")
            if any(s.name == step for s in parsed):
                raise ValidationError(resource.where, f"pipeline step {step!r} appears twice")
            function_ref = entry.get("functionRef")
            function = _string(
                function_ref.get("name") if isinstance(function_ref, Mapping) else None,
                resource,
                f"spec.pipeline[{number}].functionRef.name",
            )
            parsed.append(PipelineStep(step, function, entry.get("input")))
        steps = tuple(parsed)
    labels = resource.labels
    return Composition(
        name=resource.key.name,
        type_group=api_version.rpartition("/")[0],
        type_kind=kind,
        labels={str(k): str(v) for k, v in labels.items()},
        mode=mode,
        steps=steps,
        resource=resource,
    )


# --- kro ResourceGraphDefinition ----------------------------------------------------------


@dataclass(frozen=True)
class GraphResource:
    """One resource of an RGD: its id, template and CEL conditions (``${…}`` text)."""

    id: str
    template: Mapping[str, Any] = field(repr=False)
    ready_when: tuple[str, ...] = ()
    include_when: tuple[str, ...] = ()


@dataclass(frozen=True)
class GraphDefinition:
    """A kro ResourceGraphDefinition: a new kind and the resources one instance makes."""

    name: str
    group: str
    version: str
    kind: str
    schema: StructuralSchema = field(repr=False)
    status: Mapping[str, Any] = field(repr=False)
    resources: tuple[GraphResource, ...]
    resource: Resource = field(repr=False)

    @property
    def where(self) -> str:
        return self.resource.where


def parse_graph_definition(resource: Resource) -> GraphDefinition:
    """Read a kro ResourceGraphDefinition. Raises ValidationError for a bad
    schema, an id that is not lowerCamelCase, a duplicate id or a template
    without apiVersion and kind."""
    spec = _spec(resource)
    schema = spec.get("schema")
    if not isinstance(schema, Mapping):
        raise ValidationError(resource.where, "spec.schema is missing")
    version = _string(schema.get("apiVersion"), resource, "spec.schema.apiVersion")
    kind = _string(schema.get("kind"), resource, "spec.schema.kind")
    group = schema.get("group")
    group = group if isinstance(group, str) and group else KRO_GROUP
    import jsonschema  # only apps with composites need it (40 ms to import)

    try:
        openapi = {
            "type": "object",
            "properties": {"spec": simple_schema_to_openapi(schema.get("spec"), where="spec")},
        }
        structural = StructuralSchema.for_object(openapi, extra_spec_fields={})
    except (SimpleSchemaError, jsonschema.SchemaError) as err:
        raise ValidationError(resource.where, f"spec.schema: {err}") from None
    raw = spec.get("resources")
    if not isinstance(raw, list) or not raw:
        raise ValidationError(resource.where, "spec.resources must list at least one resource")
    resources: list[GraphResource] = []
    for number, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise ValidationError(resource.where, f"spec.resources[{number}] must be an object")
        ident = _string(entry.get("id"), resource, f"spec.resources[{number}].id")
        if not _KRO_ID.match(ident) or ident in ("schema", "xr"):
            raise ValidationError(
                resource.where,
                f"spec.resources[{number}].id {ident!r} must be lowerCamelCase and not "
                "'schema' or 'xr'",
            )
        if any(r.id == ident for r in resources):
            raise ValidationError(resource.where, f"resource id {ident!r} appears twice")
        template = entry.get("template")
        if not isinstance(template, Mapping) or not all(
            isinstance(template.get(k), str) for k in ("apiVersion", "kind")
        ):
            raise ValidationError(
                resource.where, f"resource {ident}: template needs apiVersion and kind"
            )
        resources.append(
            GraphResource(
                id=ident,
                template=template,
                ready_when=_conditions(entry.get("readyWhen"), resource, ident, "readyWhen"),
                include_when=_conditions(entry.get("includeWhen"), resource, ident, "includeWhen"),
            )
        )
    status = schema.get("status")
    return GraphDefinition(
        name=resource.key.name,
        group=group,
        version=version,
        kind=kind,
        schema=structural,
        status=status if isinstance(status, Mapping) else {},
        resources=tuple(resources),
        resource=resource,
    )


def _conditions(value: Any, resource: Resource, ident: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(resource.where, f"resource {ident}: {name} must be a list of ${{…}}")
    return tuple(value)

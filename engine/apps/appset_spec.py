"""An ApplicationSet's spec read, its elements generated and each rendered to an
Application document: what the Git loader (``appset.SetLoader``) and the
controller (``controller.appsets``, which creates the Application objects in
the cluster as Argo CD's ApplicationSet controller does) share.

Pure but for the generators' reads (a git generator opens a repository
through the ``RepoOpener`` it is given).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.generators import Context, Params, RepoOpener, deep_merge, generate
from gitwave.engine.apps.model import ARGO_GROUP, RESOURCES_FINALIZER
from gitwave.engine.apps.templating import (
    Syntax,
    TemplateFieldError,
    check_go_templates,
    render_string,
    render_tree,
)
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.fieldpath import FieldPathError, parse_pointer
from gitwave.engine.model import SourceRef
from gitwave.engine.names import SUBDOMAIN_MAX
from gitwave.engine.yamlio import iter_documents

SPEC_KEYS = (
    "generators",
    "template",
    "templatePatch",
    "goTemplate",
    "goTemplateOptions",
    "syncPolicy",
    # These only shape how Application objects in a cluster are updated: from
    # Git gitwave keeps none, so they change nothing there (they are checked);
    # the controller keeps both (controller.appsets).
    "ignoreApplicationDifferences",
    "preservedFields",
)
# Argo CD's syncPolicy.applicationsSync: what the set may do to its Applications.
APPLICATIONS_SYNC = ("sync", "create-update", "create-only", "create-delete")
_MISSING_KEY_OPTIONS = (
    "missingkey=error",
    "missingkey=default",
    "missingkey=invalid",
    "missingkey=zero",
)


@dataclass(frozen=True)
class SetSpec:
    """An ApplicationSet's spec, checked: what generating and rendering need."""

    name: str
    where: str  # ``file:line (ApplicationSet/name)``
    lines: FieldLines
    syntax: Syntax
    template: Mapping[str, Any]
    patch: str
    generators: Sequence[Any]
    preserve_resources: bool
    applications_sync: str
    # spec.ignoreApplicationDifferences: (Application name or "" for all, JSON
    # pointers into the Application the set leaves as they are on an update).
    ignore_differences: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def may_update(self) -> bool:
        """Whether an Application the set generated is updated to the template."""
        return self.applications_sync in ("sync", "create-update")

    @property
    def may_delete(self) -> bool:
        """Whether an Application whose element is gone is deleted."""
        return self.applications_sync in ("sync", "create-delete")


@dataclass(frozen=True)
class Element:
    """One parameter set of the generators: the field it came from (for the
    line of errors), how messages name it, its parameters."""

    field: str
    label: str
    params: Params


def read_set(doc: Mapping[str, Any], origin: SourceRef, node: yaml.Node | None = None) -> SetSpec:
    """The checked spec of the ApplicationSet ``doc`` defined at ``origin``.

    Raises ValidationError naming ``file:line``, the set and the field for a
    malformed set, a refused option or a template that does not parse."""
    reader = Reader(str(origin))
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.dns_name(
        reader.string(meta, "metadata.name", required=True),
        "metadata.name",
        max_len=SUBDOMAIN_MAX,
        dots=True,
    )
    lines = FieldLines(origin, node, name)
    where = lines.where("")
    reader = Reader(where)
    spec = reader.mapping(doc, "spec", required=True)
    if "strategy" in spec:
        reader.fail("spec.strategy (progressive syncs) is not supported; remove it")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        reader.fail(f"spec.{unknown[0]} is not supported (known: {', '.join(SPEC_KEYS)})")
    syntax = _syntax(reader, spec)
    template = reader.mapping(spec, "spec.template", required=True)
    patch = reader.string(spec, "spec.templatePatch")
    if patch and not syntax.go:
        reader.fail("spec.templatePatch needs goTemplate: true")
    policy = reader.mapping(spec, "spec.syncPolicy")
    preserve = reader.boolean(policy, "spec.syncPolicy.preserveResourcesOnDeletion")
    sync = reader.string(policy, "spec.syncPolicy.applicationsSync") or "sync"
    if sync not in APPLICATIONS_SYNC:
        reader.fail(
            f"spec.syncPolicy.applicationsSync: {sync!r} is not one of "
            + ", ".join(APPLICATIONS_SYNC)
        )
    try:
        check_go_templates(template, syntax, field="spec.template")
        check_go_templates(patch, syntax, field="spec.templatePatch")
    except TemplateFieldError as err:
        raise template_error(lines, err) from None
    generators = spec.get("generators")
    if not isinstance(generators, list) or not generators:
        reader.fail("spec.generators must be a non-empty list")
    return SetSpec(
        name=name,
        where=where,
        lines=lines,
        syntax=syntax,
        template=template,
        patch=patch,
        generators=tuple(generators),
        preserve_resources=preserve,
        applications_sync=sync,
        ignore_differences=_ignore_differences(reader, spec),
    )


def _ignore_differences(
    reader: Reader, spec: Mapping[str, Any]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``spec.ignoreApplicationDifferences``: JSON pointers (``jqPathExpressions``
    are refused, as for an Application's ignoreDifferences)."""
    rules = []
    for i, rule in enumerate(reader.mappings(spec, "spec.ignoreApplicationDifferences")):
        dotted = f"spec.ignoreApplicationDifferences[{i}]"
        if rule.get("jqPathExpressions"):
            reader.fail(
                f"{dotted}.jqPathExpressions: not supported; name the fields with jsonPointers "
                "(like /spec/syncPolicy/automated)"
            )
        unknown = sorted(set(rule) - {"name", "jsonPointers", "jqPathExpressions"})
        if unknown:
            reader.fail(f"{dotted}.{unknown[0]}: not a field (name, jsonPointers)")
        pointers = reader.strings(rule, f"{dotted}.jsonPointers")
        for pointer in pointers:
            try:
                parse_pointer(pointer)
            except FieldPathError:
                reader.fail(f"{dotted}.jsonPointers: {pointer!r} is not a JSON pointer")
        rules.append((reader.string(rule, f"{dotted}.name"), tuple(pointers)))
    return tuple(rules)


def set_elements(
    spec: SetSpec,
    clusters: ClusterSource,
    open_repo: RepoOpener,
    reads: list[Path] | None = None,
) -> list[Element]:
    """Every parameter set the set's generators make, in order.

    Raises ValidationError naming the generator for one that is malformed,
    refused or fails (the set fails as a whole, as in Argo CD)."""
    elements: list[Element] = []
    for i, generator in enumerate(spec.generators):
        field = f"spec.generators[{i}]"
        ctx = Context(
            spec.syntax,
            spec.lines.where(field),
            clusters,
            open_repo,
            [] if reads is None else reads,
        )
        for j, params in enumerate(generate(generator, field, ctx)):
            # A list element's own line when it has one, else the generator's.
            elements.append(Element(f"{field}.list.elements[{j}]", f"{field} element {j}", params))
    return elements


def render_element(spec: SetSpec, element: Element) -> dict[str, Any]:
    """The Application document ``element`` renders the template to (the
    templatePatch merged in), as written: no namespace or owner added.

    Raises ValidationError naming the set, the element (with its parameters)
    and the file:line of the field whose template fails."""
    label = element_label(element)
    try:
        rendered = render_tree(spec.template, element.params, spec.syntax, field="spec.template")
        if spec.patch:
            text = render_string(
                spec.patch, element.params, spec.syntax, field="spec.templatePatch"
            )
            rendered = deep_merge(rendered, _patch_value(text, spec.lines, label))
    except TemplateFieldError as err:
        raise template_error(spec.lines, err, label) from None
    return {
        "apiVersion": f"{ARGO_GROUP}/v1alpha1",
        "kind": "Application",
        "metadata": dict(rendered.get("metadata") or {}),
        "spec": rendered.get("spec") or {},
    }


def with_finalizer(document: Mapping[str, Any], spec: SetSpec) -> dict[str, Any]:
    """``document`` as Argo CD's ApplicationSet controller creates it: with the
    resources-finalizer (its objects are deleted with it) unless the set says
    ``preserveResourcesOnDeletion``."""
    meta = dict(document.get("metadata") or {})
    finalizers = [str(f) for f in meta.get("finalizers") or []]
    if not spec.preserve_resources and RESOURCES_FINALIZER not in finalizers:
        finalizers.append(RESOURCES_FINALIZER)
    if finalizers:
        meta["finalizers"] = finalizers
    return {**document, "metadata": meta}


def element_label(element: Element) -> str:
    """``spec.generators[0] element 2 (env=prod, ...)``: an element in messages."""
    return f"{element.label} ({shown(element.params)})"


def invalid_application(spec: SetSpec, element: Element, error: GitwaveError) -> ValidationError:
    """The error of an element whose Application does not parse."""
    return ValidationError(
        spec.lines.where(element.field),
        f"{element_label(element)} generates an invalid Application: {error}",
        hint="fix the template or this element's parameters; the other elements' apps are synced",
    )


def _syntax(reader: Reader, spec: Mapping[str, Any]) -> Syntax:
    go = reader.boolean(spec, "spec.goTemplate")
    options = reader.strings(spec, "spec.goTemplateOptions")
    for option in options:
        if option not in _MISSING_KEY_OPTIONS:
            reader.fail(
                f"spec.goTemplateOptions: unknown option {option!r} "
                f"(known: {', '.join(_MISSING_KEY_OPTIONS)})"
            )
    return Syntax(go=go, missing_key_error="missingkey=error" in options)


def _patch_value(text: str, lines: FieldLines, element: str) -> Mapping[str, Any]:
    try:
        documents = [d.value for d in iter_documents(text, file="spec.templatePatch")]
    except GitwaveError as err:
        raise ValidationError(
            lines.where("spec.templatePatch"), f"{element}: the rendered patch: {err}"
        ) from None
    value = documents[0] if documents else {}
    if len(documents) > 1 or not isinstance(value, Mapping):
        raise ValidationError(
            lines.where("spec.templatePatch"), f"{element}: the rendered patch is not one mapping"
        )
    return value


def template_error(
    lines: FieldLines, err: TemplateFieldError, element: str = ""
) -> ValidationError:
    detail = f"{err}" if not element else f"{element}: {err}"
    return ValidationError(
        lines.where(err.field),
        detail,
        hint="fix the template; see Argo CD's ApplicationSet template docs for the syntax",
    )


def shown(params: Params) -> str:
    """A few of ``params`` as ``k=v`` text, for messages."""
    text = ", ".join(f"{k}={v}" for k, v in list(_flat(params).items())[:4])
    return text if len(text) <= 100 else text[:97] + "..."


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            flat[f"{prefix}{key}"] = value
    return flat


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class FieldLines:
    """``file:line (ApplicationSet/name)`` for a field of the set, its line found
    in the parsed YAML node when there is one (a file, not a tool's render)."""

    origin: SourceRef
    node: yaml.Node | None
    name: str

    def where(self, field: str) -> str:
        line = self.origin.line
        if self.node is not None and field:
            line = _field_line(self.node, field) or line
        return f"{SourceRef(self.origin.file, line)} (ApplicationSet/{self.name})"


def _field_line(node: yaml.Node, field: str) -> int:
    current = node
    for name, index in _PART.findall(field):
        if name and isinstance(current, yaml.MappingNode):
            found = next((v for k, v in current.value if k.value == name), None)
        elif index and isinstance(current, yaml.SequenceNode) and int(index) < len(current.value):
            found = current.value[int(index)]
        else:
            found = None
        if found is None:
            break
        current = found
    return int(current.start_mark.line) + 1


__all__ = [
    "APPLICATIONS_SYNC",
    "Element",
    "FieldLines",
    "SetSpec",
    "element_label",
    "invalid_application",
    "read_set",
    "render_element",
    "set_elements",
    "shown",
    "with_finalizer",
]

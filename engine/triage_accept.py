"""Drift triage's accept writer: the live value written into Git.

Into the object's own document when the app renders a plain directory, or,
when the object comes out of Kustomize (a base the overlay may not own), as a
JSON 6902 patch in the app's ``kustomization.yaml`` (``op: add`` sets the value
whether or not the base sets it). A Secret's value is never written; a Helm
chart's objects have no file to write a value into.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.drift import DriftedField, json_pointer
from gitwave.engine.errors import SafetyError, ValidationError
from gitwave.engine.fieldpath import parse_diff_path
from gitwave.engine.model import ResourceKey
from gitwave.engine.render import KUSTOMIZATION_FILES
from gitwave.engine.source_write import Scratch
from gitwave.engine.yaml_edit import YamlFile, plain, set_in
from gitwave.engine.yamlio import dump

__all__ = ["document", "write_accept", "write_value"]


def write_accept(scratch: Scratch, state: AppState, drifted: DriftedField) -> None:
    """Write the live value of ``drifted`` into the app's files in ``scratch``;
    SafetyError for a Secret, ValidationError where no file holds the value."""
    key = drifted.key
    if (key.group, key.kind) == ("", "Secret"):
        raise SafetyError(
            f"{key.display} {drifted.path}: gitwave never writes a Secret's value into Git",
            hint="seal or encrypt the new value (gitwave seal, sops) and commit it yourself",
        )
    write_value(
        scratch, state, key, parse_diff_path(drifted.path), drifted.live, json_pointer(drifted.path)
    )


def write_value(
    scratch: Scratch,
    state: AppState,
    key: ResourceKey,
    path: tuple[Any, ...],
    value: Any,
    pointer: str,
) -> None:
    """Set ``path`` of object ``key`` to ``value`` in the app's files: a JSON
    6902 patch in its kustomization, else the object's own document."""
    app = state.app
    resource = state.graph.resources.get(key)
    if resource is None:
        raise ValidationError(key.display, f"not an object of {app.name}'s render")
    kustomization = scratch.first_file(app.source.path, KUSTOMIZATION_FILES)
    if kustomization:
        _add_patch(scratch, kustomization, resource.api_version, key, path, pointer, value)
        return
    if app.source.render.helm is not None or resource.source is None or not resource.source.line:
        where = str(resource.source) if resource.source else app.source.path
        raise ValidationError(
            f"{key.display} ({where})",
            "comes from a template, not a document gitwave can edit",
            hint="set the value in the chart's values by hand",
        )
    relative = resource.source.file
    parsed = YamlFile.parse(scratch.read(relative), relative)
    doc = document(parsed, key.kind, key.name, key.namespace)
    try:
        set_in(doc, path, value)
    except KeyError:
        raise ValidationError(
            f"{relative}:{parsed.line_of(doc)}", f"{key.display}: cannot set {pointer} there"
        ) from None
    scratch.write(relative, parsed.text())


def document(parsed: YamlFile, kind: str, name: str, namespace: str) -> Any:
    """The document of ``kind``/``name`` (in ``namespace``, or any when "") in
    ``parsed``; ValidationError naming the file when there is none."""

    def wanted(doc: Any) -> bool:
        meta = doc.get("metadata")
        return (
            doc.get("kind") == kind
            and isinstance(meta, dict)
            and meta.get("name") == name
            and (not namespace or meta.get("namespace") in (None, namespace))
        )

    for _, doc in parsed.find(wanted):
        return doc
    raise ValidationError(parsed.where, f"no {kind}/{name} document in it")


def _add_patch(
    scratch: Scratch,
    relative: str,
    api_version: str,
    key: ResourceKey,
    path: tuple[Any, ...],
    pointer: str,
    value: Any,
) -> None:
    """Write ``value`` at ``path`` of ``key`` through the overlay's kustomization:
    its ``replicas:`` entry for the replicas it sets (kustomize applies that
    transformer after every patch, so a patch would lose), else a patch."""
    parsed = YamlFile.parse(scratch.read(relative), relative)
    doc = parsed.docs[0]
    name = _base_name(key, doc)
    if tuple(path) == ("spec", "replicas"):
        for entry in doc.get("replicas") or ():
            if isinstance(entry, dict) and entry.get("name") == name:
                entry["count"] = value
                scratch.write(relative, parsed.text())
                return
    patches = doc.get("patches")
    if patches is None:
        doc["patches"] = patches = CommentedSeq()
    target = CommentedMap()
    if key.group:
        target["group"] = key.group
    target["kind"] = key.kind
    target["name"] = name
    if path[:2] == ("metadata", "annotations"):
        # A JSON patch cannot add a key to annotations the object does not have
        # yet; a strategic merge patch merges into them or makes them.
        merge: dict[str, Any] = {"apiVersion": api_version, "kind": key.kind}
        merge["metadata"] = {"name": name, "annotations": {str(path[2]): value}}
        patch_text = dump(merge)
    else:
        patch_text = dump([{"op": "add", "path": pointer, "value": plain(value)}])
    patches.append(CommentedMap(target=target, patch=LiteralScalarString(patch_text)))
    scratch.write(relative, parsed.text())


def _base_name(key: ResourceKey, kustomization: Any) -> str:
    """The name as the overlay's patches see it: before its namePrefix/nameSuffix."""
    name = key.name
    prefix, suffix = kustomization.get("namePrefix") or "", kustomization.get("nameSuffix") or ""
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name

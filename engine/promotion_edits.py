"""Promotion's edits: what is copied from the source environment's files to the target's.

By what the environments are:

- a Kustomize overlay (a ``kustomization.yaml``): its ``images:`` entries
  (newName, newTag, digest of each image the source names), and each
  ``--field`` (a top-level key like ``replicas``, a dotted path, or a JSON
  pointer, read in the kustomization);
- Helm values: each ``--key`` (``image.tag``) of the environment's values
  file: the last ``helm.valueFiles`` entry of its Application, else
  ``values-ENV.yaml`` or ``values.yaml`` in its directory;
- an Argo CD Application: ``spec.source.targetRevision`` (and ``--field``
  paths of the Application when its source is no overlay).

Files are edited with ``engine.yaml_edit`` (comments and layout kept) in a
private work tree (``engine.source_write``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import FieldPathError, Segment, clone, parse_path, parse_pointer
from gitwave.engine.promotion_envs import Environment
from gitwave.engine.render import KUSTOMIZATION_FILES
from gitwave.engine.source_write import Scratch
from gitwave.engine.yaml_edit import YamlFile, get_in, plain, set_in

__all__ = ["Copier", "Edit", "plan_copies"]


@dataclass(frozen=True, slots=True)
class Edit:
    """One value copied: in ``file``, ``field`` went from ``before`` to ``after``."""

    file: str
    field: str
    before: Any
    after: Any

    @property
    def describe(self) -> str:
        return f"{self.file}: {self.field}: {_text(self.before)} -> {_text(self.after)}"


def _text(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def _field_path(text: str) -> tuple[Segment, ...]:
    try:
        if text.startswith("/"):
            return tuple(int(t) if t.isdigit() else t for t in parse_pointer(text))
        return parse_path(text)
    except FieldPathError as exc:
        raise ValidationError(f"field {text!r}", str(exc)) from None


def _values_file(scratch: Scratch, env: Environment) -> str:
    helm = env.app.source.render.helm
    directory = env.directory
    if helm is not None and helm.values_files:
        return f"{directory}/{helm.values_files[-1]}"
    for name in (f"values-{env.name}.yaml", "values.yaml"):
        relative = f"{directory}/{name}"
        if "/" not in env.name and scratch.file(relative).is_file():
            return relative
    raise ValidationError(env.app.where, "no Helm values file to copy --key into")


def _application(doc_file: YamlFile, app: AppSpec) -> Any:
    for _, doc in doc_file.find(
        lambda d: (
            d.get("kind") == "Application"
            and isinstance(d.get("metadata"), dict)
            and d["metadata"].get("name") == app.name
        )
    ):
        return doc
    raise ValidationError(doc_file.where, f"no Application {app.name} in it")


class Copier:
    """Copies values from the source's files to the target's, in a scratch tree."""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.files: dict[str, YamlFile] = {}
        self.edits: list[Edit] = []

    def open(self, relative: str) -> YamlFile:
        """The parsed file ``relative`` of the scratch tree (parsed once, edited in place)."""
        if relative not in self.files:
            self.files[relative] = YamlFile.parse(self.scratch.read(relative), relative)
        return self.files[relative]

    def copy(
        self, field: str, src: tuple[str, Any], dst: tuple[str, Any], path: Sequence[Segment]
    ) -> None:
        """Set ``path`` of ``dst`` (file, node) to its value in ``src``, recording an
        Edit when it changes; ValidationError when the source lacks it or the
        target cannot hold it."""
        try:
            value = get_in(src[1], path)
        except KeyError:
            raise ValidationError(src[0], f"{field}: not set in the source environment") from None
        try:
            before = get_in(dst[1], path)
        except KeyError:
            before = None
        if before == value:
            return
        try:
            set_in(dst[1], path, clone(value))
        except KeyError:
            raise ValidationError(dst[0], f"{field}: cannot be set there") from None
        self.edits.append(Edit(dst[0], field, plain(before), plain(value)))

    def copy_between_files(self, field: str, src_file: str, dst_file: str) -> None:
        """``copy`` of ``field`` from the first document of ``src_file`` to that of
        ``dst_file`` (a kustomization, a Helm values file)."""
        src, dst = self.open(src_file).docs[0], self.open(dst_file).docs[0]
        self.copy(field, (src_file, src), (dst_file, dst), _field_path(field))

    def write(self) -> None:
        """Write every opened file back into the scratch tree."""
        for relative, parsed in self.files.items():
            self.scratch.write(relative, parsed.text())


def _copy_images(copier: Copier, src_file: str, dst_file: str) -> None:
    src_doc = copier.open(src_file).docs[0]
    dst_doc = copier.open(dst_file).docs[0]
    images = src_doc.get("images") or []
    if not isinstance(images, list):
        raise ValidationError(src_file, "images: not a list")
    target = dst_doc.get("images")
    for entry in images:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        name = entry["name"]
        if target is None:
            dst_doc["images"] = target = []
        found = [i for i, e in enumerate(target) if isinstance(e, dict) and e.get("name") == name]
        if not found:
            target.append({"name": name})
            index = len(target) - 1
        else:
            index = found[0]
        for key in ("newName", "newTag", "digest"):
            if (key in entry or key in target[index]) and entry.get(key) != target[index].get(key):
                before = target[index].get(key)
                if key in entry:
                    target[index][key] = entry[key]
                else:
                    del target[index][key]
                copier.edits.append(Edit(dst_file, f"images[{name}].{key}", before, entry.get(key)))


def plan_copies(
    copier: Copier,
    src: Environment,
    dst: Environment,
    *,
    fields: Sequence[str] = (),
    keys: Sequence[str] = (),
) -> None:
    """Copy into ``copier`` what identifies the release of ``src`` to ``dst`` (see
    the module docstring): ``fields`` of an overlay or Application, ``keys`` of Helm
    values. ValidationError for a value that cannot be read or set."""
    scratch = copier.scratch
    src_k = scratch.first_file(src.directory, KUSTOMIZATION_FILES)
    dst_k = scratch.first_file(dst.directory, KUSTOMIZATION_FILES)
    if src_k and dst_k and src_k != dst_k:
        _copy_images(copier, src_k, dst_k)
        for field in fields:
            copier.copy_between_files(field, src_k, dst_k)
    elif fields and not (src.definition and dst.definition):
        raise ValidationError(f"--field {fields[0]}", "the environments are no Kustomize overlays")
    if keys:
        src_v, dst_v = _values_file(scratch, src), _values_file(scratch, dst)
        for key in keys:
            copier.copy_between_files(key, src_v, dst_v)
    if src.definition and dst.definition:
        src_app = _application(copier.open(src.definition), src.app)
        dst_app = _application(copier.open(dst.definition), dst.app)
        where_src = (src.definition, src_app)
        where_dst = (dst.definition, dst_app)
        if src.app.source.revision != dst.app.source.revision:
            path = ("spec", "source", "targetRevision")
            copier.copy("spec.source.targetRevision", where_src, where_dst, path)
        if not (src_k and dst_k):
            for field in fields:
                copier.copy(field, where_src, where_dst, _field_path(field))

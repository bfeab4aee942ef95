"""Flux's image automation objects read as-is from a directory of YAML.

``image.toolkit.fluxcd.io`` (v1beta2 and v1) ImageRepository, ImagePolicy and
ImageUpdateAutomation, and the ``source.toolkit.fluxcd.io`` GitRepository an
automation names, from every YAML file under the directory (recursively, no
symlinks, no ``.git``). An object without ``metadata.namespace`` is in
``default``, where kubectl would apply it. Each value keeps ``where``
(``file:line (Kind/namespace/name)``) for its errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2  # type: ignore[import-untyped]

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.model import FLUX_SOURCE_GROUP
from gitwave.engine.errors import ValidationError
from gitwave.engine.images.policy import TagPolicy, parse_tag_policy
from gitwave.engine.images.registry import ImageName, RegistryError
from gitwave.engine.names import SUBDOMAIN_MAX
from gitwave.engine.yamlio import iter_documents

IMAGE_GROUP = "image.toolkit.fluxcd.io"
IMAGE_VERSIONS = ("v1beta2", "v1")
DEFAULT_EXCLUSIONS = (r"^.*\.sig$",)
DEFAULT_MESSAGE = "Update from image update automation"
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, order=True)
class Ref:
    """``namespace/name`` of an object another one names."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ImageRepository:
    ref: Ref
    image: ImageName
    interval_s: float
    timeout_s: float
    exclusions: tuple[str, ...]
    insecure: bool
    secret_ref: str
    where: str

    @property
    def subject(self) -> str:
        return f"ImageRepository/{self.ref}"


@dataclass(frozen=True)
class ImagePolicy:
    ref: Ref
    repository: Ref
    policy: TagPolicy
    labels: tuple[tuple[str, str], ...]
    where: str

    @property
    def subject(self) -> str:
        return f"ImagePolicy/{self.ref}"

    @property
    def setter(self) -> str:
        """How markers name this policy: ``namespace:name``."""
        return f"{self.ref.namespace}:{self.ref.name}"


@dataclass(frozen=True)
class GitSource:
    ref: Ref
    url: str
    branch: str
    where: str


@dataclass(frozen=True)
class ImageUpdateAutomation:
    ref: Ref
    source: Ref
    checkout_branch: str
    push_branch: str
    author_name: str
    author_email: str
    message_template: str
    template_values: tuple[tuple[str, str], ...]
    update_path: str
    interval_s: float
    suspend: bool
    selector: tuple[tuple[str, str], ...]
    where: str

    @property
    def subject(self) -> str:
        return f"ImageUpdateAutomation/{self.ref}"


@dataclass(frozen=True)
class ImageObjects:
    """Everything found, sorted by namespace and name."""

    repositories: tuple[ImageRepository, ...]
    policies: tuple[ImagePolicy, ...]
    automations: tuple[ImageUpdateAutomation, ...]
    sources: tuple[GitSource, ...]

    def repository(self, ref: Ref) -> ImageRepository | None:
        return next((r for r in self.repositories if r.ref == ref), None)

    def source(self, ref: Ref) -> GitSource | None:
        return next((s for s in self.sources if s.ref == ref), None)

    def policies_for(self, automation: ImageUpdateAutomation) -> tuple[ImagePolicy, ...]:
        """The policies in the automation's namespace its ``policySelector`` selects."""
        wanted = dict(automation.selector)
        return tuple(
            p
            for p in self.policies
            if p.ref.namespace == automation.ref.namespace
            and all(dict(p.labels).get(k) == v for k, v in wanted.items())
        )


def load_image_objects(directory: Path) -> ImageObjects:
    """The image automation objects under ``directory``; ValidationError or
    RenderError naming ``file:line`` for a malformed one, and for two objects of
    one kind with one namespace/name."""
    repositories: list[ImageRepository] = []
    policies: list[ImagePolicy] = []
    automations: list[ImageUpdateAutomation] = []
    sources: list[GitSource] = []
    for file, rel in _yaml_files(directory):
        text = file.read_text(encoding="utf-8", errors="replace")
        if IMAGE_GROUP not in text and "GitRepository" not in text:
            continue
        for doc in iter_documents(text, file=rel):
            value = doc.value
            if not isinstance(value, dict):
                continue
            group, _, version = str(value.get("apiVersion") or "").rpartition("/")
            kind = value.get("kind")
            where = f"{rel}:{doc.line}"
            if group == FLUX_SOURCE_GROUP and kind == "GitRepository":
                sources.append(_git_source(value, where))
            elif group == IMAGE_GROUP:
                if version not in IMAGE_VERSIONS:
                    raise ValidationError(
                        where,
                        f"apiVersion {value.get('apiVersion')!r}: gitwave reads "
                        + " and ".join(f"{IMAGE_GROUP}/{v}" for v in IMAGE_VERSIONS),
                    )
                if kind == "ImageRepository":
                    repositories.append(_image_repository(value, where))
                elif kind == "ImagePolicy":
                    policies.append(_image_policy(value, where))
                elif kind == "ImageUpdateAutomation":
                    automations.append(_automation(value, where))
    for found in (repositories, policies, automations, sources):
        _no_duplicates(found)
    return ImageObjects(
        repositories=tuple(sorted(repositories, key=lambda r: r.ref)),
        policies=tuple(sorted(policies, key=lambda p: p.ref)),
        automations=tuple(sorted(automations, key=lambda a: a.ref)),
        sources=tuple(sorted(sources, key=lambda s: s.ref)),
    )


def _yaml_files(directory: Path) -> list[tuple[Path, str]]:
    found = []
    root = directory.resolve()
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            file = Path(current) / name
            if (
                name.lower().endswith((".yaml", ".yml"))
                and not name.startswith(".")
                and not file.is_symlink()
                and file.is_file()
                and file.stat().st_size <= MAX_FILE_BYTES
            ):
                found.append((file, file.relative_to(root).as_posix()))
    return sorted(found, key=lambda pair: pair[1])


def _no_duplicates(items: list[Any]) -> None:
    seen: dict[Ref, str] = {}
    for item in items:
        if item.ref in seen:
            raise ValidationError(
                item.where, f"{type(item).__name__} {item.ref} is also defined at {seen[item.ref]}"
            )
        seen[item.ref] = item.where


def _identity(value: Mapping[str, Any], where: str, kind: str) -> tuple[Ref, Reader]:
    reader = Reader(where)
    meta = reader.mapping(value, "metadata", required=True)
    name = reader.dns_name(
        reader.string(meta, "metadata.name", required=True),
        "metadata.name",
        max_len=SUBDOMAIN_MAX,
        dots=True,
    )
    namespace = reader.dns_name(reader.string(meta, "metadata.namespace"), "metadata.namespace")
    ref = Ref(namespace or "default", name)
    return ref, Reader(f"{where} ({kind}/{ref})")


def _named_ref(reader: Reader, spec: Mapping[str, Any], field_name: str, own: Ref) -> Ref:
    target = reader.mapping(spec, field_name, required=True)
    name = reader.dns_name(
        reader.string(target, f"{field_name}.name", required=True),
        f"{field_name}.name",
        max_len=SUBDOMAIN_MAX,
        dots=True,
    )
    namespace = reader.dns_name(
        reader.string(target, f"{field_name}.namespace"), f"{field_name}.namespace"
    )
    return Ref(namespace or own.namespace, name)


def _git_source(value: Mapping[str, Any], where: str) -> GitSource:
    ref, reader = _identity(value, where, "GitRepository")
    spec = reader.mapping(value, "spec", required=True)
    git_ref = reader.mapping(spec, "spec.ref")
    return GitSource(
        ref=ref,
        url=reader.string(spec, "spec.url", required=True),
        branch=reader.string(git_ref, "spec.ref.branch"),
        where=reader.where,
    )


def _image_repository(value: Mapping[str, Any], where: str) -> ImageRepository:
    ref, reader = _identity(value, where, "ImageRepository")
    spec = reader.mapping(value, "spec", required=True)
    subject = f"{reader.where}"
    try:
        image = ImageName.parse(reader.string(spec, "spec.image", required=True), subject)
    except RegistryError as exc:
        raise ValidationError(reader.where, exc.message.removeprefix(f"{subject}: ")) from None
    interval = reader.duration(spec, "spec.interval", None)
    if interval is None:
        reader.fail("spec.interval is required")
    exclusions = (
        tuple(reader.strings(spec, "spec.exclusionList"))
        if "exclusionList" in spec
        else (DEFAULT_EXCLUSIONS)
    )
    for i, pattern in enumerate(exclusions):
        try:
            re2.compile(pattern)
        except re2.error as exc:
            reader.fail(f"spec.exclusionList[{i}] {pattern!r}: {exc}")
    secret = reader.mapping(spec, "spec.secretRef")
    return ImageRepository(
        ref=ref,
        image=image,
        interval_s=interval,
        timeout_s=reader.duration(spec, "spec.timeout", "60s"),
        exclusions=exclusions,
        insecure=reader.boolean(spec, "spec.insecure"),
        secret_ref=reader.dns_name(
            reader.string(secret, "spec.secretRef.name"),
            "spec.secretRef.name",
            max_len=SUBDOMAIN_MAX,
            dots=True,
        ),
        where=reader.where,
    )


def _image_policy(value: Mapping[str, Any], where: str) -> ImagePolicy:
    ref, reader = _identity(value, where, "ImagePolicy")
    spec = reader.mapping(value, "spec", required=True)
    meta = reader.mapping(value, "metadata")
    labels = reader.mapping(meta, "metadata.labels")
    return ImagePolicy(
        ref=ref,
        repository=_named_ref(reader, spec, "spec.imageRepositoryRef", ref),
        policy=parse_tag_policy(spec, reader.where),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        where=reader.where,
    )


def _automation(value: Mapping[str, Any], where: str) -> ImageUpdateAutomation:
    ref, reader = _identity(value, where, "ImageUpdateAutomation")
    spec = reader.mapping(value, "spec", required=True)
    source_ref = reader.mapping(spec, "spec.sourceRef", required=True)
    kind = reader.string(source_ref, "spec.sourceRef.kind") or "GitRepository"
    if kind != "GitRepository":
        reader.fail(f"spec.sourceRef.kind: {kind!r} is not supported (only GitRepository)")
    interval = reader.duration(spec, "spec.interval", None)
    if interval is None:
        reader.fail("spec.interval is required")
    git = reader.mapping(spec, "spec.git", required=True)
    checkout = reader.mapping(reader.mapping(git, "spec.git.checkout"), "spec.git.checkout.ref")
    commit = reader.mapping(git, "spec.git.commit", required=True)
    author = reader.mapping(commit, "spec.git.commit.author", required=True)
    push = reader.mapping(git, "spec.git.push")
    if reader.string(push, "spec.git.push.refspec"):
        reader.fail("spec.git.push.refspec is not supported by gitwave; use spec.git.push.branch")
    update = reader.mapping(spec, "spec.update")
    strategy = reader.string(update, "spec.update.strategy") or "Setters"
    if strategy != "Setters":
        reader.fail(f"spec.update.strategy: {strategy!r} is not supported (only Setters)")
    values = reader.mapping(commit, "spec.git.commit.messageTemplateValues")
    selector = reader.mapping(spec, "spec.policySelector")
    if reader.mappings(selector, "spec.policySelector.matchExpressions"):
        reader.fail("spec.policySelector.matchExpressions is not supported; use matchLabels")
    match_labels = reader.mapping(selector, "spec.policySelector.matchLabels")
    return ImageUpdateAutomation(
        ref=ref,
        source=_named_ref(reader, spec, "spec.sourceRef", ref),
        checkout_branch=reader.string(checkout, "spec.git.checkout.ref.branch"),
        push_branch=reader.string(push, "spec.git.push.branch"),
        author_name=reader.string(author, "spec.git.commit.author.name"),
        author_email=reader.string(author, "spec.git.commit.author.email", required=True),
        message_template=reader.string(commit, "spec.git.commit.messageTemplate"),
        template_values=tuple(sorted((str(k), str(v)) for k, v in values.items())),
        update_path=reader.string(update, "spec.update.path") or ".",
        interval_s=interval,
        suspend=reader.boolean(spec, "spec.suspend"),
        selector=tuple(sorted((str(k), str(v)) for k, v in match_labels.items())),
        where=reader.where,
    )


__all__ = [
    "GitSource",
    "ImageObjects",
    "ImagePolicy",
    "ImageRepository",
    "ImageUpdateAutomation",
    "Ref",
    "load_image_objects",
]

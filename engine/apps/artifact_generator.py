"""Flux 2.7's ArtifactGenerator (source.extensions.fluxcd.io/v1beta1) → ExternalArtifacts.

An ArtifactGenerator names sources by alias (a ``GitRepository``, or an
``OCIRepository`` whose artifact is pulled as source-controller pulls it,
``engine.source_oci``, or a ``Bucket`` whose objects are fetched over the S3
API, ``engine.apps.bucket``) and lists artifacts, each built by ``copy``
operations in order::

    - from: "@backend/deploy/**"          # @alias/glob: *, ** (any depth), ?, [..]
      to: "@artifact/my-app/backend/"     # a trailing / is a directory
      strategy: Overwrite | Merge         # Merge: YAML mappings merged into the file there
      exclude: ["**/*.md"]

A glob copies each matched file to ``to`` + its path below the pattern's fixed
prefix (``deploy/``); a pattern without wildcards copies that one file to
``to`` (into it when ``to`` ends with ``/``). Later operations overwrite earlier
files. The artifact's revision is ``latest@sha256:<digest of its files>``, or
the named source's revision with ``revision: "@alias"``.

Built artifacts are plain directories under the cache (content-addressed, so
an unchanged artifact keeps its directory and revision); a Kustomization's
``sourceRef: {kind: ExternalArtifact, name: ...}`` renders from there. Paths
never leave a source (``..``, absolute paths and symlinks out are refused) nor
the artifact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.names import SUBDOMAIN_MAX

# What gitwave reads an ArtifactGenerator's sources from (all that Flux allows).
SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_ARTIFACT_FILES = 20_000


@dataclass(frozen=True)
class SourceAlias:
    alias: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class CopyOp:
    alias: str
    pattern: str
    to: str
    merge: bool
    exclude: tuple[str, ...]
    field: str


@dataclass(frozen=True)
class ArtifactSpec:
    name: str
    revision_alias: str
    copies: tuple[CopyOp, ...]


@dataclass(frozen=True)
class ArtifactGenerator:
    namespace: str
    name: str
    sources: tuple[SourceAlias, ...]
    artifacts: tuple[ArtifactSpec, ...]
    where: str


@dataclass(frozen=True)
class BuiltArtifact:
    """An ExternalArtifact: its namespace/name, its files' directory and revision."""

    namespace: str
    name: str
    path: Path
    revision: str


def parse_artifact_generator(doc: Mapping[str, Any], where: str) -> ArtifactGenerator:
    """The generator at ``where``; ValidationError naming the field for a bad one."""
    reader = Reader(where)
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.string(meta, "metadata.name", required=True)
    namespace = reader.dns_name(reader.string(meta, "metadata.namespace"), "metadata.namespace")
    namespace = namespace or "default"
    reader = Reader(f"{where} (ArtifactGenerator/{namespace}/{name})")
    spec = reader.mapping(doc, "spec", required=True)
    sources: list[SourceAlias] = []
    for i, entry in enumerate(reader.mappings(spec, "spec.sources")):
        field = f"spec.sources[{i}]"
        alias = reader.string(entry, f"{field}.alias", required=True)
        if not _ALIAS.match(alias):
            reader.fail(f"{field}.alias {alias!r}: only letters, digits, '-' and '_'")
        if any(s.alias == alias for s in sources):
            reader.fail(f"{field}.alias {alias!r} is used twice")
        kind = reader.string(entry, f"{field}.kind", required=True)
        if kind not in SOURCE_KINDS:
            reader.fail(
                f"{field}.kind: {kind!r} is not supported by gitwave; an ArtifactGenerator's "
                f"sources may be {', '.join(SOURCE_KINDS)}"
            )
        sources.append(
            SourceAlias(
                alias=alias,
                kind=kind,
                namespace=reader.string(entry, f"{field}.namespace") or namespace,
                name=reader.string(entry, f"{field}.name", required=True),
            )
        )
    if not sources:
        reader.fail("spec.sources is required")
    aliases = {s.alias for s in sources}
    artifacts: list[ArtifactSpec] = []
    for i, entry in enumerate(reader.mappings(spec, "spec.artifacts")):
        field = f"spec.artifacts[{i}]"
        artifact_name = reader.dns_name(
            reader.string(entry, f"{field}.name", required=True),
            f"{field}.name",
            max_len=SUBDOMAIN_MAX,
            dots=True,
        )
        if any(a.name == artifact_name for a in artifacts):
            reader.fail(f"{field}.name {artifact_name!r} is used twice")
        revision = reader.string(entry, f"{field}.revision")
        if revision and (not revision.startswith("@") or revision[1:] not in aliases):
            reader.fail(f"{field}.revision {revision!r} must be @ and a source alias")
        copies = [
            _copy(reader, op, f"{field}.copy[{j}]", aliases)
            for j, op in enumerate(reader.mappings(entry, f"{field}.copy"))
        ]
        if not copies:
            reader.fail(f"{field}.copy is required")
        artifacts.append(ArtifactSpec(artifact_name, revision[1:], tuple(copies)))
    if not artifacts:
        reader.fail("spec.artifacts is required")
    return ArtifactGenerator(
        namespace=namespace,
        name=name,
        sources=tuple(sources),
        artifacts=tuple(artifacts),
        where=reader.where,
    )


def _copy(reader: Reader, op: Mapping[str, Any], field: str, aliases: set[str]) -> CopyOp:
    origin = reader.string(op, f"{field}.from", required=True)
    to = reader.string(op, f"{field}.to", required=True)
    alias, _, pattern = origin.removeprefix("@").partition("/")
    if not origin.startswith("@") or alias not in aliases:
        reader.fail(f"{field}.from {origin!r} must start with @ and a source alias")
    if not to.startswith("@artifact/"):
        reader.fail(f"{field}.to {to!r} must start with @artifact/")
    strategy = reader.string(op, f"{field}.strategy") or "Overwrite"
    if strategy not in ("Overwrite", "Merge"):
        reader.fail(f"{field}.strategy {strategy!r} is not Overwrite or Merge")
    for text, name in ((pattern, "from"), (to.removeprefix("@artifact/"), "to")):
        if _escapes(text):
            reader.fail(f"{field}.{name} {text!r}: a path may not leave its root")
    return CopyOp(
        alias=alias,
        pattern=pattern,
        to=to.removeprefix("@artifact/"),
        merge=strategy == "Merge",
        exclude=tuple(reader.strings(op, f"{field}.exclude")),
        field=field,
    )


def _escapes(text: str) -> bool:
    return text.startswith("/") or ".." in PurePosixPath(text).parts or "\x00" in text

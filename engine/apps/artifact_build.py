"""Building an ArtifactGenerator's artifacts (``engine.apps.artifact_generator``
parses it): each source opened (a GitRepository checkout, a pulled OCI
artifact, a fetched Bucket), the ``copy`` operations run in order, the files
stored by content under the source cache (moved out of ``artifact_generator.py``)."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from gitwave.engine.apps.artifact_generator import (
    MAX_ARTIFACT_FILES,
    ArtifactGenerator,
    BuiltArtifact,
    CopyOp,
    SourceAlias,
)
from gitwave.engine.apps.bucket import bucket_store, fetch_named_bucket
from gitwave.engine.apps.flux import FluxSource
from gitwave.engine.apps.holder import open_repository
from gitwave.engine.apps.model import FLUX_SOURCE_GROUP, RepoResolver
from gitwave.engine.apps.oci_source import oci_artifact_ref
from gitwave.engine.errors import GitwaveError, PathEscapeError, ValidationError
from gitwave.engine.globs import path_glob
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.source_oci import pull_artifact

_GLOB_CHARS = re.compile(r"[*?\[]")


# ``open_alias(source) -> (root directory, revision)`` of a source's checkout.
OpenSource = Callable[[SourceAlias], tuple[Path, str]]


def build_artifacts(
    generator: ArtifactGenerator, open_source: OpenSource, store: Path
) -> tuple[BuiltArtifact, ...]:
    """Build every artifact of ``generator`` under ``store``; ValidationError
    naming the generator and the copy operation when one cannot be done."""
    opened: dict[str, tuple[Path, str]] = {}

    def source(alias: str) -> tuple[Path, str]:
        if alias not in opened:
            entry = next(s for s in generator.sources if s.alias == alias)
            opened[alias] = open_source(entry)
        return opened[alias]

    built = []
    for artifact in generator.artifacts:
        files: dict[str, bytes] = {}
        for op in artifact.copies:
            root, _ = source(op.alias)
            _apply(op, root.resolve(), files, generator.where)
        digest = _digest(files)
        revision = (
            source(artifact.revision_alias)[1] if artifact.revision_alias else f"latest@{digest}"
        )
        path = _store(store, digest, files)
        built.append(BuiltArtifact(generator.namespace, artifact.name, path, revision))
    return tuple(built)


def _apply(op: CopyOp, root: Path, files: dict[str, bytes], where: str) -> None:
    matches = _matches(root, op.pattern, where, op)
    if not matches:
        raise ValidationError(where, f"{op.field}.from @{op.alias}/{op.pattern} matches no file")
    globbed = bool(_GLOB_CHARS.search(op.pattern))
    base = _fixed_prefix(op.pattern) if globbed else ""
    for rel in matches:
        if any(fnmatch.fnmatchcase(rel, pattern) for pattern in op.exclude):
            continue
        if globbed:
            below = rel[len(base) :].lstrip("/") if base else rel
            target = (op.to.rstrip("/") + "/" + below) if op.to.rstrip("/") else below
        elif op.to.endswith("/") or op.to == "":
            target = op.to + PurePosixPath(rel).name
        else:
            target = op.to
        data = (root / rel).read_bytes()
        if op.merge and target in files:
            data = _merge_yaml(files[target], data, where, op, target)
        files[target] = data
        if len(files) > MAX_ARTIFACT_FILES:
            raise ValidationError(where, f"{op.field}: over {MAX_ARTIFACT_FILES} files")


def _matches(root: Path, pattern: str, where: str, op: CopyOp) -> list[str]:
    regex = path_glob(pattern)
    found = []
    for current, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in names:
            file = Path(current) / name
            rel = file.relative_to(root).as_posix()
            if not regex.fullmatch(rel):
                continue
            if file.is_symlink():
                real = file.resolve()
                if not real.is_relative_to(root):
                    raise PathEscapeError(
                        f"@{op.alias}/{rel}", reason=f"a symlink resolves outside ({where})"
                    )
            if file.is_file():
                found.append(rel)
    return sorted(found)


def _fixed_prefix(pattern: str) -> str:
    """The directories before the first wildcard (``deploy/`` of ``deploy/**/*.yaml``)."""
    head = _GLOB_CHARS.split(pattern, maxsplit=1)[0]
    return head[: head.rfind("/") + 1]


def _merge_yaml(old: bytes, new: bytes, where: str, op: CopyOp, target: str) -> bytes:
    try:
        base = yaml.safe_load(old) or {}
        over = yaml.safe_load(new) or {}
    except yaml.YAMLError:
        raise ValidationError(where, f"{op.field}: Merge needs YAML, {target} is not") from None
    if not isinstance(base, dict) or not isinstance(over, dict):
        raise ValidationError(where, f"{op.field}: Merge needs YAML mappings in {target}")
    return yaml.safe_dump(_deep_merge(base, over), sort_keys=False).encode()


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return "sha256:" + digest.hexdigest()


def _store(store: Path, digest: str, files: Mapping[str, bytes]) -> Path:
    """The artifact's directory, written once (an unchanged artifact is reused)."""
    path = store / digest.removeprefix("sha256:")
    if path.is_dir():
        return path
    store.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=store))
    for rel, data in files.items():
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    try:
        tmp.rename(path)
    except OSError:  # another process stored the same content first
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def artifact_store(cache_dir: Path | None) -> Path:
    """Where built artifacts live: ``external-artifacts/`` in the source cache."""
    from gitwave.engine.source import default_cache_dir

    return (cache_dir if cache_dir is not None else default_cache_dir()) / "external-artifacts"


def external_artifacts(
    generators: Sequence[ArtifactGenerator],
    sources: Sequence[FluxSource],
    resolve: RepoResolver,
    *,
    cache_dir: Path | None,
    allowed: Sequence[Path],
    fail: Callable[[str, GitwaveError], None],
    find: Callable[[ResourceKey], Resource | None] = lambda _key: None,
) -> list[FluxSource]:
    """Build each generator's artifacts from the GitRepositories in ``sources``
    and the OCIRepositories and Buckets ``find`` gives (those read beside it,
    with the Secrets a Bucket's secretRef names); the
    ExternalArtifacts as sources a Kustomization can name. A generator that
    fails goes to ``fail`` (named ``ArtifactGenerator/namespace/name``)."""
    found: list[FluxSource] = []
    for generator in generators:

        def open_alias(
            alias: SourceAlias, generator: ArtifactGenerator = generator
        ) -> tuple[Path, str]:
            if alias.kind == "OCIRepository":
                return _pull_oci(alias, generator, find, cache_dir)
            if alias.kind == "Bucket":
                fetched = fetch_named_bucket(
                    alias.namespace,
                    alias.name,
                    where=generator.where,
                    alias=f"@{alias.alias}",
                    find=find,
                    cache_dir=bucket_store(cache_dir),
                )
                return fetched.directory, fetched.revision
            named = [s for s in sources if s.kind == "GitRepository" and s.name == alias.name]
            exact = [s for s in named if (s.namespace or "default") == alias.namespace]
            chosen = exact or (named if len(named) == 1 else [])
            if not chosen:
                raise ValidationError(
                    generator.where,
                    f"spec.sources: GitRepository {alias.namespace}/{alias.name} "
                    f"(@{alias.alias}) is not defined in this directory",
                )
            source = chosen[0]
            checkout = open_repository(
                resolve,
                source.url,
                source.revision,
                where=generator.where,
                field_name="spec.url",
                allowed=allowed,
                cache_dir=cache_dir,
            )
            return checkout.root, checkout.recorded_revision

        try:
            built = build_artifacts(generator, open_alias, artifact_store(cache_dir))
        except GitwaveError as exc:
            fail(f"ArtifactGenerator/{generator.namespace}/{generator.name}", exc)
            continue
        found.extend(
            FluxSource(
                namespace=artifact.namespace,
                name=artifact.name,
                url=str(artifact.path),
                revision="HEAD",
                where=f"{generator.where}: ExternalArtifact {artifact.name} ({artifact.revision})",
                kind="ExternalArtifact",
            )
            for artifact in built
        )
    return found


def _pull_oci(
    alias: SourceAlias,
    generator: ArtifactGenerator,
    find: Callable[[ResourceKey], Resource | None],
    cache_dir: Path | None,
) -> tuple[Path, str]:
    """The files and revision of the OCIRepository ``alias`` names."""
    key = ResourceKey(FLUX_SOURCE_GROUP, "OCIRepository", alias.namespace, alias.name)
    source = find(key)
    if source is None:
        raise ValidationError(
            generator.where,
            f"spec.sources: OCIRepository {alias.namespace}/{alias.name} "
            f"(@{alias.alias}) is not defined in this directory",
        )
    # The URL in the subject: a token service's refusal names only its realm.
    spec = source.manifest.get("spec")
    url = spec.get("url") if isinstance(spec, Mapping) else None
    subject = f"OCIRepository/{alias.namespace}/{alias.name} ({source.source}, url {url})"
    pulled = pull_artifact(
        oci_artifact_ref(source.manifest, subject, find=find, namespace=alias.namespace),
        subject=subject,
        cache_dir=artifact_store(cache_dir).parent / "oci-artifacts",
    )
    return pulled.directory, pulled.revision


__all__ = ["OpenSource", "artifact_store", "build_artifacts", "external_artifacts"]

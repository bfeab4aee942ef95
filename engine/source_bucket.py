"""A Flux ``Bucket``'s objects, fetched as source-controller fetches them: every
object under ``spec.prefix`` (S3 API), written under its full key into a
directory of the cache.

The engine never imports a cloud SDK: the S3 calls go through a
``BucketReader`` (two methods) that the command line registers
(``register_bucket_reader``, kept in ``engine/bucket_readers``; the boto3 one is
``providers/aws/bucket_source``).
Object keys come from an untrusted store: a key that is absolute, holds ``..``,
``.``, an empty segment, a backslash or a NUL is refused, naming the Bucket and
the key, and nothing is written. The directory is named by a digest of the
listing (every key and its ETag), so an unchanged bucket is listed, not
downloaded again. Every failure is a SourceError naming ``Bucket/ns/name`` and
the endpoint; credentials never appear in a message.
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from gitwave.engine.bucket_readers import bucket_reader_factory, register_bucket_reader
from gitwave.engine.errors import SourceError
from gitwave.engine.tls_trust import TlsTrust

# A bucket source is manifests; more objects than this is refused.
MAX_BUCKET_OBJECTS = 20_000
MAX_BUCKET_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class BucketRef:
    """What a Bucket's spec names, with the credentials of its secretRef.
    ``endpoint`` is a URL with its scheme (http for ``spec.insecure``)."""

    subject: str  # Bucket/namespace/name (file:line)
    endpoint: str
    bucket: str
    prefix: str = ""
    region: str = ""
    ignore: tuple[str, ...] = ()
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    # provider aws without a secretRef: the environment's AWS credentials sign.
    environment_credentials: bool = False
    # spec.certSecretRef: the CA that signs the endpoint's certificate (and a client one).
    tls: TlsTrust | None = None


@dataclass(frozen=True)
class BucketObject:
    key: str
    etag: str
    size: int


class BucketReader(Protocol):
    """The S3 calls a Bucket fetch needs."""

    def list_objects(self, ref: BucketRef) -> list[BucketObject]:
        """Every object under ``ref.prefix``; SourceError naming the subject and endpoint."""
        ...

    def get_object(self, ref: BucketRef, key: str) -> bytes:
        """The content of ``key``; SourceError naming the subject, endpoint and key."""
        ...


@dataclass(frozen=True)
class FetchedBucket:
    """The bucket's files (``directory``) and Flux's revision of it
    (``sha256:<digest of the listing>``)."""

    directory: Path
    revision: str


def fetch_bucket(ref: BucketRef, *, cache_dir: Path) -> FetchedBucket:
    """``ref``'s objects in a directory under ``cache_dir`` (nothing downloaded
    when the listing is unchanged). SourceError naming the subject and endpoint
    when the bucket cannot be read or a key is unsafe."""
    factory = bucket_reader_factory()
    if factory is None:
        raise SourceError(
            f"{ref.subject}: no S3 client is available to read {ref.endpoint}",
            hint="Bucket sources are read by the gitwave command line",
        )
    reader = factory()
    listed = reader.list_objects(ref)
    wanted = _wanted(ref, listed)
    revision = _revision(wanted)
    directory = cache_dir / revision.removeprefix("sha256:")
    if directory.is_dir():
        return FetchedBucket(directory, revision)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetching-", dir=cache_dir))
    try:
        for item in wanted:
            data = reader.get_object(ref, item.key)
            target = staging / item.key
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError as err:  # "a" and "a/b" both objects: a file and a directory
                raise SourceError(
                    f"{ref.subject}: {ref.endpoint}/{ref.bucket}: object key {item.key!r} "
                    f"cannot be written: {err.strerror}"
                ) from None
        try:
            staging.rename(directory)
        except OSError:  # another process fetched the same listing first
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return FetchedBucket(directory, revision)


def _wanted(ref: BucketRef, listed: Sequence[BucketObject]) -> list[BucketObject]:
    if len(listed) > MAX_BUCKET_OBJECTS:
        raise SourceError(
            f"{ref.subject}: {ref.endpoint}/{ref.bucket}: over {MAX_BUCKET_OBJECTS} objects"
        )
    wanted = []
    total = 0
    for item in sorted(listed, key=lambda o: o.key):
        if item.key.endswith("/"):
            continue  # a "directory" marker some S3 consoles create
        check_object_key(item.key, ref)
        if _ignored(item.key, ref.ignore):
            continue
        total += item.size
        if total > MAX_BUCKET_BYTES:
            raise SourceError(
                f"{ref.subject}: {ref.endpoint}/{ref.bucket}: over {MAX_BUCKET_BYTES} bytes"
            )
        wanted.append(item)
    return wanted


def check_object_key(key: str, ref: BucketRef) -> None:
    """SourceError unless ``key`` is a relative path that stays in its directory."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
        or (ref.prefix and not key.startswith(ref.prefix))
    ):
        raise SourceError(
            f"{ref.subject}: {ref.endpoint}/{ref.bucket}: object key {key!r} is not a "
            f"relative path inside {ref.prefix or 'the bucket'!r}; nothing was fetched",
            hint="object keys may not be absolute or hold '..', '.', '//' or '\\'",
        )


def _ignored(key: str, patterns: Sequence[str]) -> bool:
    """``spec.ignore`` read as .gitignore-like globs: a pattern with a slash
    matches from the root, one without matches any path segment; ``!`` re-includes."""
    ignored = False
    path = PurePosixPath(key)
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.rstrip("/")
        if "/" in pattern.strip("/"):
            hit = fnmatch.fnmatchcase(key, pattern.lstrip("/")) or any(
                fnmatch.fnmatchcase(str(parent), pattern.lstrip("/")) for parent in path.parents
            )
        else:
            hit = any(fnmatch.fnmatchcase(part, pattern.lstrip("/")) for part in path.parts)
        if hit:
            ignored = not negate
    return ignored


def _revision(objects: Sequence[BucketObject]) -> str:
    digest = hashlib.sha256()
    for item in objects:
        digest.update(f"{item.key} {item.etag}\n".encode())
    return "sha256:" + digest.hexdigest()


__all__ = [
    "BucketObject",
    "BucketReader",
    "BucketRef",
    "FetchedBucket",
    "fetch_bucket",
    "register_bucket_reader",
]

"""The render cache on disk: a fresh `gitwave plan` of an unchanged commit reuses
the render an earlier process made, instead of parsing every YAML file again
(10,000 objects: about 2 s of a 4.5 s plan).

Entries are keyed like the in-memory cache (``cache.py``: checkout, commit, path,
options, the tool binary and its mtime) and only made for clean, committed
checkouts. They hold data only: JSON, never pickle, so a bad entry can at worst
be wrong data, never run code; and each is signed (HMAC-SHA256) with a key of
this cache directory (0600, in a 0700 directory), so an entry that was not
written here (copied in, corrupt, truncated, another format) fails its check
and is ignored: the path is rendered again, as if there were no entry.

An entry's signature doubles as a keyed digest of its content
(``content_digest``): the graph cache keys the graph of a render read back by
it instead of hashing 10,000 objects again.

Never written: renders holding decrypted SOPS values or values substituted from
a Secret (plaintext must not reach the disk), and manifests JSON cannot carry
exactly (a YAML timestamp, binary, a non-string key): what is read back must
equal what was rendered, checked before writing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.model import Resource, ResourceKey, SourceRef
from gitwave.engine.private_files import private_directory
from gitwave.engine.render.values import Rendered, RenderTool

_log = logging.getLogger(__name__)

FORMAT = 1
_KEY_FILE = "key"
_KEY_BYTES = 32
# Entries kept per directory, newest first: a few apps at a few commits each.
MAX_ENTRIES = 256
# Writes between two scans for the oldest entries. A scan stats every entry
# (about 2.3 ms at 256): done after each write it was most of the cost of a
# write, and a sync of 1000 apps writes 1000. The directory may so hold up to
# MAX_ENTRIES + EVICT_EVERY - 1 entries per writing process between scans.
EVICT_EVERY = 32


def default_render_cache_dir() -> Path:
    """``$GITWAVE_CACHE/renders``, else ``$XDG_CACHE_HOME/gitwave/renders``, else
    ``~/.cache/gitwave/renders``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "renders"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "renders"


class SignedFiles:
    """JSON documents in files of one directory, each signed with the
    directory's own key: what ``read`` returns was written by ``write`` here.

    Every failure to read or write is a miss (logged at debug level): these
    files only ever save time.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._secret: bytes | None = None
        # Writes since the last scan; the first write scans (what earlier
        # processes left). A racing thread at worst moves a scan by one write.
        self._unscanned = EVICT_EVERY - 1

    def read(self, key_text: str) -> Any:
        """The decoded document stored under ``key_text``; None when absent
        or not trusted (unsigned, another key, corrupt)."""
        return self.read_signed(key_text)[0]

    def read_signed(self, key_text: str) -> tuple[Any, str]:
        """``read``, and the entry's signature: a keyed digest of exactly the
        bytes the document was decoded from ("" with no document)."""
        payload, signature = self.read_payload(key_text)
        if payload is None:
            return None, ""
        try:
            return json.loads(payload), signature
        except ValueError as exc:
            _log.debug("%s: an entry is unreadable (%s); ignored", self.root, exc)
            return None, ""

    def read_payload(self, key_text: str) -> tuple[bytes | None, str]:
        """The signed bytes stored under ``key_text``, not decoded, and their
        signature; (None, "") when absent or not trusted."""
        path = self._path(key_text)
        try:
            body = path.read_bytes()
        except OSError:
            return None, ""
        try:
            signature, _, payload = body.partition(b"\n")
            secret = self._key(create=False)
            if secret is None or not hmac.compare_digest(signature, self._sign(secret, payload)):
                _log.debug("%s: %s is not signed by this cache; ignored", self.root, path.name)
                return None, ""
            return payload, signature.decode()
        except (ValueError, OSError) as exc:
            _log.debug("%s: %s unreadable (%s); ignored", self.root, path.name, exc)
            return None, ""

    def write(self, key_text: str, document: Any) -> None:
        """Store ``document`` under ``key_text`` unless JSON would not give it back
        as it is (an int key, a timestamp, bytes)."""
        try:
            payload = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
            if json.loads(payload) != document:
                return  # JSON would change it (e.g. an int key): not cacheable
        except (TypeError, ValueError):
            return  # a value JSON cannot hold (a timestamp, bytes)
        try:
            secret = self._key(create=True)
            if secret is None:
                return  # an unusable key file: this cache stays read-nothing
            path = self._path(key_text)
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(self._sign(secret, payload) + b"\n" + payload)
                os.replace(temp, path)  # readers see the whole entry or none
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
            self._unscanned += 1
            if self._unscanned >= EVICT_EVERY:
                self._unscanned = 0
                self._evict()
        except OSError as exc:
            _log.debug("%s: cannot write (%s)", self.root, exc)

    def _evict(self) -> None:
        """Drop the oldest entries beyond MAX_ENTRIES."""
        entries = []
        for entry in self.root.glob("*.json"):
            with contextlib.suppress(OSError):
                entries.append((entry.stat().st_mtime_ns, entry))
        for _, entry in sorted(entries, reverse=True)[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                entry.unlink()

    def clear(self) -> None:
        """Remove every entry (the key stays)."""
        with contextlib.suppress(OSError):
            for entry in self.root.glob("*.json"):
                with contextlib.suppress(OSError):
                    entry.unlink()

    def _path(self, key_text: str) -> Path:
        return self.root / f"{hashlib.sha256(key_text.encode()).hexdigest()}.json"

    @staticmethod
    def _sign(secret: bytes, payload: bytes) -> bytes:
        return hmac.new(secret, payload, hashlib.sha256).hexdigest().encode()

    def _key(self, *, create: bool) -> bytes | None:
        """This directory's signing key; made (0600, in a 0700 directory) when
        ``create`` and absent. Other processes and threads may make it at the
        same time: each writes a whole key to a file of its own and links it
        into place, so the first link wins and nobody reads a partial key."""
        if self._secret is not None:
            return self._secret
        path = self.root / _KEY_FILE
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
            private_directory(self.root)
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=".key-")  # 0600
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(_KEY_BYTES))
                with contextlib.suppress(FileExistsError):
                    os.link(temp, path)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            secret = path.read_bytes()
        if len(secret) != _KEY_BYTES:
            return None
        self._secret = secret
        return secret


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What a render cache entry says of its render without its objects: the
    digest ``content_digest`` gives the render read back from it (from the
    entry's signature) and the render's revision, path and tool."""

    digest: str
    revision: str
    path: str
    tool: RenderTool


# Where an entry's objects start: ``_encode`` writes them last. Inside a JSON
# string every quote is escaped, so the first match is the key itself.
_OBJECTS_AT = b',"resources":['


class DiskRenderCache(SignedFiles):
    """Rendered values in files of one directory, signed with its own key."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hits = 0  # what a test or a -vv log reads to see the cache used

    def get(self, key_text: str) -> Rendered | None:
        """The Rendered value stored under ``key_text``, or None (absent or not trusted)."""
        document, signature = self.read_signed(key_text)
        if document is None:
            return None
        try:
            value = _decode(document, key_text)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            _log.debug("render cache: an entry is not a render (%s); ignored", exc)
            return None
        self.hits += 1
        vouch_content(value.resources, _digest(signature))
        _log.info(
            "render cache: reused the render of %s at %s (%d objects)",
            value.path,
            value.revision[:8],
            len(value.resources),
        )
        return value

    def head(self, key_text: str) -> EntryHead | None:
        """The head of the entry ``get`` would read under ``key_text``, its
        signature checked but its objects not decoded (a tenth of the time of
        ``get`` for 10,000 objects); None when ``get`` would find none."""
        payload, signature = self.read_payload(key_text)
        if payload is None:
            return None
        end = payload.find(_OBJECTS_AT)
        try:
            if end < 0 or not payload.endswith(b"]}"):
                raise ValueError("no objects last")
            document = json.loads(payload[:end] + b"}")
            if document.get("format") != FORMAT or document.get("key") != key_text:
                raise ValueError("another format or key")
            revision, path = document["revision"], document["path"]
            if not isinstance(revision, str) or not isinstance(path, str):
                raise TypeError("a revision or path that is not a string")
            return EntryHead(_digest(signature), revision, path, RenderTool(document["tool"]))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            _log.debug("render cache: an entry has no head (%s); ignored", exc)
            return None

    def put(self, key_text: str, value: Rendered) -> None:
        """Store ``value`` under ``key_text`` unless it must not or cannot be."""
        if value.encrypted or any(r.masked_values for r in value.resources):
            return  # decrypted or Secret-derived values stay in memory only
        self.write(key_text, _encode(value, key_text))


# Renders read back, each with its entry's signature (``content_digest``); the
# oldest go first. Each holds its objects alive: a long-running process (the
# controller) keeps only the last few, and a miss costs one hash of the objects.
_VOUCHED: dict[int, tuple[tuple[Resource, ...], str]] = {}
_VOUCHED_MAX = 8


def vouch_content(resources: tuple[Resource, ...], digest: str) -> None:
    """Remember ``digest`` as the digest of exactly ``resources``."""
    _VOUCHED.pop(id(resources), None)
    _VOUCHED[id(resources)] = (resources, digest)
    while len(_VOUCHED) > _VOUCHED_MAX:
        del _VOUCHED[next(iter(_VOUCHED))]


def _digest(signature: str) -> str:
    """The content digest of the objects of the entry signed ``signature``."""
    return f"render:{signature}"


def content_digest(resources: Sequence[Resource]) -> str:
    """A digest of ``resources`` when they are, object for object (the same
    Python objects, in the same order), a render this process read back from
    the cache; "" otherwise. The entry's signature is a keyed digest of the
    bytes those objects were decoded from, and nobody edits a Resource in
    place (they are frozen; their manifests are read only by convention, as
    everywhere in the engine)."""
    for kept, digest in _VOUCHED.values():
        if len(kept) == len(resources) and all(
            a is b for a, b in zip(kept, resources, strict=True)
        ):
            return digest
    return ""


def _encode(value: Rendered, key_text: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "key": key_text,
        "revision": value.revision,
        "path": value.path,
        "tool": value.tool.value,
        "resources": [
            [
                r.key.group,
                r.key.kind,
                r.key.namespace,
                r.key.name,
                r.api_version,
                r.manifest,
                None if r.source is None else [r.source.file, r.source.line],
                r.force_conflicts,
            ]
            for r in value.resources
        ],
    }


def _decode(document: Any, key_text: str) -> Rendered:
    """The Rendered value of a signed entry; ValueError/TypeError/KeyError when it
    is not one (another format, another key)."""
    if document.get("format") != FORMAT or document.get("key") != key_text:
        raise ValueError("another format or key")
    resources = []
    for group, kind, namespace, name, api_version, manifest, source, force in document["resources"]:
        if not isinstance(manifest, dict):
            raise TypeError("a manifest is not an object")
        resources.append(
            Resource(
                key=ResourceKey(str(group), str(kind), str(namespace), str(name)),
                api_version=str(api_version),
                manifest=manifest,
                source=None if source is None else SourceRef(str(source[0]), int(source[1])),
                force_conflicts=bool(force),
            )
        )
    return Rendered(
        resources=tuple(resources),
        revision=str(document["revision"]),
        path=str(document["path"]),
        tool=RenderTool(document["tool"]),
    )


__all__ = [
    "FORMAT",
    "DiskRenderCache",
    "EntryHead",
    "SignedFiles",
    "content_digest",
    "default_render_cache_dir",
    "vouch_content",
]

"""The render cache on disk: a fresh `gitwave plan` of an unchanged commit reuses
the render an earlier process made, instead of parsing every YAML file again
(10,000 objects: about 2 s of a 4.5 s plan).

Entries are keyed like the in-memory cache (``cache.py``: checkout, commit, path,
options, the tool binary and its mtime) and only made for clean, committed
checkouts. They hold plain data only (``signed_files``: marshal's bytes, never
pickle), so a bad entry can at worst be wrong data, never run code; and each is
signed (HMAC-SHA256) with a key of this cache directory (0600, in a 0700
directory), so an entry that was not written here (copied in, corrupt,
truncated, another format) fails its check and is ignored: the path is
rendered again, as if there were no entry. An entry holds its head (format,
key, revision, path, tool) and its objects apart, so ``head`` reads the first
alone.

An entry's signature doubles as a keyed digest of its content
(``content_digest``): the graph cache keys the graph of a render read back by
it instead of hashing 10,000 objects again.

Never written: renders holding decrypted SOPS values or values substituted from
a Secret (plaintext must not reach the disk), and manifests marshal cannot carry
exactly (a YAML timestamp): what is read back must equal what was rendered,
checked before writing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.model import Resource, ResourceKey, SourceRef
from gitwave.engine.render.values import Rendered, RenderTool
from gitwave.engine.signed_files import (
    EVICT_EVERY,
    MAX_ENTRIES,
    SignedFiles,
    dump,
    gc_paused,
    load,
)

_log = logging.getLogger(__name__)

# 2: marshal's bytes (``signed_files``), the head and the objects apart.
FORMAT = 2


def default_render_cache_dir() -> Path:
    """``$GITWAVE_CACHE/renders``, else ``$XDG_CACHE_HOME/gitwave/renders``, else
    ``~/.cache/gitwave/renders``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "renders"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "renders"


@dataclass(frozen=True, slots=True)
class EntryHead:
    """What a render cache entry says of its render without its objects: the
    digest ``content_digest`` gives the render read back from it (from the
    entry's signature) and the render's revision, path and tool."""

    digest: str
    revision: str
    path: str
    tool: RenderTool


class DiskRenderCache(SignedFiles):
    """Rendered values in files of one directory, signed with its own key."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hits = 0  # what a test or a -vv log reads to see the cache used

    def get(self, key_text: str) -> Rendered | None:
        """The Rendered value stored under ``key_text``, or None (absent or not trusted)."""
        payload, signature = self.read_payload(key_text)
        if payload is None:
            return None
        try:
            with gc_paused():  # 10,000 Resources made, none freed
                head, objects = load(payload, 2)
                value = _decode(head, objects, key_text)
        except (ValueError, EOFError, TypeError, KeyError, AttributeError) as exc:
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
        try:
            (document,) = load(payload, 1)
            revision, path, tool = _head(document, key_text)
            return EntryHead(_digest(signature), revision, path, tool)
        except (ValueError, EOFError, TypeError, KeyError, AttributeError) as exc:
            _log.debug("render cache: an entry has no head (%s); ignored", exc)
            return None

    def put(self, key_text: str, value: Rendered) -> None:
        """Store ``value`` under ``key_text`` unless it must not or cannot be."""
        if value.encrypted or any(r.masked_values for r in value.resources):
            return  # decrypted or Secret-derived values stay in memory only
        payload = dump(*_encode(value, key_text))
        if payload is not None:
            self.write_payload(key_text, payload)


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


def _encode(value: Rendered, key_text: str) -> tuple[dict[str, Any], list[Any]]:
    """The entry's head and its objects, apart."""
    head = {
        "format": FORMAT,
        "key": key_text,
        "revision": value.revision,
        "path": value.path,
        "tool": value.tool.value,
    }
    objects = [
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
    ]
    return head, objects


def _head(document: Any, key_text: str) -> tuple[str, str, RenderTool]:
    """The revision, path and tool of an entry's head; ValueError/TypeError/KeyError
    when it is not the head of a render entry of ``key_text`` (another format, key)."""
    if document.get("format") != FORMAT or document.get("key") != key_text:
        raise ValueError("another format or key")
    revision, path = document["revision"], document["path"]
    if not isinstance(revision, str) or not isinstance(path, str):
        raise TypeError("a revision or path that is not a string")
    return revision, path, RenderTool(document["tool"])


def _decode(head: Any, objects: Any, key_text: str) -> Rendered:
    """The Rendered value of a signed entry; ValueError/TypeError/KeyError when it
    is not one. marshal gives back the types written (strings stay strings)."""
    revision, path, tool = _head(head, key_text)
    resources = []
    for group, kind, namespace, name, api_version, manifest, source, force in objects:
        if not isinstance(manifest, dict):
            raise TypeError("a manifest is not an object")
        resources.append(
            Resource(
                key=ResourceKey(group, kind, namespace, name),
                api_version=api_version,
                manifest=manifest,
                source=None if source is None else SourceRef(*source),
                force_conflicts=force,
            )
        )
    return Rendered(resources=tuple(resources), revision=revision, path=path, tool=tool)


__all__ = [
    "EVICT_EVERY",
    "FORMAT",
    "MAX_ENTRIES",
    "DiskRenderCache",
    "EntryHead",
    "SignedFiles",
    "content_digest",
    "default_render_cache_dir",
    "vouch_content",
]

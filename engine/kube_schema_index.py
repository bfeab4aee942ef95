"""The built-in kinds of a Kubernetes release, without reading all of its schemas.

kubernetes-validate ships one ``_definitions.json`` per release (1.8 MB, 862
definitions). Decoding it takes about 20 ms and a ``jsonschema_rs.Registry``
of all of it 10-15 ms more, for every command that plans, even when it
checks two objects. So what a process needs of it is kept, signed, in
``$GITWAVE_CACHE/schemas`` under the SHA-256 of the file (1-2 ms to hash):

- the index of its kinds: ``(group, version, kind)`` → the definition's name
  (``is_builtin``, ``builtin_versions`` and the pre-flight ask only this);
- for each kind validated, the definitions its schema reaches through
  ``$ref`` (a Deployment: 121 of them; a Service: 16), from which a registry
  of just those is made.

The definitions are copied as they are but for their ``description`` texts,
which no validator reads, so a validator built from them finds exactly the
errors one built over the whole file finds (tests/engine/test_kube_schema_index.py).
A missing, unsigned or damaged entry is a miss: the whole file is read, as
before, and the entry written for the next process.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitwave.engine.render.disk_cache import SignedFiles

# Part of every key: a change to what is kept, or how, starts new entries.
FORMAT = 2
_REF_PREFIX = "#/$defs/"


@dataclass(frozen=True, slots=True)
class BuiltinKinds:
    """The kinds one release defines."""

    # (group, version, kind) → the definition's name in _definitions.json
    definitions: Mapping[tuple[str, str, str], str]
    kinds: Mapping[tuple[str, str], frozenset[str]]  # (group, kind) → versions


def default_schema_cache_dir() -> Path:
    """``$GITWAVE_CACHE/schemas``, else ``$XDG_CACHE_HOME/gitwave/schemas``, else
    ``~/.cache/gitwave/schemas``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "schemas"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "schemas"


class SchemaFile:
    """One release's ``_definitions.json``, read only as far as it is asked."""

    def __init__(self, path: Path, cache: SignedFiles | None) -> None:
        self.path = path
        self._cache = cache
        self._lock = threading.Lock()
        self._reached: dict[str, dict[str, Any]] = {}
        self.documents_read = 0  # how often the whole file was decoded (tests read it)

    @cached_property
    def _bytes_and_digest(self) -> tuple[bytes, str]:
        raw = self.path.read_bytes()
        return raw, hashlib.sha256(raw).hexdigest()

    @cached_property
    def _document(self) -> Mapping[str, Any]:
        self.documents_read += 1
        document = json.loads(self._bytes_and_digest[0])
        defs = document.get("$defs") if isinstance(document, dict) else None
        return defs if isinstance(defs, dict) else {}

    def _key(self, *what: str) -> str:
        return repr((FORMAT, self._bytes_and_digest[1], *what))

    @cached_property
    def kinds(self) -> BuiltinKinds:
        """The index of the release's kinds, from the cache when kept there."""
        rows = self._read("index")
        if not _is_index(rows):
            rows = _index_rows(self._document)
            self._write(rows, "index")
        definitions: dict[tuple[str, str, str], str] = {}
        kinds: dict[tuple[str, str], set[str]] = {}
        for group, version, kind, name in rows:
            definitions.setdefault((group, version, kind), name)
            kinds.setdefault((group, kind), set()).add(version)
        return BuiltinKinds(definitions, {k: frozenset(v) for k, v in kinds.items()})

    def reached(self, name: str) -> dict[str, Any]:
        """The definitions ``name``'s schema reaches (``name`` included), by name."""
        with self._lock:
            found = self._reached.get(name)
            if found is None:
                document = self._read("defs", name)
                if not _is_reached(document, name):
                    document = _closure(self._document, name)
                    self._write(document, "defs", name)
                found = self._reached[name] = document
            return found

    def _read(self, *what: str) -> Any:
        if self._cache is None:
            return None
        document = self._cache.read(self._key(*what))
        if not isinstance(document, dict) or document.get("key") != self._key(*what):
            return None
        return document.get("value")

    def _write(self, value: Any, *what: str) -> None:
        if self._cache is not None:
            self._cache.write(self._key(*what), {"key": self._key(*what), "value": value})


def _index_rows(defs: Mapping[str, Any]) -> list[list[str]]:
    """``[group, version, kind, definition]`` of every kind, in the file's order
    (the first definition of a kind wins, as it did when read whole)."""
    rows = []
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            rows.append([gvk.get("group", ""), gvk["version"], gvk["kind"], name])
    return rows


def _is_index(rows: Any) -> bool:
    return isinstance(rows, list) and all(
        isinstance(row, list) and len(row) == 4 and all(isinstance(v, str) for v in row)
        for row in rows
    )


def _is_reached(document: Any, name: str) -> bool:
    return isinstance(document, dict) and isinstance(document.get(name), dict)


def _closure(defs: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``name`` and every definition reachable from it through ``$ref``."""
    found: dict[str, Any] = {}
    todo = [name]
    while todo:
        current = todo.pop()
        if current in found or current not in defs:
            continue  # an unknown reference fails as it did over the whole file
        found[current] = _without_descriptions(defs[current])
        todo.extend(_refs(defs[current]))
    return found


# Keywords whose values are data, not schemas: kept exactly as they are.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "example", "examples"})


def _without_descriptions(schema: Any) -> Any:
    """``schema`` without its ``description`` texts (two thirds of the bytes):
    a validator never reads them, and no error quotes them. A property named
    ``description`` (its value a schema, not a text) is kept."""
    if isinstance(schema, list):
        return [_without_descriptions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value if key in _DATA_KEYWORDS else _without_descriptions(value)
        for key, value in schema.items()
        if not (key == "description" and isinstance(value, str))
    }


def _refs(node: Any) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                    # A JSON pointer token: "~1" is "/", "~0" is "~" (RFC 6901).
                    token = value[len(_REF_PREFIX) :]
                    out.append(token.replace("~1", "/").replace("~0", "~"))
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return out


_files: dict[tuple[str, str], SchemaFile] = {}
_files_lock = threading.Lock()


def schema_file(path: Path) -> SchemaFile:
    """The ``SchemaFile`` of ``path`` for this process and cache directory."""
    root = default_schema_cache_dir()
    with _files_lock:
        found = _files.get((str(path), str(root)))
        if found is None:
            from gitwave.engine.render.disk_cache import SignedFiles

            found = _files[(str(path), str(root))] = SchemaFile(path, SignedFiles(root))
        return found


__all__ = ["BuiltinKinds", "SchemaFile", "default_schema_cache_dir", "schema_file"]

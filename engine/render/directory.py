"""Plain directories: manifest files in the tree → documents, each with its file and line.

Every ``.yaml``/``.yml``/``.json`` file under the app path, recursively and in
sorted order, is parsed; a file may hold several documents or a ``kind:
List``. SOPS-encrypted files are decrypted first. The parsers here also read
the output of Kustomize and Helm, and ``walk_tree`` is the one walk of a
repository tree that refuses symlinks leading out of it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.errors import PathEscapeError, RenderError
from gitwave.engine.limits import Limits, current_limits, limit_hint
from gitwave.engine.model import SourceRef
from gitwave.engine.render.sops import FileFormat, decrypt_file
from gitwave.engine.render.values import KUSTOMIZATION_FILES, RenderOptions
from gitwave.engine.source import Checkout
from gitwave.engine.yamlio import check_object_size, item_nodes, iter_documents

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# Files that configure a tool rather than describe an object.
_NOT_MANIFESTS = frozenset((*KUSTOMIZATION_FILES, "Chart.yaml", "Chart.lock"))


@dataclass(frozen=True, slots=True)
class Doc:
    """One parsed document, not yet validated, and where it came from."""

    value: Any
    source: SourceRef
    # Read from a SOPS-encrypted file: a Secret from it is no plaintext in Git.
    encrypted: bool = False


def directory_docs(checkout: Checkout, target: Path, rel: str, options: RenderOptions) -> list[Doc]:
    """The documents of the files under ``target`` (or of ``target`` itself, a file)."""
    files = (
        [target]
        if target.is_file()
        else manifest_files(checkout, target, recurse=options.directory_recurse)
    )
    limits = current_limits()
    docs: list[Doc] = []
    total = 0
    for file in files:
        file_rel = checkout.relpath(file)
        in_app = posixpath.relpath(file_rel, rel)
        if options.directory_include and not _glob_match(options.directory_include, in_app):
            continue
        if options.directory_exclude and _glob_match(options.directory_exclude, in_app):
            continue
        # Sized before reading, so a huge file is refused without loading it.
        total += file.stat().st_size
        if total > limits.max_render_bytes:
            raise RenderError(
                SourceRef(file_rel),
                f"the manifests read so far total {total:,} bytes, "
                f"over the render limit of {limits.max_render_bytes:,}",
                hint=limit_hint("max_render_bytes"),
            )
        docs.extend(parse_file(file, file_rel, limits))
    return docs


def manifest_files(checkout: Checkout, directory: Path, *, recurse: bool) -> list[Path]:
    """The manifest files under ``directory``, sorted by repo-relative path.

    Skipped: names starting with ``.``, tool files (kustomization, Chart.yaml),
    files with other suffixes (README.md), and sub-directories holding a Helm
    chart (their templates are not YAML). A symlink that resolves outside the
    repository raises PathEscapeError.
    """
    result = [
        p
        for p in walk_tree(checkout, directory, recurse=recurse)
        if p.suffix.lower() in MANIFEST_SUFFIXES and p.name not in _NOT_MANIFESTS
    ]
    return sorted(result, key=lambda p: checkout.relpath(p))


def walk_tree(checkout: Checkout, directory: Path, *, recurse: bool = True) -> Iterator[Path]:
    """Every non-hidden file under ``directory``, refusing symlinks out of the repository.

    Symlinked directories inside the repository are followed once each.
    """
    real_root = checkout.root.resolve()
    visited: set[Path] = set()
    stack = [directory]
    while stack:
        current = stack.pop()
        real_current = current.resolve()
        if real_current in visited:
            continue
        visited.add(real_current)
        try:
            with os.scandir(current) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError as err:
            raise RenderError(
                SourceRef(checkout.relpath(current)), f"cannot read: {err.strerror}"
            ) from None
        for entry in listing:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                try:
                    real = path.resolve()
                except RuntimeError:  # a symlink loop (Python < 3.13 raises, later ones do not)
                    raise RenderError(
                        SourceRef(checkout.relpath(path)), "symlink loop: it leads to itself"
                    ) from None
                if real != real_root and not real.is_relative_to(real_root):
                    raise PathEscapeError(
                        checkout.relpath(path),
                        reason=f"symlink resolves outside the repository to {real}",
                    )
                if not real.exists():
                    continue  # a dangling link names nothing to render
            if entry.is_dir():
                if recurse and not (path / "Chart.yaml").is_file():
                    stack.append(path)
            elif entry.is_file():
                yield path


def parse_file(file: Path, file_rel: str, limits: Limits | None = None) -> list[Doc]:
    """The documents of one manifest file (``kind: List`` expanded)."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RenderError(SourceRef(file_rel), "not UTF-8 text") from None
    except OSError as err:
        raise RenderError(SourceRef(file_rel), f"cannot read: {err.strerror}") from None
    file_format = FileFormat.of(file)
    encrypted = file_format.is_encrypted(text)
    if encrypted:
        text = decrypt_file(file, file_rel)
    limits = limits or current_limits()
    if file_format is FileFormat.JSON:
        docs = _parse_json(text, file_rel, limits)
    else:
        docs = parse_yaml(text, file_rel, limits)
    return [Doc(d.value, d.source, encrypted=True) for d in docs] if encrypted else docs


def parse_yaml(text: str, file_rel: str, limits: Limits | None = None) -> list[Doc]:
    """The documents of YAML ``text`` (``kind: List`` expanded); lines are of ``text``.

    Refuses (RenderError naming file:line) what ``gitwave.engine.limits`` caps:
    alias bombs, deep nesting, oversized objects and oversized text.
    """
    limits = limits or current_limits()
    docs: list[Doc] = []
    for document in iter_documents(text, file=file_rel, limits=limits):
        value = document.value
        if _is_list(value):
            nodes = item_nodes(document.node, "items")
            for i, item in enumerate(value["items"]):
                if i < len(nodes):
                    check_object_size(nodes[i], file_rel, limits)
                    line = nodes[i].start_mark.line + 1
                else:
                    line = document.line
                docs.append(Doc(item, SourceRef(file_rel, line)))
        else:
            check_object_size(document.node, file_rel, limits)
            docs.append(Doc(value, SourceRef(file_rel, document.line)))
    return docs


def _parse_json(text: str, file_rel: str, limits: Limits) -> list[Doc]:
    source = SourceRef(file_rel, 1)
    if len(text) > limits.max_render_bytes:
        raise RenderError(
            source,
            f"{len(text):,} bytes of manifests, over the limit of {limits.max_render_bytes:,}",
            hint=limit_hint("max_render_bytes"),
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise RenderError(SourceRef(file_rel, err.lineno), f"malformed JSON: {err.msg}") from None
    except RecursionError:
        value = None  # nested past Python's own limit: reported as too deep below
        depth = limits.max_depth + 1
    else:
        depth = _json_depth(value, limits.max_depth)
    if depth > limits.max_depth:
        raise RenderError(
            source,
            f"nested more than {limits.max_depth} levels deep",
            hint=limit_hint("max_depth"),
        )
    if isinstance(value, list):
        items = value
    elif _is_list(value):
        items = value["items"]
    else:
        items = [value]
    # Only a file over the object limit can hold an object over it: serialise
    # its objects to measure them only then.
    if len(text) > limits.max_object_bytes:
        for item in items:
            size = len(json.dumps(item, separators=(",", ":")))
            if size > limits.max_object_bytes:
                raise RenderError(
                    source,
                    f"an object is {size:,} bytes, over the limit of "
                    f"{limits.max_object_bytes:,} (the Kubernetes API server refuses "
                    "objects over 1.5 MiB by default)",
                    hint=limit_hint("max_object_bytes"),
                )
    return [Doc(item, source) for item in items]


def _json_depth(value: Any, max_depth: int) -> int:
    """The nesting depth of a JSON value, stopping once past ``max_depth``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > max_depth:
            return depth
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return deepest


def _is_list(value: Any) -> bool:
    # kubectl accepts `kind: List` and typed lists such as ConfigMapList.
    return (
        isinstance(value, dict)
        and isinstance(value.get("kind"), str)
        and value["kind"].endswith("List")
        and isinstance(value.get("items"), list)
    )


def _glob_match(pattern: str, path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, alt) for alt in _expand_braces(pattern))


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    result: list[str] = []
    for alt in match.group(1).split(","):
        result.extend(_expand_braces(head + alt + tail))
    return result


__all__ = [
    "MANIFEST_SUFFIXES",
    "Doc",
    "directory_docs",
    "manifest_files",
    "parse_file",
    "parse_yaml",
    "walk_tree",
]

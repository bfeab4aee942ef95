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
from gitwave.engine.model import SourceRef
from gitwave.engine.render.sops import FileFormat, decrypt_file
from gitwave.engine.render.values import KUSTOMIZATION_FILES, RenderOptions
from gitwave.engine.source import Checkout
from gitwave.engine.yamlio import item_lines, iter_documents

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# Files that configure a tool rather than describe an object.
_NOT_MANIFESTS = frozenset((*KUSTOMIZATION_FILES, "Chart.yaml", "Chart.lock"))


@dataclass(frozen=True, slots=True)
class Doc:
    """One parsed document, not yet validated, and where it came from."""

    value: Any
    source: SourceRef


def directory_docs(checkout: Checkout, target: Path, rel: str, options: RenderOptions) -> list[Doc]:
    """The documents of the files under ``target`` (or of ``target`` itself, a file)."""
    files = (
        [target]
        if target.is_file()
        else manifest_files(checkout, target, recurse=options.directory_recurse)
    )
    docs: list[Doc] = []
    for file in files:
        file_rel = checkout.relpath(file)
        in_app = posixpath.relpath(file_rel, rel)
        if options.directory_include and not _glob_match(options.directory_include, in_app):
            continue
        if options.directory_exclude and _glob_match(options.directory_exclude, in_app):
            continue
        docs.extend(parse_file(file, file_rel))
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
        with os.scandir(current) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        for entry in listing:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                real = path.resolve()
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


def parse_file(file: Path, file_rel: str) -> list[Doc]:
    """The documents of one manifest file (``kind: List`` expanded)."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RenderError(SourceRef(file_rel), "not UTF-8 text") from None
    except OSError as err:
        raise RenderError(SourceRef(file_rel), f"cannot read: {err.strerror}") from None
    file_format = FileFormat.of(file)
    if file_format.is_encrypted(text):
        text = decrypt_file(file, file_rel)
    if file_format is FileFormat.JSON:
        return _parse_json(text, file_rel)
    return parse_yaml(text, file_rel)


def parse_yaml(text: str, file_rel: str) -> list[Doc]:
    """The documents of YAML ``text`` (``kind: List`` expanded); lines are of ``text``."""
    docs: list[Doc] = []
    for document in iter_documents(text, file=file_rel):
        value = document.value
        if _is_list(value):
            lines = item_lines(document.node, "items")
            for i, item in enumerate(value["items"]):
                line = lines[i] if i < len(lines) else document.line
                docs.append(Doc(item, SourceRef(file_rel, line)))
        else:
            docs.append(Doc(value, SourceRef(file_rel, document.line)))
    return docs


def _parse_json(text: str, file_rel: str) -> list[Doc]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise RenderError(SourceRef(file_rel, err.lineno), f"malformed JSON: {err.msg}") from None
    source = SourceRef(file_rel, 1)
    if isinstance(value, list):
        return [Doc(item, source) for item in value]
    if _is_list(value):
        return [Doc(item, source) for item in value["items"]]
    return [Doc(value, source)]


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

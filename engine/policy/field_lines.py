"""The line of a field inside a manifest file, for errors as kubeconform prints them.

The render keeps one line per document (where it starts); a schema error
names a field path (``spec.template.spec.containers[0].image``). This finds
that field's line by reading the document's YAML nodes again, only for
objects that have errors. Kustomize and Helm output names no file line, so
those errors keep the document's place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import yaml

from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import SourceRef
from gitwave.engine.yamlio import iter_documents

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

# repo-relative file → its text (None when it cannot be read).
FileReader = Callable[[str], str | None]


def path_parts(path: str) -> list[str | int]:
    """``spec.containers[0].image`` → ``["spec", "containers", 0, "image"]``."""
    return [int(index) if index else name for name, index in _PART.findall(path)]


def reader_for(root: Path) -> FileReader:
    """Reads repo-relative files under ``root`` only (never a path out of it)."""
    resolved = root.resolve()

    def read(file: str) -> str | None:
        target = (resolved / file).resolve()
        if not target.is_relative_to(resolved) or not target.is_file():
            return None
        try:
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return read


def field_line(source: SourceRef | None, path: str, read: FileReader) -> int:
    """The 1-based line of ``path`` in the document at ``source`` (the document's
    own line when the field is absent or the file is not plain YAML)."""
    if source is None or not source.line:
        return 0
    text = read(source.file)
    if text is None or not source.file.endswith((".yaml", ".yml")):
        return source.line
    try:
        node = _document_node(text, source)
    except GitwaveError:
        return source.line
    if node is None:
        return source.line
    best = node
    for part in path_parts(path):
        child = _child(best, part)
        if child is None:
            break
        best = child
    return best.start_mark.line + 1


def _document_node(text: str, source: SourceRef) -> yaml.Node | None:
    for document in iter_documents(text, file=source.file):
        if document.line == source.line:
            return document.node
        items = _child(document.node, "items")
        if isinstance(items, yaml.SequenceNode):
            for item in items.value:
                if item.start_mark.line + 1 == source.line:
                    found: yaml.Node = item
                    return found
    return None


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    node = getattr(node, "inner", node)
    if isinstance(part, int):
        if isinstance(node, yaml.SequenceNode) and part < len(node.value):
            child: yaml.Node = node.value[part]
            return child
        return None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                # The value's line, as kubeconform points at it (the key's for a block).
                if isinstance(value_node, yaml.ScalarNode):
                    found: yaml.Node = value_node
                    return found
                return _KeyAnchored(key_node, value_node)
    return None


class _KeyAnchored(yaml.Node):
    """A block value reported at its key's line (``spec:``), walked as the value."""

    def __init__(self, key_node: yaml.Node, value_node: yaml.Node) -> None:
        super().__init__(value_node.tag, value_node.value, key_node.start_mark, value_node.end_mark)
        self.inner = value_node


__all__ = ["FileReader", "field_line", "path_parts", "reader_for"]

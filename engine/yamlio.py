"""Fast YAML reading with a line number for every document.

libyaml (``yaml.CSafeLoader``) parses and composes in C; only the final
construction step runs in Python. ``load_all`` hides each document's node, so
this module drives the loader by hand — the same loop ``yaml.load_all`` runs —
and reads the root node's start mark on the way: a line number per document at
no extra cost.

Timestamps stay strings, as Kubernetes' own YAML decoder keeps them (an
unquoted ``2024-01-01`` annotation is the string ``"2024-01-01"``, not a date).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from gitwave.engine.errors import RenderError
from gitwave.engine.model import SourceRef


class KubeLoader(yaml.CSafeLoader):
    """CSafeLoader without the YAML 1.1 timestamp type (Kubernetes keeps them as
    strings), refusing duplicate keys: PyYAML keeps the last of two ``metadata:``
    keys silently, where kubectl's strict decoding rejects the document."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed YAML document: its value, 1-based start line and root node.

    ``node`` is kept so a caller can find line numbers inside the document
    (e.g. the items of a ``kind: List``) without parsing again.
    """

    value: Any
    line: int
    node: yaml.Node


def iter_documents(text: str, *, file: str) -> Iterator[Document]:
    """Yield every document of ``text`` with its start line; empty documents are skipped.

    Raises RenderError naming ``file:line`` (libyaml's mark) on malformed YAML.
    """
    loader = KubeLoader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                if node is None:
                    return
                value = loader.construct_document(node)
            except yaml.MarkedYAMLError as err:
                mark = err.problem_mark or err.context_mark
                line = mark.line + 1 if mark is not None else 0
                problem = err.problem or err.context or "malformed YAML"
                raise RenderError(SourceRef(file, line), f"malformed YAML: {problem}") from None
            except yaml.YAMLError as err:
                raise RenderError(SourceRef(file), f"malformed YAML: {err}") from None
            if value is None:
                continue
            yield Document(value, node.start_mark.line + 1, node)
    finally:
        loader.dispose()


def load_documents(text: str, *, file: str) -> list[Document]:
    """All documents of ``text`` (see ``iter_documents``)."""
    return list(iter_documents(text, file=file))


def item_lines(node: yaml.Node, key: str) -> list[int]:
    """1-based start lines of the sequence items under ``key`` of a mapping node.

    Empty when the node is not a mapping or has no such sequence.
    """
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


def field_line(node: yaml.Node, *path: str) -> int:
    """1-based line of the value at ``path`` inside a mapping node; the node's line if absent."""
    current = node
    for key in path:
        if not isinstance(current, yaml.MappingNode):
            break
        for key_node, value_node in current.value:
            if key_node.value == key:
                current = value_node
                break
        else:
            break
    return int(current.start_mark.line) + 1


def dump(value: Any) -> str:
    """YAML text for ``value`` (block style, keys in insertion order)."""
    return str(yaml.dump(value, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False))

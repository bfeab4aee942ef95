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

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from gitwave.engine.errors import RenderError
from gitwave.engine.limits import Limits, current_limits, limit_hint
from gitwave.engine.model import SourceRef


class KubeLoader(yaml.CSafeLoader):
    """CSafeLoader without the YAML 1.1 timestamp type (Kubernetes keeps them as
    strings), refusing duplicate keys: PyYAML keeps the last of two ``metadata:``
    keys silently, where kubectl's strict decoding rejects the document.

    Map keys are strings, as kubectl's YAML-to-JSON step makes them: ``1: a``
    and ``true: b`` become ``"1"`` and ``"true"``; a ``null`` key (which JSON
    cannot hold, so kubectl refuses it) is refused. Every later stage can then
    take a manifest's keys for strings.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        converted = False
        for key_node, _ in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            if key_node.tag != _STR_TAG:
                converted = True
                if key_node.tag == _NULL_TAG:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "a null map key (JSON and Kubernetes have none; quote it)",
                        key_node.start_mark,
                    )
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key_node.value)
        if not converted:
            return super().construct_mapping(node, deep=deep)
        # Built here, not by PyYAML: it would merge 1 and true (equal in Python).
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "a map key must be a string",
                    key_node.start_mark,
                )
            mapping[_key_text(key)] = self.construct_object(value_node, deep=deep)
        return mapping


_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


def _key_text(key: Any) -> Any:
    """A scalar map key as kubectl's YAML-to-JSON conversion writes it."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return str(int(key)) if key.is_integer() and abs(key) < 1e21 else repr(key)
    return key


KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


# An alias (``*name``) follows a line start, whitespace, a flow indicator or a
# ``:``; a match may be a false alarm (``ls *.txt``), never a miss.
_ALIAS_TOKEN = re.compile(r"(?:^|[\s\[{,:?-])\*[^\s,\]}]", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed YAML document: its value, 1-based start line and root node.

    ``node`` is kept so a caller can find line numbers inside the document
    (e.g. the items of a ``kind: List``) without parsing again.
    """

    value: Any
    line: int
    node: yaml.Node


def iter_documents(text: str, *, file: str, limits: Limits | None = None) -> Iterator[Document]:
    """Yield every document of ``text`` with its start line; empty documents are skipped.

    Raises RenderError naming ``file:line`` (libyaml's mark) on malformed YAML,
    and on text over the render size limit, a document whose aliases expand
    past the limit or that nests too deep (see ``gitwave.engine.limits``) —
    checked on the composed node graph, before anything is constructed.
    """
    limits = limits or current_limits()
    if len(text) > limits.max_render_bytes:
        raise RenderError(
            SourceRef(file),
            f"{len(text):,} bytes of manifests, over the limit of {limits.max_render_bytes:,}",
            hint=limit_hint("max_render_bytes"),
        )
    # Without an alias token every node graph is a tree and the cheaper walk
    # (depth only, no memo) is enough; the memoised walk costs about as much
    # as constructing the document, so it runs only where an alias may be.
    shared = "*" in text and _ALIAS_TOKEN.search(text) is not None
    loader = KubeLoader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
                if node is None:
                    return
                if shared:
                    _check_graph(node, limits, file)
                else:
                    _check_tree(node, limits, file)
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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _too_deep(node: yaml.Node, limits: Limits, file: str) -> RenderError:
    return RenderError(
        SourceRef(file, node.start_mark.line + 1),
        f"nested more than {limits.max_depth} levels deep",
        hint=limit_hint("max_depth"),
    )


def _check_tree(root: yaml.Node, limits: Limits, file: str) -> None:
    """Refuse a document nested deeper than the limit (a tree: no aliases)."""
    # Iterative: a recursive walk would itself hit Python's recursion limit.
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    scalar = yaml.ScalarNode
    mapping = yaml.MappingNode
    max_depth = limits.max_depth
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(node, limits, file)
        below = depth + 1
        if type(node) is mapping:
            for key, value in node.value:
                if type(key) is not scalar:
                    stack.append((key, below))
                if type(value) is not scalar:
                    stack.append((value, below))
        elif type(node) is not scalar:
            stack.extend((child, below) for child in node.value if type(child) is not scalar)


def _check_graph(root: yaml.Node, limits: Limits, file: str) -> None:
    """Refuse alias expansion over the limit, recursive aliases and deep nesting.

    An alias makes libyaml share one node, so the graph stays small while the
    value it stands for (once serialised, diffed or applied) can be a billion
    nodes. Expanded size and depth are computed bottom-up, each distinct node
    once, stopping at the first node past a limit.
    """
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if not children_done:
            if key in done:
                continue
            if key in open_nodes:
                raise RenderError(
                    SourceRef(file, node.start_mark.line + 1),
                    "an alias refers to a node that contains it (a recursive structure)",
                    hint="Kubernetes objects cannot be recursive; expand the alias by hand",
                )
            open_nodes.add(key)
            stack.append((node, True))
            # A child still open is an ancestor: popped again, it is reported as recursive.
            stack.extend((child, False) for child in children if id(child) not in done)
            continue
        open_nodes.discard(key)
        size = 1
        depth = 0
        for child in children:
            child_size, child_depth = done[id(child)]
            size += child_size
            depth = max(depth, child_depth)
        depth += 1
        done[key] = (size, depth)
        if depth > limits.max_depth:
            raise _too_deep(node, limits, file)
        if size - len(done) > limits.max_alias_nodes:
            raise RenderError(
                SourceRef(file, root.start_mark.line + 1),
                f"YAML aliases expand to more than {limits.max_alias_nodes:,} extra nodes "
                "(an alias bomb?)",
                hint=limit_hint("max_alias_nodes"),
            )


def check_object_size(node: yaml.Node, file: str, limits: Limits) -> None:
    """Refuse one object whose source text is over the per-object limit.

    The text span of its node stands for the object's size: no serialising of
    every object, and aliases are already capped by ``max_alias_nodes``.
    """
    size = node.end_mark.index - node.start_mark.index
    if size > limits.max_object_bytes:
        raise RenderError(
            SourceRef(file, node.start_mark.line + 1),
            f"object is {size:,} bytes, over the limit of {limits.max_object_bytes:,} "
            "(the Kubernetes API server refuses objects over 1.5 MiB by default)",
            hint=limit_hint("max_object_bytes"),
        )


def item_nodes(node: yaml.Node, key: str) -> list[yaml.Node]:
    """The sequence item nodes under ``key`` of a mapping node (empty if none)."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.SequenceNode):
            return list(value_node.value)
    return []


def load_documents(text: str, *, file: str) -> list[Document]:
    """All documents of ``text`` (see ``iter_documents``)."""
    return list(iter_documents(text, file=file))


def item_lines(node: yaml.Node, key: str) -> list[int]:
    """1-based start lines of the sequence items under ``key`` of a mapping node.

    Empty when the node is not a mapping or has no such sequence.
    """
    return [item.start_mark.line + 1 for item in item_nodes(node, key)]


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

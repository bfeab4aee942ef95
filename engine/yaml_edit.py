"""Edit YAML files in Git the way a person would: one value changed, every
comment, quote, key order and indentation of the rest kept.

ruamel.yaml's round-trip mode keeps comments and quoting; the indentation it
writes is one setting for the whole file, so the file's own is found by trying
the common ones (2/2/0 as kubectl writes, 2/4/2 as most repositories do, …)
until a round trip without any edit gives the file back byte for byte. A file
no setting reproduces (flow mappings, uneven indentation, Helm templates) is
refused, naming the file: an edit must never reformat lines it did not change.

Pure over text: reading and writing files is the caller's (``engine.git_write``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import Segment

__all__ = ["YamlFile", "get_in", "set_in"]

# (mapping, sequence, offset) indentations tried in this order.
_STYLES = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 4, 0), (4, 6, 4), (2, 4, 0), (4, 2, 0))


def _yaml(style: tuple[int, int, int], explicit_start: bool) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never fold a long line the file keeps on one
    mapping, sequence, offset = style
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.explicit_start = explicit_start
    return yaml


@dataclass
class YamlFile:
    """The documents of one YAML file, to edit in place and write back.

    ``where`` names the file in errors (repo-relative). Not frozen on purpose:
    it is the one mutable editing buffer of an edit, never shared."""

    where: str
    docs: list[Any]
    _yaml: YAML

    @classmethod
    def parse(cls, text: str, where: str) -> YamlFile:
        """The file's documents; ValidationError naming ``where`` when it is not
        YAML or cannot be written back unchanged (see the module docstring)."""
        try:
            docs = list(_yaml(_STYLES[0], False).load_all(text))
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            raise ValidationError(f"{where}{line}", f"not YAML gitwave can edit: {exc}") from None
        for style in _STYLES:
            for explicit in (False, True):
                yaml = _yaml(style, explicit)
                try:
                    again = list(yaml.load_all(text))
                    if _dump(yaml, again) == text:
                        return cls(where, again, yaml)
                except YAMLError:
                    break
        del docs
        raise ValidationError(
            where,
            "gitwave cannot edit this file without reformatting lines it does not change "
            "(flow style, uneven indentation or a template)",
            hint="make the change by hand, or write the file in block style with even indentation",
        )

    def text(self) -> str:
        """The documents as YAML, formatted as the file was."""
        return _dump(self._yaml, self.docs)

    def find(self, wanted: Callable[[Any], bool]) -> Iterator[tuple[int, Any]]:
        """``(index, document)`` of each mapping document ``wanted`` accepts."""
        for index, doc in enumerate(self.docs):
            if isinstance(doc, CommentedMap) and wanted(doc):
                yield index, doc

    def line_of(self, doc: Any) -> int:
        """The 1-based line a document starts on (0 when unknown)."""
        lc = getattr(doc, "lc", None)
        return int(lc.line) + 1 if lc is not None and lc.line is not None else 0


def _dump(yaml: YAML, docs: Sequence[Any]) -> str:
    out = io.StringIO()
    if len(docs) == 1:
        yaml.dump(docs[0], out)
    else:
        yaml.dump_all(docs, out)
    return out.getvalue()


def plain(value: Any) -> Any:
    """``value`` (a round-trip mapping, sequence or scalar) as plain dicts and
    lists with string keys: what JSON, a patch or a diff line is written from."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def get_in(node: Any, path: Sequence[Segment]) -> Any:
    """The value at ``path`` under ``node``; KeyError when a step is missing."""
    for segment in path:
        if isinstance(segment, int):
            if not isinstance(node, list) or not 0 <= segment < len(node):
                raise KeyError(segment)
            node = node[segment]
        else:
            if not isinstance(node, dict) or segment not in node:
                raise KeyError(segment)
            node = node[segment]
    return node


def set_in(node: Any, path: Sequence[Segment], value: Any) -> None:
    """Set ``path`` under ``node`` to ``value``, making the maps on the way
    (a list index must exist, or be the next one: an append). KeyError for a
    step through a scalar or past the end of a list."""
    if not path:
        raise KeyError("")
    *parents, last = path
    for position, segment in enumerate(parents):
        following = path[position + 1]
        if isinstance(segment, int):
            if not isinstance(node, list) or not 0 <= segment < len(node):
                raise KeyError(segment)
            node = node[segment]
            continue
        if not isinstance(node, dict):
            raise KeyError(segment)
        if node.get(segment) is None:
            node[segment] = CommentedSeq() if isinstance(following, int) else CommentedMap()
        node = node[segment]
    if isinstance(last, int):
        if not isinstance(node, list) or not 0 <= last <= len(node):
            raise KeyError(last)
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
        return
    if not isinstance(node, dict):
        raise KeyError(last)
    node[last] = value

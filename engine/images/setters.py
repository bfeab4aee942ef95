"""Flux's ``Setters`` update strategy: rewrite the values marked with an image policy.

A setter is a comment at the end of a YAML line::

    image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
    repository: ghcr.io/org/app  # {"$imagepolicy": "flux-system:app:name"}
    tag: 1.0.0                   # {"$imagepolicy": "flux-system:app:tag"}

The plain marker takes the policy's whole image (``name:tag``), ``:name`` the
image name and ``:tag`` the tag. Only the scalar value on the marked line is
rewritten, keeping its quotes, indentation and the comment; a marker naming a
policy the automation does not know is left alone (Flux does the same).

The files are Git content, so nothing here trusts them: only regular ``.yaml``
and ``.yml`` files under the update path are read (no symlinks, nothing
outside the repository), and a rewritten file is parsed again and compared with
the original: if anything other than the marked values changed, or it no longer
parses, the file is refused with an error naming ``file:line`` and left as it was.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.errors import ValidationError
from gitwave.engine.source import safe_join

MARKER_KEY = "$imagepolicy"
MAX_FILE_BYTES = 4 * 1024 * 1024
_MARKED = re.compile(
    r"^(?P<head>.*?)(?P<gap>\s+)#\s*\{\s*\"\$imagepolicy\"\s*:\s*\"(?P<ref>[^\"]+)\"\s*\}\s*$"
)
# "key: value", "- value", "- key: value" — the value is the rest of the head.
_HEAD = re.compile(
    r"""^(?P<prefix>\s*(?:-\s+)*(?:(?:[^\s#'"{}\[\],&*!|>%@`-][^#:]*?|"[^"]*"|'[^']*')\s*:\s+)?)(?P<value>\S.*)$"""
)


@dataclass(frozen=True)
class LatestImage:
    """What a policy chose: the image name (as written in manifests) and the tag."""

    name: str
    tag: str

    def field(self, part: str) -> str | None:
        """The value a setter of ``part`` ("" for the whole image, "name", "tag") writes."""
        if part == "":
            return f"{self.name}:{self.tag}"
        if part == "name":
            return self.name
        if part == "tag":
            return self.tag
        return None  # ":digest" needs digest reflection, which gitwave does not do


@dataclass(frozen=True, order=True)
class ObjectId:
    """The object a change is in (Flux's ObjectIdentifier); empty fields when unnamed."""

    name: str
    namespace: str
    api_version: str
    kind: str


@dataclass(frozen=True)
class Change:
    """One rewritten value: where, by which setter, from what to what."""

    file: str
    line: int
    setter: str
    old_value: str
    new_value: str
    object: ObjectId


def yaml_files(root: Path, path: str) -> Iterator[tuple[Path, str]]:
    """``(file, repo-relative name)`` of the regular YAML files under ``root/path``,
    sorted; symlinks and ``.git`` are skipped; PathEscapeError if ``path`` leaves root."""
    start = safe_join(root, path)
    if not start.is_dir():
        raise ValidationError(path, "spec.update.path is not a directory in the repository")
    found = []
    for directory, dirs, files in os.walk(start, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in files:
            if not name.lower().endswith((".yaml", ".yml")):
                continue
            file = Path(directory) / name
            if file.is_symlink() or not file.is_file():
                continue
            found.append((file, file.relative_to(root).as_posix()))
    yield from sorted(found, key=lambda pair: pair[1])


def update_text(
    text: str, rel: str, policies: Mapping[str, LatestImage]
) -> tuple[str, list[Change]]:
    """``text`` with every known setter applied, and the changes (none: same text).

    ``policies`` maps ``namespace:name`` to the policy's latest image. Each
    rewrite is checked on its own: the file parsed before and after must differ
    in exactly that one value, else the line is not a setter of a scalar (a
    marker inside a block scalar, say) and is left alone, as Flux ignores it.
    Raises ValidationError naming ``rel:line`` for a file that is not YAML.
    """
    lines = text.splitlines(keepends=True)
    pending: list[tuple[int, str, str, str]] = []  # (index, setter, old, new)
    current: list[Any] | None = None
    for index, line in enumerate(lines):
        if MARKER_KEY not in line:
            continue
        body = line.rstrip("\r\n")
        marked = _MARKED.match(body)
        if marked is None:
            continue
        setter = marked["ref"]
        namespace, _, rest = setter.partition(":")
        name, _, part = rest.partition(":")
        latest = policies.get(f"{namespace}:{name}")
        wanted = latest.field(part) if latest is not None else None
        head = _HEAD.match(marked["head"])
        if wanted is None or head is None:
            continue
        old_token = head["value"].rstrip()
        old_value = _unquote(old_token)
        if old_value is None or old_value == wanted:
            continue
        if current is None:
            current = _load_all("".join(lines), rel)
        ending = line[len(body) :]
        rewritten = head["prefix"] + _quoted_like(old_token, wanted) + body[marked.end("head") :]
        candidate = [*lines[:index], rewritten + ending, *lines[index + 1 :]]
        after = _only_change(current, "".join(candidate), wanted)
        if after is None:
            continue
        lines, current = candidate, after
        pending.append((index, setter, old_value, wanted))
    if not pending:
        return text, []
    objects = _objects_by_line(text)
    changes = [
        Change(
            file=rel,
            line=index + 1,
            setter=setter,
            old_value=old,
            new_value=new,
            object=_object_at(objects, index + 1),
        )
        for index, setter, old, new in pending
    ]
    return "".join(lines), changes


def _unquote(token: str) -> str | None:
    if token.startswith('"'):
        try:
            value = json.loads(token)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, str) else None
    if token.startswith("'"):
        if len(token) < 2 or not token.endswith("'"):
            return None
        return token[1:-1].replace("''", "'")
    if token[0] in "|>&*!{[":
        return None  # block scalars, anchors, tags and flow collections are not setter targets
    return token


def _quoted_like(old_token: str, value: str) -> str:
    """``value`` in the old token's quoting; a plain value YAML would read as
    something else (``1.10`` is a float) gets double quotes."""
    if old_token.startswith("'"):
        return "'" + value.replace("'", "''") + "'"
    if old_token.startswith('"'):
        return json.dumps(value)
    try:
        plain_reads_as = yaml.safe_load(value)
    except yaml.YAMLError:
        plain_reads_as = None
    return value if plain_reads_as == value and "#" not in value else json.dumps(value)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    else:
        yield path, value


def _load_all(text: str, where: str) -> list[Any]:
    try:
        return list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValidationError(f"{where}{line}", f"malformed YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ValidationError(where, f"malformed YAML: {exc}") from None


def _only_change(before: list[Any], new_text: str, wanted: str) -> list[Any] | None:
    """The documents of ``new_text`` if they differ from ``before`` in exactly one
    scalar, now ``wanted``; None otherwise (the rewrite was not a setter's)."""
    try:
        after = list(yaml.safe_load_all(new_text))
    except yaml.YAMLError:
        return None
    if len(before) != len(after):
        return None
    changed: list[Any] = []
    for old_doc, new_doc in zip(before, after, strict=True):
        old_leaves = dict(_leaves(old_doc))
        new_leaves = dict(_leaves(new_doc))
        if old_leaves.keys() != new_leaves.keys():
            return None
        changed.extend(v for k, v in new_leaves.items() if v != old_leaves[k])
    return after if changed == [wanted] else None


def _objects_by_line(text: str) -> list[tuple[int, int, ObjectId]]:
    """``(first line, last line, object)`` of each document, for naming a change's object."""
    found = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if node is None:
                continue
            value = (
                yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.MappingNode) else {}
            )
            meta = value.get("metadata") if isinstance(value, dict) else None
            meta = meta if isinstance(meta, dict) else {}
            found.append(
                (
                    node.start_mark.line + 1,
                    node.end_mark.line + 1,
                    ObjectId(
                        name=str(meta.get("name") or ""),
                        namespace=str(meta.get("namespace") or ""),
                        api_version=str(value.get("apiVersion") or "") if value else "",
                        kind=str(value.get("kind") or "") if value else "",
                    ),
                )
            )
    except yaml.YAMLError:
        return []
    return found


def _object_at(objects: list[tuple[int, int, ObjectId]], line: int) -> ObjectId:
    for first, last, object_id in objects:
        if first <= line <= last:
            return object_id
    return ObjectId("", "", "", "")

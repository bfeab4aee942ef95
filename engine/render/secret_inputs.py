"""The secret values a render's inputs hold, so a tool's error output can be
masked before anyone sees it.

Kustomize and Helm echo what they were given when they refuse it: ``invalid
literal source hunter2, expected key=value`` quotes a secretGenerator literal
whole. Their stderr becomes a RenderError, which the CLI prints, the TUI shows
and the history stores, so every value that may be secret is collected from the
inputs before the tool runs and masked (``***``) in its stderr:

- Kustomize: secretGenerator ``literals``, the lines of its ``envs``/``env``
  files and the content (whole and line by line) of its ``files``; the
  ``data``/``stringData`` of Secret manifests among the resources and patches;
  for the overlay and every base it pulls in. Each also base64-encoded, the
  form Kustomize writes Secret data in.
- Helm: ``--set``/``--set-string`` values, and the values under keys that name
  a secret (``password``, ``token``, ``apiKey``…) in the chart's values.yaml,
  the values files and the inline values.

What the inputs do not reveal (a template computing a password) is left to
``tools.scrub_secret_assignments``, which masks ``password=…``-like text in
any tool's stderr. Reading is best effort: a file that cannot be read or parsed is
skipped here, and the tool (or the checks before it) reports it.
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gitwave.engine.errors import GitwaveError
from gitwave.engine.mask import is_secret_manifest, secret_values
from gitwave.engine.render.directory import parse_yaml
from gitwave.engine.render.values import KUSTOMIZATION_FILES, HelmOptions
from gitwave.engine.source import Checkout, safe_join

_PATH_LISTS = ("resources", "bases", "components", "patchesStrategicMerge")
_SENSITIVE_KEY = re.compile(
    r"pass|secret|token|key|cred|auth|cert|private|salt|signature|dsn|conn", re.IGNORECASE
)


def kustomize_secret_values(checkout: Checkout, target: Path) -> frozenset[str]:
    """Every secret value the kustomization at ``target`` and its bases feed Kustomize."""
    found: set[str] = set()
    visited: set[Path] = set()
    stack = [target]
    while stack:
        directory = stack.pop()
        real = directory.resolve()
        if real in visited:
            continue
        visited.add(real)
        spec = _kustomization(checkout, directory)
        if spec is None:
            continue
        dir_rel = checkout.relpath(directory)
        for generator in _mappings(spec.get("secretGenerator")):
            found.update(_generator_values(checkout, dir_rel, generator))
        for entry in _referenced(spec):
            if "\n" in entry:  # an inline patch
                found.update(_manifest_secrets(entry, f"{dir_rel}/kustomization"))
                continue
            path = _inside(checkout, posixpath.join(dir_rel, entry))
            if path is None:
                continue
            if path.is_dir():
                stack.append(path)
            elif path.is_file():
                found.update(_manifest_secrets(_read(path), checkout.relpath(path)))
    return _with_base64(found)


def helm_secret_values(checkout: Checkout, target: Path, options: HelmOptions) -> frozenset[str]:
    """The secret values among what ``helm template`` is given for the chart at ``target``."""
    found: set[str] = set()
    for parameter in (*options.parameters, *options.string_parameters):
        _, sep, value = parameter.partition("=")
        if sep and value:
            found.add(value)
    texts = [options.values, _read(target / "values.yaml")]
    rel = checkout.relpath(target)
    for values_file in options.values_files:
        path = _inside(checkout, posixpath.join(rel, values_file))
        if path is not None and path.is_file():
            texts.append(_read(path))
    for text in texts:
        for value in _yaml_values(text, rel):
            found.update(_sensitive_leaves(value, sensitive=False))
    return _with_base64(found)


def _kustomization(checkout: Checkout, directory: Path) -> dict[str, Any] | None:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            for value in _yaml_values(_read(path), checkout.relpath(path)):
                return value if isinstance(value, dict) else None
    return None


def _generator_values(checkout: Checkout, dir_rel: str, generator: dict[str, Any]) -> Iterator[str]:
    for literal in _strings(generator.get("literals")):
        yield literal
        _, sep, value = literal.partition("=")
        if sep:
            yield value
            yield _unquoted(value)
    env_files = _strings(generator.get("envs"))
    if isinstance(generator.get("env"), str):
        env_files.append(generator["env"])
    for env_file in env_files:
        path = _inside(checkout, posixpath.join(dir_rel, env_file))
        for line in _read(path).splitlines() if path is not None else ():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            yield line
            _, sep, value = line.partition("=")
            if sep:
                yield value
                yield _unquoted(value)
    for file_entry in _strings(generator.get("files")):
        file_rel = file_entry.partition("=")[2] or file_entry
        path = _inside(checkout, posixpath.join(dir_rel, file_rel))
        content = _read(path) if path is not None else ""
        yield content
        yield content.strip()
        yield from (line.strip() for line in content.splitlines())


def _referenced(spec: dict[str, Any]) -> Iterator[str]:
    for field_name in _PATH_LISTS:
        yield from _strings(spec.get(field_name))
    for patch_list in ("patches", "patchesJson6902"):
        for patch in _mappings(spec.get(patch_list)):
            for field_name in ("path", "patch"):
                if isinstance(patch.get(field_name), str):
                    yield patch[field_name]


def _manifest_secrets(text: str, file_rel: str) -> Iterator[str]:
    for value in _yaml_values(text, file_rel):
        if isinstance(value, dict) and is_secret_manifest(value):
            yield from secret_values(value)


def _sensitive_leaves(value: Any, *, sensitive: bool) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _sensitive_leaves(item, sensitive=sensitive or _is_sensitive(key))
    elif isinstance(value, list):
        for item in value:
            yield from _sensitive_leaves(item, sensitive=sensitive)
    elif sensitive and value is not None and not isinstance(value, bool):
        yield str(value)


def _is_sensitive(key: Any) -> bool:
    return isinstance(key, str) and _SENSITIVE_KEY.search(key) is not None


def _yaml_values(text: str, file_rel: str) -> list[Any]:
    if not text.strip():
        return []
    try:
        return [doc.value for doc in parse_yaml(text, file_rel)]
    except GitwaveError:
        return []


def _inside(checkout: Checkout, relative: str) -> Path | None:
    try:
        return safe_join(checkout.root, relative)
    except GitwaveError:
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _with_base64(values: Iterable[str]) -> frozenset[str]:
    found = {v for v in values if v.strip()}
    found.update(base64.b64encode(v.encode()).decode("ascii") for v in list(found))
    return frozenset(found)


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _mappings(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


__all__ = ["helm_secret_values", "kustomize_secret_values"]

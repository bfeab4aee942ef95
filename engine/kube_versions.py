"""Which Kubernetes release's schemas built-in kinds are checked against.

The default is the release the end-to-end control plane runs
(``KUBERNETES_VERSION``); ``--kubernetes-version`` picks another one for one
command (``kubernetes_version``, a context variable, so concurrent apps in
threads each keep their own). kubernetes-validate ships one directory per
release; the newest one not newer than the asked release is used.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
from collections.abc import Iterator
from pathlib import Path

# The release tests/cluster/controlplane.py builds (k8s.io/kubernetes v1.37.2);
# the schemas of the newest release not newer than it are used.
KUBERNETES_VERSION = "1.37"


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


# The release whose schemas this context checks against (``--kubernetes-version``).
_version: contextvars.ContextVar[str] = contextvars.ContextVar(
    "gitwave_kubernetes_version", default=KUBERNETES_VERSION
)


def schema_root() -> Path:
    """kubernetes-validate's schema directory, found without importing the
    package (it imports the pure-Python jsonschema and more, which validation
    never needs)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("kubernetes-validate is not installed (a gitwave dependency)")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@functools.cache
def schema_versions() -> tuple[str, ...]:
    """The Kubernetes releases (``1.30``) whose schemas are shipped, oldest first.
    Read once per process: the installed package does not change under it, and
    every app's plan asks (a directory listing each time was 3 % of a fleet sync)."""
    found = {
        version_tuple(p.name[1:].split("-")[0])[:2]
        for p in schema_root().iterdir()
        if p.name.startswith("v") and p.name.endswith("-local")
    }
    return tuple(".".join(str(n) for n in v) for v in sorted(found))


def normalize_version(text: str) -> str:
    """``v1.30.2`` / ``1.30`` → ``1.30``; ValueError when no shipped schema fits it."""
    wanted = version_tuple(text.strip().lstrip("v"))[:2]
    if len(wanted) != 2:
        raise ValueError(f"{text!r} is no Kubernetes version (write it as 1.30)")
    shipped = schema_versions()
    if not shipped or wanted < version_tuple(shipped[0]):
        raise ValueError(
            f"no schemas for Kubernetes {text} (shipped: {shipped[0]} to {shipped[-1]})"
        )
    return ".".join(str(n) for n in wanted)


@contextlib.contextmanager
def kubernetes_version(version: str | None) -> Iterator[None]:
    """Check built-in kinds against ``version``'s schemas inside the block (None:
    the default, ``KUBERNETES_VERSION``)."""
    if version is None:
        yield
        return
    token = _version.set(normalize_version(version))
    try:
        yield
    finally:
        _version.reset(token)


def current_version() -> str:
    """The release built-in kinds are checked against here and now."""
    return _version.get()


__all__ = [
    "KUBERNETES_VERSION",
    "current_version",
    "kubernetes_version",
    "normalize_version",
    "schema_root",
    "schema_versions",
    "version_tuple",
]

"""Which files and documents define apps: the top-level YAML files of a
directory, the documents in them, and the app kind of each document."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.apps.model import ARGO_GROUP, FLUX_KUSTOMIZE_GROUP, FLUX_SOURCE_GROUP
from gitwave.engine.errors import GitwaveError, SourceError

if TYPE_CHECKING:
    # Parsed only when a file names an app group (PyYAML: 20 ms of a start).
    from gitwave.engine.yamlio import Document

FLUX_EXTENSIONS_GROUP = "source.extensions.fluxcd.io"  # ArtifactGenerator

# A cheap pre-filter before parsing: only files declaring an apiVersion of these
# groups can hold apps. (The bare group name is not enough: every object with an
# argocd.argoproj.io/sync-wave annotation mentions argoproj.io.)
_APP_MARKER = re.compile(
    r"""apiVersion["']?\s*:\s*["']?("""
    + "|".join(
        re.escape(g)
        for g in (ARGO_GROUP, FLUX_KUSTOMIZE_GROUP, FLUX_SOURCE_GROUP, FLUX_EXTENSIONS_GROUP)
    )
    + ")/"
)


def app_documents(file: Path, rel: str) -> tuple[list[Document], GitwaveError | None]:
    """The documents of one top-level file that may define apps (none when it
    names no app group), or the error that keeps the file from being read:
    the caller reports the file as one broken app."""
    try:
        text = file.read_text(encoding="utf-8")
        if not _APP_MARKER.search(text):
            return [], None
        from gitwave.engine.yamlio import iter_documents

        return list(iter_documents(text, file=rel)), None
    except GitwaveError as exc:
        return [], exc
    except UnicodeDecodeError:
        return [], SourceError(f"{rel}: not UTF-8 text")
    except OSError as exc:
        return [], SourceError(f"{rel}: cannot read: {exc.strerror}")


def top_level_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".yaml", ".yml")
    )


def app_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    api_version = str(value.get("apiVersion", ""))
    kind = value.get("kind")
    group = api_version.rpartition("/")[0]
    if group == ARGO_GROUP and kind in ("Application", "AppProject"):
        return str(kind)
    if group == FLUX_KUSTOMIZE_GROUP and kind == "Kustomization":
        return "Kustomization"
    if group == FLUX_SOURCE_GROUP and kind in _FLUX_SOURCE_KINDS:
        return str(kind)  # read, never applied: a HelmRelease's or ArtifactGenerator's source
    return None


# The Flux sources a top-level file may define beside the apps that use them.
_FLUX_SOURCE_KINDS = ("GitRepository", "HelmRepository", "OCIRepository", "HelmChart", "Bucket")


__all__ = ["app_documents", "app_kind", "top_level_files"]

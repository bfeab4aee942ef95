"""Where the fleet (``engine.fleet``) looks clusters up: the readers the
command line hands it, and ``repo_secrets``, the Secrets kept in Git beside
the app definitions (Argo CD cluster Secrets, Flux kubeConfig Secrets)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.apps.files import top_level_files
from gitwave.engine.cluster_registry import RegisteredCluster
from gitwave.engine.errors import GitwaveError
from gitwave.engine.source import is_remote, open_source

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class FleetSources:
    """Where clusters are looked up; each reader is called at most once, lazily.

    ``repo_secrets``: ``(manifest, "file:line")`` of the Secrets in the
    repository's app files; ``management_secrets``: the Argo CD cluster Secrets
    on the current target; ``management_secret(namespace, name)``: one Secret
    there (a Flux kubeConfig), None when absent; ``kube_contexts``:
    ``(context, server)`` of the kubeconfig; ``sandbox_dir(name)``: the store
    of a sandbox cluster."""

    registry: Callable[[], Sequence[RegisteredCluster]] = lambda: ()
    repo_secrets: Callable[[], Sequence[tuple[Manifest, str]]] = lambda: ()
    management_secrets: Callable[[], Sequence[Manifest]] = lambda: ()
    management_secret: Callable[[str, str], Manifest | None] = lambda namespace, name: None
    kube_contexts: Callable[[], Sequence[tuple[str, str]]] = lambda: ()
    sandbox_dir: Callable[[str], Path] | None = None


def repo_secrets(location: str, *, revision: str | None = None) -> list[tuple[Manifest, str]]:
    """The Secrets in the top-level YAML files at ``location`` (the files apps are
    defined in), each with its ``file:line``: where cluster Secrets and Flux
    kubeConfig Secrets kept in Git are found. A file that cannot be read is
    skipped here (the app loader reports it)."""
    if is_remote(location):
        root = open_source(location, revision=revision).root
        target = root
    else:
        target = Path(location)
        root = target if target.is_dir() else target.parent
    files = [target] if target.is_file() else top_level_files(target) if target.is_dir() else []
    found: list[tuple[Manifest, str]] = []
    for file in files:
        if not file.resolve().is_relative_to(root.resolve()):
            continue  # a symlink out of the repository: no host file is read
        rel = file.relative_to(root).as_posix() if file.is_relative_to(root) else file.name
        try:
            text = file.read_text(encoding="utf-8")
            if "Secret" not in text:
                continue
            from gitwave.engine.yamlio import iter_documents  # PyYAML: only for a Secret

            documents = list(iter_documents(text, file=rel))
        except (GitwaveError, OSError, UnicodeDecodeError):
            continue
        for doc in documents:
            value = doc.value
            if isinstance(value, dict) and value.get("kind") == "Secret":
                found.append((value, f"{rel}:{doc.line}"))
    return found

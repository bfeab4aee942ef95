"""What ``gitwave bootstrap`` writes into the repository: gitwave's own install
plus the Application through which the controller then manages itself.

As ``flux bootstrap`` writes ``gotk-components.yaml`` and ``gotk-sync.yaml``
under a cluster's path: ``PATH/gitwave-system/`` holds a copy of
engine/controller/deploy/ (CRDs, RBAC, Deployment, …), ``PATH/gitwave-app.yaml``
an Argo CD ``Application`` named ``gitwave`` whose source is ``REPO`` at
``PATH``, and ``PATH/kustomization.yaml`` lists both. The operator's machine
syncs that Application once (the same spec the controller reads, so the same
tracking id); from then on the in-cluster controller syncs it from Git like
any other app, its own Deployment and this Application included. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from gitwave.engine.errors import ValidationError

APP_NAME = "gitwave"
NAMESPACE = "gitwave-system"
INSTALL_DIR = "gitwave-system"
APP_FILE = "gitwave-app.yaml"
# The Application goes last: after the CRDs (its kind) and the controller.
_LAST_WAVE = "10"


def check_repo_path(path: str) -> str:
    """PATH as given to bootstrap: relative, inside the repository, normalised."""
    parts = [part for part in path.strip().strip("/").split("/") if part not in ("", ".")]
    if not parts or any(part == ".." or part.startswith("-") for part in parts):
        raise ValidationError(
            path or "PATH", "must be a directory inside the repository (clusters/prod)"
        )
    return "/".join(parts)


def self_application(*, repo_url: str, path: str, revision: str) -> dict[str, Any]:
    """The ``gitwave`` Application: REPO at PATH, automated with prune and self-heal."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": APP_NAME,
            "namespace": NAMESPACE,
            "annotations": {
                "argocd.argoproj.io/sync-wave": _LAST_WAVE,
                # Its health is written by the controller syncing it: a sync
                # of this app waiting for it would wait for itself.
                "argocd.argoproj.io/ignore-healthcheck": "true",
            },
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "path": path, "targetRevision": revision},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
    }


def repository_files(
    *, install: Mapping[str, str], repo_url: str, path: str, revision: str
) -> dict[str, str]:
    """Every file to write, by path relative to the repository root. ``install``
    is engine/controller/deploy/'s YAML files by their path inside it."""
    root = check_repo_path(path)
    files = {f"{root}/{INSTALL_DIR}/{name}": text for name, text in sorted(install.items())}
    application = self_application(repo_url=repo_url, path=root, revision=revision)
    files[f"{root}/{APP_FILE}"] = yaml.safe_dump(application, sort_keys=False)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [INSTALL_DIR, APP_FILE],
    }
    files[f"{root}/kustomization.yaml"] = (
        "# Written by `gitwave bootstrap`: gitwave's install and the Application\n"
        "# through which it manages itself from this directory.\n"
        + yaml.safe_dump(kustomization, sort_keys=False)
    )
    return files


__all__ = [
    "APP_FILE",
    "APP_NAME",
    "INSTALL_DIR",
    "NAMESPACE",
    "check_repo_path",
    "repository_files",
    "self_application",
]

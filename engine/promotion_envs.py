"""Promotion's environments: where ``APP``'s environment ``ENV`` is in the repository.

The layouts Argo CD, Kargo and Kustomize users keep; the first that matches wins:

1. an app named ``APP-ENV`` among the apps at the location (one Argo CD
   Application, or one Flux Kustomization, per environment: ``web-staging``,
   ``web-production``);
2. a directory ``APP/overlays/ENV``, ``overlays/ENV``, ``APP/envs/ENV``,
   ``envs/ENV``, ``APP/environments/ENV``, ``environments/ENV``,
   ``APP/stages/ENV`` or ``stages/ENV`` under the location (Kustomize overlays
   beside their base);
3. ENV written as a path (it holds a ``/``): that directory, relative to the
   location, inside the repository.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.errors import ValidationError

__all__ = ["LAYOUT_DIRS", "AppLoader", "Environment", "env_name", "find_environment"]

LAYOUT_DIRS = ("overlays", "envs", "environments", "stages")
_ENV_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?")

# Loads the apps a location (an absolute directory) defines.
AppLoader = Callable[[str], Sequence[AppSpec]]


@dataclass(frozen=True, slots=True)
class Environment:
    """One environment: the app that deploys it and the repo-relative files
    that say what it runs (``directory``: the app's manifests; ``definition``:
    the Application's file, "" for none)."""

    name: str
    app: AppSpec
    directory: str
    definition: str = ""
    # Where the app was loaded from, repo-relative: it is loaded there again
    # from the edited files to render what the target would see.
    loaded_from: str = "."


def env_name(text: str, flag: str) -> str:
    """``text`` when it can name an environment (a DNS-like name, or a path);
    ValidationError naming ``flag`` otherwise."""
    if "/" in text or _ENV_NAME.fullmatch(text):
        return text
    raise ValidationError(
        f"{flag} {text!r}", "not an environment name (lower-case letters, digits, '-', '.')"
    )


def find_environment(
    location: Path, root: Path, app_name: str, env: str, load: AppLoader
) -> Environment:
    """The environment ``env`` of ``app_name`` at ``location`` (see the module
    docstring); ValidationError naming what was looked for when none matches."""
    tried: list[str] = []
    if "/" not in env:
        wanted = f"{app_name}-{env}"
        for app in load(str(location)):
            if app.name == wanted:
                return _environment(env, app, root, location)
        tried.append(f"an app named {wanted}")
        candidates = [
            f"{prefix}{layout}/{env}" for layout in LAYOUT_DIRS for prefix in (f"{app_name}/", "")
        ]
    else:
        candidates = [env]
    for candidate in candidates:
        directory = _inside(location, root, candidate)
        if directory is not None and directory.is_dir():
            apps = list(load(str(directory)))
            if len(apps) == 1:
                return _environment(env, apps[0], root, directory)
            raise ValidationError(
                str(directory.relative_to(root)),
                f"defines {len(apps)} apps; an environment is one app",
            )
        tried.append(candidate + "/")
    raise ValidationError(
        f"environment {env!r} of {app_name}",
        "not found; looked for " + ", ".join(tried),
        hint="name the apps APP-ENV, keep overlays in overlays/ENV, or give a path",
    )


def _inside(location: Path, root: Path, relative: str) -> Path | None:
    path = (location / relative).resolve()
    return path if path == root or path.is_relative_to(root) else None


def _environment(name: str, app: AppSpec, root: Path, loaded_from: Path) -> Environment:
    fetched = Path(app.source.fetch_from).resolve() if app.source.fetch_from else None
    if fetched is None or fetched != root:
        raise ValidationError(
            app.where,
            "its manifests come from another repository; gitwave promotes within one",
        )
    definition = app.origin.file if app.kind is AppKind.ARGO and app.origin else ""
    where = loaded_from.resolve().relative_to(root).as_posix()
    return Environment(name, app, app.source.path, definition, where)

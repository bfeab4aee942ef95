"""Applications: what to sync, from where, and how.

``load_apps(PATH)`` finds the apps a location defines:

- a directory whose top-level files (not sub-directories) hold Argo CD
  ``Application`` (argoproj.io/v1alpha1) or Flux ``Kustomization``
  (kustomize.toolkit.fluxcd.io/v1, with its ``GitRepository``) documents →
  those apps, and the ``AppProject``s beside them (``projects.py``,
  ``project_choice.py``; other documents in those files are ignored);
- a directory with a ``flux-system/`` sub-directory defining a Kustomization
  (the ``flux bootstrap`` layout) → that root Kustomization, with the
  Kustomizations its render holds as its children, recursively
  (``flux_tree``: their Kustomization and GitRepository objects and Flux's own
  installation are read, not applied; see docs/flux.md);
- a single file holding such documents → those apps;
- any other directory (or manifest file) → one implicit app named after it.

``render_app(app)`` renders an app wherever its source lives, so a caller never
deals with repository URLs: ``checkout, apps = load_apps(path)`` then
``render_app(app)`` for each.

repoURL resolution (Argo ``spec.source.repoURL``, Flux ``GitRepository.spec.url``)
----------------------------------------------------------------------------------
A URL resolves to **the checkout that holds the Application file** when it is

1. a relative path naming the repository root (``.`` or ``./``), or a
   ``file://`` URL of that form (``file://.``);
2. an absolute path or ``file:///abs/path`` URL of that repository's root; or
3. equal to one of that repository's remote URLs, compared after
   normalisation (scheme, user, ``.git`` suffix, trailing ``/`` and the
   ``git@host:org/repo`` form are ignored).

Then the revision decides what is rendered: ``HEAD`` (or none) and — when the
holder is your work tree — the name of the branch you have checked out render
your work tree as it is, uncommitted edits included (watch mode relies on
this); any other branch, tag or SHA is materialised from the same repository
into the cache, leaving your tree alone. Every other URL is fetched through
``open_source`` (a shallow clone into the cache). A relative path other than
``.`` is refused. App paths never leave their repository (``safe_join``). A
host directory (an absolute path or ``file://`` URL) outside the repository
``load_apps`` was given is refused, naming the app, unless it lies in a
directory of ``allow_local_repos`` or ``$GITWAVE_ALLOW_LOCAL_REPOS``.

App of apps: when an app's rendered path holds Application manifests, they
become that app's ``children`` (recursively, at most ``MAX_APP_DEPTH`` deep,
a cycle is an error naming the files), ordered by their sync wave, then name.
They are not resources of the parent: ``render_app`` leaves them out.
ApplicationSets (top-level or in an app of apps' render) become an app of
kind ``APPSET`` whose children are the apps they generate (``appset.py``).

Where each job lives::

    model.py   AppSpec and the values it holds (AppSource, SyncPolicy, RetrySpec, …)
    loader.py  load_apps, load_app_set, render_app: the holding repository, repoURL
               resolution, implicit apps, app-of-apps children
    broken.py  BrokenApp, AppSet: an app that cannot be loaded fails alone
    files.py   which top-level files and documents define apps
    holder.py  Holder: the repository holding an app file, repoURL resolution
    argo.py    Argo CD Application → AppSpec
    projects.py  Argo CD AppProject → AppProject, and its rules as Argo CD decides them
    project_choice.py  ProjectBook: each Argo app's project; the rules about the app itself
    flux.py    Flux Kustomization + GitRepository → AppSpec (images, decryption, postBuild)
    semver.py  GitRepository ``ref.semver``: the highest tag a constraint allows
    fields.py  typed field reading naming file:line, Go durations, path cleaning
    order.py   order_apps (one level), flatten_apps (app-of-apps trees, dependsOn),
               check_unique and check_depends_on (an app set's consistency)
    implicit.py  apps with no definition file (a directory synced as it is)
    appset.py  Argo CD ApplicationSet → an APPSET app whose children are its generated apps
    generators.py, generator_git.py, generator_params.py  ApplicationSet generators
    templating.py, gotemplate.py, gotemplate_funcs.py  fasttemplate and Go templates
"""

from typing import TYPE_CHECKING, Any

# The names below are imported on first use (PEP 562), not with the package:
# ``gitwave.engine.apps.fields`` alone (a flag parser's) must not pull in the
# loader, the renderers, networkx and CEL (0.35 s of every command's start).
if TYPE_CHECKING:
    from gitwave.engine.apps.broken import AppSet, BrokenApp
    from gitwave.engine.apps.fields import parse_duration
    from gitwave.engine.apps.implicit import implicit_app
    from gitwave.engine.apps.loader import (
        checkout_for,
        load_app_set,
        load_apps,
        render_app,
    )
    from gitwave.engine.apps.model import (
        ARGO_GROUP,
        DEFAULT_ARGO_SERVER,
        FLUX_KUSTOMIZE_GROUP,
        FLUX_SOURCE_GROUP,
        MAX_APP_DEPTH,
        AppKind,
        AppSource,
        AppSpec,
        KubeConfigRef,
        RetrySpec,
        SyncPolicy,
        dns_label,
    )
    from gitwave.engine.apps.order import flatten_apps, order_apps
    from gitwave.engine.apps.semver import pick_semver
    from gitwave.engine.diff import IgnoreDifference

_WHERE = {
    "AppSet": "broken",
    "BrokenApp": "broken",
    "parse_duration": "fields",
    "implicit_app": "implicit",
    "checkout_for": "loader",
    "load_app_set": "loader",
    "load_apps": "loader",
    "render_app": "loader",
    "ARGO_GROUP": "model",
    "DEFAULT_ARGO_SERVER": "model",
    "FLUX_KUSTOMIZE_GROUP": "model",
    "FLUX_SOURCE_GROUP": "model",
    "MAX_APP_DEPTH": "model",
    "AppKind": "model",
    "AppSource": "model",
    "AppSpec": "model",
    "KubeConfigRef": "model",
    "RetrySpec": "model",
    "SyncPolicy": "model",
    "dns_label": "model",
    "flatten_apps": "order",
    "order_apps": "order",
    "pick_semver": "semver",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name == "IgnoreDifference":
        from gitwave.engine.diff import IgnoreDifference

        return IgnoreDifference
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


__all__ = [
    "ARGO_GROUP",
    "DEFAULT_ARGO_SERVER",
    "FLUX_KUSTOMIZE_GROUP",
    "FLUX_SOURCE_GROUP",
    "MAX_APP_DEPTH",
    "AppKind",
    "AppSet",
    "AppSource",
    "AppSpec",
    "BrokenApp",
    "IgnoreDifference",
    "KubeConfigRef",
    "RetrySpec",
    "SyncPolicy",
    "checkout_for",
    "dns_label",
    "flatten_apps",
    "implicit_app",
    "load_app_set",
    "load_apps",
    "order_apps",
    "parse_duration",
    "pick_semver",
    "render_app",
]

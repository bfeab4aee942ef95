"""Promotion: move what one environment runs to the next, as a Git commit.

``gitwave promote APP --from staging --to production`` finds both
environments in the repository, copies what identifies a release from the
source's files to the target's, shows the target's manifests before and after
(two real renders), and commits the edit on a new branch (pushed when asked).
It refuses while the source environment is not Synced and Healthy: one only
promotes what was seen to work.

**Finding an environment** (the layouts Argo CD, Kargo and Kustomize users
keep; the first that matches wins):

1. an app named ``APP-ENV`` among the apps at the location (one Argo CD
   Application, or one Flux Kustomization, per environment: ``web-staging``,
   ``web-production``);
2. a directory ``APP/overlays/ENV``, ``overlays/ENV``, ``APP/envs/ENV``,
   ``envs/ENV``, ``APP/environments/ENV``, ``environments/ENV``,
   ``APP/stages/ENV`` or ``stages/ENV`` under the location (Kustomize overlays
   beside their base);
3. ENV written as a path (it holds a ``/``): that directory, relative to the
   location, inside the repository.

**What is copied**, by what the environments are:

- a Kustomize overlay (a ``kustomization.yaml``): its ``images:`` entries
  (newName, newTag, digest of each image the source names), and each
  ``--field`` (a top-level key like ``replicas``, a dotted path, or a JSON
  pointer, read in the kustomization);
- Helm values: each ``--key`` (``image.tag``) of the environment's values
  file: the last ``helm.valueFiles`` entry of its Application, else
  ``values-ENV.yaml`` or ``values.yaml`` in its directory;
- an Argo CD Application: ``spec.source.targetRevision`` (and ``--field``
  paths of the Application when its source is no overlay).

Only the operations layer's values are used: the source's status is
``operations.plan`` + ``app_health`` against the target, and the renders are
the engine's. Files are edited with ``engine.yaml_edit`` (comments and layout
kept) in a private work tree (``engine.source_write``), so the user's own work
tree is never touched, and a dry run writes nothing anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.app_status import app_health
from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError, SafetyError, ValidationError
from gitwave.engine.fieldpath import FieldPathError, Segment, parse_path, parse_pointer
from gitwave.engine.manifest_diff import manifests_diff
from gitwave.engine.model import HealthCode, Resource, SyncStatus
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source_write import Commit, FileChange, Scratch, files_diff, repo_root_of
from gitwave.engine.sync_request import SyncRequest
from gitwave.engine.yaml_edit import YamlFile, get_in, plain, set_in

__all__ = [
    "Edit",
    "Environment",
    "Promotion",
    "PromotionRefused",
    "PromotionRequest",
    "promote",
]

LAYOUT_DIRS = ("overlays", "envs", "environments", "stages")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_ENV_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?")

# Loads the apps a location (an absolute directory) defines.
AppLoader = Callable[[str], Sequence[AppSpec]]
# The targets an app is reconciled into (``Fleet.targets_for``).
TargetsOf = Callable[[AppSpec], ProviderRouter]


class PromotionRefused(SafetyError):
    """The source environment is not Synced and Healthy: nothing was written."""


@dataclass(frozen=True, slots=True)
class PromotionRequest:
    """What a user asked: ``app`` from environment ``source`` to ``target``."""

    app: str
    source: str
    target: str
    fields: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    branch: str = ""
    push_to: str = ""
    message: str = ""
    dry_run: bool = False


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


@dataclass(frozen=True, slots=True)
class Edit:
    """One value copied: in ``file``, ``field`` went from ``before`` to ``after``."""

    file: str
    field: str
    before: Any
    after: Any

    @property
    def describe(self) -> str:
        return f"{self.file}: {self.field}: {_text(self.before)} -> {_text(self.after)}"


def _text(value: Any) -> str:
    return "(unset)" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Promotion:
    """What a promotion did (or, dry or refused, would do)."""

    app: str
    source: Environment
    target: Environment
    source_sync: SyncStatus
    source_health: HealthCode
    source_revision: str
    edits: tuple[Edit, ...]
    files: tuple[FileChange, ...]
    manifest_diff: str
    commit: Commit | None = None

    @property
    def file_diff(self) -> str:
        return files_diff(self.files)


# --- finding environments ---------------------------------------------------------------


def _env_name(text: str, flag: str) -> str:
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


# --- what to copy -----------------------------------------------------------------------


def _field_path(text: str) -> tuple[Segment, ...]:
    try:
        if text.startswith("/"):
            return tuple(int(t) if t.isdigit() else t for t in parse_pointer(text))
        return parse_path(text)
    except FieldPathError as exc:
        raise ValidationError(f"field {text!r}", str(exc)) from None


def _kustomization(scratch: Scratch, directory: str) -> str:
    for name in KUSTOMIZATION_FILES:
        relative = f"{directory}/{name}" if directory not in ("", ".") else name
        if scratch.file(relative).is_file():
            return relative
    return ""


def _values_file(scratch: Scratch, env: Environment) -> str:
    helm = env.app.source.render.helm
    directory = env.directory
    if helm is not None and helm.values_files:
        return f"{directory}/{helm.values_files[-1]}"
    for name in (f"values-{env.name}.yaml", "values.yaml"):
        relative = f"{directory}/{name}"
        if "/" not in env.name and scratch.file(relative).is_file():
            return relative
    raise ValidationError(env.app.where, "no Helm values file to copy --key into")


def _application(doc_file: YamlFile, app: AppSpec) -> Any:
    for _, doc in doc_file.find(
        lambda d: (
            d.get("kind") == "Application"
            and isinstance(d.get("metadata"), dict)
            and d["metadata"].get("name") == app.name
        )
    ):
        return doc
    raise ValidationError(doc_file.where, f"no Application {app.name} in it")


class _Copier:
    """Copies values from the source's files to the target's, in a scratch tree."""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.files: dict[str, YamlFile] = {}
        self.edits: list[Edit] = []

    def open(self, relative: str) -> YamlFile:
        if relative not in self.files:
            self.files[relative] = YamlFile.parse(self.scratch.read(relative), relative)
        return self.files[relative]

    def copy(
        self, field: str, src: tuple[str, Any], dst: tuple[str, Any], path: Sequence[Segment]
    ) -> None:
        try:
            value = get_in(src[1], path)
        except KeyError:
            raise ValidationError(src[0], f"{field}: not set in the source environment") from None
        try:
            before = get_in(dst[1], path)
        except KeyError:
            before = None
        if before == value:
            return
        try:
            set_in(dst[1], path, _copied(value))
        except KeyError:
            raise ValidationError(dst[0], f"{field}: cannot be set there") from None
        self.edits.append(Edit(dst[0], field, plain(before), plain(value)))

    def write(self) -> None:
        for relative, parsed in self.files.items():
            self.scratch.write(relative, parsed.text())


def _copied(value: Any) -> Any:
    """A deep copy of a round-trip value, comments left behind (they belong to the source)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _copy_images(copier: _Copier, src_file: str, dst_file: str) -> None:
    src_doc = copier.open(src_file).docs[0]
    dst_doc = copier.open(dst_file).docs[0]
    images = src_doc.get("images") or []
    if not isinstance(images, list):
        raise ValidationError(src_file, "images: not a list")
    target = dst_doc.get("images")
    for entry in images:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        name = entry["name"]
        if target is None:
            dst_doc["images"] = target = []
        found = [i for i, e in enumerate(target) if isinstance(e, dict) and e.get("name") == name]
        if not found:
            target.append({"name": name})
            index = len(target) - 1
        else:
            index = found[0]
        for key in ("newName", "newTag", "digest"):
            if (key in entry or key in target[index]) and entry.get(key) != target[index].get(key):
                before = target[index].get(key)
                if key in entry:
                    target[index][key] = entry[key]
                else:
                    del target[index][key]
                copier.edits.append(Edit(dst_file, f"images[{name}].{key}", before, entry.get(key)))


def _plan_copies(
    copier: _Copier, request: PromotionRequest, src: Environment, dst: Environment
) -> None:
    scratch = copier.scratch
    src_k, dst_k = _kustomization(scratch, src.directory), _kustomization(scratch, dst.directory)
    if src_k and dst_k and src_k != dst_k:
        _copy_images(copier, src_k, dst_k)
        for field in request.fields:
            copier.copy(
                field,
                (src_k, copier.open(src_k).docs[0]),
                (dst_k, copier.open(dst_k).docs[0]),
                _field_path(field),
            )
    elif request.fields and not (src.definition and dst.definition):
        raise ValidationError(
            f"--field {request.fields[0]}", "the environments are no Kustomize overlays"
        )
    if request.keys:
        src_v, dst_v = _values_file(scratch, src), _values_file(scratch, dst)
        for key in request.keys:
            copier.copy(
                key,
                (src_v, copier.open(src_v).docs[0]),
                (dst_v, copier.open(dst_v).docs[0]),
                _field_path(key),
            )
    if src.definition and dst.definition:
        src_app = _application(copier.open(src.definition), src.app)
        dst_app = _application(copier.open(dst.definition), dst.app)
        where_src = (src.definition, src_app)
        where_dst = (dst.definition, dst_app)
        if src.app.source.revision != dst.app.source.revision:
            path = ("spec", "source", "targetRevision")
            copier.copy("spec.source.targetRevision", where_src, where_dst, path)
        if not (src_k and dst_k):
            for field in request.fields:
                copier.copy(field, where_src, where_dst, _field_path(field))


# --- the operation ----------------------------------------------------------------------


def source_status(app: AppSpec, targets: ProviderRouter) -> tuple[SyncStatus, HealthCode, str, str]:
    """``(sync, health, health message, revision)`` of ``app`` against ``targets``."""
    from gitwave.engine import operations  # the operations layer imports this module's peers

    state = operations.plan(app, SyncRequest(), targets=targets)
    health = app_health(state, targets=targets)
    return SyncStatus.of_plan(state.plan), health.code, health.message, state.plan.revision


def _render(app_name: str, location: Path, load: AppLoader, targets: TargetsOf) -> list[Resource]:
    for app in load(str(location)):
        if app.name == app_name:
            return list(render_for(app, targets(app)).resources)
    raise ValidationError(str(location), f"app {app_name} not found after the edit")


def _app_location(scratch: Scratch, env: Environment) -> Path:
    """Where to load the target app from in the scratch tree: the same place as in
    the user's tree."""
    return scratch.path / env.loaded_from


def promote(
    location: str,
    request: PromotionRequest,
    *,
    load: AppLoader,
    targets: TargetsOf,
) -> Promotion:
    """Promote ``request.app`` from ``request.source`` to ``request.target``.

    Raises PromotionRefused when the source is not Synced and Healthy (nothing
    written), ValidationError for environments that cannot be found or files
    that cannot be edited, SourceError when Git refuses (the push). A request
    that changes nothing returns a Promotion without edits or commit."""
    source_env = _env_name(request.source, "--from")
    target_env = _env_name(request.target, "--to")
    if source_env == target_env:
        raise ValidationError("--from/--to", "the source and target are one environment")
    where = Path(location).resolve()
    root = repo_root_of(where)
    src = find_environment(where, root, request.app, source_env, load)
    dst = find_environment(where, root, request.app, target_env, load)
    try:
        sync, health, message, revision = source_status(src.app, targets(src.app))
    except GitwaveError as exc:
        raise PromotionRefused(
            f"{src.app.name} ({source_env}) could not be checked: {exc}; {request.app} is "
            f"not promoted to {target_env}",
            hint=exc.hint,
        ) from None
    if sync is not SyncStatus.SYNCED or health is not HealthCode.HEALTHY:
        raise PromotionRefused(
            f"{src.app.name} ({source_env}) is {sync.value} and {health.value}"
            + (f": {message}" if message else "")
            + f"; {request.app} is not promoted to {target_env}",
            hint=f"`gitwave sync` and `gitwave wait` {src.app.name} first",
        )
    with Scratch(root) as scratch:
        scratch_location = _app_location(scratch, dst)
        before = _render(dst.app.name, scratch_location, load, targets)
        copier = _Copier(scratch)
        _plan_copies(copier, request, src, dst)
        copier.write()
        files = scratch.changes()
        after = _render(dst.app.name, scratch_location, load, targets) if files else before
        promotion = Promotion(
            app=request.app,
            source=src,
            target=dst,
            source_sync=sync,
            source_health=health,
            source_revision=revision,
            edits=tuple(copier.edits),
            files=files,
            manifest_diff=manifests_diff(before, after),
        )
        if request.dry_run or not files:
            return promotion
        branch = request.branch or _default_branch(scratch, request, source_env, target_env)
        commit = scratch.commit(
            branch, request.message or _message(promotion), push_to=request.push_to
        )
    return Promotion(**{**_fields(promotion), "commit": commit})


def _fields(promotion: Promotion) -> dict[str, Any]:
    return {name: getattr(promotion, name) for name in Promotion.__slots__}


def _default_branch(scratch: Scratch, request: PromotionRequest, src: str, dst: str) -> str:
    base = f"gitwave/promote-{request.app}-{_slug(src)}-to-{_slug(dst)}"
    return base if not scratch.branch_exists(base) else f"{base}-{scratch.base[:8]}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "env"


def _message(promotion: Promotion) -> str:
    lines = [
        f"promote {promotion.app}: {promotion.source.name} -> {promotion.target.name}",
        "",
        *(f"- {edit.describe}" for edit in promotion.edits),
        "",
        f"{promotion.source.app.name} was {promotion.source_sync.value} and "
        f"{promotion.source_health.value} at {promotion.source_revision or 'its revision'} "
        "when this was written (gitwave promote).",
    ]
    return "\n".join(lines) + "\n"


def refusal_of(error: GitwaveError) -> bool:
    """True for the refusal of a source that is not Synced and Healthy."""
    return isinstance(error, PromotionRefused)

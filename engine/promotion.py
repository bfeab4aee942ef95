"""Promotion: move what one environment runs to the next, as a Git commit.

``gitwave promote APP --from staging --to production`` finds both
environments in the repository, copies what identifies a release from the
source's files to the target's, shows the target's manifests before and after
(two real renders), and commits the edit on a new branch (pushed when asked).
It refuses while the source environment is not Synced and Healthy: one only
promotes what was seen to work.

Where each environment is: ``engine.promotion_envs``; what is copied (Kustomize
``images:`` and ``--field``s, Helm values ``--key``s, an Argo CD Application's
``targetRevision``): ``engine.promotion_edits``. This module is the operation:
the source's status, the two renders and their diff, the commit.

Only the operations layer's values are used: the source's status is
``operations.plan`` + ``app_health`` against the target, and the renders are
the engine's. Files are edited with ``engine.yaml_edit`` (comments and layout
kept) in a private work tree (``engine.source_write``), so the user's own work
tree is never touched, and a dry run writes nothing anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.app_status import app_health
from gitwave.engine.apps import AppSpec
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError, SafetyError, ValidationError
from gitwave.engine.manifest_diff import manifests_diff
from gitwave.engine.model import HealthCode, Resource, SyncStatus
from gitwave.engine.promotion_edits import Copier, Edit, plan_copies
from gitwave.engine.promotion_envs import AppLoader, Environment, env_name, find_environment
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source_write import Commit, FileChange, Scratch, files_diff, repo_root_of
from gitwave.engine.sync_request import SyncRequest

__all__ = [
    "Promotion",
    "PromotionRefused",
    "PromotionRequest",
    "promote",
]

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
    source_env = env_name(request.source, "--from")
    target_env = env_name(request.target, "--to")
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
        copier = Copier(scratch)
        plan_copies(copier, src, dst, fields=request.fields, keys=request.keys)
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
    return scratch.free_branch(f"gitwave/promote-{request.app}-{_slug(src)}-to-{_slug(dst)}")


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

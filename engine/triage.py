"""Drift triage: what to do with one drifted field, decided by a person.

- **revert**: sync the object back to Git (the operations layer's sync of
  that one object, recorded in the history like any sync);
- **ignore**: write an ``ignoreDifferences`` rule into Git, as a commit
  (``engine.triage_ignore``);
- **accept**: write the live value into Git, as a commit
  (``engine.triage_accept``).

Which fields there are to decide on: ``engine.triage_fields``.

Each Git change is made in a private work tree (``engine.source_write``) and
shown first: ``triage`` with ``dry_run`` returns the file diff and writes
nothing; the front ends ask before they call it again for real. A Secret's
value is never written: accept refuses Secrets. A Helm chart's objects have no
file to write a value into: accept refuses them, naming the template.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.drift import DriftedField, json_pointer
from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import MISSING_FIELD, get_field
from gitwave.engine.ignore_annotation import ANNOTATION_IGNORE
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source_write import Commit, FileChange, Scratch, files_diff, repo_root_of
from gitwave.engine.triage_accept import write_accept
from gitwave.engine.triage_ignore import write_ignore

__all__ = [
    "Decision",
    "Triage",
    "TriageRequest",
    "git_change",
]


class Decision(enum.Enum):
    """What to do with a drifted field."""

    REVERT = "revert"
    IGNORE = "ignore"
    ACCEPT = "accept"

    @property
    def writes_git(self) -> bool:
        """True for the decisions that become a commit (ignore, accept)."""
        return self is not Decision.REVERT


@dataclass(frozen=True, slots=True)
class TriageRequest:
    """One decision on one field; ``branch``/``push_to``/``message`` for the commit."""

    decision: Decision
    field: DriftedField
    branch: str = ""
    push_to: str = ""
    message: str = ""
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Triage:
    """A Git change triage made (or, dry, would make)."""

    app: str
    decision: Decision
    field: DriftedField
    files: tuple[FileChange, ...]
    commit: Commit | None = None

    @property
    def file_diff(self) -> str:
        return files_diff(self.files)


def git_change(state: AppState, request: TriageRequest, *, targets: ProviderRouter) -> Triage:
    """Write an ignore rule or the live value into Git for ``request.field``
    (see the module docstring): returns the file diff, and the commit unless
    ``dry_run``. Raises ValidationError for what cannot be written (a Helm
    object's value, a file that cannot be edited without reformatting it),
    SafetyError for a Secret's value, SourceError when Git refuses."""
    if not request.decision.writes_git:
        raise ValueError("revert is a sync (operations.sync_app), not a Git change")
    app, drifted = state.app, request.field
    root = _local_root(app)
    with Scratch(root) as scratch:
        if request.decision is Decision.IGNORE:
            write_ignore(scratch, state, drifted)
        else:
            write_accept(scratch, state, drifted)
        files = scratch.changes()
        _check_render(scratch, state, request, targets)
        if request.dry_run:
            return Triage(app.name, request.decision, drifted, files)
        branch = request.branch or _default_branch(scratch, app, request.decision, drifted)
        message = request.message or _message(app, request.decision, drifted)
        commit = scratch.commit(branch, message, push_to=request.push_to)
    return Triage(app.name, request.decision, drifted, files, commit)


def _check_render(
    scratch: Scratch, state: AppState, request: TriageRequest, targets: ProviderRouter
) -> None:
    """Render the app from the edited files and make sure the edit does what it
    says: an accepted value is what Git renders now, an ignored field's rule is
    there. A transformer that overrides the edit (a kustomization's ``images:``
    or ``replicas:`` applied after patches) is found here, before any commit."""
    app = state.app
    if request.decision is Decision.IGNORE and app.kind is AppKind.ARGO:
        return  # the rule is in the Application, not in what it renders
    source = dataclasses.replace(app.source, fetch_from=str(scratch.path), fetch_revision=None)
    rendered = render_for(dataclasses.replace(app, source=source), targets)
    drifted = request.field
    found = next((r for r in rendered.resources if r.key == drifted.key), None)
    if request.decision is Decision.ACCEPT:
        path: str | tuple[str, ...] = drifted.path
        want = drifted.live
    else:
        path = ("metadata", "annotations", ANNOTATION_IGNORE)
        want = None
    try:
        got = get_field(found.manifest, path) if found is not None else MISSING_FIELD
    except (KeyError, IndexError, TypeError):
        got = MISSING_FIELD
    ok = got == want if want is not None else got is not MISSING_FIELD
    if not ok:
        raise ValidationError(
            f"{drifted.key.display} {drifted.path}",
            f"gitwave's edit would not change what {app.name} renders "
            f"(a kustomization transformer or a later patch sets the field): nothing written",
            hint="change the file that sets it by hand",
        )


def _local_root(app: AppSpec) -> Path:
    fetched = app.source.fetch_from
    if not fetched or "://" in fetched or fetched.startswith("git@"):
        raise ValidationError(
            app.where, "its manifests come from a remote repository; triage edits a local clone"
        )
    return repo_root_of(Path(fetched))


def _default_branch(
    scratch: Scratch, app: AppSpec, decision: Decision, drifted: DriftedField
) -> str:
    key = drifted.key
    return scratch.free_branch(
        f"gitwave/drift-{decision.value}-{app.name}-{key.kind.lower()}-{key.name}"
    )


def _message(app: AppSpec, decision: Decision, drifted: DriftedField) -> str:
    managers = ", ".join(drifted.managers) or "an unknown manager"
    if decision is Decision.IGNORE:
        head = f"{app.name}: ignore drift of {drifted.key.display} {drifted.path}"
        body = (
            f"The field is changed live by {managers}; gitwave stops reporting and healing it "
            f"(ignoreDifferences {json_pointer(drifted.path)})."
        )
    else:
        head = f"{app.name}: accept live {drifted.key.display} {drifted.path}"
        body = f"Git now says what runs: {drifted.desired} -> {drifted.live} (set by {managers})."
    return (
        f"{head}\n\n{body}\n\nWritten by gitwave drift --{decision.value}; YAML edited with "
        "ruamel.yaml round-trip so comments and layout are kept.\n"
    )

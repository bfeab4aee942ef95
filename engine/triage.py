"""Drift triage: what to do with one drifted field, decided by a person.

- **revert**: sync the object back to Git (the operations layer's sync of
  that one object, recorded in the history like any sync);
- **ignore**: write an ``ignoreDifferences`` rule into Git, as a commit: into
  the Argo CD Application's ``spec.ignoreDifferences`` (a rule for the object
  gets the pointer added), else as the object's
  ``gitwave.dev/ignore-differences`` annotation (``engine.ignore_annotation``);
- **accept**: write the live value into Git, as a commit: into the object's
  own document when the app renders a plain directory, or, when the object
  comes out of Kustomize (a base the overlay may not own), as a JSON 6902
  patch in the app's ``kustomization.yaml`` (``op: add`` sets the value
  whether or not the base sets it).

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
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppKind, AppSpec
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.drift import DriftedField, drifted_fields, json_pointer
from gitwave.engine.errors import SafetyError, ValidationError
from gitwave.engine.fieldpath import MISSING_FIELD, get_field, parse_diff_path
from gitwave.engine.ignore_annotation import ANNOTATION_IGNORE
from gitwave.engine.model import ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source_write import Commit, FileChange, Scratch, files_diff, repo_root_of
from gitwave.engine.yaml_edit import YamlFile, plain, set_in
from gitwave.engine.yamlio import dump

__all__ = [
    "Decision",
    "Triage",
    "TriageRequest",
    "choose_field",
    "drift_of",
    "git_change",
]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


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


def drift_of(state: AppState) -> tuple[DriftedField, ...]:
    """The drifted fields of an app's plan that triage can decide on (fields of
    objects that exist live; a missing object is for a sync)."""
    return tuple(f for f in drifted_fields(state.plan) if f.path)


def choose_field(
    drifted: tuple[DriftedField, ...], *, resource: str = "", path: str = ""
) -> DriftedField:
    """The one drifted field ``resource`` (``Kind/name``, ``Kind/ns/name``,
    case-insensitive kind) and ``path`` pick; ValidationError listing the
    candidates when none or several match."""
    found = [f for f in drifted if _names(f.key, resource) and (not path or f.path == path)]
    if len(found) == 1:
        return found[0]
    listed = "; ".join(f"{f.key.display} {f.path}" for f in (found or drifted)) or "none"
    raise ValidationError(
        "drift",
        ("no drifted field matches" if not found else f"{len(found)} drifted fields match")
        + f" (drifted: {listed})",
        hint="pick one with --resource KIND/NAME and --field PATH",
    )


def _names(key: ResourceKey, text: str) -> bool:
    if not text:
        return True
    parts = text.split("/")
    kind = parts[0].split(".")[0].lower()
    if kind != key.kind.lower():
        return False
    if len(parts) == 2:
        return parts[1] == key.name
    if len(parts) == 3:
        return parts[1] == key.namespace and parts[2] == key.name
    return False


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
            _write_ignore(scratch, state, drifted)
        else:
            _write_accept(scratch, state, drifted)
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


def _pointer(drifted: DriftedField) -> str:
    return json_pointer(drifted.path)


def _kustomization(scratch: Scratch, directory: str) -> str:
    for name in KUSTOMIZATION_FILES:
        relative = f"{directory}/{name}" if directory not in ("", ".") else name
        if scratch.file(relative).is_file():
            return relative
    return ""


def _write_ignore(scratch: Scratch, state: AppState, drifted: DriftedField) -> None:
    app, key, pointer = state.app, drifted.key, _pointer(drifted)
    if app.kind is AppKind.ARGO and app.origin is not None:
        parsed = YamlFile.parse(scratch.read(app.origin.file), app.origin.file)
        doc = _document(parsed, "Application", app.name, "")
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            raise ValidationError(app.where, "spec: not a mapping")
        rules = spec.get("ignoreDifferences")
        if rules is None:
            spec["ignoreDifferences"] = rules = CommentedSeq()
        for rule in rules:
            if isinstance(rule, dict) and _rule_is_for(rule, key):
                pointers = rule.setdefault("jsonPointers", CommentedSeq())
                if pointer not in pointers:
                    pointers.append(pointer)
                break
        else:
            rule = CommentedMap(group=key.group, kind=key.kind, name=key.name)
            if key.namespace:
                rule["namespace"] = key.namespace
            rule["jsonPointers"] = [pointer]
            rules.append(rule)
        scratch.write(app.origin.file, parsed.text())
        return
    resource = state.graph.resources.get(key)
    current = resource.annotations.get(ANNOTATION_IGNORE, "") if resource else ""
    listed = [p.strip() for p in current.split(",") if p.strip()]
    value = ",".join(dict.fromkeys([*listed, pointer]))
    path = ("metadata", "annotations", ANNOTATION_IGNORE)
    _write_value(
        scratch, state, key, path, value, f"/metadata/annotations/{_escape(ANNOTATION_IGNORE)}"
    )


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _rule_is_for(rule: Any, key: ResourceKey) -> bool:
    return (
        (rule.get("group") or "") == key.group
        and rule.get("kind") == key.kind
        and (rule.get("name") or "") == key.name
        and (rule.get("namespace") or "") in ("", key.namespace)
    )


def _write_accept(scratch: Scratch, state: AppState, drifted: DriftedField) -> None:
    key = drifted.key
    if (key.group, key.kind) == ("", "Secret"):
        raise SafetyError(
            f"{key.display} {drifted.path}: gitwave never writes a Secret's value into Git",
            hint="seal or encrypt the new value (gitwave seal, sops) and commit it yourself",
        )
    _write_value(
        scratch, state, key, parse_diff_path(drifted.path), drifted.live, _pointer(drifted)
    )


def _write_value(
    scratch: Scratch,
    state: AppState,
    key: ResourceKey,
    path: tuple[Any, ...],
    value: Any,
    pointer: str,
) -> None:
    """Set ``path`` of object ``key`` to ``value`` in the app's files: a JSON
    6902 patch in its kustomization, else the object's own document."""
    app = state.app
    resource = state.graph.resources.get(key)
    if resource is None:
        raise ValidationError(key.display, f"not an object of {app.name}'s render")
    kustomization = _kustomization(scratch, app.source.path)
    if kustomization:
        _add_patch(scratch, kustomization, resource.api_version, key, path, pointer, value)
        return
    if app.source.render.helm is not None or resource.source is None or not resource.source.line:
        where = str(resource.source) if resource.source else app.source.path
        raise ValidationError(
            f"{key.display} ({where})",
            "comes from a template, not a document gitwave can edit",
            hint="set the value in the chart's values by hand",
        )
    relative = resource.source.file
    parsed = YamlFile.parse(scratch.read(relative), relative)
    doc = _document(parsed, key.kind, key.name, key.namespace)
    try:
        set_in(doc, path, value)
    except KeyError:
        raise ValidationError(
            f"{relative}:{parsed.line_of(doc)}", f"{key.display}: cannot set {pointer} there"
        ) from None
    scratch.write(relative, parsed.text())


def _document(parsed: YamlFile, kind: str, name: str, namespace: str) -> Any:
    def wanted(doc: Any) -> bool:
        meta = doc.get("metadata")
        return (
            doc.get("kind") == kind
            and isinstance(meta, dict)
            and meta.get("name") == name
            and (not namespace or meta.get("namespace") in (None, namespace))
        )

    for _, doc in parsed.find(wanted):
        return doc
    raise ValidationError(parsed.where, f"no {kind}/{name} document in it")


def _add_patch(
    scratch: Scratch,
    relative: str,
    api_version: str,
    key: ResourceKey,
    path: tuple[Any, ...],
    pointer: str,
    value: Any,
) -> None:
    """Write ``value`` at ``path`` of ``key`` through the overlay's kustomization:
    its ``replicas:`` entry for the replicas it sets (kustomize applies that
    transformer after every patch, so a patch would lose), else a patch."""
    parsed = YamlFile.parse(scratch.read(relative), relative)
    doc = parsed.docs[0]
    name = _base_name(key, doc)
    if tuple(path) == ("spec", "replicas"):
        for entry in doc.get("replicas") or ():
            if isinstance(entry, dict) and entry.get("name") == name:
                entry["count"] = value
                scratch.write(relative, parsed.text())
                return
    patches = doc.get("patches")
    if patches is None:
        doc["patches"] = patches = CommentedSeq()
    target = CommentedMap()
    if key.group:
        target["group"] = key.group
    target["kind"] = key.kind
    target["name"] = name
    if path[:2] == ("metadata", "annotations"):
        # A JSON patch cannot add a key to annotations the object does not have
        # yet; a strategic merge patch merges into them or makes them.
        merge: dict[str, Any] = {"apiVersion": api_version, "kind": key.kind}
        merge["metadata"] = {"name": name, "annotations": {str(path[2]): value}}
        patch_text = dump(merge)
    else:
        patch_text = dump([{"op": "add", "path": pointer, "value": plain(value)}])
    patches.append(CommentedMap(target=target, patch=LiteralScalarString(patch_text)))
    scratch.write(relative, parsed.text())


def _base_name(key: ResourceKey, kustomization: Any) -> str:
    """The name as the overlay's patches see it: before its namePrefix/nameSuffix."""
    name = key.name
    prefix, suffix = kustomization.get("namePrefix") or "", kustomization.get("nameSuffix") or ""
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name


def _default_branch(
    scratch: Scratch, app: AppSpec, decision: Decision, drifted: DriftedField
) -> str:
    base = (
        f"gitwave/drift-{decision.value}-{app.name}-{drifted.key.kind.lower()}-{drifted.key.name}"
    )
    return base if not scratch.branch_exists(base) else f"{base}-{scratch.base[:8]}"


def _message(app: AppSpec, decision: Decision, drifted: DriftedField) -> str:
    managers = ", ".join(drifted.managers) or "an unknown manager"
    if decision is Decision.IGNORE:
        head = f"{app.name}: ignore drift of {drifted.key.display} {drifted.path}"
        body = (
            f"The field is changed live by {managers}; gitwave stops reporting and healing it "
            f"(ignoreDifferences {_pointer(drifted)})."
        )
    else:
        head = f"{app.name}: accept live {drifted.key.display} {drifted.path}"
        body = f"Git now says what runs: {drifted.desired} -> {drifted.live} (set by {managers})."
    return (
        f"{head}\n\n{body}\n\nWritten by gitwave drift --{decision.value}; YAML edited with "
        "ruamel.yaml round-trip so comments and layout are kept.\n"
    )

"""Pre-flight: what the target would refuse in a plan, found before anything is applied.

A real API server refuses an object whose kind it does not serve, whose
fields do not fit the kind's schema (``replicas: three``), whose name is not
a valid name for its kind (a Secret named ``Bad_Name``) or that changes an
immutable field (the data of an ``immutable: true`` Secret). ``gitwave plan``
finds each of those here, so plan, sync, the sandbox and a real cluster agree:
the plan fails (exit code 2) naming every such object with its file and line,
and a sync refuses before applying anything, as Argo CD's dry run of every
object does. (A namespace that exists nowhere stops the plan earlier, in
``engine.plan``.)

Where a kind's rules come from, first match wins:

1. a built-in kind of Kubernetes (``kube_schema``): its OpenAPI schema;
2. a CustomResourceDefinition in the app: the version must be served, and the
   object fit that version's ``openAPIV3Schema``;
3. a target that answers ``KindCatalog``: it must serve the kind, and the
   object fit the schema of the CRD on it;
4. any other target (a cloud provider, a cluster that cannot be asked): nothing
   is checked here; the target checks when it applies.

An object with ``${…}`` references not yet bound is checked when it is applied
(its values are not known yet); Argo CD's ``SkipDryRunOnMissingResource=true``
sync option skips the kind check for an object whose CRD something else installs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from gitwave.compositions import references
from gitwave.compositions.references import ANNOTATION_REFERENCES
from gitwave.engine.app_pipeline import AppState, memo_name
from gitwave.engine.errors import ProviderError, ValidationError
from gitwave.engine.graph_facts import parse_sync_options
from gitwave.engine.kube_rules import (
    immutable_changes,
    invalid_message,
    kind_display,
    object_errors,
)
from gitwave.engine.kube_schema import (
    CrdSchema,
    FieldError,
    builtin_versions,
    crd_schema,
    crd_versions,
    is_builtin,
    split_api_version,
)
from gitwave.engine.kube_values import RULES_VERSION
from gitwave.engine.kube_versions import current_version, schema_root
from gitwave.engine.model import Action, Plan, Resource, ResourceKey
from gitwave.engine.plan_memo import memo_store
from gitwave.engine.provider import KindCatalog, ObjectAdmission, is_cloud_group
from gitwave.engine.router import ProviderRouter

SKIP_MISSING_KIND = "SkipDryRunOnMissingResource=true"
FIX_FIELDS = (
    "fix the fields named above in those files (the Kubernetes API reference lists "
    "each field of a kind)"
)
FIX_KIND = (
    "add the kind's CustomResourceDefinition to the app or install it on the target "
    "first, or fix apiVersion/kind"
)
FIX_IMMUTABLE = (
    "revert the change to the immutable field, or delete the object so the next sync "
    "creates it anew"
)
# The error lists this many objects; the rest are counted.
MAX_SHOWN = 10

CrdVersions = Mapping[str, CrdSchema | None]


@dataclass(frozen=True, slots=True)
class Problem:
    """One object the target would refuse: where it is written, and the
    target's reason. ``retriable`` when the reason may go away without a new
    commit (a CRD someone may still install)."""

    where: str
    message: str
    retriable: bool = False
    hint: str = ""
    # The refused fields, for reports that name each one (``gitwave validate``).
    errors: tuple[FieldError, ...] = ()

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class PreflightError(ValidationError):
    """The plan holds objects the target would refuse; nothing was applied."""

    def __init__(self, app: str, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        shown = "\n  ".join(str(p) for p in self.problems[:MAX_SHOWN])
        more = len(self.problems) - MAX_SHOWN
        extra = f"\n  … and {more} more" if more > 0 else ""
        count = len(self.problems)
        noun = "object" if count == 1 else "objects"
        super().__init__(
            f"app {app}",
            f"the target would refuse {count} {noun}; nothing was applied:\n  {shown}{extra}",
            hint="; ".join(dict.fromkeys(p.hint for p in self.problems if p.hint)),
        )
        self.retriable = all(p.retriable for p in self.problems)


def preflight(state: AppState, *, targets: ProviderRouter) -> None:
    """Raise PreflightError when the target would refuse any object of ``state``'s plan.

    Whether an object of a built-in kind fits its schema depends on the object,
    the Kubernetes release and its schemas only: every app keeps the digests
    (``state.digests``) of the objects that passed, and the next pre-flight,
    in any process, skips the schema check of an object with the same digest
    (a tenth of a fresh plan of 10,000 objects; for a small app, importing the
    schema library and building a validator per kind, most of a ``status``'s
    own work). What the target says (does it serve the kind, would its
    controllers take the object) is asked every time."""
    graph = state.graph
    ordered = [graph.resources[key] for key in graph.order if key in graph.resources]
    memo, name, context = memo_store(), memo_name(state.app), _schema_context()
    before = memo.load_checked(name, context) if state.digests else {}
    # Each key's text once (10,000 of them): to look up and to keep.
    named = [(k, str(k), d) for k, d in state.digests.items() if d]
    vouched = frozenset(k for k, text, d in named if before.get(text) == d)
    problems = check(ordered, state.plan, targets=targets, vouched=vouched)
    if problems:
        raise PreflightError(state.app.name, problems)
    if state.digests:
        passed = {text: d for _, text, d in named}
        memo.save_checked(name, context, passed, before=before)


def _schema_context() -> str:
    """The Kubernetes release the built-in kinds are checked against, and where
    its schemas are (another kubernetes-validate, another context), and the
    value rules' version (objects vouched for before a rule was added)."""
    return f"{current_version()} {schema_root()} {RULES_VERSION}"


def check(
    resources: Iterable[Resource],
    plan: Plan,
    *,
    targets: ProviderRouter,
    vouched: Collection[ResourceKey] = frozenset(),
) -> list[Problem]:
    """Every object of ``resources`` (and each update of ``plan``) the target would
    refuse, in the order given. ``vouched`` names objects of built-in kinds
    known to fit their schema (their schema is not checked again)."""
    items = list(resources)
    checker = _Checker(_crds_of(items), targets, vouched)
    found: dict[ResourceKey, Problem] = {}
    for resource in items:
        problem = checker.check(resource)
        if problem is not None:
            found.setdefault(resource.key, problem)
    for wave in plan.waves:
        for task in wave.tasks:
            if task.action is not Action.UPDATE or task.desired is None or task.live is None:
                continue
            errors = immutable_changes(
                task.key.group,
                task.key.kind,
                task.live.manifest,
                task.desired.manifest,
                (change.path for change in task.changes),
            )
            if errors and task.key not in found:
                message = invalid_message(
                    task.desired.api_version, task.key.kind, task.key.name, errors
                )
                found[task.key] = Problem(task.desired.where, message, hint=FIX_IMMUTABLE)
    return list(found.values())


def check_objects(
    resources: Iterable[Resource], *, targets: ProviderRouter
) -> list[tuple[Resource, Problem]]:
    """Each object of ``resources`` the target would refuse, with why (no plan needed:
    ``gitwave validate``)."""
    items = list(resources)
    checker = _Checker(_crds_of(items), targets)
    found = []
    for resource in items:
        problem = checker.check(resource)
        if problem is not None:
            found.append((resource, problem))
    return found


def _crds_of(resources: Iterable[Resource]) -> dict[tuple[str, str], CrdVersions]:
    """The kinds the app's CustomResourceDefinitions define, with their versions' schemas."""
    found: dict[tuple[str, str], CrdVersions] = {}
    for resource in resources:
        key = resource.key
        if key.group != "apiextensions.k8s.io" or key.kind != "CustomResourceDefinition":
            continue
        spec = resource.manifest.get("spec")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("names"), Mapping):
            continue  # the CRD's own schema check reports it
        group, kind = spec.get("group"), spec["names"].get("kind")
        if isinstance(group, str) and isinstance(kind, str):
            found[(group, kind)] = _compiled(resource.manifest)
    return found


def _compiled(crd: Mapping[str, Any]) -> CrdVersions:
    return {version: crd_schema(schema) for version, schema in crd_versions(crd).items()}


class _Checker:
    """One check run: what the targets said about each kind is asked once."""

    def __init__(
        self,
        app_crds: Mapping[tuple[str, str], CrdVersions],
        targets: ProviderRouter,
        vouched: Collection[ResourceKey] = frozenset(),
    ) -> None:
        self._app_crds = app_crds
        self._vouched = vouched
        self._targets = targets
        self._served: dict[tuple[str, str], bool | None] = {}
        self._target_crds: dict[tuple[str, str], CrdVersions] = {}
        self._builtin: dict[tuple[str, str], bool] = {}
        # By (apiVersion, kind): the target taking such objects, when it answers
        # ObjectAdmission (routing depends on nothing else).
        self._admitters: dict[tuple[str, str], ObjectAdmission | None] = {}

    def check(self, resource: Resource) -> Problem | None:
        if _may_reference(resource) and references(resource):
            return None
        try:
            return self._check(resource) or self._admission(resource)
        except ProviderError as exc:  # no target handles the kind
            return Problem(resource.where, exc.detail, exc.retriable, exc.hint or FIX_KIND)

    def _admission(self, resource: Resource) -> Problem | None:
        asked = (resource.api_version, resource.key.kind)
        if asked in self._admitters:
            admitter = self._admitters[asked]
        else:  # raises ProviderError for a kind no target takes, each time
            provider = self._targets.for_resource(resource)
            # A Protocol isinstance check is slow: the router answers it once per provider.
            admits = self._targets.offers(provider, ObjectAdmission)
            admitter = self._admitters[asked] = cast(ObjectAdmission, provider) if admits else None
        if admitter is None:
            return None
        refusal = admitter.refusal(resource)
        if refusal is None:
            return None
        key = resource.key
        name = (
            f"{key.kind}/{key.namespace}/{key.name}" if key.namespace else f"{key.kind}/{key.name}"
        )
        return Problem(resource.where, f"{name}: {refusal}")

    def _check(self, resource: Resource) -> Problem | None:
        key = resource.key
        api_version = resource.api_version
        group, version = split_api_version(api_version)
        schema: CrdSchema | None = None
        builtin = self._builtin.get((api_version, key.kind))
        if builtin is None:  # 10,000 objects are of a few kinds: asked once per kind
            builtin = self._builtin[(api_version, key.kind)] = is_builtin(api_version, key.kind)
        if builtin:
            # A target may still lack a built-in kind (an API group turned off).
            if self._target_serves(resource) is False:
                return _unknown(resource, [], retriable=True)
            if key in self._vouched:
                return None
        elif (group, key.kind) in self._app_crds:
            served = self._app_crds[(group, key.kind)]
            if version not in served:
                return _unknown(resource, sorted(served), retriable=False)
            schema = served[version]
        elif builtin_versions(group, key.kind):
            return _unknown(resource, sorted(builtin_versions(group, key.kind)), retriable=False)
        elif is_cloud_group(group):
            return None
        else:
            serves = self._target_serves(resource)
            if serves is None:
                return None  # a target that cannot say: it checks when it applies
            if not serves:
                if SKIP_MISSING_KIND in _sync_options(resource):
                    return None
                return _unknown(resource, [], retriable=True)
            schema = self._target_crd(resource).get(version)
        errors = object_errors(resource.manifest, crd=schema)
        if not errors:
            return None
        message = invalid_message(api_version, key.kind, key.name, errors)
        return Problem(resource.where, message, hint=FIX_FIELDS, errors=tuple(errors))

    def _target_serves(self, resource: Resource) -> bool | None:
        asked = (resource.api_version, resource.key.kind)
        if asked not in self._served:
            provider = self._targets.for_resource(resource)
            self._served[asked] = (
                cast(KindCatalog, provider).serves(*asked)
                if self._targets.offers(provider, KindCatalog)
                else None
            )
        return self._served[asked]

    def _target_crd(self, resource: Resource) -> CrdVersions:
        group_kind = (resource.key.group, resource.key.kind)
        if group_kind not in self._target_crds:
            provider = self._targets.for_resource(resource)
            crd = (
                provider.custom_resource_definition(*group_kind)
                if isinstance(provider, KindCatalog)
                else None
            )
            self._target_crds[group_kind] = _compiled(crd) if crd is not None else {}
        return self._target_crds[group_kind]


def _may_reference(resource: Resource) -> bool:
    """Whether ``resource`` has a references annotation (``references`` reads
    and checks it): most objects have none, and 10,000 are asked."""
    meta = resource.manifest.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return isinstance(annotations, dict) and bool(annotations.get(ANNOTATION_REFERENCES))


def _sync_options(resource: Resource) -> frozenset[str]:
    meta = resource.manifest.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return parse_sync_options(annotations) if isinstance(annotations, Mapping) else frozenset()


def _unknown(resource: Resource, versions: list[str], *, retriable: bool) -> Problem:
    key: ResourceKey = resource.key
    group = key.group
    kind = kind_display(resource.api_version, key.kind)
    if versions:
        served = ", ".join(f"{group}/{v}" if group else v for v in versions)
        detail = (
            f"no matches for kind {key.kind!r} in version {resource.api_version!r} "
            f"({kind} is served as {served})"
        )
    else:
        detail = (
            f"no matches for kind {key.kind!r} in version {resource.api_version!r}: "
            "no CustomResourceDefinition in the app or on the target defines it"
        )
    return Problem(resource.where, detail, retriable=retriable, hint=FIX_KIND)


__all__ = ["MAX_SHOWN", "PreflightError", "Problem", "check", "check_objects", "preflight"]

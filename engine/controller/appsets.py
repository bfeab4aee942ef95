"""An ApplicationSet in the cluster → what to do to its Application objects.

As Argo CD's ApplicationSet controller: the set's generators run (the Git-side
``apps.appset_spec``: list, clusters, git, matrix, merge; the clusters are the
Argo CD cluster Secrets of the controller's namespace and ``in-cluster``),
each element renders an Application, created in the set's namespace with an
ownerReference to the set (controller: true) and, unless
``syncPolicy.preserveResourcesOnDeletion``, the resources-finalizer, so that
deleting it deletes its objects. ``syncPolicy.applicationsSync`` limits what
happens to Applications that exist: ``sync`` (default) creates, updates and
deletes; ``create-update`` never deletes; ``create-delete`` never updates;
``create-only`` does neither.

A set whose generators fail, or with an element whose Application is
invalid, deletes nothing (a partial view); its status says why, with Argo
CD's conditions ``ErrorOccurred``, ``ParametersGenerated`` and
``ResourcesUpToDate``. Pure: the caller reads and writes the objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitwave.engine.apps.appset import element_errors
from gitwave.engine.apps.appset_spec import (
    invalid_application,
    read_set,
    render_element,
    set_elements,
    shown,
    with_finalizer,
)
from gitwave.engine.apps.argo import parse_argo
from gitwave.engine.apps.generators import RepoOpener
from gitwave.engine.apps.model import ARGO_GROUP, RepoResolver
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.controller.status import timestamp
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.fieldpath import (
    MISSING_FIELD,
    FieldPathError,
    delete_field,
    get_field,
    parse_pointer,
    set_field,
)
from gitwave.engine.model import SourceRef

SET_KIND = "ApplicationSet"
SET_API_VERSION = f"{ARGO_GROUP}/v1alpha1"
# What of an existing Application the set owns (the rest is the controller's or a user's).
_OWNED_META = ("labels", "annotations", "finalizers")
# Annotations a generated Application keeps across updates, as Argo CD keeps them
# by default (a suspended app stays suspended; a refresh asked for is not lost).
_KEPT_ANNOTATIONS = (
    "argocd.argoproj.io/skip-reconcile",
    "argocd.argoproj.io/refresh",
    "notified.notifications.argoproj.io",
)


@dataclass(frozen=True)
class SetActions:
    """What one pass does for a set: Application documents to create, to
    replace (each the existing object with the set's fields over it, its
    resourceVersion kept so a concurrent write fails), names to delete, and
    the set's status to write."""

    create: tuple[dict[str, Any], ...] = ()
    update: tuple[dict[str, Any], ...] = ()
    delete: tuple[str, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)


def owned_by(app: Mapping[str, Any], set_body: Mapping[str, Any]) -> bool:
    """True when ``app`` carries an ownerReference to ``set_body`` (by uid when both have one)."""
    meta = set_body.get("metadata") or {}
    for ref in (app.get("metadata") or {}).get("ownerReferences") or []:
        if not isinstance(ref, Mapping) or ref.get("kind") != SET_KIND:
            continue
        if str(ref.get("apiVersion", "")).partition("/")[0] != ARGO_GROUP:
            continue
        if ref.get("uid") and meta.get("uid"):
            if ref.get("uid") == meta.get("uid"):
                return True
        elif ref.get("name") == meta.get("name"):
            return True
    return False


def plan_set(
    set_body: Mapping[str, Any],
    *,
    existing: Sequence[Mapping[str, Any]],
    clusters: ClusterSource,
    open_repo: RepoOpener,
    resolve: RepoResolver,
    now: datetime,
) -> SetActions:
    """The actions for ``set_body`` given the Applications ``existing`` in its
    namespace. Never raises for bad input: an error becomes the status."""
    meta = set_body.get("metadata") or {}
    namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    origin = SourceRef(f"{SET_KIND}/{namespace}/{name}", 0)
    previous = (set_body.get("status") or {}).get("conditions") or []
    try:
        spec = read_set(set_body, origin)
        elements = set_elements(spec, clusters, open_repo)
    except GitwaveError as error:
        return SetActions(status=set_status(previous, generated=False, error=str(error), now=now))
    desired: dict[str, dict[str, Any]] = {}
    failed: list[ValidationError] = []
    for element in elements:
        try:
            document = render_element(spec, element)
            document["metadata"]["namespace"] = namespace  # Argo CD: the set's namespace
            try:
                app = parse_argo(document, origin, resolve)
            except GitwaveError as err:
                raise invalid_application(spec, element, err) from None
        except ValidationError as err:
            failed.append(err)
            continue
        if app.name in desired:
            duplicate = (
                f"{spec.where}: two generated apps are named {app.name!r} "
                f"({shown(element.params)}); make spec.template.metadata.name differ per element"
            )
            return SetActions(status=set_status(previous, generated=True, error=duplicate, now=now))
        document["metadata"]["name"] = app.name
        desired[app.name] = _owned(with_finalizer(document, spec), set_body)
    by_name = {str((a.get("metadata") or {}).get("name", "")): a for a in existing}
    create: list[dict[str, Any]] = []
    update: list[dict[str, Any]] = []
    errors = [str(e) for e in (element_errors(spec.where, failed),) if e is not None]
    for app_name, document in sorted(desired.items()):
        found = by_name.get(app_name)
        if found is None:
            create.append(document)
        elif not owned_by(found, set_body):
            errors.append(
                f"Application/{namespace}/{app_name} already exists and is not owned by "
                f"{SET_KIND}/{namespace}/{name}; it is left alone"
            )
        elif spec.may_update:
            document = _ignoring(document, found, spec.ignore_differences)
            replaced = _replaced(found, _preserved(document, found, set_body))
            if replaced is not None:
                update.append(replaced)
    gone = sorted(n for n, a in by_name.items() if n not in desired and owned_by(a, set_body))
    # Nothing is deleted on a partial view: a bad element may be an app that still exists.
    delete = tuple(gone) if spec.may_delete and not failed else ()
    status = set_status(previous, generated=True, error="\n".join(errors), now=now)
    status["resources"] = [_resource(by_name.get(n), namespace, n) for n in sorted(desired)]
    return SetActions(tuple(create), tuple(update), delete, status)


def _owned(document: dict[str, Any], set_body: Mapping[str, Any]) -> dict[str, Any]:
    meta = set_body.get("metadata") or {}
    reference: dict[str, Any] = {
        "apiVersion": SET_API_VERSION,
        "kind": SET_KIND,
        "name": str(meta.get("name", "")),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    if meta.get("uid"):
        reference["uid"] = str(meta["uid"])
    document["metadata"]["ownerReferences"] = [reference]
    return document


def _preserved(
    document: dict[str, Any], found: Mapping[str, Any], set_body: Mapping[str, Any]
) -> dict[str, Any]:
    """``document`` with the annotations and labels of ``found`` that the set's
    ``preservedFields`` (and Argo CD's defaults) keep."""
    fields = (set_body.get("spec") or {}).get("preservedFields") or {}
    kept = {
        "annotations": (*_KEPT_ANNOTATIONS, *[str(k) for k in fields.get("annotations") or []]),
        "labels": tuple(str(k) for k in fields.get("labels") or []),
    }
    current = found.get("metadata") or {}
    meta = document["metadata"]
    for part, keys in kept.items():
        have = current.get(part) or {}
        extra = {k: have[k] for k in keys if k in have}
        if extra:
            meta[part] = {**(meta.get(part) or {}), **extra}
    return document


def _ignoring(
    document: dict[str, Any],
    found: Mapping[str, Any],
    rules: Sequence[tuple[str, tuple[str, ...]]],
) -> dict[str, Any]:
    """``document`` with the fields ``spec.ignoreApplicationDifferences`` names
    (for every app, or this one by name) as they are in ``found``, as Argo CD
    leaves them: a user's change there is not undone; a field absent from
    ``found`` is left out."""
    name = str((document.get("metadata") or {}).get("name", ""))
    pointers = [p for rule_name, ps in rules if rule_name in ("", name) for p in ps]
    if not pointers:
        return document
    kept = copy.deepcopy(document)
    for pointer in pointers:
        # A pointer's tokens are strings; a list item is an index.
        path = tuple(int(t) if t.isdigit() else t for t in parse_pointer(pointer))
        if not path:
            continue
        have = get_field(found, path)
        try:
            if have is MISSING_FIELD:
                delete_field(kept, path)
            else:
                set_field(kept, path, copy.deepcopy(have), overwrite=True)
        except FieldPathError:
            continue  # the shapes differ: the set's value stands
    return kept


def _replaced(found: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, Any] | None:
    """``found`` with the set's fields of ``document`` over it; None when they match."""
    current_meta = found.get("metadata") or {}
    wanted_meta = document.get("metadata") or {}
    same = found.get("spec") == document.get("spec") and all(
        (current_meta.get(k) or None) == (wanted_meta.get(k) or None) for k in _OWNED_META
    )
    if same:
        return None
    replaced = copy.deepcopy(dict(found))
    meta = replaced.setdefault("metadata", {})
    for key in _OWNED_META:
        if wanted_meta.get(key):
            meta[key] = copy.deepcopy(wanted_meta[key])
        else:
            meta.pop(key, None)
    replaced["spec"] = copy.deepcopy(document.get("spec"))
    return replaced


def _resource(app: Mapping[str, Any] | None, namespace: str, name: str) -> dict[str, Any]:
    """One row of ``status.resources``: the generated app with its sync and health."""
    status = (app or {}).get("status") or {}
    row: dict[str, Any] = {
        "group": ARGO_GROUP,
        "version": "v1alpha1",
        "kind": "Application",
        "namespace": namespace,
        "name": name,
        "status": str((status.get("sync") or {}).get("status") or "Unknown"),
    }
    health = (status.get("health") or {}).get("status")
    if health:
        row["health"] = {"status": str(health)}
    return row


def set_status(
    previous: Sequence[Mapping[str, Any]], *, generated: bool, error: str, now: datetime
) -> dict[str, Any]:
    """``status`` with Argo CD's three conditions; ``lastTransitionTime`` kept
    from ``previous`` for a condition whose status did not change."""
    if not error:
        wanted = [
            (
                "ErrorOccurred",
                "False",
                "ApplicationSetUpToDate",
                "All applications have been generated successfully",
            ),
            (
                "ParametersGenerated",
                "True",
                "ParametersGenerated",
                "Successfully generated parameters for all Applications",
            ),
            (
                "ResourcesUpToDate",
                "True",
                "ApplicationSetUpToDate",
                "All applications have been generated successfully",
            ),
        ]
    else:
        reason = "ApplicationGenerationFromParamsError" if generated else "ErrorOccurred"
        wanted = [
            ("ErrorOccurred", "True", reason, error),
            (
                "ParametersGenerated",
                "True" if generated else "False",
                "ParametersGenerated" if generated else "ErrorOccurred",
                "Successfully generated parameters for all Applications" if generated else error,
            ),
            ("ResourcesUpToDate", "False", "ErrorOccurred", error),
        ]
    before = {str(c.get("type")): c for c in previous if isinstance(c, Mapping)}
    conditions = []
    for kind, status, reason, message in wanted:
        old = before.get(kind)
        since = (
            str(old.get("lastTransitionTime"))
            if old is not None and old.get("status") == status and old.get("lastTransitionTime")
            else timestamp(now)
        )
        conditions.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": since,
            }
        )
    return {"conditions": conditions}


__all__ = ["SET_API_VERSION", "SET_KIND", "SetActions", "owned_by", "plan_set", "set_status"]

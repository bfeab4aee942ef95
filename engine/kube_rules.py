"""What a Kubernetes API server refuses in one object, and how it says so.

Three kinds of refusal, each a list of ``FieldError`` values:

- ``object_errors``: the schema of the kind (``kube_schema``: built-in kinds,
  or a CRD's ``openAPIV3Schema``) and the rules on metadata every kind has:
  the name (an RFC 1123 subdomain for most kinds, a label for a Namespace, an
  RFC 1035 label for a Service, a path segment for RBAC kinds) and label
  keys and values;
- ``update_errors`` and ``immutable_changes``: fields that cannot change once
  set (a Deployment's selector, a Service's clusterIP, a RoleBinding's roleRef,
  the data of a Secret or ConfigMap marked ``immutable: true``), for a whole
  new object (the sandbox) or for the changed paths of a plan;
- ``invalid_message``: the API server's sentence, e.g.
  ``Deployment.apps "web" is invalid: spec.replicas: Invalid value: "three":
  must be of type integer``. A Secret's values are never in it.

The sandbox and ``gitwave plan`` (``engine.validate``) both use these rules, so
they refuse the same objects a real API server does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gitwave.engine.fieldpath import MISSING_FIELD, get_field
from gitwave.engine.kube_schema import CrdSchema, FieldError, FieldReason, builtin_errors
from gitwave.engine.kube_values import value_errors

_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LABEL_RE = re.compile(_LABEL)
_DNS1035_RE = re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME_RE = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_LABEL_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character"
)

_RBAC = "rbac.authorization.k8s.io"


def _subdomain(name: str) -> str | None:
    if len(name) > 253:
        return "must be no more than 253 characters"
    return None if _SUBDOMAIN_RE.fullmatch(name) else _SUBDOMAIN_RULE


def _label(name: str) -> str | None:
    if len(name) > 63:
        return "must be no more than 63 characters"
    return None if _LABEL_RE.fullmatch(name) else _LABEL_RULE


def _dns1035(name: str) -> str | None:
    if len(name) > 63:
        return "must be no more than 63 characters"
    return None if _DNS1035_RE.fullmatch(name) else _DNS1035_RULE


def _path_segment(name: str) -> str | None:
    if name in (".", ".."):
        return f"may not be {name!r}"
    for bad in ("/", "%"):
        if bad in name:
            return f"may not contain {bad!r}"
    return None


def _cron_job(name: str) -> str | None:
    # The Job names a CronJob makes add 11 characters to its own.
    return _subdomain(name) or ("must be no more than 52 characters" if len(name) > 52 else None)


# How the API server checks the name of each kind; every other kind, custom
# resources included, takes an RFC 1123 subdomain.
_NAME_RULES = {
    ("", "Namespace"): _label,
    ("", "Service"): _dns1035,
    ("batch", "CronJob"): _cron_job,
    (_RBAC, "Role"): _path_segment,
    (_RBAC, "ClusterRole"): _path_segment,
    (_RBAC, "RoleBinding"): _path_segment,
    (_RBAC, "ClusterRoleBinding"): _path_segment,
}


def name_problem(group: str, kind: str, name: str) -> str | None:
    """Why the API server refuses ``name`` for a ``group``/``kind`` object; None if it takes it."""
    return _NAME_RULES.get((group, kind), _subdomain)(name)


@lru_cache(maxsize=4096)  # the same few keys on every object
def _label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or _subdomain(prefix) is not None):
        return "prefix part " + _SUBDOMAIN_RULE
    if not name or len(name) > 63:
        return "name part must be non-empty and no more than 63 characters"
    return None if _QUALIFIED_NAME_RE.fullmatch(name) else _QUALIFIED_NAME_RULE


@lru_cache(maxsize=4096)
def _label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if not value or _QUALIFIED_NAME_RE.fullmatch(value) else _LABEL_VALUE_RULE


def _metadata_errors(group: str, kind: str, meta: Mapping[str, Any]) -> list[FieldError]:
    found: list[FieldError] = []
    name = meta.get("name")
    if isinstance(name, str) and name:
        problem = name_problem(group, kind, name)
        if problem:
            found.append(FieldError("metadata.name", FieldReason.INVALID, name, problem))
    elif not meta.get("generateName"):
        found.append(
            FieldError(
                "metadata.name", FieldReason.REQUIRED, detail="name or generateName is required"
            )
        )
    labels = meta.get("labels")
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            problem = _label_key_problem(str(key))
            if problem:
                found.append(FieldError("metadata.labels", FieldReason.INVALID, key, problem))
            problem = _label_value_problem(value) if isinstance(value, str) else None
            if problem:
                found.append(FieldError("metadata.labels", FieldReason.INVALID, value, problem))
    annotations = meta.get("annotations")
    if isinstance(annotations, Mapping):
        for key in annotations:
            problem = _label_key_problem(str(key))
            if problem:
                found.append(FieldError("metadata.annotations", FieldReason.INVALID, key, problem))
    return found


def object_errors(manifest: Mapping[str, Any], *, crd: CrdSchema | None = None) -> list[FieldError]:
    """What the API server refuses in ``manifest`` as a whole object: its schema
    (the built-in kind's, else ``crd``'s), its metadata and the values its kind's
    validation refuses (``kube_values``: ``replicas: -3``). Empty when it takes it."""
    group = str(manifest.get("apiVersion", "")).rpartition("/")[0]
    kind = str(manifest.get("kind", ""))
    schema_errors = builtin_errors(manifest)
    if schema_errors is None:
        schema_errors = crd.errors(manifest) if crd is not None else []
    elif not schema_errors:  # a value of the wrong type is the schema's to say
        schema_errors = value_errors(group, kind, manifest)
    meta = manifest.get("metadata")
    metadata_errors = _metadata_errors(group, kind, meta) if isinstance(meta, Mapping) else []
    # The schema says "must be of type object" for metadata that is not a map.
    return [*metadata_errors, *[e for e in schema_errors if not _shadowed(e, metadata_errors)]]


def _shadowed(error: FieldError, others: Iterable[FieldError]) -> bool:
    return any(error.path == other.path for other in others)


# --- immutable fields ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Immutable:
    """A field that cannot change once the object exists, and what the server says."""

    path: str
    reason: FieldReason = FieldReason.INVALID
    detail: str = "field is immutable"
    # A value the server allocates (a clusterIP): leaving it out is no change.
    unset_is_no_change: bool = False

    def covers(self, changed: str) -> bool:
        """True when a change at the diff path ``changed`` is a change of this field."""
        return changed == self.path or changed.startswith((f"{self.path}.", f"{self.path}["))


_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
_STATEFULSET = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)

IMMUTABLE_FIELDS: Mapping[tuple[str, str], tuple[Immutable, ...]] = {
    ("apps", "Deployment"): (Immutable("spec.selector"),),
    ("apps", "ReplicaSet"): (Immutable("spec.selector"),),
    ("apps", "DaemonSet"): (Immutable("spec.selector"),),
    ("apps", "StatefulSet"): tuple(
        Immutable(path, FieldReason.FORBIDDEN, _STATEFULSET)
        for path in (
            "spec.selector",
            "spec.serviceName",
            "spec.podManagementPolicy",
            "spec.volumeClaimTemplates",
        )
    ),
    ("batch", "Job"): (Immutable("spec.selector"), Immutable("spec.template")),
    ("", "Service"): (
        Immutable("spec.clusterIP", detail="may not change once set", unset_is_no_change=True),
    ),
    ("", "PersistentVolumeClaim"): tuple(
        Immutable(
            path,
            FieldReason.FORBIDDEN,
            "spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims",
        )
        for path in (
            "spec.accessModes",
            "spec.storageClassName",
            "spec.volumeMode",
            "spec.selector",
        )
    ),
    (_RBAC, "RoleBinding"): (Immutable("roleRef", detail="cannot change roleRef"),),
    (_RBAC, "ClusterRoleBinding"): (Immutable("roleRef", detail="cannot change roleRef"),),
    ("storage.k8s.io", "StorageClass"): tuple(
        Immutable(path, FieldReason.FORBIDDEN, "updates to " + path + " are forbidden.")
        for path in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")
    ),
}

_DATA_KINDS = frozenset({("", "Secret"), ("", "ConfigMap")})


def immutable_fields(group: str, kind: str, live: Mapping[str, Any]) -> tuple[Immutable, ...]:
    """The fields of the live object ``live`` that no update may change."""
    fields = IMMUTABLE_FIELDS.get((group, kind), ())
    if (group, kind) in _DATA_KINDS and live.get("immutable") is True:
        fields += tuple(
            Immutable(path, FieldReason.FORBIDDEN, _IMMUTABLE_WHEN_SET)
            for path in ("data", "binaryData", "immutable")
        )
    return fields


def update_errors(
    group: str, kind: str, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[FieldError]:
    """The immutable fields ``new`` (the whole object an update would store) changes in ``old``."""
    found = []
    for field in immutable_fields(group, kind, old):
        before, after = get_field(old, field.path), get_field(new, field.path)
        if before == after:
            continue
        if field.unset_is_no_change and (
            before in (MISSING_FIELD, "") or after in (MISSING_FIELD, "")
        ):
            continue
        value = None if after is MISSING_FIELD else after
        found.append(FieldError(field.path, field.reason, value, field.detail))
    return found


def immutable_changes(
    group: str,
    kind: str,
    live: Mapping[str, Any],
    desired: Mapping[str, Any],
    changed: Iterable[str],
) -> list[FieldError]:
    """The immutable fields of ``live`` that a plan's changes (diff paths such as
    ``spec.selector.matchLabels.app``) would change to what ``desired`` holds."""
    found: dict[str, FieldError] = {}
    fields = immutable_fields(group, kind, live)
    for path in changed:
        if (group, kind) == ("", "Secret") and path.startswith("stringData"):
            path = "data" + path.removeprefix("stringData")  # the server folds it into data
        for field in fields:
            if field.path in found or not field.covers(path):
                continue
            value = get_field(desired, field.path)
            if field.unset_is_no_change and value in (MISSING_FIELD, ""):
                continue
            shown = None if value is MISSING_FIELD else value
            found[field.path] = FieldError(field.path, field.reason, shown, field.detail)
    return list(found.values())


# --- the API server's sentence -------------------------------------------------------------


def kind_display(api_version: str, kind: str) -> str:
    """``Deployment.apps``, ``Secret``: a kind as the API server names it in errors."""
    group = api_version.rpartition("/")[0]
    return f"{kind}.{group}" if group else kind


def invalid_message(api_version: str, kind: str, name: str, errors: Iterable[FieldError]) -> str:
    """``Kind.group "name" is invalid: <field error>`` (several in brackets, as the
    API server joins them). A Secret's values are left out, its name is not."""
    secret = kind == "Secret" and api_version == "v1"
    texts = [e.text(reveal=not secret or e.path.startswith("metadata.")) for e in errors]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return f'{kind_display(api_version, kind)} "{name}" is invalid: {joined}'


__all__ = [
    "IMMUTABLE_FIELDS",
    "Immutable",
    "immutable_changes",
    "immutable_fields",
    "invalid_message",
    "kind_display",
    "name_problem",
    "object_errors",
    "update_errors",
]

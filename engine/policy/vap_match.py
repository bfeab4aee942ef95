"""Which objects a ValidatingAdmissionPolicy and its binding apply to.

As the API server decides it (``matchConstraints`` of the policy, then
``matchResources`` of the binding, both must match): ``resourceRules`` by API
group, version, plural resource name, operation, ``resourceNames`` and scope,
minus ``excludeResourceRules``; ``namespaceSelector`` over the labels of the
object's Namespace (a Namespace object over its own labels; other
cluster-scoped objects always match); ``objectSelector`` over the labels of
the object or of its live version. Label selectors are Kubernetes'
``matchLabels`` + ``matchExpressions`` (In, NotIn, Exists, DoesNotExist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.model import Manifest


@dataclass(frozen=True, slots=True)
class Request:
    """One admission request as gitwave makes it (it is the only user)."""

    group: str
    version: str
    kind: str
    resource: str
    namespace: str
    name: str
    operation: str  # CREATE or UPDATE
    cluster_scoped: bool
    # userInfo.extra: facts gitwave knows of the object (where a Secret came from).
    extra: Mapping[str, list[str]] = field(default_factory=dict)

    def to_cel(self) -> dict[str, Any]:
        return {
            "kind": {"group": self.group, "version": self.version, "kind": self.kind},
            "resource": {"group": self.group, "version": self.version, "resource": self.resource},
            "requestKind": {"group": self.group, "version": self.version, "kind": self.kind},
            "requestResource": {
                "group": self.group,
                "version": self.version,
                "resource": self.resource,
            },
            "name": self.name,
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": {
                "username": "gitwave",
                "groups": ["system:authenticated"],
                "extra": dict(self.extra),
            },
            "dryRun": False,
        }


def guess_resource(kind: str) -> str:
    """The plural resource of a kind, as the API server's
    ``UnsafeGuessKindToResource`` makes it (``Ingress`` → ``ingresses``)."""
    lower = kind.lower()
    if lower == "endpoints":
        return lower
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """True when ``labels`` satisfy a Kubernetes label selector (absent/empty: all)."""
    if not isinstance(selector, Mapping):
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or ():
        key = expression.get("key")
        operator = expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _labels(manifest: Manifest | None) -> Mapping[str, Any]:
    meta = manifest.get("metadata") if manifest else None
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _listed(values: Any, wanted: str) -> bool:
    return isinstance(values, Sequence) and ("*" in values or wanted in values)


def _rule_matches(rule: Mapping[str, Any], request: Request) -> bool:
    resources = rule.get("resources") or []
    if not (
        _listed(rule.get("apiGroups") or [], request.group)
        and _listed(rule.get("apiVersions") or [], request.version)
        and _listed(rule.get("operations") or [], request.operation)
        and ("*" in resources or "*/*" in resources or request.resource in resources)
    ):
        return False
    names = rule.get("resourceNames") or []
    if names and request.name not in names:
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and not request.cluster_scoped:
        return False
    return not (scope == "Namespaced" and request.cluster_scoped)


def resources_match(
    match: Any,
    request: Request,
    obj: Manifest,
    old: Manifest | None,
    namespace_object: Manifest | None,
) -> bool:
    """True when ``match`` (a ``matchConstraints`` or ``matchResources``) selects the request.
    An absent ``match`` selects everything (a binding's ``matchResources``)."""
    if not isinstance(match, Mapping):
        return True
    rules = match.get("resourceRules")
    if rules is not None and not any(_rule_matches(r, request) for r in rules):
        return False
    if any(_rule_matches(r, request) for r in match.get("excludeResourceRules") or ()):
        return False
    if request.kind == "Namespace" and request.group == "":
        namespace_labels = _labels(obj)
    elif request.cluster_scoped:
        namespace_labels = None
    else:
        namespace_labels = _labels(namespace_object)
    if namespace_labels is not None and not selector_matches(
        match.get("namespaceSelector"), namespace_labels
    ):
        return False
    selector = match.get("objectSelector")
    return selector_matches(selector, _labels(obj)) or (
        old is not None and selector_matches(selector, _labels(old))
    )


__all__ = ["Request", "guess_resource", "resources_match", "selector_matches"]

"""The kinds the sandbox API server serves: the built-in ones and those CRDs register.

A real API server answers "no matches for kind" for a kind nobody registered;
the sandbox does the same so a missing CRD is caught before a real cluster
would catch it. Scope of built-in kinds comes from ``gitwave.engine.scope``;
the scope of a custom resource comes from its CRD's ``spec.scope``.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitwave.engine.api import is_cluster_scoped, scope_error
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey

if TYPE_CHECKING:
    from .store import Store

# Built-in kinds by API group. Argo CD Applications, Crossplane and every other
# CRD-defined kind are deliberately absent: they need their CRD applied first.
BUILTIN_KINDS: Mapping[str, frozenset[str]] = {
    "": frozenset(
        {
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        }
    ),
    "apps": frozenset(
        {"ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"}
    ),
    "batch": frozenset({"CronJob", "Job"}),
    "autoscaling": frozenset({"HorizontalPodAutoscaler"}),
    "policy": frozenset({"PodDisruptionBudget"}),
    "networking.k8s.io": frozenset(
        {"Ingress", "IngressClass", "IPAddress", "NetworkPolicy", "ServiceCIDR"}
    ),
    "rbac.authorization.k8s.io": frozenset(
        {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    ),
    "storage.k8s.io": frozenset(
        {
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
            "VolumeAttributesClass",
        }
    ),
    "apiextensions.k8s.io": frozenset({"CustomResourceDefinition"}),
    "apiregistration.k8s.io": frozenset({"APIService"}),
    "admissionregistration.k8s.io": frozenset(
        {
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        }
    ),
    "coordination.k8s.io": frozenset({"Lease"}),
    "scheduling.k8s.io": frozenset({"PriorityClass"}),
    "discovery.k8s.io": frozenset({"EndpointSlice"}),
    "node.k8s.io": frozenset({"RuntimeClass"}),
    "certificates.k8s.io": frozenset({"CertificateSigningRequest"}),
    "events.k8s.io": frozenset({"Event"}),
    "flowcontrol.apiserver.k8s.io": frozenset({"FlowSchema", "PriorityLevelConfiguration"}),
    # The sandbox plays the sealed-secrets controller (``sealed``), CRD included.
    "bitnami.com": frozenset({"SealedSecret"}),
    # It plays Argo Rollouts' controller too (``controllers.rollouts``).
    "argoproj.io": frozenset({"Rollout", "AnalysisTemplate", "AnalysisRun"}),
}

# The versions of the built-in kinds of projects the sandbox plays the
# controller of (Kubernetes' schemas do not define them).
PLAYED_VERSIONS: Mapping[str, frozenset[str]] = {
    "bitnami.com": frozenset({"v1alpha1"}),
    "argoproj.io": frozenset({"v1alpha1"}),
}

CRD_GROUP = "apiextensions.k8s.io"
CRD_KIND = "CustomResourceDefinition"


class Scope(enum.Enum):
    NAMESPACED = "Namespaced"
    CLUSTER = "Cluster"

    @property
    def is_namespaced(self) -> bool:
        return self is Scope.NAMESPACED


@dataclass(frozen=True, slots=True)
class ServedKind:
    """A kind the server accepts: its scope and, for CRDs, the versions served."""

    group: str
    kind: str
    scope: Scope
    versions: frozenset[str] = frozenset()  # empty: any version (built-in kinds)
    crd: str = ""  # the CRD that registered it; "" for built-in kinds

    def serves(self, api_version: str) -> bool:
        return not self.versions or api_version.rpartition("/")[2] in self.versions


def builtin_kind(group: str, kind: str) -> ServedKind | None:
    """The built-in kind ``group``/``kind``, or None when it is not built in."""
    if kind not in BUILTIN_KINDS.get(group, frozenset()):
        return None
    scope = Scope.CLUSTER if is_cluster_scoped(group, kind) else Scope.NAMESPACED
    return ServedKind(group, kind, scope)


def is_crd(group: str, kind: str) -> bool:
    return group == CRD_GROUP and kind == CRD_KIND


def kind_from_crd(key: ResourceKey, crd: Mapping[str, Any]) -> ServedKind:
    """The kind a CustomResourceDefinition registers.

    Raises ProviderError for a CRD the API server would reject: a missing group
    or kind, a name other than ``<plural>.<group>``, or an unknown scope.
    """
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        raise ProviderError(key, "spec is required")
    names = spec.get("names")
    group, scope_text = spec.get("group"), spec.get("scope")
    if not isinstance(names, Mapping) or not isinstance(group, str) or not group:
        raise ProviderError(key, "spec.group and spec.names are required")
    kind, plural = names.get("kind"), names.get("plural")
    if not isinstance(kind, str) or not kind or not isinstance(plural, str) or not plural:
        raise ProviderError(key, "spec.names.kind and spec.names.plural are required")
    if key.name != f"{plural}.{group}":
        raise ProviderError(
            key, f"metadata.name must be spec.names.plural + '.' + spec.group ({plural}.{group})"
        )
    try:
        scope = Scope(scope_text)
    except ValueError:
        raise ProviderError(
            key, f"spec.scope must be Namespaced or Cluster, not {scope_text!r}"
        ) from None
    versions = frozenset(
        str(v["name"])
        for v in spec.get("versions") or []
        if isinstance(v, Mapping) and v.get("name") and v.get("served", True)
    )
    if not versions:
        raise ProviderError(key, "spec.versions must list at least one served version")
    return ServedKind(group, kind, scope, versions, crd=key.name)


def unknown_kind_error(key: ResourceKey, api_version: str) -> ProviderError:
    return with_hint(
        ProviderError(key, f"no kind {key.kind!r} is registered for apiVersion {api_version!r}"),
        "apply the CustomResourceDefinition that defines this kind first "
        "(put it in an earlier sync wave), or fix apiVersion/kind",
    )


def with_hint(error: ProviderError, hint: str) -> ProviderError:
    error.hint = hint
    return error


def served_kind(store: Store, key: ResourceKey, api_version: str) -> ServedKind:
    """The kind ``key`` names at ``api_version``, as the API server serves it;
    ProviderError for a kind nobody registered, a namespaced object without a
    namespace or in a namespace that does not exist, and a cluster-scoped one
    with a namespace."""
    served = builtin_kind(key.group, key.kind) or store.served_kind(key.group, key.kind)
    if served is None or not served.serves(api_version):
        raise unknown_kind_error(key, api_version)
    misplaced = scope_error(key, namespaced=served.scope.is_namespaced)
    if misplaced is not None:
        raise misplaced
    if key.namespace and not store.exists(ResourceKey("", "Namespace", "", key.namespace)):
        raise with_hint(
            ProviderError(key, f"namespace {key.namespace!r} does not exist"),
            f"add a Namespace {key.namespace!r} to the repository (gitwave applies "
            "it before what is in it) or create it in the sandbox first",
        )
    return served


class KindTable:
    """The store's table of the kinds CRDs registered (``Store`` mixes it in)."""

    _db: sqlite3.Connection

    def served_kind(self, group: str, kind: str) -> ServedKind | None:
        found = self._db.execute(
            "SELECT scope, versions, crd FROM kinds WHERE grp = ? AND kind = ?", (group, kind)
        ).fetchone()
        if found is None:
            return None
        scope, versions, crd = found
        return ServedKind(group, kind, Scope(scope), frozenset(json.loads(versions)), crd)

    def served_kinds(self) -> list[ServedKind]:
        """Every kind a CRD registered."""
        rows = self._db.execute("SELECT grp, kind, scope, versions, crd FROM kinds").fetchall()
        return [
            ServedKind(group, kind, Scope(scope), frozenset(json.loads(versions)), crd)
            for group, kind, scope, versions, crd in rows
        ]

    def register_kind(self, served: ServedKind) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO kinds (grp, kind, scope, versions, crd) VALUES (?,?,?,?,?)",
            (
                served.group,
                served.kind,
                served.scope.value,
                json.dumps(sorted(served.versions)),
                served.crd,
            ),
        )

    def unregister_crd(self, crd: str) -> list[tuple[str, str]]:
        """Forget the kinds ``crd`` registered; returns their (group, kind)."""
        rows = self._db.execute("SELECT grp, kind FROM kinds WHERE crd = ?", (crd,)).fetchall()
        self._db.execute("DELETE FROM kinds WHERE crd = ?", (crd,))
        return [(str(g), str(k)) for g, k in rows]

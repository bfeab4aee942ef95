"""The kind order: which kinds of object are applied first when nothing else decides.

The table is Helm's and Flux's install order (``releaseutil.InstallOrder``,
``ssa/sort.go``): namespaces and policies first, then the objects workloads
consume, then the workloads, then what routes traffic to them. Kinds the table
does not know (custom resources, cloud resources) come last.

A kind only counts as known in its own API group: a Knative ``Service``
(``serving.knative.dev``) is an unknown kind, not a core Service.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_CORE = ("",)
_APPS = ("apps", "extensions")
_RBAC = ("rbac.authorization.k8s.io",)
_NETWORKING = ("networking.k8s.io", "extensions")
_POLICY = ("policy", "extensions")

# (kind, the API groups it lives in), in install order.
KIND_ORDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Namespace", _CORE),
    ("NetworkPolicy", _NETWORKING),
    ("ResourceQuota", _CORE),
    ("LimitRange", _CORE),
    ("PodSecurityPolicy", _POLICY),
    ("PodDisruptionBudget", _POLICY),
    ("ServiceAccount", _CORE),
    ("Secret", _CORE),
    ("SecretList", _CORE),
    ("ConfigMap", _CORE),
    ("StorageClass", ("storage.k8s.io",)),
    ("PersistentVolume", _CORE),
    ("PersistentVolumeClaim", _CORE),
    ("CustomResourceDefinition", ("apiextensions.k8s.io",)),
    ("ClusterRole", _RBAC),
    ("ClusterRoleList", _RBAC),
    ("ClusterRoleBinding", _RBAC),
    ("ClusterRoleBindingList", _RBAC),
    ("Role", _RBAC),
    ("RoleList", _RBAC),
    ("RoleBinding", _RBAC),
    ("RoleBindingList", _RBAC),
    ("Service", _CORE),
    ("DaemonSet", _APPS),
    ("Pod", _CORE),
    ("ReplicationController", _CORE),
    ("ReplicaSet", _APPS),
    ("Deployment", _APPS),
    ("HorizontalPodAutoscaler", ("autoscaling",)),
    ("StatefulSet", _APPS),
    ("Job", ("batch",)),
    ("CronJob", ("batch",)),
    ("IngressClass", ("networking.k8s.io",)),
    ("Ingress", _NETWORKING),
    ("APIService", ("apiregistration.k8s.io",)),
)

UNKNOWN_KIND_RANK = len(KIND_ORDER)

_RANK: Mapping[tuple[str, str], int] = MappingProxyType(
    {(group, kind): rank for rank, (kind, groups) in enumerate(KIND_ORDER) for group in groups}
)


def kind_rank(group: str, kind: str) -> int:
    """The position of ``kind`` in the install order; ``UNKNOWN_KIND_RANK`` for
    kinds the table does not know (they are applied after every known kind)."""
    return _RANK.get((group, kind), UNKNOWN_KIND_RANK)

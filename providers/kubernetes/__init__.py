"""The Kubernetes provider: server-side apply into a real cluster, read through a
list+watch cache. See ``provider`` and docs/kubernetes.md."""

from gitwave.providers.kubernetes.config import (
    KubeconfigError,
    context_names,
    context_namespace,
    context_servers,
    kubeconfig_paths,
)
from gitwave.providers.kubernetes.provider import FIELD_MANAGER, KubernetesProvider

__all__ = [
    "FIELD_MANAGER",
    "KubeconfigError",
    "KubernetesProvider",
    "context_names",
    "context_namespace",
    "context_servers",
    "kubeconfig_paths",
]

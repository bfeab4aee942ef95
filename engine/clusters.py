"""Clusters an app can be sent to: the values the cluster registry holds.

A ``Cluster`` is what Argo CD calls a cluster (a cluster Secret's ``name``,
``server``, ``namespaces`` and labels) and what a kubeconfig calls a context.
It carries no credentials: those stay with the registry that made it, so a
``Cluster`` can be printed, logged and shown in the TUI as it is.

The registry (destinations) and the ApplicationSet ``clusters`` generator both
speak in these values; ``ClusterSource`` is what the generator reads.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

# Argo CD's names for "the cluster gitwave itself runs against": the current target.
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"


class ClusterKind(enum.Enum):
    """Where a cluster's connection comes from."""

    SANDBOX = "sandbox"  # a named sandbox cluster in the state directory
    KUBECONFIG = "kubeconfig"  # a kubeconfig context
    ARGOCD_SECRET = "argocd-secret"  # an Argo CD cluster Secret, read as-is
    CURRENT = "current"  # the target the command runs against (in-cluster)


@dataclass(frozen=True)
class Cluster:
    """One destination cluster, as a person reads it (no credentials).

    ``labels``/``annotations`` are sorted pairs (a frozen value must hash);
    ``namespaces`` empty means every namespace (Argo CD's cluster Secret
    ``namespaces`` field); ``origin`` says where it was defined (``registry``,
    ``kubeconfig context X``, ``file:line`` of a Secret).
    """

    name: str
    server: str
    kind: ClusterKind
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    namespaces: tuple[str, ...] = ()
    cluster_resources: bool = True
    project: str = ""
    origin: str = ""

    @property
    def label_map(self) -> Mapping[str, str]:
        """``labels`` as a mapping (for selectors and templates)."""
        return dict(self.labels)

    @property
    def annotation_map(self) -> Mapping[str, str]:
        """``annotations`` as a mapping (for templates)."""
        return dict(self.annotations)


def pairs(mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """``mapping`` as the sorted pairs ``Cluster`` keeps."""
    return tuple(sorted((str(k), str(v)) for k, v in (mapping or {}).items()))


class ClusterSource(Protocol):
    """Every cluster the registry knows, the current target included (as
    ``in-cluster``), in a stable order."""

    def clusters(self) -> Sequence[Cluster]:
        """The known clusters."""
        ...

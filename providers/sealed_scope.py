"""kubeseal's scopes (``--scope strict|namespace-wide|cluster-wide``), apart from
the sealing itself: the command line lists them without importing cryptography."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

GROUP = "bitnami.com"
KIND = "SealedSecret"
CLUSTER_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/namespace-wide"


class SealError(Exception):
    """A Secret cannot be sealed, or a SealedSecret cannot be opened; the message
    never holds a secret value."""


class SealingScope(enum.StrEnum):
    """Where a sealed value may be opened (kubeseal's ``--scope``)."""

    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"

    def label(self, namespace: str, name: str) -> bytes:
        """The RSA-OAEP label that binds a value to this scope."""
        if self is SealingScope.CLUSTER_WIDE:
            return b""
        if self is SealingScope.NAMESPACE_WIDE:
            return namespace.encode()
        return f"{namespace}/{name}".encode()

    @staticmethod
    def of(annotations: Mapping[str, Any]) -> SealingScope:
        """The scope the annotations declare (strict when none does)."""
        if annotations.get(CLUSTER_WIDE_ANNOTATION) == "true":
            return SealingScope.CLUSTER_WIDE
        if annotations.get(NAMESPACE_WIDE_ANNOTATION) == "true":
            return SealingScope.NAMESPACE_WIDE
        return SealingScope.STRICT

    def annotate(self, annotations: Mapping[str, Any]) -> dict[str, Any]:
        """``annotations`` with the scope annotations set for this scope only."""
        updated = {
            k: v
            for k, v in annotations.items()
            if k not in (CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION)
        }
        if self is SealingScope.NAMESPACE_WIDE:
            updated[NAMESPACE_WIDE_ANNOTATION] = "true"
        elif self is SealingScope.CLUSTER_WIDE:
            updated[CLUSTER_WIDE_ANNOTATION] = "true"
        return updated


__all__ = ["CLUSTER_WIDE_ANNOTATION", "NAMESPACE_WIDE_ANNOTATION", "SealingScope"]

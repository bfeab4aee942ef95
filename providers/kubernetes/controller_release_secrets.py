"""Helm's release Secrets (``helm_storage.ReleaseSecrets``) over the official client.

The Secret's ``data.release`` holds Helm's encoded release text (base64 of
gzip), which the API carries base64-encoded once more, as any Secret's data.
Never logged: an error names the Secret, not its content.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitwave.engine.api import RELEASE_TYPE


class ReleaseSecretsMixin:
    """``list_release_secrets``, ``put_release_secret``, ``delete_release_secret``
    for a class holding ``self._core`` (a ``CoreV1Api``)."""

    _core: Any

    def list_release_secrets(self, namespace: str, release: str) -> list[tuple[str, str]]:
        found = self._core.list_namespaced_secret(
            namespace, label_selector=f"owner=helm,name={release}"
        )
        rows = []
        for item in found.items:
            if item.type != RELEASE_TYPE:
                continue
            text = (item.data or {}).get("release")
            if text:
                rows.append((str(item.metadata.name), base64.b64decode(text).decode()))
        return rows

    def put_release_secret(
        self, namespace: str, name: str, *, labels: Mapping[str, str], release: str
    ) -> None:
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=dict(labels)),
            type=RELEASE_TYPE,
            data={"release": base64.b64encode(release.encode()).decode()},
        )
        try:
            self._core.create_namespaced_secret(namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise
            self._core.replace_namespaced_secret(name, namespace, body)

    def delete_release_secret(self, namespace: str, name: str) -> None:
        try:
            self._core.delete_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise


__all__ = ["ReleaseSecretsMixin"]

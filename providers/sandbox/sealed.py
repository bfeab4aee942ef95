"""The sandbox's sealed-secrets controller: it opens ``bitnami.com/v1alpha1``
SealedSecrets with the sandbox's own key pair (``sealed-secrets.key`` and
``.crt`` in the state directory, 0600, made on first use) and writes the
Secret each one holds, owned by it, as the real controller does.

``gitwave seal`` seals with the certificate; ``kubeseal --cert`` with the
same certificate works too. A SealedSecret the key cannot open (sealed for
another name, namespace, scope or certificate) gets ``Synced=False`` with the
reason, and the plan's pre-flight refuses it before anything is applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.model import Manifest, Resource
from gitwave.providers.sealed_scope import GROUP, KIND

from .controllers.base import rfc3339

if TYPE_CHECKING:
    from gitwave.providers.sealed_secrets import KeyPair

MANAGED_ANNOTATION = "sealedsecrets.bitnami.com/managed"


def is_sealed_secret(group: str, kind: str) -> bool:
    return group == GROUP and kind == KIND


class SealedSecretController:
    """Opens SealedSecrets with the key pair in ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir

    @property
    def keys(self) -> KeyPair:
        # cryptography (0.1-0.3 s to import) only once a SealedSecret is met.
        from gitwave.providers.sealed_secrets import KeyPair

        return KeyPair.in_dir(self._state_dir)

    def open(self, sealed: Manifest) -> Manifest:
        """The Secret ``sealed`` holds; SealError (no value in it) when it does not open."""
        from gitwave.providers.sealed_secrets import unseal

        return unseal(sealed, [self.keys.ensure().private_key()])

    def reconcile(self, sealed: Manifest, held: Manifest | None, now: float) -> Manifest | None:
        """Set ``sealed``'s status (``Synced``) and return the Secret to write for
        it, or None when it cannot be opened or ``held`` (the Secret of that name
        already there) is not its own, as the real controller refuses to."""
        from gitwave.providers.sealed_secrets import SealError

        meta = sealed["metadata"]
        generation = int(meta.get("generation") or 1)
        try:
            secret = self.open(sealed)
        except SealError as exc:
            sealed["status"] = synced_status(generation, str(exc), now)
            return None
        if held is not None and not owned_by(held, str(meta.get("uid", ""))):
            message = f'Resource "{meta["name"]}" already exists and is not managed by SealedSecret'
            sealed["status"] = synced_status(generation, message, now)
            return None
        sealed["status"] = synced_status(generation, "", now)
        return secret

    def refusal(self, resource: Resource) -> str | None:
        """Why ``resource`` (a SealedSecret) cannot be opened here, or None."""
        if not is_sealed_secret(resource.key.group, resource.key.kind):
            return None
        from gitwave.providers.sealed_secrets import SealError

        try:
            self.open(resource.manifest)
        except SealError as exc:
            return (
                f"the sandbox's sealed-secrets controller cannot unseal it: {exc}; "
                "seal it again for this name and namespace with `gitwave seal` "
                "(or `kubeseal --cert` with `gitwave seal --fetch-cert`)"
            )
        return None


def synced_status(generation: int, error: str, now: float) -> dict[str, Any]:
    """The controller's status: ``Synced`` True, or False with the reason."""
    stamp = rfc3339(now)
    condition: dict[str, Any] = {
        "type": "Synced",
        "status": "False" if error else "True",
        "lastTransitionTime": stamp,
        "lastUpdateTime": stamp,
    }
    if error:
        condition.update(reason="ErrUnsealFailed", message=error)
    return {"observedGeneration": generation, "conditions": [condition]}


def owned_by(secret: Manifest, uid: str) -> bool:
    """True when ``secret`` is the SealedSecret's (owned, or annotated managed)."""
    meta = secret.get("metadata") or {}
    if (meta.get("annotations") or {}).get(MANAGED_ANNOTATION) == "true":
        return True
    return any(ref.get("uid") == uid for ref in meta.get("ownerReferences") or [])


__all__ = ["SealedSecretController", "is_sealed_secret", "owned_by", "synced_status"]

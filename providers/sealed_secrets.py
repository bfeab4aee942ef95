"""Sealed Secrets (``bitnami.com/v1alpha1`` SealedSecret), in kubeseal's format.

What kubeseal v0.40 and the sealed-secrets controller agree on, written with
``cryptography``:

- every value of a Secret is sealed on its own: a fresh 32-byte AES session
  key seals the value with AES-256-GCM under an all-zero nonce (the key is
  used once), and RSA-OAEP (SHA-256) seals the session key to the
  controller's certificate, with the *label* below as OAEP label. The bytes
  are ``len(rsa ciphertext) as 2 bytes big-endian || rsa ciphertext || aes
  ciphertext``, base64 (standard alphabet) in ``spec.encryptedData``;
- the label binds a value to where it may be opened: ``namespace/name``
  (strict, the default), ``namespace`` (the annotation
  ``sealedsecrets.bitnami.com/namespace-wide: "true"``) or nothing
  (``sealedsecrets.bitnami.com/cluster-wide: "true"``). The scope is read from
  the SealedSecret's own annotations when it is opened, so moving it to
  another name or namespace makes RSA-OAEP refuse to open it;
- ``spec.template`` carries the Secret's metadata, type and ``immutable``;
  the Secret the controller writes takes them, with the SealedSecret's name
  and namespace and an owner reference back to it.

The sandbox plays the controller with a key pair of its own (``KeyPair``);
``gitwave seal`` seals for any certificate, the sandbox's by default.
The format is here; the key pair is in ``sealed_keys`` and kubeseal's output
in ``kubeseal_output``. They must agree byte for byte and are tested against
kubeseal as one, through this module (it re-exports them).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitwave.providers.kubeseal_output import kubeseal_json, kubeseal_yaml
from gitwave.providers.sealed_keys import CERT_FILE, KEY_FILE, KeyPair, public_key_of_cert
from gitwave.providers.sealed_scope import GROUP, KIND, SealError, SealingScope

API_VERSION = "bitnami.com/v1alpha1"
SKIP_OWNER_ANNOTATION = "sealedsecrets.bitnami.com/skip-set-owner-references"
LAST_APPLIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)
_SESSION_KEY_BYTES = 32
_ZERO_NONCE = bytes(12)
_OAEP_HASH = hashes.SHA256()
# spec.template.data may hold Go templates; only ``{{ .key }}`` is understood here.
_TEMPLATE_REF = re.compile(r"\{\{-?\s*\.([A-Za-z0-9_.-]+)\s*-?\}\}")


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """kubeseal's HybridEncrypt: RSA-OAEP session key, then AES-GCM under a zero nonce."""
    session_key = os.urandom(_SESSION_KEY_BYTES)
    sealed_key = public_key.encrypt(
        session_key, padding.OAEP(mgf=padding.MGF1(_OAEP_HASH), algorithm=_OAEP_HASH, label=label)
    )
    body = AESGCM(session_key).encrypt(_ZERO_NONCE, plaintext, None)
    return len(sealed_key).to_bytes(2, "big") + sealed_key + body


def hybrid_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes:
    """The controller's HybridDecrypt; SealError when the key or the label is not the one."""
    if len(ciphertext) < 2:
        raise SealError("the sealed value is too short")
    size = int.from_bytes(ciphertext[:2], "big")
    if len(ciphertext) < size + 2:
        raise SealError("the sealed value is too short")
    try:
        session_key = private_key.decrypt(
            ciphertext[2 : size + 2],
            padding.OAEP(mgf=padding.MGF1(_OAEP_HASH), algorithm=_OAEP_HASH, label=label),
        )
        return AESGCM(session_key).decrypt(_ZERO_NONCE, ciphertext[size + 2 :], None)
    except (ValueError, InvalidTag):
        raise SealError("no key could decrypt it") from None


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return dict(meta) if isinstance(meta, Mapping) else {}


def _secret_values(secret: Mapping[str, Any]) -> dict[str, bytes]:
    values: dict[str, bytes] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, value in data.items():
            try:
                values[str(key)] = base64.b64decode(str(value or ""), validate=True)
            except binascii.Error:
                raise SealError(f"data.{key} is not valid base64") from None
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        for key, value in string_data.items():
            values[str(key)] = str(value if value is not None else "").encode()
    return values


def seal_secret(
    secret: Mapping[str, Any],
    public_key: rsa.RSAPublicKey,
    *,
    scope: SealingScope | None = None,
    default_namespace: str = "default",
) -> dict[str, Any]:
    """The SealedSecret kubeseal makes of ``secret`` (a v1 Secret manifest).

    ``scope`` None keeps the scope the Secret's annotations declare (strict by
    default), as kubeseal does without ``--scope``. Raises SealError for input
    kubeseal refuses (not a Secret, no name, no data)."""
    if secret.get("kind") != "Secret" or secret.get("apiVersion") != "v1":
        raise SealError("the input is not a v1 Secret")
    meta = _meta(secret)
    name = str(meta.get("name") or "")
    if not name:
        raise SealError("missing metadata.name in input Secret")
    values = _secret_values(secret)
    if not values:
        raise SealError("the Secret has no data or stringData: there is nothing to seal")
    annotations = dict(meta.get("annotations") or {})
    if scope is not None and scope is not SealingScope.STRICT:
        annotations = scope.annotate(annotations)
    effective = SealingScope.of(annotations)
    namespace = str(meta.get("namespace") or "")
    if effective is not SealingScope.CLUSTER_WIDE and not namespace:
        namespace = default_namespace
    for field in LAST_APPLIED:
        annotations.pop(field, None)
    template_meta: dict[str, Any] = {"name": name}
    if namespace:
        template_meta["namespace"] = namespace
    if meta.get("labels"):
        template_meta["labels"] = dict(meta["labels"])
    if annotations:
        template_meta["annotations"] = annotations
    template: dict[str, Any] = {"metadata": template_meta}
    if secret.get("type"):
        template["type"] = secret["type"]
    if secret.get("immutable") is not None:
        template["immutable"] = bool(secret["immutable"])
    label = effective.label(namespace, name)
    encrypted = {
        key: base64.b64encode(hybrid_encrypt(public_key, value, label)).decode("ascii")
        for key, value in sorted(values.items())
    }
    sealed_meta: dict[str, Any] = {"name": name}
    if namespace:
        sealed_meta["namespace"] = namespace
    scope_annotations = effective.annotate({})
    if scope_annotations:
        sealed_meta["annotations"] = scope_annotations
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": sealed_meta,
        "spec": {"template": template, "encryptedData": encrypted},
    }


def unseal(sealed: Mapping[str, Any], private_keys: list[rsa.RSAPrivateKey]) -> dict[str, Any]:
    """The Secret the controller writes for ``sealed``: template metadata, type and
    ``immutable``, the opened values, the SealedSecret's name and namespace and
    an owner reference to it (unless the template asks for none).

    Raises SealError naming the keys that would not open (for another scope,
    name, namespace or key) and never a value."""
    meta = _meta(sealed)
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    scope = SealingScope.of(dict(meta.get("annotations") or {}))
    label = scope.label(namespace, name)
    spec = sealed.get("spec") if isinstance(sealed.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    if spec.get("data") is not None:
        raise SealError("the deprecated spec.data field is not supported; re-seal with kubeseal")
    encrypted = spec.get("encryptedData")
    if not isinstance(encrypted, Mapping):
        raise SealError("spec.encryptedData is missing")
    opened: dict[str, bytes] = {}
    failed: list[str] = []
    for key, value in sorted(encrypted.items()):
        try:
            blob = base64.b64decode(str(value), validate=True)
        except binascii.Error:
            failed.append(str(key))
            continue
        for private_key in private_keys:
            try:
                opened[str(key)] = hybrid_decrypt(private_key, blob, label)
                break
            except SealError:
                continue
        else:
            failed.append(str(key))
    if failed:
        where = {
            SealingScope.STRICT: f"name {namespace}/{name} (scope strict)",
            SealingScope.NAMESPACE_WIDE: f"namespace {namespace} (scope namespace-wide)",
            SealingScope.CLUSTER_WIDE: "any namespace (scope cluster-wide)",
        }[scope]
        raise SealError(
            f"no key could decrypt {', '.join(failed)}: sealed for another name, namespace, "
            f"scope or certificate than {where}"
        )
    template = spec.get("template") if isinstance(spec.get("template"), Mapping) else {}
    assert isinstance(template, Mapping)
    opened = _templated(opened, template.get("data"))
    secret_meta = {
        k: v
        for k, v in _meta(template).items()
        if k in ("labels", "annotations", "finalizers") and v
    }
    secret_meta.update(name=name, namespace=namespace)
    annotations = secret_meta.get("annotations") or {}
    if annotations.get(SKIP_OWNER_ANNOTATION) != "true":
        secret_meta["ownerReferences"] = [
            {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": name,
                "uid": meta.get("uid", ""),
                "controller": True,
            }
        ]
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": secret_meta,
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in opened.items()},
    }
    if template.get("type"):
        secret["type"] = template["type"]
    if template.get("immutable") is not None:
        secret["immutable"] = bool(template["immutable"])
    return secret


def _templated(opened: dict[str, bytes], data: Any) -> dict[str, bytes]:
    """Apply ``spec.template.data``: plain values and ``{{ .key }}`` references
    (the controller runs Go templates with sprig; anything beyond a reference is
    refused rather than guessed). A null value drops the key."""
    if not isinstance(data, Mapping):
        return opened
    context = {k: v.decode("utf-8", "replace") for k, v in opened.items()}
    for key, value in data.items():
        if isinstance(value, str) and key not in context:
            context[str(key)] = value
    result = dict(opened)
    for key, value in data.items():
        if value is None:
            result.pop(str(key), None)
            continue
        if str(key) in opened:
            continue  # encrypted values win, as in the controller
        text = str(value)
        rest = _TEMPLATE_REF.sub("", text)
        if "{{" in rest:
            raise SealError(
                f"spec.template.data.{key}: only {{{{ .key }}}} references are supported here"
            )

        def lookup(match: re.Match[str], key: object = key) -> str:
            ref = match.group(1)
            if ref not in context:
                raise SealError(f"spec.template.data.{key}: no value {ref!r} to reference")
            return context[ref]

        result[str(key)] = _TEMPLATE_REF.sub(lookup, text).encode()
    return result


__all__ = [
    "API_VERSION",
    "CERT_FILE",
    "GROUP",
    "KEY_FILE",
    "KIND",
    "KeyPair",
    "SealError",
    "SealingScope",
    "hybrid_decrypt",
    "hybrid_encrypt",
    "kubeseal_json",
    "kubeseal_yaml",
    "public_key_of_cert",
    "seal_secret",
    "unseal",
]

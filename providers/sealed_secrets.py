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
One module (about 480 lines): the format, the key pair and kubeseal's output
must agree byte for byte, and are tested against kubeseal as one.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from gitwave.providers.sealed_scope import GROUP, KIND, SealingScope

API_VERSION = "bitnami.com/v1alpha1"
SKIP_OWNER_ANNOTATION = "sealedsecrets.bitnami.com/skip-set-owner-references"
LAST_APPLIED = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)
KEY_FILE = "sealed-secrets.key"
CERT_FILE = "sealed-secrets.crt"
KEY_BITS = 4096  # the controller's default --key-size
CERT_CN = "sealed-secret"
CERT_VALID = datetime.timedelta(days=3650)  # the controller's default --key-ttl
_SESSION_KEY_BYTES = 32
_ZERO_NONCE = bytes(12)
_OAEP_HASH = hashes.SHA256()
# spec.template.data may hold Go templates; only ``{{ .key }}`` is understood here.
_TEMPLATE_REF = re.compile(r"\{\{-?\s*\.([A-Za-z0-9_.-]+)\s*-?\}\}")


class SealError(Exception):
    """A Secret cannot be sealed, or a SealedSecret cannot be opened; the message
    never holds a secret value."""


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


@dataclass(frozen=True)
class KeyPair:
    """A controller's sealing key and its self-signed certificate (PEM files)."""

    key_path: Path
    cert_path: Path

    @staticmethod
    def in_dir(state_dir: Path) -> KeyPair:
        """The key pair kept in ``state_dir`` (made when first used)."""
        return KeyPair(state_dir / KEY_FILE, state_dir / CERT_FILE)

    def ensure(self, *, now: datetime.datetime | None = None) -> KeyPair:
        """Make the key (0600) and certificate when missing; returns self."""
        if self.key_path.is_file() and self.cert_path.is_file():
            return self
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        start = now or datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_CN)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + CERT_VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        _write_private(self.key_path, key_pem)
        _write_private(self.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return self

    def private_key(self) -> rsa.RSAPrivateKey:
        """The sealing key; SealError when it is missing or not RSA."""
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise SealError(f"cannot read the sealing key {self.key_path}: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SealError(f"{self.key_path} is not an RSA key")
        return key

    def certificate_pem(self) -> str:
        """The certificate as PEM text (what ``kubeseal --fetch-cert`` prints)."""
        return self.cert_path.read_text(encoding="ascii")


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def public_key_of_cert(pem: bytes) -> rsa.RSAPublicKey:
    """The RSA key of a PEM certificate; SealError when it is not one or has expired."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SealError(f"not a PEM certificate: {exc}") from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealError("the certificate does not hold an RSA public key")
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise SealError(f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    return key


def kubeseal_json(sealed: Mapping[str, Any]) -> str:
    """``sealed`` as kubeseal prints it by default: indented JSON, one newline after."""
    return json.dumps(_go_order(sealed), indent=2) + "\n"


def kubeseal_yaml(sealed: Mapping[str, Any]) -> str:
    """``sealed`` as ``kubeseal -o yaml`` prints it: ``---`` and block YAML, keys sorted."""
    return "---\n" + yaml.dump(
        _go_order(sealed),
        Dumper=_GoYamlDumper,
        sort_keys=True,
        default_flow_style=False,
        width=1 << 30,
    )


class _GoYamlDumper(yaml.SafeDumper):
    """Quotes as Go's YAML encoder does: a string that cannot stay plain (``"true"``)
    is double-quoted, where PyYAML would single-quote it."""

    def choose_scalar_style(self) -> str:
        style = str(super().choose_scalar_style())
        return '"' if style == "'" else style


def _go_order(sealed: Mapping[str, Any]) -> dict[str, Any]:
    """Fields in the order Go's encoder writes the SealedSecret struct (maps sorted)."""

    def meta(m: Mapping[str, Any]) -> dict[str, Any]:
        order = ("name", "namespace", "labels", "annotations")
        out = {k: m[k] for k in order if k in m}
        for field in ("labels", "annotations"):
            if field in out:
                out[field] = dict(sorted(out[field].items()))
        return out

    spec = sealed.get("spec") or {}
    template = spec.get("template") or {}
    ordered_template = {"metadata": meta(template.get("metadata") or {})}
    for field in ("type", "immutable", "data"):
        if field in template:
            ordered_template[field] = template[field]
    return {
        "kind": sealed.get("kind"),
        "apiVersion": sealed.get("apiVersion"),
        "metadata": meta(sealed.get("metadata") or {}),
        "spec": {
            "template": ordered_template,
            "encryptedData": dict(sorted((spec.get("encryptedData") or {}).items())),
        },
    }


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

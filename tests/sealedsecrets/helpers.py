"""What the Sealed Secrets tests share: the CLI as a user runs it, a repo with
one SealedSecret, and the Secret as the sandbox holds it."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.model import ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from gitwave.providers.sealed_secrets import KEY_FILE, KeyPair
from gitwave.tui.cli import main

# Distinctive values: the masking checks grep every channel for them.
PASSWORD = "sealed-pw-7Qx9-distinct"
TOKEN = "sealed-token-Zr4k-distinct"
SECRET_VALUES = (PASSWORD, TOKEN)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def seed_sandbox_key(state: Path, shared: Path) -> KeyPair:
    """Copy the key pair in ``shared`` into ``state``, as a sandbox that made it
    before would hold it (a 4096-bit key takes seconds to make on a busy machine)."""
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    pair = KeyPair.in_dir(state)
    source = KeyPair.in_dir(shared)
    shutil.copyfile(source.key_path, pair.key_path)
    pair.key_path.chmod(0o600)
    shutil.copyfile(source.cert_path, pair.cert_path)
    return pair


def secret_doc(
    name: str = "db", namespace: str = "shop", annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {"team": "payments"},
    }
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "stringData": {"password": PASSWORD},
        "data": {"token": base64.b64encode(TOKEN.encode()).decode()},
    }


def write_repo(root: Path, sealed_text: str, namespace: str = "shop") -> Path:
    """A plain-YAML app: a Namespace, a ConfigMap and the sealed text."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "namespace.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    )
    (root / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": namespace},
                "data": {"mode": "on"},
            }
        )
    )
    (root / "sealed.yaml").write_text(sealed_text)
    return root


def live_secret(state: Path, namespace: str, name: str) -> dict[str, Any] | None:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(ResourceKey("", "Secret", namespace, name))
    return None if live is None else dict(live.manifest)


def live_object(state: Path, key: ResourceKey) -> dict[str, Any] | None:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(key)
    return None if live is None else dict(live.manifest)


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


__all__ = [
    "KEY_FILE",
    "PASSWORD",
    "SECRET_VALUES",
    "TOKEN",
    "decoded",
    "live_object",
    "live_secret",
    "run",
    "secret_doc",
    "seed_sandbox_key",
    "write_repo",
]

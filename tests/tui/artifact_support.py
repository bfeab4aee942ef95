"""What the ArtifactGenerator and source TLS CLI tests share: the manifests a
source serves, the fleet repository that names the source, and reading back
what the sandbox holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.tui.cli_support import commit, run

NAMESPACE = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"

# The Kustomization every generator test applies: artifact "shop" into namespace shop.
SHOP_KUSTOMIZATION = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: shop, namespace: apps}
spec:
  interval: 10m
  prune: true
  targetNamespace: shop
  path: ./
  sourceRef: {kind: ExternalArtifact, name: shop}
"""


def oci_generator(copy_from: str = "@oci/deploy/**") -> str:
    """An ArtifactGenerator copying ``copy_from`` of the OCIRepository ``manifests``
    into the artifact ``shop``, then SHOP_KUSTOMIZATION."""
    return f"""\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: compose, namespace: apps}}
spec:
  sources:
    - {{alias: oci, kind: OCIRepository, name: manifests}}
  artifacts:
    - name: shop
      copy:
        - {{from: "{copy_from}", to: "@artifact/"}}
---
{SHOP_KUSTOMIZATION}"""


def configmap(name: str, data: dict[str, str]) -> bytes:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    return json.dumps(doc).encode()


def shop_manifests(web: dict[str, str]) -> dict[str, bytes]:
    """The files an artifact serves: the shop Namespace and ConfigMap web holding ``web``."""
    return {"deploy/ns.yaml": NAMESPACE, "deploy/web.yaml": configmap("web", web)}


def commit_fleet(tmp_path: Path, text: str, name: str = "flux.yaml") -> Path:
    """The fleet repository (tmp_path/fleet, branch main) with ``text`` as ``name``."""
    root = tmp_path / "fleet"
    root.mkdir(exist_ok=True)
    (root / name).write_text(text)
    commit(root, initial_branch="main")
    return root


def live_data(capsys: pytest.CaptureFixture[str], name: str) -> dict[str, Any]:
    """The data of ConfigMap ``name`` in namespace shop on the sandbox."""
    code, out, err = run(capsys, "sandbox", "get", f"configmap/{name}", "-n", "shop", "-o", "json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)["data"]
    return data

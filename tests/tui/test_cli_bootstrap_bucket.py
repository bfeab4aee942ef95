"""A Bucket-sourced Kustomization nested in a ``flux bootstrap`` tree, onto the sandbox.

The layout ``flux bootstrap`` users write: the root (``clusters/staging``)
applies a Kustomization ``storage`` whose path (``./storage``) holds a Bucket,
the Secret with its credentials and a Kustomization ``from-bucket`` that
renders the Bucket's files. kustomize-controller applies the Bucket and the
Kustomization, source-controller fetches the Bucket: gitwave reads both as
they nest. A real S3 API (moto in server mode on 127.0.0.1) holds the objects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import git
import pytest

from tests.tui.cli_support import run, s3_server, sandbox_state
from tests.tui.test_cli_bootstrap import everything_live, make_repo

ACCESS_KEY = "nested-access-Pq41"
SECRET_KEY = "nested-secret-Zt58-distinct"  # grepped for in every output


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"nested-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{s3_endpoint}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=name)
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "from-the-bucket"},
        "data": {"source": "s3"},
    }
    client.put_object(Bucket=name, Key="deploy/settings.yaml", Body=json.dumps(doc).encode())
    return name


STORAGE = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: storage, namespace: flux-system}
spec:
  interval: 10m
  path: ./storage
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
"""

BUCKET = """\
apiVersion: v1
kind: Secret
metadata: {{name: {secret}, namespace: flux-system}}
stringData: {{accesskey: {access}, secretkey: {secret_key}}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {{name: store, namespace: flux-system}}
spec:
  interval: 5m
  provider: generic
  bucketName: {bucket}
  endpoint: "{endpoint}"
  insecure: true
  secretRef: {{name: s3-creds}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: from-bucket, namespace: flux-system}}
spec:
  interval: 10m
  path: ./deploy
  prune: true
  targetNamespace: flux-system
  sourceRef: {{kind: Bucket, name: store}}
"""


def fleet(tmp_path: Path, endpoint: str, bucket: str, *, secret: str = "s3-creds") -> Path:
    root = make_repo(tmp_path / "fleet")
    (root / "clusters" / "staging" / "storage.yaml").write_text(STORAGE)
    (root / "storage").mkdir()
    (root / "storage" / "bucket.yaml").write_text(
        BUCKET.format(
            secret=secret,
            access=ACCESS_KEY,
            secret_key=SECRET_KEY,
            bucket=bucket,
            endpoint=endpoint,
        )
    )
    repo = git.Repo(root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("a Bucket in the tree", author=author, committer=author)
    repo.close()
    return root


def names(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(item["kind"], item["metadata"]["name"]) for item in items}


def test_a_kustomization_on_a_bucket_nested_in_the_tree_is_synced(
    tmp_path: Path, s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fleet(tmp_path, s3_endpoint, bucket)
    code, out, err = run(capsys, "sync", str(root / "clusters" / "staging"))
    assert code == 0, out + err
    assert SECRET_KEY not in out + err
    finished = [line.split(" -> ")[0] for line in out.splitlines() if " -> sandbox: " in line]
    assert "from-bucket" in finished
    assert finished.index("storage") < finished.index("from-bucket")

    items = everything_live(capsys)
    cm = next(i for i in items if i["metadata"]["name"] == "from-the-bucket")
    assert cm["metadata"]["namespace"] == "flux-system"
    assert cm["data"] == {"source": "s3"}
    # The Bucket and the Kustomization are read as a source and an app, as
    # source-controller and kustomize-controller would; the Secret is applied.
    live = names(items)
    assert ("Secret", "s3-creds") in live
    assert not {k for k in live if k[0] in ("Bucket", "Kustomization")}

    code, out, err = run(capsys, "status", str(root / "clusters" / "staging"), "-o", "json")
    assert code == 0, err
    rows = {row.get("app", row.get("name")): row for row in json.loads(out)}
    assert rows["from-bucket"]["sync"] == "Synced", rows["from-bucket"]


def test_a_nested_bucket_that_cannot_be_read_names_it_and_nothing_is_applied(
    tmp_path: Path, s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fleet(tmp_path, s3_endpoint, bucket, secret="other-creds")
    code, out, err = run(capsys, "sync", str(root / "clusters" / "staging"))
    assert code != 0
    assert "storage/bucket.yaml:17 (Kustomization/from-bucket)" in err
    assert "its Bucket cannot be read" in err
    assert "Bucket/flux-system/store" in err
    assert "spec.secretRef: Secret flux-system/s3-creds is not defined in this directory" in err
    assert SECRET_KEY not in out + err
    assert "from-the-bucket" not in {item["metadata"]["name"] for item in everything_live(capsys)}

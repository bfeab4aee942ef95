"""A Flux Bucket as an ArtifactGenerator's source, onto the sandbox.

A real S3 API (moto in server mode on 127.0.0.1, plain HTTP, so the Bucket
says ``insecure: true``) holds the objects, put there with boto3 as any S3
client would; the Bucket's credentials come from a Secret beside it. An
object key that leaves its prefix and a secretRef naming no Secret are
refused naming the Bucket, and nothing is pruned.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.tui.artifact_support import (
    NAMESPACE,
    SHOP_KUSTOMIZATION,
    commit_fleet,
    configmap,
    live_data,
)
from tests.tui.cli_support import commit, run, s3_server, sandbox_state

ACCESS_KEY = "bucket-access-Hk27"
SECRET_KEY = "bucket-secret-Wq83-distinct"  # grepped for in every output


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"http://{endpoint}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"manifests-{uuid.uuid4().hex[:12]}"
    s3(s3_endpoint).create_bucket(Bucket=name)
    return name


def put(endpoint: str, bucket: str, objects: dict[str, bytes]) -> None:
    client = s3(endpoint)
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


FLUX = """\
apiVersion: v1
kind: Secret
metadata: {{name: {secret}, namespace: apps}}
stringData: {{accesskey: {access}, secretkey: {secret_key}}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {{name: store, namespace: apps}}
spec:
  interval: 5m
  provider: generic
  bucketName: {bucket}
  endpoint: "{endpoint}"
  insecure: true
  prefix: manifests/
  ignore: |
    # documentation is not applied
    *.md
  secretRef: {{name: s3-creds}}
---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: compose, namespace: apps}}
spec:
  sources:
    - {{alias: store, kind: Bucket, name: store}}
  artifacts:
    - name: shop
      copy:
        - from: "@store/manifests/**"
          to: "@artifact/"
          exclude: ["manifests/direct/**"]  # the Kustomization "direct" reads those
---
"""


def fleet(tmp_path: Path, endpoint: str, bucket: str, *, secret: str = "s3-creds") -> Path:
    text = FLUX.format(
        secret=secret,
        access=ACCESS_KEY,
        secret_key=SECRET_KEY,
        bucket=bucket,
        endpoint=endpoint,
    )
    return commit_fleet(tmp_path, text + SHOP_KUSTOMIZATION)


def test_sync_applies_the_objects_of_the_bucket(
    tmp_path: Path, s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(
        s3_endpoint,
        bucket,
        {
            "manifests/ns.yaml": NAMESPACE,
            "manifests/web/web.yaml": configmap("web", {"version": "1"}),
            "manifests/README.md": b"not YAML: ignored by spec.ignore",
            "other/skipped.yaml": configmap("skipped", {"outside": "prefix"}),
        },
    )
    root = fleet(tmp_path, s3_endpoint, bucket)

    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live_data(capsys, "web") == {"version": "1"}
    code, out, err = run(capsys, "sandbox", "get", "configmap/skipped", "-n", "shop")
    assert code != 0  # outside spec.prefix: never fetched
    assert SECRET_KEY not in out + err

    # A changed object (a new ETag) is what the next sync applies.
    put(s3_endpoint, bucket, {"manifests/web/web.yaml": configmap("web", {"version": "2"})})
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live_data(capsys, "web") == {"version": "2"}
    assert SECRET_KEY not in out + err


def test_a_key_escaping_the_prefix_is_refused_and_nothing_is_pruned(
    tmp_path: Path, s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(
        s3_endpoint,
        bucket,
        {"manifests/ns.yaml": NAMESPACE, "manifests/web.yaml": configmap("web", {"v": "1"})},
    )
    root = fleet(tmp_path, s3_endpoint, bucket)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err

    put(s3_endpoint, bucket, {"manifests/../../escape.yaml": configmap("evil", {"v": "x"})})
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code != 0
    assert "ArtifactGenerator/apps/compose" in err
    assert "Bucket/apps/store" in err
    assert f"http://{s3_endpoint}" in err
    assert "'manifests/../../escape.yaml' is not a relative path inside 'manifests/'" in err
    assert SECRET_KEY not in out + err
    assert live_data(capsys, "web") == {"v": "1"}  # nothing pruned
    assert not list(tmp_path.rglob("escape.yaml"))


def test_a_secret_ref_naming_no_secret_is_refused(
    tmp_path: Path, s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(s3_endpoint, bucket, {"manifests/ns.yaml": NAMESPACE})
    root = fleet(tmp_path, s3_endpoint, bucket, secret="other-creds")
    code, out, err = run(capsys, "plan", str(root))
    assert code == 2, out + err
    assert "ArtifactGenerator/apps/compose" in err
    assert "Bucket/apps/store" in err
    assert f"endpoint http://{s3_endpoint}" in err
    assert "spec.secretRef: Secret apps/s3-creds is not defined in this directory" in err
    assert SECRET_KEY not in out + err


KUSTOMIZATION_ON_BUCKET = """\
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: direct, namespace: apps}
spec:
  interval: 10m
  prune: true
  targetNamespace: shop
  path: ./manifests/direct
  sourceRef: {kind: Bucket, name: store}
  dependsOn: [{name: shop}]  # its Namespace
"""


def test_a_kustomization_renders_from_the_bucket_it_names(
    tmp_path: Path, s3_endpoint: str, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(
        s3_endpoint,
        bucket,
        {
            "manifests/ns.yaml": NAMESPACE,
            "manifests/direct/settings.yaml": configmap("direct", {"from": "bucket"}),
        },
    )
    root = fleet(tmp_path, s3_endpoint, bucket)
    with (root / "flux.yaml").open("a") as text:
        text.write(KUSTOMIZATION_ON_BUCKET)
    commit(root)

    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live_data(capsys, "direct") == {"from": "bucket"}

"""ArtifactGenerator sources other than GitRepository, onto the sandbox.

A real OCI registry (CNCF distribution, tests/oci_registry.py) holds artifacts
pushed as ``flux push artifact`` pushes them; an OCIRepository with a semver
range names them, and an ArtifactGenerator composes one artifact from it and
from a GitRepository (a real Git repository in tmp_path). A Bucket source
that is not defined beside the generator is refused naming the generator.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oci_registry import OciRegistry
from tests.tui.artifact_support import (
    SHOP_KUSTOMIZATION,
    commit_fleet,
    configmap,
    live_data,
    shop_manifests,
)
from tests.tui.cli_support import commit, run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: manifests, namespace: apps}}
spec:
  interval: 5m
  url: oci://{host}/team/manifests
  ref: {{semver: ">=1.0.0 <2.0.0"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: config, namespace: apps}}
spec: {{interval: 1m, url: "{git}", ref: {{branch: main}}}}
---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: compose, namespace: apps}}
spec:
  sources:
    - {{alias: oci, kind: OCIRepository, name: manifests}}
    - {{alias: cfg, kind: {second_kind}, name: config}}
  artifacts:
    - name: shop
      copy:
        - {{from: "@oci/deploy/**", to: "@artifact/"}}
        - {{from: "@cfg/shop/*.yaml", to: "@artifact/config/"}}
---
"""


@pytest.fixture
def config_repo(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "settings.yaml").write_bytes(configmap("settings", {"from": "git"}))
    commit(root, initial_branch="main")
    return root


def fleet(tmp_path: Path, registry: OciRegistry, config: Path, second_kind: str) -> Path:
    text = FLUX.format(host=registry.host, git=config, second_kind=second_kind)
    return commit_fleet(tmp_path, text + SHOP_KUSTOMIZATION)


def push(registry: OciRegistry, tag: str) -> None:
    registry.push_artifact("team/manifests", tag, shop_manifests({"version": tag}))


def test_an_oci_repository_source_feeds_the_artifact(
    tmp_path: Path,
    oci_registry: OciRegistry,
    config_repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for tag in ("1.0.0", "1.1.0", "2.0.0"):
        push(oci_registry, tag)
    root = fleet(tmp_path, oci_registry, config_repo, "GitRepository")

    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config_repo))
    assert code == 0, out + err
    # The newest tag the range allows, beside the file the GitRepository gave.
    assert live_data(capsys, "web") == {"version": "1.1.0"}
    assert live_data(capsys, "settings") == {"from": "git"}

    # A newer artifact in the range is what the next sync applies.
    push(oci_registry, "1.2.0")
    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config_repo))
    assert code == 0, out + err
    assert live_data(capsys, "web") == {"version": "1.2.0"}


def test_an_unreachable_registry_names_the_oci_repository_and_prunes_nothing(
    tmp_path: Path,
    oci_registry: OciRegistry,
    config_repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push(oci_registry, "1.0.0")
    root = fleet(tmp_path, oci_registry, config_repo, "GitRepository")
    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config_repo))
    assert code == 0, out + err

    oci_registry.stop()
    code, out, err = run(
        capsys, "sync", str(root), "--prune", "--allow-local-repo", str(config_repo)
    )
    assert code != 0
    assert "ArtifactGenerator/apps/compose" in err
    assert "OCIRepository/apps/manifests" in err
    assert f"http://{oci_registry.host}/v2/team/manifests" in err
    assert live_data(capsys, "web") == {"version": "1.0.0"}  # nothing pruned


def test_a_bucket_source_must_be_defined_beside_the_generator(
    tmp_path: Path,
    oci_registry: OciRegistry,
    config_repo: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Bucket sources are read (tests/tui/test_cli_artifact_generator_bucket.py);
    # one naming no Bucket of the directory is refused naming the generator.
    push(oci_registry, "1.0.0")
    root = fleet(tmp_path, oci_registry, config_repo, "Bucket")
    code, out, err = run(capsys, "plan", str(root), "--allow-local-repo", str(config_repo))
    assert code == 2, out + err
    assert "ArtifactGenerator/apps/compose" in err
    assert "spec.sources: Bucket apps/config (@cfg) is not defined in this directory" in err

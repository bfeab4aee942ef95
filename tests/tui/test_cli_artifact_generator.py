"""Flux 2.7 ArtifactGenerator → ExternalArtifact → Kustomization, onto the sandbox.

Real Git repositories in tmp_path: a monorepo with manifests and a fleet repo
with a GitRepository for it, an ArtifactGenerator that splits and composes
artifacts, and Kustomizations whose sourceRef is an ExternalArtifact.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import git
import pytest

from gitwave.engine.apps.artifact_build import build_artifacts
from gitwave.engine.apps.artifact_generator import parse_artifact_generator
from tests.tui.cli_support import commit, run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def configmap(name: str, data: dict[str, str]) -> str:
    return json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    root = tmp_path / "monorepo"
    for rel, text in {
        "deploy/frontend/cm.yaml": configmap("frontend", {"tier": "web"}),
        "deploy/frontend/README.md": "not a manifest",
        "deploy/frontend/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
        "deploy/backend/nested/cm.yaml": configmap("backend", {"tier": "api"}),
        "envs/prod/values.yaml": "replicas: 3\nimage: {tag: '2.0'}\n",
        "envs/base/values.yaml": "replicas: 1\nimage: {repo: app, tag: '1.0'}\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    commit(root, initial_branch="main")
    return root


GENERATOR = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: mono, namespace: apps}}
spec: {{interval: 1m, url: "{url}", ref: {{branch: main}}}}
---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: split, namespace: apps}}
spec:
  sources:
    - {{alias: repo, kind: GitRepository, name: mono}}
  artifacts:
    - name: frontend
      copy:
        - {{from: "@repo/deploy/frontend/**", to: "@artifact/", exclude: ["**/*.md"]}}
    - name: backend
      copy:
        - {{from: "@repo/deploy/backend/**/*.yaml", to: "@artifact/manifests/"}}
    - name: values
      copy:
        - {{from: "@repo/envs/base/values.yaml", to: "@artifact/values.yaml"}}
        - {{from: "@repo/envs/prod/values.yaml", to: "@artifact/values.yaml", strategy: Merge}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: frontend, namespace: apps}}
spec:
  interval: 10m
  prune: true
  targetNamespace: shop
  path: ./
  sourceRef: {{kind: ExternalArtifact, name: frontend}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: backend, namespace: apps}}
spec:
  interval: 10m
  prune: true
  targetNamespace: shop
  path: ./manifests
  dependsOn: [{{name: frontend}}]
  sourceRef: {{kind: ExternalArtifact, name: backend}}
"""


def test_kustomizations_sync_the_generated_artifacts(
    tmp_path: Path, monorepo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "flux.yaml").write_text(GENERATOR.format(url=monorepo))
    commit(fleet, initial_branch="main")

    code, out, err = run(capsys, "sync", str(fleet), "--allow-local-repo", str(monorepo))

    assert code == 0, out + err
    for name, tier in (("frontend", "web"), ("backend", "api")):
        code, out, err = run(
            capsys, "sandbox", "get", f"configmap/{name}", "-n", "shop", "-o", "json"
        )
        assert code == 0, err
        live: dict[str, Any] = json.loads(out)
        assert live["data"] == {"tier": tier}


def test_a_generator_without_its_source_is_an_error_naming_it(
    tmp_path: Path, monorepo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    text = GENERATOR.format(url=monorepo).replace("name: mono}", "name: other}", 1)
    (fleet / "flux.yaml").write_text(text)
    commit(fleet, initial_branch="main")

    code, _, err = run(capsys, "sync", str(fleet), "--allow-local-repo", str(monorepo))

    assert code != 0
    assert "ArtifactGenerator/apps/split" in err
    assert "spec.sources: GitRepository apps/other (@repo) is not defined" in err
    assert "ExternalArtifact 'frontend' is not defined" in err


def test_copy_merge_exclude_and_revision(tmp_path: Path, monorepo: Path) -> None:
    doc = [d for d in __import__("yaml").safe_load_all(GENERATOR.format(url=monorepo))][1]
    generator = parse_artifact_generator(doc, "fleet/flux.yaml:6")
    sha = git.Repo(monorepo).head.commit.hexsha

    built = {
        a.name: a
        for a in build_artifacts(generator, lambda alias: (monorepo, sha), tmp_path / "store")
    }

    assert sorted(p.name for p in built["frontend"].path.rglob("*")) == ["cm.yaml", "ns.yaml"]
    assert (built["backend"].path / "manifests" / "nested" / "cm.yaml").is_file()
    values = __import__("yaml").safe_load((built["values"].path / "values.yaml").read_text())
    assert values == {"replicas": 3, "image": {"repo": "app", "tag": "2.0"}}
    assert built["values"].revision.startswith("latest@sha256:")
    again = build_artifacts(generator, lambda alias: (monorepo, sha), tmp_path / "store")
    assert [a.revision for a in again] == [
        built[n].revision for n in ("frontend", "backend", "values")
    ]


@pytest.mark.parametrize(
    ("copy", "problem"),
    [
        ('{from: "@repo/../etc/**", to: "@artifact/"}', "may not leave its root"),
        ('{from: "@nope/x", to: "@artifact/"}', "must start with @ and a source alias"),
        ('{from: "@repo/x", to: "/tmp/x"}', "must start with @artifact/"),
        ('{from: "@repo/x", to: "@artifact/", strategy: Replace}', "is not Overwrite or Merge"),
    ],
)
def test_bad_copy_operations_name_the_field(copy: str, problem: str) -> None:
    import yaml

    doc = yaml.safe_load(
        textwrap.dedent(
            f"""\
            apiVersion: source.extensions.fluxcd.io/v1beta1
            kind: ArtifactGenerator
            metadata: {{name: g, namespace: apps}}
            spec:
              sources: [{{alias: repo, kind: GitRepository, name: mono}}]
              artifacts: [{{name: a, copy: [{copy}]}}]
            """
        )
    )
    with pytest.raises(Exception, match=r"spec.artifacts\[0\].copy\[0\]") as caught:
        parse_artifact_generator(doc, "g.yaml:1")
    assert problem in str(caught.value)

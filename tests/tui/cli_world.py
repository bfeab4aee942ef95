"""A small world every verb can be run in (tests of the output contract and of
``-l``): a Git repository holding three labelled Argo CD Applications
(``web-dev``, ``web-staging``, ``web-production``: the kustomize sample, with a
bare remote), ``web-staging`` synced; and ``shop``, a Git-less app whose Argo
Rollout is paused at its first step (for the rollout verbs)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tui.cli_support import run

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

LABELS = {
    "web-dev": {"env": "dev", "tier": "web"},
    "web-staging": {"env": "staging", "tier": "web"},
    "web-production": {"env": "production", "tier": "web", "critical": "yes"},
}


@dataclass(frozen=True)
class World:
    repo: Path  # the Applications' repository (a Git work tree)
    shop: Path  # the Rollout app's directory
    root: Path  # tmp_path


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _labelled_apps(text: str) -> str:
    docs = [d for d in yaml.safe_load_all(text) if d]
    for doc in docs:
        doc["metadata"]["labels"] = LABELS[doc["metadata"]["name"]]
    return yaml.safe_dump_all(docs, sort_keys=False)


def _shop(directory: Path, image: str) -> None:
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
                "strategy": {"canary": {"steps": steps}},
            },
        },
    ]
    directory.mkdir(exist_ok=True)
    (directory / "app.yaml").write_text(yaml.safe_dump_all(docs))


def make_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    """The world, built with the real CLI; call after ``sandbox_state``."""
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0")  # pods ready at once: no waits
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLES / "kustomize", repo)
    apps = repo / "apps.yaml"
    apps.write_text(_labelled_apps(apps.read_text().replace("samples/kustomize/", "")))
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    _git(repo, "remote", "add", "origin", remote.as_uri())
    code, out, err = run(capsys, "sync", str(repo), "--app", "web-staging")
    assert code == 0, out + err

    shop = tmp_path / "shop"
    _shop(shop, "nginx:1")
    assert run(capsys, "sync", str(shop))[0] == 0
    _shop(shop, "nginx:2")  # the Rollout pauses at 25%
    code, out, err = run(capsys, "sync", str(shop))
    assert code == 0, out + err
    return World(repo=repo, shop=shop, root=tmp_path)

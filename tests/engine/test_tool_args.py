"""Values from Git never reach a tool's command line as a flag (issue 10, item 1).

An Application named ``--post-renderer=sh`` or with ``helm.releaseName:
"--post-renderer=…"`` must not make helm run a program on the host: names are
refused where they are read, and helm gets them after ``--`` or as
``--option=value`` even if a check were missed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.apps import load_apps
from gitwave.engine.errors import RenderError, ValidationError
from gitwave.engine.render import HelmOptions, RenderOptions, clear_render_cache, render
from gitwave.engine.render import helm as helm_module
from gitwave.engine.source import Checkout

CHART = Path(__file__).parent.parent / "testdata" / "render" / "chart"


def _require_helm() -> None:
    if shutil.which("helm") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the real helm: `make tools` builds helm onto PATH")
        pytest.skip("helm is not installed")


def _would_be_program(tmp_path: Path) -> tuple[Path, Path]:
    """A program that creates ``marker`` if anything ever runs it."""
    marker = tmp_path / "marker"
    program = tmp_path / "evil.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n", encoding="utf-8")
    program.chmod(0o755)
    return program, marker


def _repo_with_app(tmp_path: Path, app: dict[str, Any]) -> Path:
    top = tmp_path / "repo"
    shutil.copytree(CHART, top / "chart")
    (top / "apps").mkdir()
    (top / "apps" / "evil.yaml").write_text(yaml.safe_dump(app), encoding="utf-8")
    repo = git.Repo.init(top, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    repo.git.add("--all")
    repo.index.commit("initial")
    repo.close()
    return top


def _application(name: str, helm: dict[str, Any] | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"repoURL": ".", "path": "chart"}
    if helm is not None:
        source["helm"] = helm
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {"source": source, "destination": {"namespace": "shop"}},
    }


@pytest.mark.parametrize(
    ("name", "helm", "field"),
    [
        ("--post-renderer=sh", None, "metadata.name"),
        ("web", {"releaseName": "--post-renderer={program}"}, "spec.source.helm.releaseName"),
    ],
    ids=["app-name", "release-name"],
)
def test_a_name_shaped_like_a_flag_is_refused_naming_file_and_field(
    tmp_path: Path, name: str, helm: dict[str, Any] | None, field: str
) -> None:
    program, marker = _would_be_program(tmp_path)
    if helm is not None:
        helm = {k: v.format(program=program) for k, v in helm.items()}
    top = _repo_with_app(tmp_path, _application(name, helm))

    with pytest.raises(ValidationError) as caught:
        load_apps(str(top / "apps"), cache_dir=tmp_path / "cache")

    assert "apps/evil.yaml" in str(caught.value)
    assert field in str(caught.value)
    assert not marker.exists()


def test_a_namespace_shaped_like_a_flag_is_refused(tmp_path: Path) -> None:
    app = _application("web")
    app["spec"]["destination"]["namespace"] = "--kube-context=prod"
    top = _repo_with_app(tmp_path, app)

    with pytest.raises(ValidationError, match=r"spec\.destination\.namespace"):
        load_apps(str(top / "apps"), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("bypass_check", [False, True], ids=["checked", "check-bypassed"])
def test_helm_never_takes_a_release_name_as_a_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bypass_check: bool
) -> None:
    _require_helm()
    clear_render_cache()
    program, marker = _would_be_program(tmp_path)
    if bypass_check:
        # Even if a name slipped past validation, ``--`` keeps helm from reading it as a flag.
        monkeypatch.setattr(helm_module, "dns_problem", lambda *_a, **_k: None)
    checkout = Checkout(root=CHART.parent, revision="", dirty=False, url=str(CHART.parent))
    options = RenderOptions(helm=HelmOptions(release_name=f"--post-renderer={program}"))

    with pytest.raises(RenderError) as caught:
        render(checkout, "chart", options=options)

    assert "chart/Chart.yaml" in str(caught.value)
    assert "release name" in str(caught.value)
    assert not marker.exists()

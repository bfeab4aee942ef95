"""What gitwave bootstrap writes into the repository (pure)."""

from __future__ import annotations

import pytest
import yaml

from gitwave.engine.controller.bootstrap import check_repo_path, repository_files
from gitwave.engine.errors import ValidationError


def test_the_install_and_the_self_managing_application_go_under_path() -> None:
    files = repository_files(
        install={"kustomization.yaml": "k", "crds/a.yaml": "a"},
        repo_url="file:///srv/fleet",
        path="./clusters/prod/",
        revision="main",
    )
    assert sorted(files) == [
        "clusters/prod/gitwave-app.yaml",
        "clusters/prod/gitwave-system/crds/a.yaml",
        "clusters/prod/gitwave-system/kustomization.yaml",
        "clusters/prod/kustomization.yaml",
    ]
    app = yaml.safe_load(files["clusters/prod/gitwave-app.yaml"])
    assert app["spec"]["source"] == {
        "repoURL": "file:///srv/fleet",
        "path": "clusters/prod",
        "targetRevision": "main",
    }
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    kustomization = yaml.safe_load(files["clusters/prod/kustomization.yaml"])
    assert kustomization["resources"] == ["gitwave-system", "gitwave-app.yaml"]


@pytest.mark.parametrize("path", ["", ".", "../out", "a/../../b", "-x", "/"])
def test_a_path_outside_the_repository_is_refused(path: str) -> None:
    with pytest.raises(ValidationError):
        check_repo_path(path)

"""An app's repoURL may not name a host directory outside the given repository
unless the operator allows it (issue 10, item 3).

``repoURL: /any/host/dir`` (or ``file:///any/host/dir``) used to render that
directory: whoever can push an Application could read any directory of the
gitwave host into the target. Each test drives the CLI (or the reconcile loop)
as a user would, and asserts the host content reached no output and nothing was
applied, unless ``--allow-local-repo`` or ``GITWAVE_ALLOW_LOCAL_REPOS`` says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.errors import ValidationError
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.sandbox import SandboxProvider
from tests.tui.cli_support import run

HOST_SECRET = "HOSTSECRET-31337"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("GITWAVE_ALLOW_LOCAL_REPOS", raising=False)


def _host_dir(tmp_path: Path) -> Path:
    """A directory of the gitwave host that no app was meant to read."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "cm.yaml").write_text(
        CONFIGMAP.format(name="host-config") + f"data:\n  token: {HOST_SECRET}\n",
        encoding="utf-8",
    )
    return host


def _application(name: str, repo_url: str, path: str = ".") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "source": {"repoURL": repo_url, "path": path},
            "destination": {"namespace": "default"},
        },
    }


def _repo(tmp_path: Path, files: dict[str, Any]) -> Path:
    """A Git repository holding ``files`` (YAML values are dumped), committed."""
    top = tmp_path / "repo"
    for name, value in files.items():
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = value if isinstance(value, str) else yaml.safe_dump_all(value, sort_keys=False)
        path.write_text(text, encoding="utf-8")
    repo = git.Repo.init(top, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    repo.git.add("--all")
    repo.index.commit("initial")
    repo.close()
    return top


def _configmaps(capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-A", "-o", "json")
    assert code == 0
    return [item["metadata"]["name"] for item in json.loads(out)["items"]]


def _as_path(host: Path) -> str:
    return str(host)


def _as_file_url(host: Path) -> str:
    return host.as_uri()


@pytest.mark.parametrize("form", [_as_path, _as_file_url], ids=["path", "file-url"])
@pytest.mark.parametrize("verb", ["sync", "render", "plan", "status"])
def test_a_host_directory_as_repo_url_is_refused_naming_app_path_and_flag(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    form: Callable[[Path], str],
    verb: str,
) -> None:
    host = _host_dir(tmp_path)
    top = _repo(tmp_path, {"apps/evil.yaml": [_application("evil", form(host))]})

    code, out, err = run(capsys, verb, str(top / "apps"))

    assert code == 2, (out, err)
    assert "Application/evil (apps/evil.yaml:1)" in err
    assert str(host) in err
    assert f"--allow-local-repo {host}" in err
    assert HOST_SECRET not in out + err and "host-config" not in out + err
    assert "host-config" not in _configmaps(capsys)
    code, out, err = run(capsys, "history", "evil", "-o", "json")
    assert (code, out) == (1, "")  # nothing was ever synced for it
    assert "evil: no syncs recorded" in err


def test_a_symlink_in_the_repository_to_a_host_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _host_dir(tmp_path)
    top = _repo(tmp_path, {"apps/evil.yaml": [_application("evil", str(tmp_path / "repo/lib"))]})
    (top / "lib").symlink_to(host)

    code, out, err = run(capsys, "sync", str(top / "apps"))

    assert code == 2
    assert "Application/evil" in err and "--allow-local-repo" in err
    assert HOST_SECRET not in out + err
    assert "host-config" not in _configmaps(capsys)


def test_a_child_application_naming_a_host_directory_is_refused_before_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _host_dir(tmp_path)
    top = _repo(
        tmp_path,
        {
            "apps/parent.yaml": [_application("parent", ".", "children")],
            "children/child.yaml": [_application("child", str(host))],
        },
    )

    code, out, err = run(capsys, "sync", str(top / "apps"))

    assert code == 2
    assert "Application/child (children/child.yaml:1)" in err
    assert HOST_SECRET not in out + err
    assert "host-config" not in _configmaps(capsys)


def test_a_flux_git_repository_on_the_host_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _host_dir(tmp_path)
    flux = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "elsewhere", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": host.as_uri()},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "evil", "namespace": "flux-system"},
            "spec": {
                "interval": "1m",
                "path": "./",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "elsewhere"},
                "targetNamespace": "default",
            },
        },
    ]
    top = _repo(tmp_path, {"apps/flux.yaml": flux})

    code, out, err = run(capsys, "sync", str(top / "apps"))

    assert code == 2
    assert "Kustomization/evil" in err and str(host) in err
    assert HOST_SECRET not in out + err
    assert "host-config" not in _configmaps(capsys)


def test_run_refuses_it_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = _host_dir(tmp_path)
    top = _repo(tmp_path, {"apps/evil.yaml": [_application("evil", str(host))]})

    code, out, err = run(capsys, "run", str(top / "apps"))

    assert code == 2
    assert "Application/evil" in err and "--allow-local-repo" in err
    assert HOST_SECRET not in out + err
    assert "host-config" not in _configmaps(capsys)


def test_allow_local_repo_lets_the_operator_render_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = _host_dir(tmp_path)
    top = _repo(tmp_path, {"apps/app.yaml": [_application("shared", str(host))]})

    code, _, err = run(capsys, "sync", str(top / "apps"), "--allow-local-repo", str(host))

    assert code == 0, err
    assert "host-config" in _configmaps(capsys)


def test_the_environment_allow_list_is_read_for_every_verb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    host = _host_dir(tmp_path)
    top = _repo(tmp_path, {"apps/app.yaml": [_application("shared", str(host))]})
    monkeypatch.setenv("GITWAVE_ALLOW_LOCAL_REPOS", f"{tmp_path / 'other'}{os.pathsep}{host}")

    code, out, err = run(capsys, "plan", str(top / "apps"))

    assert code == 1, err  # changes to make: the ConfigMap
    assert "+ ConfigMap/default/host-config" in out


@pytest.mark.parametrize("how", ["options", "environment"])
def test_the_reconcile_loop_takes_the_allow_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    host = _host_dir(tmp_path)
    top = _repo(tmp_path, {"apps/app.yaml": [_application("shared", str(host))]})
    store = Store(tmp_path / "loop.db")
    sandbox = SandboxProvider(tmp_path / "sandbox", rollout_seconds=0)
    targets = ProviderRouter([sandbox])

    def reconciler(options: LoopOptions) -> Reconciler:
        return Reconciler(str(top / "apps"), targets=targets, store=store, options=options)

    with pytest.raises(ValidationError, match="Application/shared"):
        reconciler(LoopOptions()).start()

    if how == "environment":
        monkeypatch.setenv("GITWAVE_ALLOW_LOCAL_REPOS", str(host))
        options = LoopOptions()
    else:
        options = LoopOptions(allow_local_repos=(str(host),))
    loop = reconciler(options)
    loop.start()
    assert [a.name for a in loop.apps] == ["shared"]
    store.close()
    sandbox.close()


def test_a_directory_inside_the_given_repository_needs_no_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = _repo(
        tmp_path,
        {
            "apps/app.yaml": [_application("inside", str(tmp_path / "repo"), "manifests")],
            "manifests/cm.yaml": CONFIGMAP.format(name="inside-config"),
        },
    )

    code, _, err = run(capsys, "sync", str(top / "apps"))

    assert code == 0, err
    assert "inside-config" in _configmaps(capsys)

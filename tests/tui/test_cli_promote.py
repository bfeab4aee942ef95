"""``gitwave promote`` and ``gitwave drift``: real Git repositories in
tmp_path with a bare remote over file://, the sandbox as the target, the real
kustomize. Each test asserts what a user sees (output, exit code) and what
Git holds afterwards (branch, commit, message, file content)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.tui.cli_support import run, sandbox_state

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kustomize sample as its own repository (Applications web-dev,
    web-staging, web-production) with a bare remote ``origin``."""
    sandbox_state(tmp_path, monkeypatch)
    root = tmp_path / "repo"
    shutil.copytree(SAMPLES / "kustomize", root)
    apps = root / "apps.yaml"
    apps.write_text(apps.read_text().replace("samples/kustomize/", ""))
    # A comment that must survive the edit.
    kfile = root / "overlays/production/kustomization.yaml"
    kfile.write_text(kfile.read_text().replace("images:\n", "images:  # bumped by promotion\n"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(root, "remote", "add", "origin", remote.as_uri())
    return root


def promote(capsys: pytest.CaptureFixture[str], repo: Path, *flags: str) -> tuple[int, str, str]:
    """``gitwave promote web --from staging --to production --path REPO FLAGS...``."""
    argv = ["promote", "web", "--from", "staging", "--to", "production", "--path", str(repo)]
    return run(capsys, *argv, *flags)


def drift(capsys: pytest.CaptureFixture[str], repo: Path, *flags: str) -> tuple[int, str, str]:
    """``gitwave drift web-staging --path REPO FLAGS...``."""
    return run(capsys, "drift", "web-staging", "--path", str(repo), *flags)


def _sync_staging(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, _, err = run(capsys, "sync", str(root), "--app", "web-staging")
    assert code == 0, err


def test_promote_refuses_a_source_that_is_not_synced(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    code, _, err = promote(capsys, repo)
    assert code == 1
    assert "refused: web-staging (staging) is OutOfSync and Missing" in err
    assert "gitwave/" not in git(repo, "branch", "--list")


def test_promote_refuses_a_degraded_source(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    base = repo / "base/deployment.yaml"
    base.write_text(
        base.read_text().replace(
            "      labels:\n        app: web\n",
            "      labels:\n        app: web\n      annotations:\n"
            '        sandbox.gitwave.dev/fail: "true"\n',
        )
    )
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "failing pods")
    run(capsys, "sync", str(repo), "--app", "web-staging", "--timeout", "2s")
    code, _, err = promote(capsys, repo)
    assert code == 1
    assert "Degraded" in err and "refused" in err


def test_dry_run_shows_both_diffs_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    _sync_staging(capsys, repo)
    before = (git(repo, "for-each-ref"), git(repo, "status", "--porcelain"))
    code, out, err = promote(capsys, repo, "--field", "replicas", "--dry-run")
    assert code == 0, err
    assert "overlays/production/kustomization.yaml: images[nginx].newTag: 1.27 -> 1.26" in out
    assert '-    newTag: "1.27"\n+    newTag: "1.26"' in out  # the file diff, quotes kept
    # The rendered manifests: replicas changes; the image does not, since the
    # production Application pins nginx:1.27.3 in spec.source.kustomize.images.
    assert "--- Deployment/web-production/web (before)" in out
    assert "-  replicas: 4\n+  replicas: 2" in out
    assert "dry run: nothing written" in out
    assert (git(repo, "for-each-ref"), git(repo, "status", "--porcelain")) == before
    assert git(repo, "worktree", "list").count("\n") == 1


def test_promote_commits_on_a_new_branch_and_pushes(
    capsys: pytest.CaptureFixture[str], repo: Path, tmp_path: Path
) -> None:
    _sync_staging(capsys, repo)
    code, out, err = promote(capsys, repo, "--push")
    assert code == 0, err
    branch = "gitwave/promote-web-staging-to-production"
    assert f"on branch {branch}" in out and f"pushed {branch} to origin" in out
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # work tree untouched
    assert git(repo, "status", "--porcelain") == ""
    text = git(repo, "show", f"{branch}:overlays/production/kustomization.yaml")
    assert 'images:  # bumped by promotion\n  - name: nginx\n    newTag: "1.26"\n' in text
    assert "count: 4" in text  # no --field replicas: replicas stay
    message = git(repo, "log", "-1", "--format=%B", branch)
    assert message.startswith("promote web: staging -> production\n")
    assert "web-staging was Synced and Healthy" in message
    remote = tmp_path / "remote.git"
    assert git(remote, "rev-parse", branch) == git(repo, "rev-parse", branch)


def test_promote_json(capsys: pytest.CaptureFixture[str], repo: Path) -> None:
    _sync_staging(capsys, repo)
    code, out, _ = promote(capsys, repo, "--dry-run", "-o", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["source"]["sync"] == "Synced" and doc["commit"] is None
    assert doc["edits"][0]["field"] == "images[nginx].newTag"


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--branch=--upload-pack=x"], "not a valid branch name"),
        (["--branch", "a..b"], "not a valid branch name"),
        (["--push=-oops"], "no such remote"),
        (["--field", "replicas", "--to", "../../etc"], "escapes|not found"),
    ],
)
def test_bad_branches_remotes_and_paths_are_refused(
    capsys: pytest.CaptureFixture[str], repo: Path, flags: list[str], message: str
) -> None:
    _sync_staging(capsys, repo)
    code, _, err = promote(capsys, repo, *flags)
    assert code == 2
    assert any(m in err for m in message.split("|")), err
    assert "gitwave/" not in git(repo, "branch", "--list")


# --- drift --------------------------------------------------------------------------------


@pytest.fixture
def drifted(capsys: pytest.CaptureFixture[str], repo: Path) -> Path:
    """web-staging synced, then scaled to 7 by hand."""
    _sync_staging(capsys, repo)
    code, _, err = run(
        capsys, "sandbox", "scale", "deployment/web", "-n", "web-staging", "--replicas", "7"
    )
    assert code == 0, err
    return repo


def test_drift_lists_fields(capsys: pytest.CaptureFixture[str], drifted: Path) -> None:
    code, out, _ = drift(capsys, drifted)
    assert code == 1
    assert "Deployment/web-staging/web" in out and "spec.replicas" in out and "kubectl" in out
    code, out, _ = drift(capsys, drifted, "-o", "json")
    assert json.loads(out)["drift"] == [
        {
            "object": "Deployment/web-staging/web",
            "field": "spec.replicas",
            "git": 2,
            "live": 7,
            "changedBy": ["kubectl"],
        }
    ]


def test_accept_without_yes_shows_the_diff_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], drifted: Path
) -> None:
    code, out, _ = drift(capsys, drifted, "--accept")
    assert code == 1
    assert "-    count: 2\n+    count: 7" in out
    assert "not written: pass --yes" in out
    assert "gitwave/" not in git(drifted, "branch", "--list")


def test_accept_writes_the_live_value_into_the_overlay(
    capsys: pytest.CaptureFixture[str], drifted: Path
) -> None:
    code, out, err = drift(
        capsys,
        drifted,
        "--accept",
        "--yes",
        "--resource",
        "deployment/web",
        "--field",
        "spec.replicas",
    )
    assert code == 0, err
    branch = "gitwave/drift-accept-web-staging-deployment-web"
    assert f"on branch {branch}" in out
    text = git(drifted, "show", f"{branch}:overlays/staging/kustomization.yaml")
    assert "replicas:\n  - name: web\n    count: 7\n" in text
    assert "accept live Deployment/web-staging/web spec.replicas" in git(
        drifted, "log", "-1", "--format=%B", branch
    )


def test_ignore_writes_the_rule_into_the_application(
    capsys: pytest.CaptureFixture[str], drifted: Path
) -> None:
    code, out, err = drift(capsys, drifted, "--ignore", "--yes", "-o", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["written"] is True
    branch = doc["commit"]["branch"]
    text = git(drifted, "show", f"{branch}:apps.yaml")
    rule = (
        "  ignoreDifferences:\n    - group: apps\n      kind: Deployment\n"
        "      name: web\n      namespace: web-staging\n      jsonPointers:\n"
        "        - /spec/replicas\n"
    )
    assert rule in text
    # The rest of the file is byte for byte what it was, comments included.
    assert text.replace(rule, "") == (drifted / "apps.yaml").read_text()
    # Checked out, the rule holds: the plan of web-staging reports no drift.
    git(drifted, "checkout", "-q", branch)
    code, out, _ = drift(capsys, drifted)
    assert code == 0 and "no drift" in out


def test_revert_syncs_the_object_back(capsys: pytest.CaptureFixture[str], drifted: Path) -> None:
    code, out, _ = drift(capsys, drifted, "--revert")
    assert code == 1 and "not synced: pass --yes" in out
    code, out, err = drift(capsys, drifted, "--revert", "--yes")
    assert code == 0, err
    assert "Synced" in out
    code, out, _ = run(capsys, "sandbox", "get", "deployment", "-n", "web-staging", "-o", "json")
    assert '"replicas": 2' in out

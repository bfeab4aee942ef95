"""Plaintext Secrets in Git (issue 14 item 4): a Secret from a SOPS-encrypted
file (plain directory or Kustomize overlay, encrypted with the real sops) is no
plaintext Secret; the same file unencrypted warns, and with --strict is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

from gitwave.tui.cli import main
from tests.engine.test_sops import TESTDATA, encrypt_in_place, keys_dir, make_key

__all__ = ["keys_dir"]  # the fixture, imported to be used here


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.parametrize(
    ("fixture", "path", "secret_file", "value"),
    [
        ("plain", ".", "secret.yaml", "hunter2-plaintext-yaml"),
        ("kustomize", "overlay", "overlay/secret.yaml", "hunter2-plaintext-overlay"),
    ],
)
def test_encrypted_secrets_pass_plaintext_ones_warn(
    tmp_path: Path,
    keys_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
    path: str,
    secret_file: str,
    value: str,
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(TESTDATA / fixture, root)
    if fixture == "plain":
        (root / "token.json").unlink()  # one Secret is enough here
    repo = git.Repo.init(root)  # the overlay's ../base stays inside this repository
    repo.index.add([str(p.relative_to(root)) for p in sorted(root.rglob("*.y*ml"))])
    repo.index.commit("fixture")
    app = str(root / path)

    code = main(["validate", app])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Secret/shop/db: a Secret committed to Git in plaintext" in out
    assert "1 warnings" in out
    assert main(["validate", app, "--strict"]) == 1
    capsys.readouterr()

    key = make_key(keys_dir, "owner")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    encrypt_in_place(root / secret_file, key)
    commands = [["validate", app, "--strict"]]
    if fixture == "plain":  # the overlay has no Namespace of its own to sync into
        commands.append(["sync", app, "--strict"])
    for argv in commands:
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "plaintext" not in out + err
        assert value not in out + err

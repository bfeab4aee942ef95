"""Running the `gitwave` command line in-process against a fresh sandbox, for
the CLI test modules: ``from tests.tui.cli_support import run, sandbox_env``
(the fixture is autouse in every module that imports it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitwave.tui.cli import main


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    return state


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``gitwave ARGV``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err

"""`gitwave tui` refuses what it cannot show before the screen opens: a bad
location (as `gitwave status` does) and an output that is not a terminal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitwave.tui.cli import main
from tests.tui.test_app_support import SAMPLES


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    return state


def test_tui_on_a_bad_path_fails_before_the_screen_opens_as_status_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nosuch")
    assert main(["status", missing]) == 2
    status = capsys.readouterr()
    assert main(["tui", missing]) == 2
    tui = capsys.readouterr()
    assert tui.err == status.err
    assert "no such file or directory" in tui.err
    assert "\x1b" not in tui.out + tui.err


def test_tui_without_a_terminal_says_so_instead_of_writing_escape_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = tmp_path / "guestbook"
    shutil.copytree(SAMPLES / "guestbook", sample)
    # pytest captures stdout: it is not a TTY, as in a pipe or a CI job.
    assert main(["tui", str(sample)]) != 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "standard output is not a terminal" in err
    assert "\x1b" not in err

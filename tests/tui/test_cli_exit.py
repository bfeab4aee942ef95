"""The `gitwave` process ends without the interpreter's teardown (``cli.run``):
what it printed and its exit code must reach the reader whole, through a pipe,
however it was started (the console script, ``python -m``)."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitwave.tui.cli import main
from tests.tui.cli_support import sandbox_state

pytestmark = pytest.mark.slow  # `gitwave` processes

OBJECTS = 2000  # ~300 KB of YAML: many buffer fills, the last one partial

STARTS = {
    "console script": [str(Path(sys.executable).parent / "gitwave")],
    "python -m": [sys.executable, "-m", "gitwave.tui.cli"],
}


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


def many_config_maps(root: Path) -> Path:
    root.mkdir()
    (root / "maps.yaml").write_text(
        "".join(
            f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: map-{i:04d}\n"
            f"  namespace: default\ndata:\n  value: '{i}'\n"
            for i in range(OBJECTS)
        )
    )
    return root


def gitwave(start: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STARTS[start], *args],
        cwd=cwd,
        capture_output=True,  # pipes, not a terminal
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("start", list(STARTS))
def test_every_line_and_the_exit_code_reach_the_reader(tmp_path: Path, start: str) -> None:
    app = many_config_maps(tmp_path / "maps")

    rendered = gitwave(start, "render", str(app), cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.count("kind: ConfigMap") == OBJECTS
    assert rendered.stdout.rstrip().endswith("value: '1999'")

    # plan exits 1 when there are changes, -o json is one whole document;
    # -v's log lines (logging's handlers) reach stderr.
    planned = gitwave(start, "plan", str(app), "-o", "json", "-v", cwd=tmp_path)
    assert planned.returncode == 1, planned.stderr
    (plan,) = json.loads(planned.stdout)
    assert plan["summary"]["create"] == OBJECTS
    assert "gitwave plan: state" in planned.stderr


@pytest.mark.parametrize("verb", ["sync", "plan", "status", "render", "diff"])
def test_a_command_closes_the_databases_it_opened(tmp_path: Path, verb: str) -> None:
    """``main()`` run again and again in one process (an embedder, a test
    session) leaves no descriptor open: the sandbox's and the history's
    databases were left to the cyclic collector (a test session ran out)."""
    app = many_config_maps(tmp_path / "maps")
    in_process(["sync", str(app)])
    gc.collect()
    before = set(os.listdir("/proc/self/fd"))
    gc.disable()  # what is closed must be closed by the command, not collected
    try:
        for _ in range(3):
            in_process([verb, str(app)])
        left = sorted(set(os.listdir("/proc/self/fd")) - before)
    finally:
        gc.enable()
    assert not left, [os.path.realpath(f"/proc/self/fd/{fd}") for fd in left]


def in_process(argv: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(argv)

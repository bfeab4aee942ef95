"""Automations on their interval (engine/images/loop.py), with the clock stepped by the test."""

from __future__ import annotations

from pathlib import Path

import git

from gitwave.engine.images.automation import AutomationResult
from gitwave.engine.images.loop import ImageAutomationLoop
from tests.oci.test_image_automation import SEMVER, TAGS, _make_repo
from tests.oci_registry import OciRegistry


def test_an_automation_runs_again_only_after_its_interval(
    oci_registry: OciRegistry, tmp_path: Path
) -> None:
    for tag in TAGS:
        oci_registry.push_image("team/app", tag)
    setup = _make_repo(tmp_path, f"{oci_registry.host}/team/app", SEMVER)
    reported: list[AutomationResult] = []
    errors: list[str] = []
    loop = ImageAutomationLoop(
        directory=setup.work / "flux",
        report=reported.append,
        on_error=errors.append,
        allowed_local_repos=(setup.remote,),
        clock=lambda: 0.0,
    )
    remote = git.Repo(setup.remote)

    first = loop.step(0.0)
    assert [r.pushed_to for r in first] == ["main"], [r.error for r in first]
    assert f"{setup.image}:1.1.0" in setup.remote_file("apps/web.yaml")

    oci_registry.push_image("team/app", "1.1.5")
    # 30m interval: ten minutes later nothing runs, even with a new tag.
    assert loop.step(600.0) == []
    assert "1.1.5" not in setup.remote_file("apps/web.yaml")

    after = loop.step(1800.0)
    assert [r.commit for r in after] == [remote.commit("main").hexsha]
    assert f"{setup.image}:1.1.5" in setup.remote_file("apps/web.yaml")

    # Due again, nothing new: the automation runs and commits nothing.
    before = remote.commit("main").hexsha
    (again,) = loop.step(3600.0)
    assert again.changes == () and again.commit == "" and again.error == ""
    assert remote.commit("main").hexsha == before
    assert errors == []
    assert len(reported) == 3


def test_gitwave_run_runs_the_automation(oci_registry: OciRegistry, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    for tag in TAGS:
        oci_registry.push_image("team/app", tag)
    setup = _make_repo(tmp_path, f"{oci_registry.host}/team/app", SEMVER)
    remote = git.Repo(setup.remote)
    before = remote.commit("main").hexsha
    env = {**os.environ, "GITWAVE_STATE": str(tmp_path / "state"), "NO_COLOR": "1"}
    gitwave = Path(sys.executable).with_name("gitwave")
    process = subprocess.Popen(
        [str(gitwave), "run", str(setup.work)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Waiting for the push (an event), bounded; not a test of how long it takes.
        deadline = time.monotonic() + 120
        while remote.commit("main").hexsha == before and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert remote.commit("main").hexsha != before, err
    assert "imageupdateautomation/apps: every 1800s" in err
    assert "imageupdateautomation/apps: pushed commit" in err
    assert f"{setup.image}:1.1.0" in setup.remote_file("apps/web.yaml")
    assert process.returncode == 0

"""``gitwave wait`` (``operations.wait``) sleeps on the target's change feed.

On the sandbox the Deployment's simulated rollout is driven by the sandbox's
clock, moved by hand here: the wait must wake when the rollout's step falls
due, not at its next poll (``poll_s`` is an hour and the polling sleep fails
the test if it is ever called).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitwave.engine import operations
from gitwave.engine.apps import load_apps
from gitwave.engine.model import HealthCode
from gitwave.engine.operations import SyncRequest, WaitFor
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider

ROLLOUT_S = 30.0

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
    },
}


def _polled(seconds: float) -> None:
    raise AssertionError(f"the wait polled (slept {seconds}s) on a target with a change feed")


def test_wait_wakes_when_the_rollout_completes_not_at_the_next_poll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    root = tmp_path / "shop"
    root.mkdir()
    (root / "web.yaml").write_text(yaml.safe_dump(DEPLOYMENT))
    _, (app,) = load_apps(str(root))
    now = [1_000_000.0]
    sandbox = SandboxProvider(tmp_path / "sandbox", rollout_seconds=ROLLOUT_S, clock=lambda: now[0])
    with sandbox:
        targets = ProviderRouter([sandbox])
        synced = operations.sync_app(app, targets=targets, store=None, request=SyncRequest())
        assert synced.result.ok, synced.result.message
        # The last wave is reported, not waited for.
        assert synced.result.health.code is HealthCode.PROGRESSING

        lines: list[str] = []

        def progress(line: str) -> None:
            lines.append(line)
            now[0] += ROLLOUT_S  # the simulated controller's rollout time passes

        outcome = operations.wait(
            app,
            WaitFor(health=True, timeout_s=120, poll_s=3600),
            targets=targets,
            on_progress=progress,
            sleep=_polled,
        )

    assert outcome.ok, outcome.message
    assert outcome.health.code is HealthCode.HEALTHY
    # One progress line: the wait planned again only once the rollout was due.
    assert len(lines) == 1, lines
    assert lines[0].startswith("waiting for shop: health Progressing, want Healthy"), lines

"""The sandbox's ``StateStamp``: what lets a fresh plan print the last no-op
plan's text (``engine.plan_verdict``) moves with every write, from any
process, and is another text for a state directory made anew."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitwave.engine.model import ResourceKey
from gitwave.engine.provider import StateStamp
from gitwave.providers.sandbox import SandboxProvider
from tests.providers.conftest import FakeClock
from tests.providers.contract import config_map, deployment, resource


def test_every_write_from_any_instance_moves_the_stamp(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SandboxProvider(state, rollout_seconds=0.0) as sandbox:
        assert isinstance(sandbox, StateStamp)
        sandbox.apply(resource(config_map("a", n="1"), "default"))
        first = sandbox.state_stamp("app")
        assert first is not None
        assert sandbox.state_stamp("app") == first, "a read moves nothing"
        assert sandbox.observe(ResourceKey("", "ConfigMap", "default", "a")) is not None
        assert sandbox.state_stamp("app") == first
        # Another instance (another process, as `gitwave sandbox edit` is) writes.
        with SandboxProvider(state, rollout_seconds=0.0) as other:
            assert other.state_stamp("app") == first
            other.apply(resource(config_map("a", n="2"), "default"))
        second = sandbox.state_stamp("app")
        assert second not in (None, first)
        sandbox.delete(ResourceKey("", "ConfigMap", "default", "a"))
        assert sandbox.state_stamp("app") not in (None, first, second)


def test_a_state_directory_made_anew_is_another_store(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stamps = []
    for _ in range(2):  # the same writes, so the same write counter
        with SandboxProvider(state, rollout_seconds=0.0) as sandbox:
            sandbox.apply(resource(config_map("a", n="1"), "default"))
            stamps.append(sandbox.state_stamp("app"))
        shutil.rmtree(state)
    assert None not in stamps
    assert stamps[0] != stamps[1]


def test_no_stamp_while_an_object_is_due_to_settle(tmp_path: Path) -> None:
    clock = FakeClock()
    with SandboxProvider(tmp_path / "state", rollout_seconds=5.0, clock=clock) as sandbox:
        sandbox.apply(resource(deployment("web"), "default"))
        clock.advance(10.0)  # the rollout is due: the next read writes it
        assert sandbox.state_stamp("app") is None
        sandbox.observe_many([ResourceKey("apps", "Deployment", "default", "web")])
        assert sandbox.state_stamp("app") is not None

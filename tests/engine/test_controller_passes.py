"""Passes over every app are paced: a storm of watch events is not a storm of passes.

A pass costs O(apps) (each app object looked at), and every status write of
a sync is a watch event: with a thousand apps a replica spent a third of its
CPU in passes. The loop runs against the in-memory cluster of
test_controller_backoff, whose ``wait_for_change`` returns at once (a change
always waiting); time is a passed monotonic clock and the stop event records
the waits asked of it, so nothing here depends on wall time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitwave.engine.controller.keeper import ControllerOptions, ShardKeeper
from gitwave.engine.controller.loop import Controller
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.test_controller_backoff import Cluster
from tests.engine.test_controller_keeper import T0


class Stop(threading.Event):
    """The loop's stop event: records each wait, and stops the loop after ``waits``."""

    def __init__(self, waits: int) -> None:
        super().__init__()
        self.asked: list[float | None] = []
        self._waits = waits

    def wait(self, timeout: float | None = None) -> bool:
        self.asked.append(timeout)
        if len(self.asked) >= self._waits:
            self.set()
        return self.is_set()


@dataclass
class Storm(Cluster):
    """A cluster whose apps always changed: ``wait_for_change`` returns at once."""

    stop: threading.Event
    stop_after: int
    passes: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def list_apps(self) -> list[AppObject]:
        self.passes += 1
        if self.passes >= self.stop_after:
            self.stop.set()
        return super().list_apps()

    def wait_for_change(self, timeout: float) -> bool:
        return True


@dataclass
class Ticks:
    """A monotonic clock that moves ``step`` seconds at every reading."""

    step: float
    now: float = 100.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def run(
    tmp_path: Path, step: float, *, waits: int = 1000, passes: int = 1000
) -> tuple[Storm, Stop]:
    stop = Stop(waits)
    cluster = Storm(stop=stop, stop_after=passes)
    options = ControllerOptions(replica="r1", shards=1, concurrent=1, pass_gap_s=0.5)
    keeper = ShardKeeper(cluster, options, lambda: T0)  # type: ignore[arg-type]
    with SandboxProvider(tmp_path / "sandbox") as sandbox:
        controller = Controller(
            cluster,  # type: ignore[arg-type]
            keeper,
            targets=ProviderRouter([sandbox]),
            store=None,
            options=options,
            clock=lambda: T0,
            monotonic=Ticks(step),
        )
        controller.run(stop)
    return cluster, stop


@pytest.mark.timeout(60)
def test_a_pass_shorter_than_the_gap_waits_out_the_rest_before_the_next(tmp_path: Path) -> None:
    # Each pass (start to the change) reads 0.1 s on the clock: 0.4 s more is waited.
    cluster, stop = run(tmp_path, step=0.1, waits=3)
    assert stop.asked == pytest.approx([0.4, 0.4, 0.4])
    assert cluster.passes == 3


def test_options_default_to_half_a_second_between_passes() -> None:
    assert ControllerOptions(replica="r1").pass_gap_s == 0.5


@pytest.mark.timeout(60)
def test_a_pass_longer_than_the_gap_is_followed_at_once(tmp_path: Path) -> None:
    cluster, stop = run(tmp_path, step=0.6, passes=3)
    assert stop.asked == []
    assert cluster.passes == 3

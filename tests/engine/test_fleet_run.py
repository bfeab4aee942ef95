"""The scheduler of many apps (engine.fleet_run): order rules, one operation
per app, and stopping. The work functions record when they begin and end;
nothing sleeps on a wall clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from gitwave.engine.errors import ValidationError
from gitwave.engine.fleet_run import Outcome, run_fleet
from gitwave.engine.interrupts import pause


@dataclass(frozen=True)
class Job:
    name: str
    follows: tuple[str, ...] = ()
    fails: bool = False


class Recorder:
    """Begin/end marks in one global order, and a gate that holds every job
    until ``width`` jobs are inside at once (proving concurrency)."""

    def __init__(self, width: int = 1) -> None:
        self.marks: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0
        self.width = width
        self.full = threading.Event()

    def __call__(self, job: Job) -> bool:
        with self.lock:
            self.marks.append(("begin", job.name))
            self.inside += 1
            self.most = max(self.most, self.inside)
            if self.inside >= self.width:
                self.full.set()
        self.full.wait(10)
        with self.lock:
            self.inside -= 1
            self.marks.append(("end", job.name))
        return not job.fails

    def span(self, name: str, nth: int = 0) -> tuple[int, int]:
        begins = [i for i, m in enumerate(self.marks) if m == ("begin", name)]
        ends = [i for i, m in enumerate(self.marks) if m == ("end", name)]
        return begins[nth], ends[nth]


def fleet(jobs: list[Job], recorder: Recorder, concurrent: int) -> list[Outcome]:
    done = run_fleet(
        jobs,
        recorder,
        name_of=lambda job: job.name,
        follows_of=lambda job: job.follows,
        ok=bool,
        concurrent=concurrent,
    )
    return [d.outcome for d in done]


def test_jobs_run_at_once_up_to_the_bound() -> None:
    recorder = Recorder(width=3)
    assert fleet([Job(f"j{i}") for i in range(6)], recorder, 3) == [Outcome.OK] * 6
    assert recorder.most == 3


def test_a_dependant_starts_after_its_dependency_ended_and_is_skipped_when_it_failed() -> None:
    recorder = Recorder(width=1)
    jobs = [Job("db", fails=True), Job("base"), Job("api", ("db",)), Job("top", ("base",))]
    assert fleet(jobs, recorder, 4) == [Outcome.FAILED, Outcome.OK, Outcome.SKIPPED, Outcome.OK]
    assert recorder.span("base")[1] < recorder.span("top")[0]
    assert ("begin", "api") not in recorder.marks


def test_two_jobs_of_one_app_never_overlap() -> None:
    recorder = Recorder(width=2)
    jobs = [Job("same"), Job("same"), Job("other")]
    assert fleet(jobs, recorder, 3) == [Outcome.OK] * 3
    assert recorder.span("same", 0)[1] < recorder.span("same", 1)[0]


def test_concurrent_1_keeps_the_order_given() -> None:
    recorder = Recorder(width=1)
    fleet([Job("c"), Job("a"), Job("b", ("c",))], recorder, 1)
    assert [name for kind, name in recorder.marks if kind == "begin"] == ["c", "a", "b"]


def test_zero_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be at least 1"):
        fleet([Job("a")], Recorder(), 0)


def test_an_interrupt_starts_nothing_more_and_stops_waits_at_once() -> None:
    interrupt = threading.Event()
    waiting = threading.Event()

    def work(job: Job) -> bool:
        if job.name == "slow":
            waiting.set()
            pause(3600)  # a health wait of an hour: Ctrl-C must end it
        else:
            waiting.wait(10)
            interrupt.set()
        return True

    done = run_fleet(
        [Job("slow"), Job("trigger"), Job("later")],
        work,
        name_of=lambda job: job.name,
        concurrent=2,
        interrupt=interrupt,
    )
    assert [d.outcome for d in done] == [Outcome.INTERRUPTED, Outcome.OK, Outcome.NOT_STARTED]
    alive = [t.name for t in threading.enumerate() if t.name.startswith("gitwave-app-")]
    assert alive == [], "every worker thread ended before run_fleet returned"

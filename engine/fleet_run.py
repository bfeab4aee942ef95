"""Many apps at once: a bounded scheduler for the apps of one command.

``run_fleet`` runs one piece of work per app on at most ``concurrent`` worker
threads (Flux's kustomize-controller reconciles 4 Kustomizations at once by
default; so does gitwave: ``DEFAULT_CONCURRENT``), and keeps the order rules a
serial run kept by walking the apps one after another:

- an app starts only once every app it follows has finished well: its Flux
  ``dependsOn`` (Flux starts a dependant once its dependencies are Ready; a
  sync ends well once its last wave was healthy) and, in an app of apps, its
  siblings of lower sync waves (Argo CD: every app of a wave done before the
  next wave starts). ``follows`` names them (``ChosenApp.follows``); names not
  among the apps given are not waited for;
- an app whose dependency failed, was skipped or interrupted does not run: it
  is Skipped, naming that dependency (``Finished.blocked_by``);
- never two pieces of work on one app at a time (the cross-process lock in
  ``engine.locks`` holds between processes; this holds within one);
- ready apps start in the order given, so ``concurrent=1`` is the serial run.

Stopping (``interrupt`` set, e.g. by a Ctrl-C handler): no app starts any more
(the rest end ``NOT_STARTED``), and running ones stop at their next safe point
(``engine.interrupts``). ``run_fleet`` returns only once every worker thread
it started has ended: nothing is left running behind the caller's back. A
KeyboardInterrupt on the calling thread while it waits sets ``interrupt``,
waits for the workers the same way, and is raised again.
"""

from __future__ import annotations

import contextvars
import enum
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from gitwave.engine.errors import ValidationError
from gitwave.engine.interrupts import interruptible

DEFAULT_CONCURRENT = 4  # Flux kustomize-controller's --concurrent

Item = TypeVar("Item")
Value = TypeVar("Value")


class Outcome(enum.Enum):
    """How one app's work ended."""

    OK = "ok"  # returned a value the caller judged good
    FAILED = "failed"  # returned a bad value, or raised
    SKIPPED = "skipped"  # an app it follows did not finish well
    INTERRUPTED = "interrupted"  # stopped at a safe point by ``interrupt``
    NOT_STARTED = "not started"  # ``interrupt`` was set before its turn

    @property
    def ok(self) -> bool:
        return self is Outcome.OK


@dataclass(frozen=True, slots=True)
class Finished(Generic[Value]):
    """One app's work: how it ended, what it returned or raised, when it ran
    (``clock`` times; 0.0 for work that never started)."""

    index: int  # position in the list given
    name: str
    outcome: Outcome
    value: Value | None = None
    error: BaseException | None = None
    blocked_by: str = ""  # the app it follows that did not finish well
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return self.finished - self.started


def check_concurrent(value: int, *, flag: str = "--concurrent") -> int:
    """``value`` when it is a usable bound; ValidationError otherwise."""
    if value < 1:
        raise ValidationError(
            f"{flag} {value}",
            "must be at least 1 (apps reconciled at once)",
            hint=f"{flag} 1 reconciles one app after another; the default is {DEFAULT_CONCURRENT}",
        )
    return value


class _Schedule(Generic[Item, Value]):
    """The shared state of one ``run_fleet``; every field under ``cond``."""

    def __init__(
        self, items: Sequence[Item], names: list[str], follows: list[tuple[str, ...]]
    ) -> None:
        self.items = items
        self.names = names
        self.cond = threading.Condition()
        self.waiting = list(range(len(items)))  # not started, in order
        self.running: set[str] = set()
        self.results: dict[int, Finished[Value]] = {}
        # Only what comes earlier is waited for (the list is in sync order), so
        # the first item waiting can always start once what runs has ended.
        first: dict[str, int] = {}
        for i, name in enumerate(names):
            first.setdefault(name, i)
        self.follows = [
            tuple(dict.fromkeys(f for f in follow if first.get(f, i) < i and f != names[i]))
            for i, follow in enumerate(follows)
        ]
        self.pending_of: dict[str, int] = {}  # not finished yet, per name
        for name in names:
            self.pending_of[name] = self.pending_of.get(name, 0) + 1
        self.failed: set[str] = set()

    def blocker(self, index: int) -> str | None:
        """ "" when ``index`` may start, the app it follows that failed, or None
        when it must wait."""
        for name in self.follows[index]:
            if name in self.failed:
                return name
        for name in self.follows[index]:
            if self.pending_of.get(name, 0):
                return None
        return ""


def run_fleet(
    items: Sequence[Item],
    work: Callable[[Item], Value],
    *,
    name_of: Callable[[Item], str],
    follows_of: Callable[[Item], Sequence[str]] = lambda item: (),
    ok: Callable[[Value], bool] = lambda value: True,
    concurrent: int = DEFAULT_CONCURRENT,
    interrupt: threading.Event | None = None,
    on_finish: Callable[[Finished[Value]], None] = lambda finished: None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Finished[Value]]:
    """Run ``work`` on each of ``items`` (in sync order) as the module docstring
    says; one ``Finished`` per item, in the order given. ``on_finish`` is called
    as each ends (skipped ones too), from the thread that ended it, one call at
    a time. An exception out of ``work`` is that app's failure (``error``),
    never the others'; an ``Interrupted`` one makes it INTERRUPTED."""
    check_concurrent(concurrent)
    stop = interrupt if interrupt is not None else threading.Event()
    schedule: _Schedule[Item, Value] = _Schedule(
        items,
        [name_of(item) for item in items],
        [tuple(follows_of(item)) for item in items],
    )
    report_lock = threading.Lock()

    def settle(done: Finished[Value]) -> None:
        # Under cond: the bookkeeping; on_finish outside it, one at a time.
        schedule.results[done.index] = done
        schedule.pending_of[done.name] -= 1
        if not done.outcome.ok:
            schedule.failed.add(done.name)

    def take() -> tuple[int, list[Finished[Value]]] | None:
        """The next item to run, and what was skipped on the way; None when
        nothing is left for this worker."""
        skipped: list[Finished[Value]] = []
        with schedule.cond:
            while True:
                if stop.is_set():
                    for index in schedule.waiting:
                        done: Finished[Value] = Finished(
                            index, schedule.names[index], Outcome.NOT_STARTED
                        )
                        settle(done)
                        skipped.append(done)
                    schedule.waiting.clear()
                    schedule.cond.notify_all()
                    return (-1, skipped) if skipped else None
                chosen = None
                for index in list(schedule.waiting):
                    name = schedule.names[index]
                    if name in schedule.running:
                        continue
                    blocker = schedule.blocker(index)
                    if blocker is None:
                        continue
                    if blocker:
                        schedule.waiting.remove(index)
                        done = Finished(index, name, Outcome.SKIPPED, blocked_by=blocker)
                        settle(done)
                        skipped.append(done)
                        continue
                    chosen = index
                    break
                if chosen is not None:
                    schedule.waiting.remove(chosen)
                    schedule.running.add(schedule.names[chosen])
                    if skipped:
                        schedule.cond.notify_all()
                    return chosen, skipped
                if skipped:
                    schedule.cond.notify_all()
                    return -1, skipped
                if not schedule.waiting:
                    return None
                schedule.cond.wait()

    def report(done: list[Finished[Value]]) -> None:
        with report_lock:
            for one in done:
                on_finish(one)

    def worker() -> None:
        while True:
            taken = take()
            if taken is None:
                return
            index, skipped = taken
            report(skipped)
            if index < 0:
                continue
            item = items[index]
            name = schedule.names[index]
            started = clock()
            outcome = Outcome.FAILED
            value: Value | None = None
            error: BaseException | None = None
            try:
                with interruptible(stop):
                    value = work(item)
                outcome = Outcome.OK if ok(value) else Outcome.FAILED
            except KeyboardInterrupt as exc:  # Interrupted, at a safe point
                outcome, error = Outcome.INTERRUPTED, exc
            except Exception as exc:  # that app's failure, not the others'
                error = exc
            done = Finished(index, name, outcome, value, error, "", started, clock())
            with schedule.cond:
                schedule.running.discard(name)
                settle(done)
                schedule.cond.notify_all()
            report([done])

    # The workers see the caller's context variables (``source.opened_once``).
    caller = contextvars.copy_context()
    threads = [
        threading.Thread(
            target=caller.copy().run, args=(worker,), name=f"gitwave-app-{n}", daemon=True
        )
        for n in range(min(concurrent, max(len(items), 1)))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # a timeout keeps Ctrl-C deliverable here
    except KeyboardInterrupt:
        stop.set()
        with schedule.cond:
            schedule.cond.notify_all()
        for thread in threads:
            thread.join()
        raise
    return [schedule.results[index] for index in range(len(items))]


__all__ = [
    "DEFAULT_CONCURRENT",
    "Finished",
    "Outcome",
    "check_concurrent",
    "run_fleet",
]

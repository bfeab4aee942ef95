"""Catch tests that take the time while pytest collects them.

On a fresh machine minutes pass between importing the test modules and running
the first test (the e2e conftest builds the control plane in
``pytest_collection_finish``). A value such as ``NOW = time.time()`` at module
level, in a default argument or in a parametrize list is then stale by the time
its test runs. To see such a test fail without waiting, run

    GITWAVE_TEST_CLOCK_SKEW=660 pytest ...

(tests/conftest.py registers this plugin when the variable is set). While
tests are being collected, ``time.time``, ``time.monotonic`` and their
``_ns``/``perf_counter`` siblings read SKEW seconds in the past; from the start
of the test run on they read the real clocks again. That is what a slow
collection looks like from inside the process, with no sleep.

Why backwards during collection rather than forwards for the run: afterwards
every clock in and out of the process (subprocesses, SQLite, ``datetime``,
file times, references bound before the patch) agrees again, so a test only
fails if it kept a time taken during collection. Shifting the run forwards would
make the tests' clock disagree with every subprocess they start.

Limits: a time read through ``datetime.now()``, ``time.localtime()`` or
``time.strftime()`` without an argument, SQLite or the file system while
collecting is not shifted (those clocks cannot be patched from Python safely);
none of the tests do that. Fixtures shared across tests (session or module
scope) are not shifted either; see the comment on them in tests/conftest.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

ENV = "GITWAVE_TEST_CLOCK_SKEW"
_CLOCKS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns")


class _Skew:
    """Replaces the ``time`` module's clocks with wrappers that subtract the skew
    while ``active``. The wrappers stay installed for the whole run: code that
    bound ``time.time`` during collection (``clock=time.time`` defaults,
    ``default_factory=time.time``) holds a wrapper, which reads the real clock
    once the run starts."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self.real: dict[str, Callable[[], float | int]] = {}

    def install(self) -> None:
        for name in _CLOCKS:
            real = getattr(time, name)
            self.real[name] = real
            offset = int(self.seconds * 1e9) if name.endswith("_ns") else self.seconds
            setattr(time, name, self._wrap(real, offset))
        self.active = True

    def _wrap(self, real: Callable[[], float | int], offset: float | int) -> Callable[[], object]:
        def clock() -> object:
            return real() - offset if self.active else real()

        clock.__name__ = real.__name__
        clock.__doc__ = real.__doc__
        return clock

    def uninstall(self) -> None:
        self.active = False
        for name, real in self.real.items():
            setattr(time, name, real)


def skew_seconds() -> float | None:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise pytest.UsageError(f"{ENV}={raw!r}: want a number of seconds") from None


class ClockCheck:
    """The plugin: skews the clocks from its registration (before any test module
    is imported) until the test run starts."""

    def __init__(self, seconds: float) -> None:
        self.skew = _Skew(seconds)
        self.skew.install()

    def pytest_report_header(self) -> str:
        return f"clockcheck: collection ran {self.skew.seconds:g} s in the past ({ENV})"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self) -> None:
        self.skew.active = False

    @pytest.hookimpl(hookwrapper=True)
    def pytest_unconfigure(self) -> Iterator[None]:
        yield
        self.skew.uninstall()

"""Suite-wide pytest setup.

Clocks: no test may keep a time taken while pytest collects (at import, in a
default argument, in a parametrize list): on a fresh machine the control-plane
build runs between collection and the first test (tests/e2e/conftest.py).
Take the time inside the test, or pass a clock in (``clock=``, ``now=``).
``GITWAVE_TEST_CLOCK_SKEW=660 pytest ...`` checks that (tests/clockcheck.py).

Fixtures shared across tests (session or module scope) are set up by the first
test that uses them, after the build; what they hold must stay true however
long the tests after them take: none of them keeps a time, and none asserts an
age or a ``--since`` window.
"""

from __future__ import annotations

import pytest

from tests.clockcheck import ClockCheck, skew_seconds


def pytest_configure(config: pytest.Config) -> None:
    seconds = skew_seconds()
    if seconds is not None:
        config.pluginmanager.register(ClockCheck(seconds), "gitwave-clockcheck")

"""Fixtures shared by provider tests.

Each provider's test module defines its own ``provider`` and ``contract_target``
fixtures and plugs ``tests.providers.contract.ProviderContract`` in.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class FakeClock:
    """A clock a test moves by hand (the sandbox takes its clock as a parameter)."""

    now: float = 1_700_000_000.0  # 2023-11-14T22:13:20Z

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def venv_python() -> Path:
    """The interpreter running the tests (the project venv's), for subprocesses."""
    return Path(sys.executable)

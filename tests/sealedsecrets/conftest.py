"""Fixtures of the Sealed Secrets tests: a sandbox state directory holding a
sealing key made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitwave.providers.sealed_secrets import KeyPair
from tests.sealedsecrets.helpers import seed_sandbox_key


@pytest.fixture(scope="session")
def shared_sealing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sealing-key")
    KeyPair.in_dir(directory).ensure()
    return directory


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_sealing_key: Path) -> Path:
    state = tmp_path / "state"
    seed_sandbox_key(state, shared_sealing_key)
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    return state

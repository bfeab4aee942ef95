"""The embedded emulator: what it says about itself, and how long its state lives.

The sandbox's state outlives a gitwave process, so the emulator's must too:
each run below is a separate Python process, as separate `gitwave` commands are.
"""

from __future__ import annotations

import json
import pickle
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto
import pytest

from gitwave.engine.errors import ProviderError
from gitwave.providers.aws import AwsProvider, EmbeddedAws, embedded_moto
from gitwave.providers.aws.embedded import SNAPSHOT_FILE

# One gitwave "process": start the emulator, maybe create, then observe.
SESSION = r"""
import json, os, sys
from pathlib import Path
from gitwave.engine.model import Resource, ResourceKey
from gitwave.providers.aws import AwsProvider, embedded_moto

mode, state = sys.argv[1], sys.argv[2]
manifests = [
    {"apiVersion": "sqs.aws.crossplane.io/v1beta1", "kind": "Queue",
     "metadata": {"name": "orders"}, "spec": {"forProvider": {"visibilityTimeout": 45}}},
    {"apiVersion": "ec2.aws.crossplane.io/v1beta1", "kind": "SecurityGroup",
     "metadata": {"name": "db"},
     "spec": {"forProvider": {"groupName": "db", "description": "the database"}}},
]
resources = [Resource(ResourceKey.of(m), m["apiVersion"], m) for m in manifests]
emulator = embedded_moto(state_dir=Path(state) if state != "-" else None)
provider = AwsProvider(config=emulator.config(), on_write=emulator.save)
if mode.startswith("create"):
    for r in resources:
        provider.apply(r)
if mode == "create-and-crash":
    os._exit(0)  # no close(): only what on_write saved survives
found = {}
for r in resources:
    live = provider.observe(r.key)
    found[r.key.kind] = live and live.annotations["crossplane.io/external-name"]
print(json.dumps({"description": emulator.description, "found": found}))
emulator.close()
"""


def _run(python: Path, mode: str, state: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", SESSION, mode, state],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if mode == "create-and-crash":
        return {}
    assert done.stderr == "", "the emulator must not log every request"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@dataclass(frozen=True)
class LifetimeCase:
    reason: str
    state_dir: bool
    first: str  # what the first process does
    survives: bool


LIFETIMES = [
    LifetimeCase("with a state dir, the next process sees the resources", True, "create", True),
    LifetimeCase(
        "every write is saved: a process that dies still leaves its state",
        True,
        "create-and-crash",
        True,
    ),
    LifetimeCase("without a state dir, the state ends with the process", False, "create", False),
]


@pytest.mark.parametrize("case", LIFETIMES, ids=[c.reason for c in LIFETIMES])
def test_emulator_state_across_processes(
    venv_python: Path, tmp_path: Path, case: LifetimeCase
) -> None:
    state = str(tmp_path) if case.state_dir else "-"
    first = _run(venv_python, case.first, state)
    if first:
        assert first["found"]["Queue"] == "orders"
        assert str(first["found"]["SecurityGroup"]).startswith("sg-")
    second = _run(venv_python, "observe", state)
    assert second["description"].startswith("AWS: embedded emulator")
    if case.survives:
        assert second["found"]["Queue"] == "orders"
        assert str(second["found"]["SecurityGroup"]).startswith("sg-")
        if first:
            assert second["found"] == first["found"], "the same ids, not look-alikes"
        assert (tmp_path / SNAPSHOT_FILE).stat().st_mode & 0o077 == 0, "private to the user"
    else:
        assert second["found"] == {"Queue": None, "SecurityGroup": None}
        assert "its state ends with this process" in second["description"]


def test_every_description_says_embedded_emulator(emulator: EmbeddedAws) -> None:
    assert emulator.description.startswith("AWS: embedded emulator")
    assert emulator.endpoint_url.startswith("http://127.0.0.1:")
    provider = AwsProvider(config=emulator.config())
    assert provider.description == emulator.description
    assert "embedded emulator" in repr(provider)


def test_a_snapshot_of_another_moto_version_is_not_restored(tmp_path: Path) -> None:
    (tmp_path / SNAPSHOT_FILE).write_bytes(
        pickle.dumps({"format": 1, "moto": "0.0.1", "services": {}})
    )
    with embedded_moto(state_dir=tmp_path / "elsewhere") as fresh:
        assert fresh.restore_problem == ""
    started = embedded_moto(state_dir=tmp_path)
    try:
        assert "previous state not restored" in started.description
        assert "saved by moto 0.0.1" in started.description
    finally:
        started._server.stop()  # not close(): that would overwrite the old snapshot


def test_restoring_never_overwrites_a_busy_emulator(
    boto: Callable[..., Any], tmp_path: Path, uid: str
) -> None:
    # The session emulator holds resources in this process's moto.
    boto("sqs").create_queue(QueueName=f"busy-{uid}")
    (tmp_path / SNAPSHOT_FILE).write_bytes(
        pickle.dumps({"format": 1, "moto": moto.__version__, "services": {}})
    )
    with pytest.raises(ProviderError, match="already holds resources"):
        embedded_moto(state_dir=tmp_path)

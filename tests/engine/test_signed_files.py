"""The signed plain-data files of the caches (renders, graphs, plan memos):
what is read back is exactly what was written here, and anything else (an
entry of the JSON format before, another Python's marshal, a value that would
not come back equal) is a miss, never a misreading."""

from __future__ import annotations

import datetime
import gc
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.signed_files import HEADER, SignedFiles, decoded_frozen


@dataclass(frozen=True)
class Kept:
    reason: str
    document: Any


@pytest.mark.parametrize(
    "case",
    [
        Kept("a manifest", {"kind": "ConfigMap", "data": {"a": "1"}, "replicas": 3}),
        Kept("numbers and flags", [1, 2.5, True, None, -0.0, 10**30]),
        # JSON changed these (and the entry was not written); marshal keeps them.
        Kept("an int key", {1: "one"}),
        Kept("a tuple", ("a", ("b",))),
    ],
    ids=lambda case: case.reason,
)
def test_what_is_read_back_is_what_was_written(case: Kept, tmp_path: Path) -> None:
    SignedFiles(tmp_path).write("k", case.document)
    again = SignedFiles(tmp_path).read("k")
    assert again == case.document
    assert repr(again) == repr(case.document)  # the same types, not only equal


@pytest.mark.parametrize(
    "document",
    [{"created": datetime.datetime(2026, 12, 5)}, [math.nan], {"value": object()}],
    ids=["a timestamp", "a NaN", "an object"],
)
def test_a_value_that_would_not_come_back_equal_is_not_written(
    document: Any, tmp_path: Path
) -> None:
    files = SignedFiles(tmp_path)
    files.write("k", document)
    assert files.read("k") is None
    assert not list(tmp_path.glob("*.json"))


def _signed_payload(files: SignedFiles, payload: bytes) -> None:
    # What this cache itself would have signed: only the format is wrong.
    files.write_payload("k", payload)


def test_an_entry_of_the_json_format_before_is_a_miss(tmp_path: Path) -> None:
    files = SignedFiles(tmp_path)
    _signed_payload(files, json.dumps({"key": "k", "entries": {}}).encode())
    assert files.read_payload("k")[0] is not None  # signed by this cache
    assert files.read("k") is None


def test_an_entry_of_another_python_is_a_miss(tmp_path: Path) -> None:
    files = SignedFiles(tmp_path)
    files.write("k", {"key": "k"})
    payload = files.read_payload("k")[0]
    assert payload is not None and payload.startswith(HEADER)
    other = b"gitwave-marshal 4 3.99\n" + payload[len(HEADER) :]
    _signed_payload(files, other)
    assert files.read("k") is None


def test_an_entry_cut_short_is_a_miss(tmp_path: Path) -> None:
    files = SignedFiles(tmp_path)
    files.write("k", {"key": "k", "value": "x" * 100})
    payload = files.read_payload("k")[0]
    assert payload is not None
    _signed_payload(files, payload[:-10])
    assert files.read("k") is None


def test_a_command_freezes_what_it_decoded_and_gives_it_back_when_done(tmp_path: Path) -> None:
    files = SignedFiles(tmp_path)
    files.write("k", {"key": "k", "objects": [{"n": i} for i in range(1000)]})
    gc.unfreeze()
    assert gc.isenabled()

    files.read("k")  # outside a command's plans: nothing frozen
    assert gc.get_freeze_count() == 0
    with decoded_frozen():
        kept = files.read("k")
        assert gc.isenabled()
        assert gc.get_freeze_count() > 1000  # the entry's objects among them
    # Back in the collector's generations: a test session's garbage is collected.
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()
    assert kept["objects"][999] == {"n": 999}


def test_decoding_leaves_a_collector_turned_off_off(tmp_path: Path) -> None:
    files = SignedFiles(tmp_path)
    files.write("k", {"key": "k"})
    gc.disable()
    try:
        assert files.read("k") == {"key": "k"}
        assert not gc.isenabled()
    finally:
        gc.enable()

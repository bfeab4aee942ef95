"""``Live.stored``: a live object kept as the JSON its target stores and decoded
when first read is the same value as the Live of the decoded manifest (equal,
pickled and copied alike), and stays read-only."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle

import pytest

from gitwave.engine.model import Live, ResourceKey

KEY = ResourceKey("", "ConfigMap", "shop", "settings")
MANIFEST = {"metadata": {"name": "settings", "annotations": {"a": "b"}}, "data": {"n": "s3cr3t"}}


def _stored() -> Live:
    return Live.stored(KEY, json.dumps(MANIFEST), "7", digest="d1")


def test_a_stored_live_reads_as_the_decoded_one() -> None:
    plain = Live(KEY, MANIFEST, "7", digest="d1")
    stored = _stored()
    assert stored.manifest == MANIFEST
    assert stored.annotations == {"a": "b"}
    assert (stored.key, stored.resource_version, stored.complete) == (KEY, "7", True)
    assert stored == plain and plain == stored
    assert _stored() != Live(KEY, MANIFEST, "8", digest="d1")
    assert _stored() != Live(KEY, {**MANIFEST, "data": {}}, "7", digest="d1")


@pytest.mark.parametrize(
    "again",
    [
        lambda live: pickle.loads(pickle.dumps(live)),
        copy.deepcopy,
        lambda live: dataclasses.replace(live, resource_version="7"),
    ],
    ids=["pickle", "deepcopy", "replace"],
)
def test_a_stored_live_survives_pickle_copy_and_replace(again) -> None:  # type: ignore[no-untyped-def]
    assert again(_stored()) == Live(KEY, MANIFEST, "7", digest="d1")


def test_a_stored_live_is_read_only() -> None:
    stored = _stored()
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.manifest = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.key = KEY  # type: ignore[misc]
    assert "s3cr3t" not in repr(stored), "no manifest value in a repr"

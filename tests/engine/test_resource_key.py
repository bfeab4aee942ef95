"""ResourceKey keeps its hash (taken once, for the graph's and the memo's many
look-ups) without that showing: equality, order, printing, copies and pickles
are those of its four strings."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys

from gitwave.engine.model import ResourceKey

KEY = ResourceKey("apps", "Deployment", "shop", "api")


def test_a_key_is_its_four_strings() -> None:
    same = ResourceKey("apps", "Deployment", "shop", "api")
    assert same == KEY and hash(same) == hash(KEY)
    assert {KEY: 1}[same] == 1
    assert repr(KEY) == "ResourceKey(group='apps', kind='Deployment', namespace='shop', name='api')"
    assert str(KEY) == "apps/Deployment/shop/api"
    assert sorted([ResourceKey("apps", "Deployment", "shop", "web"), KEY])[0] == KEY
    assert dataclasses.replace(KEY, name="web") == ResourceKey("apps", "Deployment", "shop", "web")
    assert hash(dataclasses.replace(KEY, name="web")) == hash(
        ResourceKey("apps", "Deployment", "shop", "web")
    )


def test_a_copied_or_pickled_key_hashes_as_a_new_one() -> None:
    assert copy.deepcopy(KEY) == KEY and hash(copy.copy(KEY)) == hash(KEY)
    assert hash(pickle.loads(pickle.dumps(KEY))) == hash(KEY)


def test_a_key_pickled_in_another_process_finds_its_entry() -> None:
    # str hashes are salted per process: a key from another process's pickle
    # must hash with this process's salt, or a dict look-up misses it.
    code = (
        "import pickle, sys; from gitwave.engine.model import ResourceKey; "
        "sys.stdout.buffer.write(pickle.dumps(ResourceKey('apps', 'Deployment', 'shop', 'api')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=120
    )
    other = pickle.loads(done.stdout)
    assert {KEY: "found"}.get(other) == "found"

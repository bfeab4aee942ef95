"""``plan_verdict``'s canonical form: the key of a kept no-op plan names every
compared field of the app and the request, the same way in every process,
and refuses what it cannot name (then nothing is kept)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from gitwave.engine.apps import AppSpec, implicit_app
from gitwave.engine.plan_verdict import _canonical, _NoCanonicalForm
from gitwave.engine.sync_request import SyncRequest

_NAMES = [f"kind-{i}" for i in range(40)]


def test_a_set_has_one_form_whatever_the_process_hash_seed() -> None:
    script = (
        "import json; from gitwave.engine.plan_verdict import _canonical; "
        f"print(json.dumps(_canonical(frozenset({_NAMES!r}))))"
    )
    forms = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(forms) == 1
    assert json.loads(forms.pop()) == _canonical(frozenset(reversed(_NAMES)))


def test_every_compared_field_of_the_request_is_named() -> None:
    assert _canonical(SyncRequest()) != _canonical(SyncRequest(prune=True))
    assert _canonical(SyncRequest()) != _canonical(SyncRequest(adopt=True))
    assert _canonical(SyncRequest()) == _canonical(SyncRequest())


def test_an_app_has_a_form() -> None:
    app = implicit_app("web", location="/repo")
    assert isinstance(app, AppSpec)
    assert _canonical(app) == _canonical(implicit_app("web", location="/repo"))
    assert _canonical(app) != _canonical(implicit_app("web", location="/other"))
    assert _canonical(app) != _canonical(implicit_app("web", location="/repo", path="sub"))


@dataclass(frozen=True)
class _WithLookup:
    name: str
    lookup: object = field(default=None, compare=False)


@pytest.mark.parametrize(
    "value",
    [
        _WithLookup("x", lookup=lambda key: None),  # a set field that is not compared
        {"f": print},  # a callable
        object(),
    ],
    ids=["uncompared field set", "callable", "unknown type"],
)
def test_a_value_with_no_canonical_form_is_refused(value: object) -> None:
    with pytest.raises(_NoCanonicalForm):
        _canonical(value)

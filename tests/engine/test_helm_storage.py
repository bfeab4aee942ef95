"""Helm's release storage format (helm_storage.py) and what a new revision does to it."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass

import pytest

from gitwave.engine.controller.helm_storage import (
    StoredRelease,
    decode_release,
    encode_release,
    labels_of,
    last_deployed,
    release_body,
    secret_name,
    stored_after,
)


def revision(version: int, status: str, manifest: str = "---\nkind: ConfigMap\n") -> StoredRelease:
    body = release_body(
        name="web",
        namespace="shop",
        version=version,
        status=status,
        chart=("web", f"{version}.0.0"),
        values={"greeting": "hi"},
        manifest=manifest,
        first_deployed="2026-12-05T00:00:00Z",
        last_deployed="2026-12-05T00:00:00Z",
        description="Upgrade complete",
    )
    return StoredRelease("web", "shop", version, status, body)


def test_a_release_is_gzipped_json_in_base64_as_helm_writes_it() -> None:
    stored = revision(3, "deployed")
    text = encode_release(stored.body)
    raw = gzip.decompress(base64.b64decode(text))
    assert json.loads(raw)["info"]["status"] == "deployed"
    back = decode_release(text, where="shop/sh.helm.release.v1.web.v3")
    assert (back.name, back.namespace, back.version, back.status) == ("web", "shop", 3, "deployed")
    assert back.manifest == stored.manifest
    assert secret_name("web", 3) == "sh.helm.release.v1.web.v3"
    assert labels_of(back) == {"name": "web", "owner": "helm", "status": "deployed", "version": "3"}


def test_a_release_written_without_gzip_is_read_too() -> None:
    plain = base64.b64encode(json.dumps(revision(1, "deployed").body).encode()).decode()
    assert decode_release(plain, where="shop/x").version == 1


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        base64.b64encode(b"password: hunter2").decode(),
        base64.b64encode(gzip.compress(b'{"name": "web"}', mtime=0)).decode(),
    ],
    ids=["not base64", "not JSON", "no version"],
)
def test_a_secret_that_is_not_a_release_is_named_never_shown(text: str) -> None:
    with pytest.raises(ValueError) as error:
        decode_release(text, where="shop/sh.helm.release.v1.web.v1")
    assert "Secret shop/sh.helm.release.v1.web.v1" in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_stored_release_never_shows_its_manifest_in_its_repr() -> None:
    assert "s3cr3t" not in repr(revision(1, "deployed", manifest="data:\n  token: s3cr3t\n"))


@dataclass(frozen=True)
class Case:
    reason: str
    existing: tuple[StoredRelease, ...]
    new: StoredRelease
    keep: int
    writes: list[tuple[int, str]]
    deletes: list[int]


CASES = [
    Case("a first install", (), revision(1, "deployed"), 5, [(1, "deployed")], []),
    Case(
        "an upgrade supersedes the deployed one",
        (revision(1, "deployed"),),
        revision(2, "deployed"),
        5,
        [(2, "deployed"), (1, "superseded")],
        [],
    ),
    Case(
        "the same revision resynced, unchanged: nothing written",
        (revision(1, "superseded"), revision(2, "deployed")),
        revision(2, "deployed"),
        5,
        [],
        [],
    ),
    Case(
        "maxHistory 2: the oldest deleted, not rewritten",
        (revision(1, "superseded"), revision(2, "deployed")),
        revision(3, "deployed"),
        2,
        [(3, "deployed"), (2, "superseded")],
        [1],
    ),
    Case(
        "maxHistory 0: every revision kept",
        tuple(revision(v, "superseded") for v in range(1, 8)),
        revision(8, "deployed"),
        0,
        [(8, "deployed")],
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.reason for c in CASES])
def test_what_a_new_revision_does_to_the_storage(case: Case) -> None:
    change = stored_after(case.existing, case.new, keep=case.keep)
    assert [(w.version, w.status) for w in change.writes] == case.writes
    assert [w.body["info"]["status"] for w in change.writes] == [s for _, s in case.writes]
    assert list(change.deletes) == [secret_name("web", v) for v in case.deletes]


def test_a_rollback_goes_to_the_newest_revision_that_was_deployed() -> None:
    stored = [revision(1, "superseded"), revision(2, "deployed"), revision(3, "failed")]
    found = last_deployed(stored)
    assert found is not None and found.version == 2
    assert last_deployed([revision(1, "failed")]) is None

"""The composite's and the claim's own connection Secret (``writeConnectionSecretToRef``).

Composed as one more resource of the composite: ``FromValue`` details at once,
the others filled in by resolve() from the live objects right before it is
applied, keys filtered by the XRD's ``connectionSecretKeys``.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest

from gitwave.compositions import PendingReference, compose, resolve, unresolved
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Resource, ResourceKey
from tests.compositions.support import SAMPLE, TESTDATA, load, resource

CLAIM_APP = TESTDATA / "claim-app"
SECRET = ResourceKey("", "Secret", "team", "sessions-cache")
SIZES = ResourceKey("", "ConfigMap", "team", "sessions-configmap-0")


def claim_app() -> list[Resource]:
    return [r for path in sorted(CLAIM_APP.glob("*.yaml")) for r in load(path)]


def by_key(resources: Any) -> dict[ResourceKey, Resource]:
    return {r.key: r for r in resources}


def test_a_claims_secret_is_composed_in_its_namespace_after_what_it_reads() -> None:
    result = compose(claim_app())

    secret = by_key(result.resources)[SECRET]
    assert secret.manifest["type"] == "connection.crossplane.io/v1alpha1"
    # FromValue is known at once; the XRD's connectionSecretKeys leave "unlisted" out.
    assert secret.manifest["data"] == {"flavour": base64.b64encode(b"redis").decode()}
    assert unresolved(secret) == {"configmap-0"}
    assert secret.labels["crossplane.io/claim-name"] == "sessions"
    assert secret.annotations["gitwave.dev/composite"] == "Cache/team/sessions"
    assert (SIZES, SECRET) in {(e.before, e.after) for e in result.edges}
    (node,) = result.composites
    assert SECRET in node.composed
    assert SECRET not in [r.key for r in node.status.resources]


def test_resolve_fills_the_values_from_the_live_objects() -> None:
    secret = by_key(compose(claim_app()).resources)[SECRET]
    live = {SIZES: {"data": {"host": "cache.internal", "port": "6379", "size": "large"}}}

    filled = resolve(secret, lookup=lambda key: live.get(key))

    assert {k: base64.b64decode(v) for k, v in filled.manifest["data"].items()} == {
        "flavour": b"redis",
        "host": b"cache.internal",
        "port": b"6379",
    }
    assert set(filled.annotations) == {"gitwave.dev/composite"}
    assert unresolved(filled) == frozenset()


def test_a_field_not_set_yet_is_left_out_as_crossplane_leaves_it_out() -> None:
    secret = by_key(compose(claim_app()).resources)[SECRET]

    filled = resolve(secret, lookup=lambda key: {"data": {"host": "h"}})

    assert sorted(filled.manifest["data"]) == ["flavour", "host"]


def test_the_secret_waits_for_an_object_that_does_not_exist_yet() -> None:
    secret = by_key(compose(claim_app()).resources)[SECRET]

    with pytest.raises(PendingReference) as caught:
        resolve(secret, lookup=lambda key: None)

    assert caught.value.waits_for == SIZES
    assert caught.value.retriable


def sample_with_ref(ref: dict[str, str]) -> list[Resource]:
    resources = []
    for path in sorted(SAMPLE.glob("*.yaml")):
        for found in load(path):
            if found.key.kind == "ProductionDatabase":
                manifest = copy.deepcopy(found.manifest)
                manifest["spec"]["writeConnectionSecretToRef"] = ref
                found = resource(manifest, file="database.yaml", line=2)
            resources.append(found)
    return resources


def test_an_xr_copies_the_keys_of_its_managed_resources_connection_secret() -> None:
    xr_secret = ResourceKey("", "Secret", "store", "shop-db-connection")
    db = ResourceKey("rds.aws.crossplane.io", "DBInstance", "", "shop-db")
    db_secret = ResourceKey("", "Secret", "store", "shop-db-postgresql")
    result = compose(sample_with_ref({"name": "shop-db-connection", "namespace": "store"}))

    secret = by_key(result.resources)[xr_secret]
    assert unresolved(secret) == {"db", "db.connection"}
    assert (db, xr_secret) in {(e.before, e.after) for e in result.edges}
    live = {
        db: {"status": {"atProvider": {}}},
        db_secret: {
            "data": {
                key: base64.b64encode(value).decode()
                for key, value in {
                    "username": b"shopadmin",
                    "password": b"pw-Zk81-distinct",
                    "endpoint": b"db.example",
                    "port": b"5432",
                    "extra": b"not declared",
                }.items()
            }
        },
    }

    filled = resolve(secret, lookup=lambda key: live.get(key))

    assert {k: base64.b64decode(v) for k, v in filled.manifest["data"].items()} == {
        "username": b"shopadmin",
        "password": b"pw-Zk81-distinct",
        "endpoint": b"db.example",
        "port": b"5432",
    }
    with pytest.raises(PendingReference) as caught:
        resolve(secret, lookup=lambda key: live.get(key) if key == db else None)
    assert caught.value.waits_for == db_secret
    assert "pw-Zk81-distinct" not in str(caught.value)


def test_a_cluster_scoped_xr_must_say_which_namespace() -> None:
    with pytest.raises(ValidationError) as caught:
        compose(sample_with_ref({"name": "shop-db-connection"}))

    message = str(caught.value)
    assert "ProductionDatabase/shop-db (database.yaml:2)" in message
    assert "spec.writeConnectionSecretToRef.namespace is required" in message


def test_a_secret_from_git_with_the_same_name_is_a_collision(tmp_path: Path) -> None:
    clash = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sessions-cache", "namespace": "team"},
        "stringData": {"host": "x"},
    }
    with pytest.raises(ValidationError) as caught:
        compose([*claim_app(), resource(clash, file="secret.yaml")])

    assert "Secret/team/sessions-cache" in str(caught.value)

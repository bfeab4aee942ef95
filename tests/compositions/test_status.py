"""Readiness checks and connection details, computed from observed composed resources."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.compositions import ConnectionDetails
from gitwave.compositions.model import ComposedReadiness, CompositeNode, CompositeStatus
from gitwave.compositions.readiness import Readiness, ReadinessError, check_readiness
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Live, ResourceKey
from tests.compositions.support import compose_app, thing

OBSERVED = {
    "status": {
        "atProvider": {"state": "available", "replicas": 3, "encrypted": True, "paused": False},
        "conditions": [
            {"type": "Synced", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "Creating"},
        ],
    }
}


@dataclass
class Case:
    reason: str
    checks: list[dict[str, Any]] | None
    observed: dict[str, Any] | None
    want: Readiness


def ready() -> Readiness:
    return Readiness(True)


CASES = [
    Case(
        "MatchString",
        [
            {
                "type": "MatchString",
                "fieldPath": "status.atProvider.state",
                "matchString": "available",
            }
        ],
        OBSERVED,
        ready(),
    ),
    Case(
        "MatchString that differs",
        [{"type": "MatchString", "fieldPath": "status.atProvider.state", "matchString": "ok"}],
        OBSERVED,
        Readiness(False, "status.atProvider.state is 'available', not 'ok'"),
    ),
    Case(
        "MatchInteger",
        [{"type": "MatchInteger", "fieldPath": "status.atProvider.replicas", "matchInteger": 3}],
        OBSERVED,
        ready(),
    ),
    Case(
        "MatchInteger of a missing field",
        [{"type": "MatchInteger", "fieldPath": "status.atProvider.count", "matchInteger": 3}],
        OBSERVED,
        Readiness(False, "status.atProvider.count is not set, not 3"),
    ),
    Case(
        "MatchTrue",
        [{"type": "MatchTrue", "fieldPath": "status.atProvider.encrypted"}],
        OBSERVED,
        ready(),
    ),
    Case(
        "MatchTrue of false",
        [{"type": "MatchTrue", "fieldPath": "status.atProvider.paused"}],
        OBSERVED,
        Readiness(False, "status.atProvider.paused is False, not true"),
    ),
    Case(
        "MatchFalse",
        [{"type": "MatchFalse", "fieldPath": "status.atProvider.paused"}],
        OBSERVED,
        ready(),
    ),
    Case(
        "MatchCondition",
        [{"type": "MatchCondition", "matchCondition": {"type": "Synced", "status": "True"}}],
        OBSERVED,
        ready(),
    ),
    Case(
        "no checks: the Ready condition must be True",
        None,
        OBSERVED,
        Readiness(False, "condition Ready is False (Creating)"),
    ),
    Case(
        "no checks and no conditions",
        None,
        {"status": {}},
        Readiness(False, "condition Ready is not reported"),
    ),
    Case(
        "NonEmpty",
        [{"type": "NonEmpty", "fieldPath": "status.atProvider.state"}],
        OBSERVED,
        ready(),
    ),
    Case(
        "NonEmpty of a missing field",
        [{"type": "NonEmpty", "fieldPath": "status.atProvider.arn"}],
        OBSERVED,
        Readiness(False, "status.atProvider.arn is not set"),
    ),
    Case("None is always ready", [{"type": "None"}], {}, ready()),
    Case(
        "every check must pass",
        [
            {"type": "NonEmpty", "fieldPath": "status.atProvider.state"},
            {"type": "MatchFalse", "fieldPath": "status.atProvider.encrypted"},
        ],
        OBSERVED,
        Readiness(False, "status.atProvider.encrypted is True, not false"),
    ),
    Case(
        "an object not created yet", [{"type": "None"}], None, Readiness(False, "not created yet")
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_readiness(case: Case) -> None:
    assert check_readiness(case.checks, case.observed) == case.want


@pytest.mark.parametrize(
    ("check", "want"),
    [
        ({"type": "MatchBanana"}, "unknown type 'MatchBanana'"),
        ({"type": "MatchString", "fieldPath": "a"}, "MatchString needs matchString"),
        ({"type": "NonEmpty"}, "NonEmpty needs a fieldPath"),
        ({"type": "MatchCondition"}, "MatchCondition needs matchCondition.type"),
    ],
)
def test_malformed_readiness_check(check: dict[str, Any], want: str) -> None:
    with pytest.raises(ReadinessError, match=want):
        check_readiness([check], OBSERVED)


# --- through compose: the composite's status ----------------------------------------------

DB = ResourceKey("things.example.org", "Thing", "", "demo-db")
CACHE = ResourceKey("things.example.org", "Thing", "", "demo-cache")
SECRET = ResourceKey("", "Secret", "crossplane-system", "db-conn")


def templates() -> list[dict[str, Any]]:
    db = thing(
        "db",
        readinessChecks=[
            {
                "type": "MatchString",
                "fieldPath": "status.atProvider.state",
                "matchString": "available",
            }
        ],
        connectionDetails=[
            {"name": "username", "fromConnectionSecretKey": "username"},
            {"type": "FromConnectionSecretKey", "fromConnectionSecretKey": "password"},
            {
                "type": "FromFieldPath",
                "name": "endpoint",
                "fromFieldPath": "status.atProvider.address",
            },
            {"type": "FromFieldPath", "name": "port", "fromFieldPath": "status.atProvider.port"},
            {"type": "FromValue", "name": "region", "value": "eu-west-1"},
            {"type": "FromValue", "name": "not-exposed", "value": "x"},
        ],
    )
    db["base"]["spec"]["writeConnectionSecretToRef"] = {
        "name": "db-conn",
        "namespace": "crossplane-system",
    }
    return [db, thing("cache")]


def observed_db(state: str) -> dict[ResourceKey, Live | None]:
    secret = {
        "data": {
            "username": base64.b64encode(b"admin").decode(),
            "password": base64.b64encode(b"s3cr3t-pa55").decode(),
        }
    }
    db = {"status": {"atProvider": {"state": state, "address": "db.internal", "port": 5432}}}
    return {DB: Live(DB, db), SECRET: Live(SECRET, secret), CACHE: None}


def test_status_reports_readiness_of_each_composed_resource() -> None:
    result = compose_app(templates(), observed=observed_db("creating"))

    status = result.composites[0].status
    assert [(r.name, r.ready, r.reason) for r in status.resources] == [
        ("db", False, "status.atProvider.state is 'creating', not 'available'"),
        ("cache", False, "not created yet"),
    ]
    assert not status.ready
    assert status.message == (
        "0/2 ready; Thing/demo-db: status.atProvider.state is 'creating', not 'available'"
    )


def test_composite_is_ready_when_every_composed_resource_is() -> None:
    observed = observed_db("available")
    observed[CACHE] = Live(CACHE, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})

    status = compose_app(templates(), observed=observed).composites[0].status

    assert status.ready
    assert status.message == "2/2 ready"


def test_without_observed_state_nothing_is_ready() -> None:
    status = compose_app(templates()).composites[0].status

    assert not status.ready and not status.observed
    assert status.message == "0/2 ready (not observed)"
    assert [r.reason for r in status.resources] == ["not observed", "not observed"]


def test_connection_details_come_from_the_secret_fields_and_values() -> None:
    status = compose_app(templates(), observed=observed_db("available")).composites[0].status

    # Only the XRD's connectionSecretKeys are exposed (not-exposed is filtered out).
    assert dict(status.connection_details) == {
        "endpoint": b"db.internal",
        "password": b"s3cr3t-pa55",
        "port": b"5432",
        "region": b"eu-west-1",
        "username": b"admin",
    }


def test_connection_detail_values_are_never_printed() -> None:
    result = compose_app(templates(), observed=observed_db("available"))
    status = result.composites[0].status

    for text in (repr(status), str(status), repr(result.composites[0]), repr(result)):
        assert "s3cr3t-pa55" not in text
        assert "admin" not in text
    assert repr(status.connection_details) == (
        "ConnectionDetails(keys=['endpoint', 'password', 'port', 'region', 'username'])"
    )
    assert ConnectionDetails({"a": b"1"}) == ConnectionDetails({"a": b"1"})


def test_a_connection_detail_without_a_name() -> None:
    template = thing("db", connectionDetails=[{"type": "FromFieldPath", "fromFieldPath": "x"}])

    with pytest.raises(
        ValidationError, match=r"connectionDetails\[0\] \(FromFieldPath\): needs a name"
    ):
        compose_app([template], observed={DB: Live(DB, {})})


# --- Synced and Ready, as Crossplane sets them -----------------------------------------


def _node(*rows: tuple[str, bool], observed: bool = True) -> CompositeNode:
    keys = tuple(ResourceKey("", "ConfigMap", "ns", name) for name, _ in rows)
    readiness = tuple(
        ComposedReadiness(key, name, ready, "" if ready else "not ready")
        for key, (name, ready) in zip(keys, rows, strict=True)
    )
    status = CompositeStatus(
        ready=observed and all(r for _, r in rows), resources=readiness, observed=observed
    )
    return CompositeNode(ResourceKey("example.org", "XApp", "", "demo"), "x", "c", keys, status)


@pytest.mark.parametrize(
    ("rows", "observed", "want"),
    [
        ((("a", True), ("b", True)), True, ("True", "Available", "")),
        ((("b", False), ("a", False)), True, ("False", "Creating", "Unready resources: a, b")),
        (
            tuple((n, False) for n in "edcba"),
            True,
            ("False", "Creating", "Unready resources: a, b, c, and 2 more"),
        ),
        ((("a", True),), False, ("Unknown", "Unknown", "not observed")),
    ],
    ids=["all ready", "two unready, sorted", "first three and more", "not observed"],
)
def test_the_ready_condition(
    rows: tuple[tuple[str, bool], ...], observed: bool, want: tuple[str, str, str]
) -> None:
    ready = _node(*rows, observed=observed).status.ready_condition

    assert (ready.status.value, ready.reason, ready.message) == want


def test_the_synced_condition_names_what_a_sync_would_still_apply() -> None:
    node = _node(("a", True), ("b", True))

    assert node.synced_condition(frozenset()).as_dict() == {
        "type": "Synced",
        "status": "True",
        "reason": "ReconcileSuccess",
    }
    behind = node.synced_condition({ResourceKey("", "ConfigMap", "ns", "b")})
    assert behind.reason == "OutOfSync"
    assert behind.message == "Composed resources not applied as composed: ConfigMap/ns/b"
    assert str(node.health(frozenset())) == "Healthy: Synced True, Ready True"

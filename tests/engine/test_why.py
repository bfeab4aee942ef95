"""The chain from what an operator waits for to the object holding it (engine.why)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from gitwave.engine.graph import build_graph
from gitwave.engine.model import Health, HealthCode, Live, ResourceKey
from gitwave.engine.why import (
    blocking_chain,
    blocking_chains,
    chain_through,
    elapsed_text,
    since_created,
)
from tests.engine.test_graph import res, workload

DB = ResourceKey("rds.aws.crossplane.io", "DBInstance", "", "shop-db")
CONN = ResourceKey("", "Secret", "shop", "db-conn")
API = ResourceKey("apps", "Deployment", "shop", "api")
WEB = ResourceKey("", "Service", "shop", "web")


def shop_graph():  # type: ignore[no-untyped-def]
    """DBInstance → its connection Secret → the Deployment mounting it, and a
    Service of a later wave."""
    mounts = {
        "containers": [{"name": "app", "image": "app:1"}],
        "volumes": [{"name": "db", "secret": {"secretName": "db-conn"}}],
    }
    return build_graph(
        [
            res("DBInstance", "shop-db", group="rds.aws.crossplane.io"),
            res("Secret", "db-conn", "shop"),
            workload("Deployment", "api", "shop", mounts),
            res("Service", "web", "shop", ann={"argocd.argoproj.io/sync-wave": "1"}),
        ],
        extra_edges=[(DB, CONN)],
    )


HEALTHY = Health(HealthCode.HEALTHY)
CREATING = Health(HealthCode.PROGRESSING, "creating")
MISSING = Health(HealthCode.MISSING, "not found")


@dataclass(frozen=True)
class Case:
    reason: str
    healths: dict[ResourceKey, Health]
    start: ResourceKey
    want: str
    ages: dict[ResourceKey, float] = field(default_factory=dict)


CASES = [
    Case(
        "the Deployment waits for the Secret the database has not written",
        {DB: CREATING, CONN: MISSING, API: MISSING, WEB: MISSING},
        API,
        "Deployment/shop/api ← Secret/shop/db-conn ← DBInstance/shop-db: Progressing: creating, "
        "4m10s",
        {DB: 250.0},
    ),
    Case(
        "a later wave's object waits for the earlier wave's",
        {DB: HEALTHY, CONN: HEALTHY, API: CREATING, WEB: MISSING},
        WEB,
        "Service/shop/web ← Deployment/shop/api: Progressing: creating",
    ),
    Case(
        "nothing holds a Healthy object",
        {DB: HEALTHY, CONN: HEALTHY, API: HEALTHY, WEB: HEALTHY},
        API,
        "Deployment/shop/api: Healthy",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_the_chain_goes_from_what_is_waited_for_to_what_holds_it(case: Case) -> None:
    chain = blocking_chain(shop_graph(), case.healths, case.start, for_s=case.ages)
    assert chain.text() == case.want


def test_one_chain_per_end_of_what_is_stuck() -> None:
    healths = {DB: CREATING, CONN: MISSING, API: MISSING, WEB: MISSING}
    chains = blocking_chains(shop_graph(), healths)
    assert [c.keys for c in chains] == [(WEB, API, CONN, DB)]
    assert chains[0].as_dict()["chain"] == [str(k) for k in (WEB, API, CONN, DB)]
    assert blocking_chains(shop_graph(), dict.fromkeys((DB, CONN, API, WEB), HEALTHY)) == []


def test_ages_and_their_text() -> None:
    live = Live(API, {"metadata": {"creationTimestamp": "2026-12-03T10:00:00Z"}}, "1")
    assert since_created(live, datetime(2026, 12, 3, 10, 4, 10, tzinfo=UTC)) == 250.0
    assert since_created(None, datetime.now(UTC)) is None
    texts = [elapsed_text(s) for s in (5, 60, 250, 3600, 3720)]
    assert texts == ["5s", "1m", "4m10s", "1h", "1h2m"]


THROUGH = [
    Case(
        "a sync waiting on the database names what waits for it, up to the Deployment",
        {DB: CREATING, CONN: MISSING, API: MISSING},
        DB,
        "Deployment/shop/api ← Secret/shop/db-conn ← DBInstance/shop-db: Progressing: creating",
    ),
    Case(
        "from the middle of the chain too",
        {DB: CREATING, CONN: MISSING, API: MISSING},
        CONN,
        "Deployment/shop/api ← Secret/shop/db-conn ← DBInstance/shop-db: Progressing: creating",
    ),
    Case(
        "nothing unsettled waits for it: the object alone",
        {DB: HEALTHY, CONN: HEALTHY, API: CREATING},
        API,
        "Deployment/shop/api: Progressing: creating",
    ),
]


@pytest.mark.parametrize("case", THROUGH, ids=lambda c: c.reason)
def test_the_chain_through_an_object_starts_at_what_waits_for_it(case: Case) -> None:
    assert chain_through(shop_graph(), case.healths, case.start).text() == case.want

"""The prune guard's rules as a table: which kinds are stateful, when the share
of the inventory stops a sync, and how the limit is read from the app."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gitwave.engine.apps.fields import parse_percent
from gitwave.engine.model import ResourceKey
from gitwave.engine.prune_guard import BlastRadius, is_stateful


@dataclass(frozen=True)
class KindCase:
    reason: str
    key: ResourceKey
    want: bool


KIND_CASES = [
    KindCase("a PVC", ResourceKey("", "PersistentVolumeClaim", "shop", "data"), True),
    KindCase("a StatefulSet", ResourceKey("apps", "StatefulSet", "shop", "db"), True),
    KindCase("an AWS DBInstance", ResourceKey("aws.gitwave.dev", "DBInstance", "", "db"), True),
    KindCase(
        "a Crossplane RDS Instance", ResourceKey("rds.aws.upbound.io", "Instance", "", "db"), True
    ),
    KindCase("a Bucket", ResourceKey("s3.aws.upbound.io", "Bucket", "", "logs"), True),
    KindCase(
        "an EC2 Instance is not", ResourceKey("ec2.aws.upbound.io", "Instance", "", "vm"), False
    ),
    KindCase("a ConfigMap is not", ResourceKey("", "ConfigMap", "shop", "settings"), False),
    KindCase("a Deployment is not", ResourceKey("apps", "Deployment", "shop", "api"), False),
]


@pytest.mark.parametrize("case", KIND_CASES, ids=lambda c: c.reason)
def test_stateful_kinds(case: KindCase) -> None:
    assert is_stateful(case.key) is case.want


def keys(n: int) -> tuple[ResourceKey, ...]:
    return tuple(ResourceKey("", "ConfigMap", "shop", f"cm-{i}") for i in range(n))


@dataclass(frozen=True)
class ShareCase:
    reason: str
    pruned: int
    inventory: int
    limit: float
    stops: bool


SHARE_CASES = [
    ShareCase("2 of 4 is past 25%", 2, 4, 25, True),
    ShareCase("1 of 3 is one file, not a mass deletion", 1, 3, 25, False),
    ShareCase("2 of 8 is exactly the limit", 2, 8, 25, False),
    ShareCase("3 of 8 is past it", 3, 8, 25, True),
    ShareCase("100% turns the share check off", 5, 5, 100, False),
    ShareCase("0% stops any two prunes", 2, 100, 0, True),
    ShareCase("nothing pruned never stops", 0, 4, 0, False),
]


@pytest.mark.parametrize("case", SHARE_CASES, ids=lambda c: c.reason)
def test_the_share_of_the_inventory(case: ShareCase) -> None:
    blast = BlastRadius("shop", keys(case.pruned), case.inventory, case.limit, (), ())
    assert blast.stops is case.stops
    assert bool(blast.reason) is case.stops


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("40%", 40.0),
        ("40", 40.0),
        (" 12.5 % ", 12.5),
        ("0%", 0.0),
        ("100%", 100.0),
        ("101%", None),
        ("-1", None),
        ("lots", None),
        ("", None),
    ],
)
def test_a_prune_limit_is_a_percentage(text: str, want: float | None) -> None:
    assert parse_percent(text) == want

"""Health of AWS objects: one observed manifest (tests/testdata/aws/health/) →
code and message. moto makes instances available at once, so the in-between
states are fixtures; the checks are pure and read only the manifest."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from gitwave.engine import health as health_module
from gitwave.engine.health import health_of, registered_kinds
from gitwave.engine.model import HealthCode, Live, ResourceKey
from gitwave.providers.aws import AwsConfig, AwsProvider, register_health_checks
from gitwave.providers.aws.kinds import handlers

from .conftest import TESTDATA

H, S, P, D, U = (
    HealthCode.HEALTHY,
    HealthCode.SUSPENDED,
    HealthCode.PROGRESSING,
    HealthCode.DEGRADED,
    HealthCode.UNKNOWN,
)


@dataclass(frozen=True)
class Case:
    given: str  # file under tests/testdata/aws/health/
    want: HealthCode
    message: str


CASES = [
    Case("dbinstance-available.yaml", H, "DB instance is available"),
    Case(
        "dbinstance-pending-modification.yaml",
        H,
        "pending until the maintenance window: dbInstanceClass",
    ),
    Case("dbinstance-creating.yaml", P, "DB instance is creating"),
    Case("dbinstance-modifying.yaml", P, "DB instance is modifying"),
    Case("dbinstance-backing-up.yaml", P, "DB instance is backing-up"),
    Case("dbinstance-stopped.yaml", S, "DB instance is stopped"),
    Case("dbinstance-failed.yaml", D, "DB instance is failed"),
    Case("dbinstance-incompatible-parameters.yaml", D, "incompatible-parameters"),
    Case("dbinstance-storage-full.yaml", D, "storage-full"),
    Case("dbinstance-no-status.yaml", P, "Waiting for the DB instance to report a status"),
    Case("dbinstance-unheard-of.yaml", U, "'time-travelling' is not known"),
    Case("dbsubnetgroup-complete.yaml", H, "DB subnet group is complete"),
    Case("dbsubnetgroup-invalid.yaml", D, "state is Invalid"),
    Case("queue-exists.yaml", H, "Queue exists"),
    Case("bucket-exists.yaml", H, "Bucket exists"),
    Case("bucket-creating.yaml", P, "not ready yet: Creating"),
    Case("securitygroup-exists.yaml", H, "Security group exists"),
    Case("metricalarm-firing.yaml", H, "state ALARM"),
    Case("recordset-exists.yaml", H, "Record set exists"),
]


@pytest.fixture
def engine_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's health registry with the AWS checks in, for this test only."""
    monkeypatch.setattr(health_module, "_CHECKS", dict(health_module._CHECKS))
    register_health_checks()


@pytest.mark.parametrize("case", CASES, ids=[c.given for c in CASES])
def test_health(engine_registry: None, case: Case) -> None:
    manifest = yaml.load((TESTDATA / "health" / case.given).read_text(), Loader=yaml.CSafeLoader)
    provider = AwsProvider(config=AwsConfig(region="eu-west-1"))
    health = provider.health(Live(ResourceKey.of(manifest), manifest))
    assert health.code is case.want
    assert case.message in health.message
    # The engine's own registry gives the same answer (the provider registered it).
    assert health_of(manifest) == health


def test_every_aws_kind_has_a_registered_health_check(engine_registry: None) -> None:
    kinds = {(h.group, h.kind) for h in handlers()}
    assert len(kinds) == 7
    assert kinds <= registered_kinds()

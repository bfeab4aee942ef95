"""Health of AWS objects: one observed manifest (tests/testdata/aws/health/) →
code and message. moto makes instances available at once, so the in-between
states are fixtures; the checks are pure and read only the manifest.

The AWS provider answers health for its own kinds: nothing it does writes into
the engine's health registry, and an app's health reaches the kind's check
because the targets route each object to the provider that handles it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gitwave.engine.health import registered_kinds
from gitwave.engine.model import HealthCode, Live, ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.providers.aws import AwsConfig, AwsProvider, AwsTarget
from gitwave.providers.aws.kinds import handlers
from gitwave.providers.sandbox import SandboxProvider

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


def live_of(case: Case) -> Live:
    manifest = yaml.load((TESTDATA / "health" / case.given).read_text(), Loader=yaml.CSafeLoader)
    return Live(ResourceKey.of(manifest), manifest)


@pytest.mark.parametrize("case", CASES, ids=[c.given for c in CASES])
def test_health(case: Case) -> None:
    provider = AwsProvider(config=AwsConfig(region="eu-west-1"))
    health = provider.health(live_of(case))
    assert health.code is case.want
    assert case.message in health.message


@pytest.mark.parametrize("case", CASES, ids=[c.given for c in CASES])
def test_app_health_routes_cloud_objects_to_the_aws_target(case: Case, tmp_path: Path) -> None:
    """What the CLI builds: the AWS target first, then the Kubernetes side. The
    engine asks ``targets.for_live(live).health(live)``, which must be the AWS
    kind's answer (the engine's generic reading of conditions says less)."""
    with SandboxProvider(tmp_path / "state") as sandbox:
        aws = AwsTarget(kube_side=sandbox, state_dir=tmp_path, embedded=False)
        targets = ProviderRouter([aws, sandbox])
        live = live_of(case)
        assert targets.for_live(live) is aws
        health = targets.for_live(live).health(live)
    assert health.code is case.want
    assert case.message in health.message


def test_the_aws_provider_writes_nothing_into_the_engine_health_registry() -> None:
    """Importing and using the provider leaves the engine's built-in checks alone
    (in a fresh interpreter: this one's registry may hold test registrations)."""
    script = (
        "from gitwave.engine.health import registered_kinds\n"
        "before = registered_kinds()\n"
        "from gitwave.engine.model import Live, ResourceKey\n"
        "from gitwave.providers.aws import AwsConfig, AwsProvider\n"
        "import gitwave.providers.aws.kinds\n"
        "provider = AwsProvider(config=AwsConfig(region='eu-west-1'))\n"
        "manifest = {'apiVersion': 'sqs.aws.crossplane.io/v1beta1', 'kind': 'Queue',\n"
        "            'metadata': {'name': 'q'}}\n"
        "provider.health(Live(ResourceKey.of(manifest), manifest))\n"
        "assert registered_kinds() == before, sorted(registered_kinds() - before)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    aws_kinds = {(h.group, h.kind) for h in handlers()}
    assert len(aws_kinds) == 12  # 7 classic kinds, 5 Upbound kinds mapped onto them
    assert not aws_kinds & registered_kinds()

"""The provider contract, AWS edition.

``tests/providers/contract.py`` is written for Kubernetes-shaped targets
(namespaces, ConfigMaps, Deployments, field managers, garbage collection);
none of that exists in AWS. What carries over is checked here for every AWS
kind: the protocol, create-then-observe, re-apply is unchanged, dry runs store
nothing, absent objects, and list_tracked. Updates, drift and delete are in
test_lifecycle.py; the Kubernetes-only parts (foreign field managers, removed
fields, namespaces, foreground deletion of owned objects) have no AWS meaning.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from gitwave.engine.model import LABEL_APP, ChangeAction, Manifest, ResourceKey
from gitwave.engine.provider import Provider
from gitwave.providers.aws import AwsProvider
from tests.providers.contract import contains

from .conftest import Network, resource

KINDS = [
    "dbinstance",
    "dbsubnetgroup",
    "securitygroup",
    "queue",
    "bucket",
    "recordset",
    "metricalarm",
]


@dataclass(frozen=True)
class HandlesCase:
    api_version: str
    kind: str
    want: bool


HANDLES = [
    HandlesCase("rds.aws.crossplane.io/v1alpha1", "DBInstance", True),
    HandlesCase("database.aws.crossplane.io/v1beta1", "DBSubnetGroup", True),
    HandlesCase("ec2.aws.crossplane.io/v1beta1", "SecurityGroup", True),
    HandlesCase("sqs.aws.crossplane.io/v1beta1", "Queue", True),
    HandlesCase("s3.aws.crossplane.io/v1beta1", "Bucket", True),
    HandlesCase("route53.aws.crossplane.io/v1alpha1", "ResourceRecordSet", True),
    HandlesCase("cloudwatch.aws.crossplane.io/v1alpha1", "MetricAlarm", True),
    HandlesCase("rds.aws.crossplane.io/v1beta1", "DBInstance", False),  # not that version
    HandlesCase("rds.aws.upbound.io/v1beta1", "Instance", True),  # Upbound's, mapped
    # Upbound kinds gitwave does not map are its too: declare/apply refuse them by name
    # (tests/providers/aws/test_upbound.py) instead of another target taking them.
    HandlesCase("sqs.aws.upbound.io/v1beta1", "Queue", True),
    HandlesCase("rds.aws.upbound.io/v1beta3", "Instance", True),
    HandlesCase("ec2.aws.crossplane.io/v1beta1", "VPC", False),  # not a kind gitwave manages
    HandlesCase("v1", "ConfigMap", False),
    HandlesCase("aws.crossplane.io/v1beta1", "ProviderConfig", False),
]


@pytest.mark.parametrize("case", HANDLES, ids=[f"{c.api_version} {c.kind}" for c in HANDLES])
def test_handles_exactly_its_kinds(provider: AwsProvider, case: HandlesCase) -> None:
    assert isinstance(provider, Provider)
    assert provider.name == "aws"
    assert provider.handles(case.api_version, case.kind) is case.want


@pytest.mark.parametrize("kind", KINDS)
def test_create_then_observe_then_reapply(
    provider: AwsProvider, manifest: Callable[..., Manifest], network: Network, kind: str
) -> None:
    desired = resource(manifest(kind))
    entry = provider.apply(desired)
    assert entry.action is ChangeAction.CREATED
    assert entry.live is not None
    assert not contains(entry.live.manifest, desired.manifest)
    live = provider.observe(desired.key)
    assert live is not None and live.complete
    assert not contains(live.manifest, desired.manifest)
    assert live.manifest["metadata"]["uid"] == entry.live.manifest["metadata"]["uid"]
    again = provider.apply(desired)
    assert again.action is ChangeAction.UNCHANGED
    assert again.live is not None and again.live.resource_version == live.resource_version


@pytest.mark.parametrize("kind", KINDS)
def test_dry_run_create_stores_nothing(
    provider: AwsProvider, manifest: Callable[..., Manifest], network: Network, kind: str
) -> None:
    desired = resource(manifest(kind))
    entry = provider.apply(desired, dry_run=True)
    assert entry.action is ChangeAction.CREATED
    assert entry.live is not None
    assert not contains(entry.live.manifest, desired.manifest)
    ready = entry.live.manifest["status"]["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "Creating")
    assert provider.observe(desired.key) is None


def test_dry_run_update_stores_nothing(
    provider: AwsProvider, manifest: Callable[..., Manifest]
) -> None:
    desired = resource(manifest("queue"))
    provider.apply(desired)
    changed = copy.deepcopy(desired.manifest)
    changed["spec"]["forProvider"]["visibilityTimeout"] = 99
    entry = provider.apply(resource(changed), dry_run=True)
    assert entry.action is ChangeAction.CONFIGURED
    assert [c.path for c in entry.changes] == ["spec.forProvider.visibilityTimeout"]
    assert entry.live is not None
    assert entry.live.manifest["spec"]["forProvider"]["visibilityTimeout"] == 99
    live = provider.observe(desired.key)
    assert live is not None and live.manifest["spec"]["forProvider"]["visibilityTimeout"] == 30


@pytest.mark.parametrize("kind", KINDS)
def test_absent_objects(
    provider: AwsProvider, manifest: Callable[..., Manifest], network: Network, kind: str
) -> None:
    never = resource(manifest(kind))
    provider.declare([never])
    assert provider.observe(never.key) is None
    assert provider.delete(never.key).action is ChangeAction.UNCHANGED


def test_list_tracked_returns_only_the_apps_objects(
    make_provider: Callable[..., AwsProvider],
    manifest: Callable[..., Manifest],
    network: Network,
    uid: str,
) -> None:
    mine, theirs = f"shop-{uid}", f"billing-{uid}"
    provider = make_provider()
    for kind in KINDS:
        provider.apply(resource(manifest(kind, app_name=mine)))
    provider.apply(resource(manifest("queue", name=f"other-{uid}", app_name=theirs)))
    unlabelled = manifest("queue", name=f"unlabelled-{uid}")
    del unlabelled["metadata"]["labels"][LABEL_APP]
    provider.apply(resource(unlabelled))

    # A fresh process (a later `gitwave sync --prune`) knows nothing but the app.
    tracked = make_provider().list_tracked(mine)
    assert sorted(live.key.kind for live in tracked) == sorted(
        [
            "DBInstance",
            "DBSubnetGroup",
            "SecurityGroup",
            "Queue",
            "Bucket",
            "ResourceRecordSet",
            "MetricAlarm",
        ]
    )
    assert all(live.complete for live in tracked)
    assert tracked == sorted(tracked, key=lambda live: live.key)
    for live in tracked:
        assert live.labels[LABEL_APP] == mine
        assert live.annotations["gitwave.dev/tracking-id"].startswith(f"{mine}:")

    # Prune: delete each by key in that fresh process; nothing is left.
    pruner = make_provider()
    pruner.list_tracked(mine)
    for live in tracked:
        assert pruner.delete(live.key).action is ChangeAction.DELETED
    assert make_provider().list_tracked(mine) == []
    assert [live.key.name for live in make_provider().list_tracked(theirs)] == [f"other-{uid}"]


def test_observing_a_kind_it_does_not_manage_is_an_error(provider: AwsProvider) -> None:
    from gitwave.engine.errors import ProviderError

    with pytest.raises(ProviderError, match="not an AWS kind gitwave manages"):
        provider.observe(ResourceKey("ec2.aws.crossplane.io", "VPC", "", "main"))

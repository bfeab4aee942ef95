"""Each AWS kind end to end against moto: create → observe → health → update →
drift (changed by another AWS client) → heal → delete.

The drift check runs the engine's own diff over the observed object, so what
is asserted is what ``gitwave plan`` shows: one field, AWS's value against Git's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.diff import diff_manifest
from gitwave.engine.model import ChangeAction, HealthCode, Live, Manifest
from gitwave.providers.aws import AwsProvider
from tests.providers.contract import contains, dig

from .conftest import Network, resource

Boto = Callable[..., Any]


def _external(live: Live) -> str:
    return str(live.manifest["metadata"]["annotations"]["crossplane.io/external-name"])


def _set(manifest: Manifest, dotted: str, value: Any) -> Manifest:
    """A copy with ``value`` at a dotted path under spec.forProvider (list indices as numbers)."""
    changed = copy.deepcopy(manifest)
    node: Any = changed["spec"]["forProvider"]
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return changed


# ---------------------------------------------------------------- out-of-band changes


def _rds_class(boto: Boto, live: Live) -> None:
    boto("rds").modify_db_instance(
        DBInstanceIdentifier=_external(live), DBInstanceClass="db.t3.large", ApplyImmediately=True
    )


def _rds_class_in_aws(boto: Boto, live: Live) -> Any:
    found = boto("rds").describe_db_instances(DBInstanceIdentifier=_external(live))
    return found["DBInstances"][0]["DBInstanceClass"]


def _subnet_group_arn(live: Live) -> str:
    return str(live.manifest["status"]["atProvider"]["arn"])


def _retag_subnet_group(boto: Boto, live: Live) -> None:
    boto("rds").add_tags_to_resource(
        ResourceName=_subnet_group_arn(live), Tags=[{"Key": "team", "Value": "ops"}]
    )


def _team_tag_in_aws(boto: Boto, live: Live) -> Any:
    found = boto("rds").list_tags_for_resource(ResourceName=_subnet_group_arn(live))
    return {t["Key"]: t["Value"] for t in found["TagList"]}.get("team")


def _open_ssh(boto: Boto, live: Live) -> None:
    boto("ec2").authorize_security_group_ingress(
        GroupId=_external(live),
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )


def _ingress_ports_in_aws(boto: Boto, live: Live) -> Any:
    group = boto("ec2").describe_security_groups(GroupIds=[_external(live)])["SecurityGroups"][0]
    return sorted(p.get("FromPort") for p in group["IpPermissions"])


def _queue_url(boto: Boto, live: Live) -> str:
    return str(live.manifest["status"]["atProvider"]["url"])


def _short_visibility(boto: Boto, live: Live) -> None:
    boto("sqs").set_queue_attributes(
        QueueUrl=_queue_url(boto, live), Attributes={"VisibilityTimeout": "5"}
    )


def _visibility_in_aws(boto: Boto, live: Live) -> Any:
    found = boto("sqs").get_queue_attributes(
        QueueUrl=_queue_url(boto, live), AttributeNames=["VisibilityTimeout"]
    )
    return int(found["Attributes"]["VisibilityTimeout"])


def _versioning_on(boto: Boto, live: Live) -> None:
    boto("s3").put_bucket_versioning(
        Bucket=_external(live), VersioningConfiguration={"Status": "Enabled"}
    )


def _versioning_in_aws(boto: Boto, live: Live) -> Any:
    return boto("s3").get_bucket_versioning(Bucket=_external(live)).get("Status")


def _zone(live: Live) -> str:
    return str(live.manifest["spec"]["forProvider"]["zoneId"])


def _repoint_record(boto: Boto, live: Live) -> None:
    boto("route53").change_resource_record_sets(
        HostedZoneId=_zone(live),
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": _external(live),
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.99"}],
                    },
                }
            ]
        },
    )


def _record_values_in_aws(boto: Boto, live: Live) -> Any:
    found = boto("route53").list_resource_record_sets(
        HostedZoneId=_zone(live), StartRecordName=_external(live), StartRecordType="A", MaxItems="1"
    )
    return sorted(r["Value"] for r in found["ResourceRecordSets"][0]["ResourceRecords"])


def _alarm(boto: Boto, live: Live) -> dict[str, Any]:
    found = boto("cloudwatch").describe_alarms(AlarmNames=[_external(live)])
    return dict(found["MetricAlarms"][0])


def _lower_threshold(boto: Boto, live: Live) -> None:
    alarm = _alarm(boto, live)
    boto("cloudwatch").put_metric_alarm(
        AlarmName=alarm["AlarmName"],
        AlarmDescription=alarm["AlarmDescription"],
        MetricName=alarm["MetricName"],
        Namespace=alarm["Namespace"],
        Statistic=alarm["Statistic"],
        Period=alarm["Period"],
        EvaluationPeriods=alarm["EvaluationPeriods"],
        Threshold=10.0,
        ComparisonOperator=alarm["ComparisonOperator"],
        Dimensions=alarm["Dimensions"],
    )


def _threshold_in_aws(boto: Boto, live: Live) -> Any:
    return _alarm(boto, live)["Threshold"]


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class KindCase:
    reason: str
    kind: str  # fixture under tests/testdata/aws/kinds/
    update: tuple[str, Any]  # dotted path under spec.forProvider, new value
    drift: Callable[[Boto, Live], None]  # another client changes the resource
    drifted: tuple[str, Any]  # the field the diff reports, and AWS's value then
    in_aws: Callable[[Boto, Live], Any]  # the healed value, read from AWS directly
    healed: Any
    healthy: str  # a fragment of the health message


CASES = [
    KindCase(
        "DBInstance: the instance class drifts and is modified back",
        "dbinstance",
        ("dbInstanceClass", "db.t3.small"),
        _rds_class,
        ("spec.forProvider.dbInstanceClass", "db.t3.large"),
        _rds_class_in_aws,
        "db.t3.small",
        "DB instance is available",
    ),
    # Tags, not the description: moto 5.2's ModifyDBSubnetGroup drops the group
    # (see test_policies.py::test_subnet_group_description_changes_in_place).
    KindCase(
        "DBSubnetGroup: a tag is changed by hand",
        "dbsubnetgroup",
        ("tags.0.value", "billing"),
        _retag_subnet_group,
        ("spec.forProvider.tags[0].value", "ops"),
        _team_tag_in_aws,
        "billing",
        "DB subnet group is complete",
    ),
    KindCase(
        "SecurityGroup: someone opens SSH; the extra rule is revoked",
        "securitygroup",
        ("ingress.0.ipRanges.0.cidrIp", "10.0.1.0/24"),
        _open_ssh,
        ("spec.forProvider.ingress", None),
        _ingress_ports_in_aws,
        [5432],
        "Security group exists",
    ),
    KindCase(
        "Queue: the visibility timeout drifts",
        "queue",
        ("visibilityTimeout", 60),
        _short_visibility,
        ("spec.forProvider.visibilityTimeout", 5),
        _visibility_in_aws,
        60,
        "Queue exists",
    ),
    KindCase(
        "Bucket: versioning is switched back on by hand",
        "bucket",
        ("versioningConfiguration.status", "Suspended"),
        _versioning_on,
        ("spec.forProvider.versioningConfiguration.status", "Enabled"),
        _versioning_in_aws,
        "Suspended",
        "Bucket exists",
    ),
    KindCase(
        "ResourceRecordSet: the record is repointed by hand",
        "recordset",
        ("ttl", 60),
        _repoint_record,
        ("spec.forProvider.resourceRecords", [{"value": "192.0.2.99"}]),
        _record_values_in_aws,
        ["192.0.2.10", "192.0.2.11"],
        "Record set exists",
    ),
    KindCase(
        "MetricAlarm: the threshold drifts",
        "metricalarm",
        ("threshold", 90),
        _lower_threshold,
        ("spec.forProvider.threshold", 10.0),
        _threshold_in_aws,
        90.0,
        "Alarm exists",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_kind_lifecycle(
    provider: AwsProvider,
    manifest: Callable[..., Manifest],
    boto: Boto,
    network: Network,
    case: KindCase,
) -> None:
    desired = resource(manifest(case.kind))

    # create
    created = provider.apply(desired)
    assert created.action is ChangeAction.CREATED, created.message
    assert created.live is not None

    # observe: the object Git describes, as AWS has it
    live = provider.observe(desired.key)
    assert live is not None and live.complete
    assert not contains(live.manifest, desired.manifest)
    assert live.manifest["metadata"]["uid"] == created.live.manifest["metadata"]["uid"]
    assert diff_manifest(desired.manifest, live.manifest) == ()
    ready = next(c for c in live.manifest["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"

    # health
    health = provider.health(live)
    assert health.code is HealthCode.HEALTHY
    assert case.healthy in health.message

    # re-applying the same changes nothing
    again = provider.apply(desired)
    assert again.action is ChangeAction.UNCHANGED
    assert again.live is not None and again.live.resource_version == live.resource_version

    # update
    path, value = case.update
    updated = resource(_set(desired.manifest, path, value))
    entry = provider.apply(updated)
    assert entry.action is ChangeAction.CONFIGURED, entry.message
    assert entry.live is not None and entry.live.resource_version != live.resource_version
    after = provider.observe(updated.key)
    assert after is not None
    assert dig(after.manifest["spec"]["forProvider"], path) == value
    assert diff_manifest(updated.manifest, after.manifest) == ()

    # drift: another AWS client changes the resource
    case.drift(boto, after)
    drifted = provider.observe(updated.key)
    assert drifted is not None
    changes = diff_manifest(updated.manifest, drifted.manifest)
    field, aws_value = case.drifted
    assert [c.path for c in changes] == [field]
    if aws_value is not None:
        assert changes[0].live == aws_value

    # heal
    healed = provider.apply(updated)
    assert healed.action is ChangeAction.CONFIGURED
    assert case.in_aws(boto, drifted) == case.healed
    final = provider.observe(updated.key)
    assert final is not None
    assert diff_manifest(updated.manifest, final.manifest) == ()

    # delete
    deleted = provider.delete(updated.key)
    assert deleted.action is ChangeAction.DELETED
    assert provider.observe(updated.key) is None
    assert provider.delete(updated.key).action is ChangeAction.UNCHANGED

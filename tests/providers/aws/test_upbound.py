"""Upbound's provider-aws kinds (``*.aws.upbound.io``) on the classic handlers,
against moto: create → observe (in Upbound's names) → in sync → drift by
another AWS client (shown in Upbound's field names) → heal → list → delete;
and the kinds gitwave does not map, refused by name."""

from __future__ import annotations

import base64
import copy
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.engine.diff import diff_manifest
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, HealthCode, Live, Manifest, ResourceKey
from gitwave.providers.aws import AwsProvider
from tests.providers.contract import contains

from .conftest import OWNER, SECRETS_NAMESPACE, Network, Secrets, resource

Boto = Callable[..., Any]
UPBOUND = Path(__file__).parents[2] / "testdata" / "aws" / "upbound"


@pytest.fixture
def upbound(network: Network, uid: str, app: str) -> Callable[..., Manifest]:
    """``upbound("instance")``: a fixture under tests/testdata/aws/upbound/, filled in."""

    def load(kind: str) -> Manifest:
        text = (UPBOUND / f"{kind}.yaml").read_text()
        filled = string.Template(text).substitute(
            name=f"ub-{kind}-{uid}",
            app=app,
            vpc=network.vpc,
            subnet_a=network.subnet_a,
            subnet_b=network.subnet_b,
        )
        loaded = yaml.load(filled, Loader=yaml.CSafeLoader)
        assert isinstance(loaded, dict)
        return loaded

    return load


def _external(live: Live) -> str:
    return str(live.manifest["metadata"]["annotations"]["crossplane.io/external-name"])


def _rds_class(boto: Boto, live: Live) -> None:
    boto("rds").modify_db_instance(
        DBInstanceIdentifier=_external(live), DBInstanceClass="db.t3.large", ApplyImmediately=True
    )


def _rds_in_aws(boto: Boto, live: Live) -> dict[str, Any]:
    found = boto("rds").describe_db_instances(DBInstanceIdentifier=_external(live))
    instance = found["DBInstances"][0]
    return {
        "class": instance["DBInstanceClass"],
        "user": instance["MasterUsername"],
        "tags": {t["Key"]: t["Value"] for t in instance["TagList"] if t["Key"] == "team"},
    }


def _subnet_group_tag(boto: Boto, live: Live) -> None:
    # A tag, not the subnets: moto's ModifyDBSubnetGroup drops the group (see
    # tests/providers/aws/test_lifecycle.py).
    arn = live.manifest["status"]["atProvider"]["arn"]
    boto("rds").add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "team", "Value": "ops"}])


def _subnets_in_aws(boto: Boto, live: Live) -> dict[str, Any]:
    group = boto("rds").describe_db_subnet_groups(DBSubnetGroupName=_external(live))
    found = group["DBSubnetGroups"][0]
    return {
        "description": found["DBSubnetGroupDescription"],
        "subnets": len(found["Subnets"]),
    }


def _sg_tag(boto: Boto, live: Live) -> None:
    boto("ec2").create_tags(Resources=[_external(live)], Tags=[{"Key": "team", "Value": "growth"}])


def _sg_in_aws(boto: Boto, live: Live) -> dict[str, Any]:
    found = boto("ec2").describe_security_groups(GroupIds=[_external(live)])["SecurityGroups"][0]
    return {"name": found["GroupName"], "vpc": found["VpcId"]}


def _alarm_threshold(boto: Boto, live: Live) -> None:
    cloudwatch = boto("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=[_external(live)])["MetricAlarms"][0]
    keep = (
        "AlarmName",
        "AlarmDescription",
        "Namespace",
        "MetricName",
        "Statistic",
        "Period",
        "EvaluationPeriods",
        "ComparisonOperator",
        "Dimensions",
    )
    cloudwatch.put_metric_alarm(**{k: alarm[k] for k in keep if k in alarm}, Threshold=95.0)


def _alarm_in_aws(boto: Boto, live: Live) -> dict[str, Any]:
    alarm = boto("cloudwatch").describe_alarms(AlarmNames=[_external(live)])["MetricAlarms"][0]
    return {"threshold": alarm["Threshold"], "metric": alarm["MetricName"]}


def _bucket_tags(boto: Boto, live: Live) -> None:
    # S3 replaces the whole tag set: keep gitwave's own tags, as a careful person would.
    s3 = boto("s3")
    tags = s3.get_bucket_tagging(Bucket=_external(live))["TagSet"]
    changed = [t if t["Key"] != "team" else {"Key": "team", "Value": "growth"} for t in tags]
    s3.put_bucket_tagging(Bucket=_external(live), Tagging={"TagSet": changed})


def _bucket_in_aws(boto: Boto, live: Live) -> dict[str, Any]:
    location = boto("s3").get_bucket_location(Bucket=_external(live))
    return {"region": location["LocationConstraint"]}


@dataclass
class Case:
    kind: str
    in_aws: Callable[[Boto, Live], dict[str, Any]]
    want_in_aws: dict[str, Any]
    drift: Callable[..., Any]
    drift_path: str
    at_provider: tuple[str, ...]


def cases(network: Network) -> list[Case]:
    return [
        Case(
            "instance",
            _rds_in_aws,
            {"class": "db.t3.micro", "user": "shop", "tags": {"team": "orders"}},
            _rds_class,
            "spec.forProvider.instanceClass",
            ("id", "arn", "status", "address", "port"),
        ),
        Case(
            "subnetgroup",
            _subnets_in_aws,
            # Upbound's description is optional; Terraform's default fills it in.
            {"description": "Managed by Terraform", "subnets": 2},
            _subnet_group_tag,
            "spec.forProvider.tags.team",
            ("id", "arn"),
        ),
        Case(
            "securitygroup",
            _sg_in_aws,
            {"vpc": network.vpc},
            _sg_tag,
            "spec.forProvider.tags.team",
            ("id",),
        ),
        Case(
            "metricalarm",
            _alarm_in_aws,
            {"threshold": 80.0, "metric": "CPUUtilization"},
            _alarm_threshold,
            "spec.forProvider.threshold",
            ("id",),
        ),
        Case(
            "bucket",
            _bucket_in_aws,
            {"region": "eu-west-1"},
            _bucket_tags,
            "spec.forProvider.tags.team",
            ("id", "arn"),
        ),
    ]


KINDS = ["instance", "subnetgroup", "securitygroup", "metricalarm", "bucket"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_upbound_kind_end_to_end(
    kind: str,
    provider: AwsProvider,
    upbound: Callable[..., Manifest],
    network: Network,
    boto: Boto,
    app: str,
) -> None:
    case = next(c for c in cases(network) if c.kind == kind)
    desired = resource(upbound(kind))
    provider.declare([desired])

    created = provider.apply(desired)

    assert created.action is ChangeAction.CREATED, created.message
    live = provider.observe(desired.key)
    assert live is not None
    assert live.manifest["apiVersion"] == desired.api_version
    for_provider = desired.manifest["spec"]["forProvider"]
    assert contains(live.manifest["spec"]["forProvider"], for_provider) == []
    assert live.manifest["spec"]["forProvider"]["tags"] == {"team": "orders"}
    assert set(case.at_provider) <= set(live.manifest["status"]["atProvider"])
    assert contains(case.in_aws(boto, live), case.want_in_aws) == []
    assert provider.health(live).code is HealthCode.HEALTHY
    assert diff_manifest(desired.manifest, live.manifest) == ()
    assert provider.apply(desired).action is ChangeAction.UNCHANGED

    case.drift(boto, live)
    drifted = provider.observe(desired.key)
    assert drifted is not None
    paths = [c.path for c in diff_manifest(desired.manifest, drifted.manifest)]
    assert paths == [case.drift_path]
    assert provider.apply(desired).action is ChangeAction.CONFIGURED
    healed = provider.observe(desired.key)
    assert healed is not None
    assert diff_manifest(desired.manifest, healed.manifest) == ()

    tracked = [t.key for t in provider.list_tracked(app)]
    assert desired.key in tracked
    assert all(k.group.endswith(".aws.upbound.io") for k in tracked)
    provider.delete(desired.key)
    assert provider.observe(desired.key) is None


def test_an_upbound_instance_writes_upbounds_connection_keys(
    provider: AwsProvider, upbound: Callable[..., Manifest], secrets: Secrets, boto: Boto
) -> None:
    desired = resource(upbound("instance"))

    provider.apply(desired)

    name = desired.key.name
    data = secrets.data(SECRETS_NAMESPACE, f"{name}-conn")
    assert set(data) == {"username", "password", "endpoint", "address", "port"}
    assert data["endpoint"] == f"{data['address']}:{data['port']}"
    # autoGeneratePassword with passwordSecretRef: the password is stored where it points.
    assert secrets.read(SECRETS_NAMESPACE, f"{name}-password", "password") == data["password"]
    tags = boto("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["TagList"]
    record = "".join(t["Value"] for t in tags if t["Key"].startswith("gitwave.dev/record"))
    assert data["password"] not in base64.urlsafe_b64decode(record + "==").decode(errors="ignore")


def test_an_instance_in_an_upbound_subnet_group_is_deleted_first(
    provider: AwsProvider, upbound: Callable[..., Manifest]
) -> None:
    group = resource(upbound("subnetgroup"))
    instance_manifest = upbound("instance")
    instance_manifest["spec"]["forProvider"]["dbSubnetGroupName"] = group.key.name
    instance = resource(instance_manifest)
    provider.apply(group)
    provider.apply(instance)
    live_instance, live_group = provider.observe(instance.key), provider.observe(group.key)
    assert live_instance is not None and live_group is not None

    assert provider.uses(live_instance, [live_group]) == (group.key,)


@dataclass
class Refusal:
    reason: str
    api_version: str
    kind: str
    for_provider: dict[str, Any]
    want: str


REFUSALS = [
    Refusal(
        "an Upbound kind gitwave does not map",
        "sqs.aws.upbound.io/v1beta1",
        "Queue",
        {"region": "eu-west-1"},
        "Queue (sqs.aws.upbound.io/v1beta1) is not supported: gitwave does not map this "
        "Upbound kind onto its AWS handlers; supported Upbound kinds: "
        "Instance.rds.aws.upbound.io/v1beta1, SubnetGroup.rds.aws.upbound.io/v1beta1, "
        "SecurityGroup.ec2.aws.upbound.io/v1beta1, MetricAlarm.cloudwatch.aws.upbound.io/v1beta1, "
        "Bucket.s3.aws.upbound.io/v1beta1",
    ),
    Refusal(
        "a mapped kind at another version",
        "rds.aws.upbound.io/v1beta3",
        "Instance",
        {"region": "eu-west-1"},
        "Instance (rds.aws.upbound.io/v1beta3) is not supported: gitwave maps "
        "Instance.rds.aws.upbound.io at rds.aws.upbound.io/v1beta1 only",
    ),
    Refusal(
        "Crossplane v2's namespaced groups",
        "rds.aws.m.upbound.io/v1beta1",
        "Instance",
        {"region": "eu-west-1"},
        "the namespaced managed resources of Crossplane v2 are not supported",
    ),
    Refusal(
        "a field with its classic name",
        "rds.aws.upbound.io/v1beta1",
        "Instance",
        {"region": "eu-west-1", "engine": "postgres", "dbInstanceClass": "db.t3.micro"},
        "spec.forProvider.dbInstanceClass is not supported for Instance (supported: ",
    ),
    Refusal(
        "a security group's inline rules (Upbound has rule kinds for them)",
        "ec2.aws.upbound.io/v1beta1",
        "SecurityGroup",
        {"region": "eu-west-1", "name": "x", "ingress": []},
        "spec.forProvider.ingress is not supported for SecurityGroup",
    ),
    Refusal(
        "tags as a list",
        "s3.aws.upbound.io/v1beta1",
        "Bucket",
        {"region": "eu-west-1", "tags": [{"key": "team", "value": "x"}]},
        "spec.forProvider.tags must be a map",
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.reason)
def test_what_gitwave_does_not_map_is_refused_by_name(
    case: Refusal, make_provider: Callable[..., AwsProvider], uid: str
) -> None:
    provider = make_provider()
    manifest = {
        "apiVersion": case.api_version,
        "kind": case.kind,
        "metadata": {"name": f"refused-{uid}"},
        "spec": {"forProvider": copy.deepcopy(case.for_provider)},
    }
    desired = resource(manifest)
    assert provider.handles(case.api_version, case.kind)

    with pytest.raises(ProviderError) as caught:
        provider.declare([desired])

    assert case.want in str(caught.value)
    assert case.kind in str(caught.value)
    assert provider.list_tracked(f"nothing-{uid}") == []


def test_the_owner_tag_names_the_upbound_key(
    provider: AwsProvider, upbound: Callable[..., Manifest], boto: Boto
) -> None:
    desired = resource(upbound("bucket"))
    provider.apply(desired)
    tags = boto("s3").get_bucket_tagging(Bucket=desired.key.name)["TagSet"]
    found = {t["Key"]: t["Value"] for t in tags}
    assert found["gitwave.dev/owner"] == OWNER
    assert ResourceKey.parse(found["gitwave.dev/key"]) == desired.key

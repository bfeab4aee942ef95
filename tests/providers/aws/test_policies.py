"""Whose resource is it, and what may gitwave do with it: external names,
ownership tags, deletion and management policies, idempotent creates, and
input gitwave refuses before touching AWS."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.diff import diff_manifest
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, Manifest
from gitwave.providers.aws import TAG_APP, TAG_KEY, TAG_OWNER, AwsProvider

from .conftest import Network, resource

Boto = Callable[..., Any]
EXTERNAL_NAME = "crossplane.io/external-name"


def _with(
    manifest: Manifest,
    *,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    for_provider: dict[str, Any] | None = None,
    name: str | None = None,
) -> Manifest:
    changed = copy.deepcopy(manifest)
    if name:
        changed["metadata"]["name"] = name
    changed["metadata"].setdefault("annotations", {}).update(annotations or {})
    changed["spec"].update(spec or {})
    changed["spec"]["forProvider"].update(for_provider or {})
    return changed


def _bucket_tags(boto: Boto, bucket: str) -> dict[str, str]:
    try:
        found = boto("s3").get_bucket_tagging(Bucket=bucket)
    except boto("s3").exceptions.ClientError:
        return {}
    return {t["Key"]: t["Value"] for t in found["TagSet"]}


def _bucket_exists(boto: Boto, bucket: str) -> bool:
    return bucket in {b["Name"] for b in boto("s3").list_buckets()["Buckets"]}


def _foreign_bucket(boto: Boto, name: str) -> None:
    boto("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    boto("s3").put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": [{"Key": "created-by", "Value": "terraform"}]}
    )


# ---------------------------------------------------------------- adoption and ownership


def test_external_name_adopts_an_existing_bucket_without_owning_it(
    provider: AwsProvider, manifest: Callable[..., Manifest], boto: Boto, uid: str
) -> None:
    existing = f"legacy-assets-{uid}"
    _foreign_bucket(boto, existing)
    desired = resource(
        _with(manifest("bucket", name=f"assets-{uid}"), annotations={EXTERNAL_NAME: existing})
    )

    provider.declare([desired])  # what the engine does before it observes
    live = provider.observe(desired.key)
    assert live is not None, "the annotation points observe at the existing bucket"
    assert live.manifest["metadata"]["annotations"][EXTERNAL_NAME] == existing

    entry = provider.apply(desired)
    assert entry.action is ChangeAction.CONFIGURED
    tags = _bucket_tags(boto, existing)
    assert tags[TAG_KEY] == str(desired.key)
    assert TAG_OWNER not in tags, "adopting never claims ownership"
    assert tags["team"] == "orders" and "created-by" not in tags  # Git's tag set is the set
    adopted = provider.observe(desired.key)
    assert adopted is not None
    assert diff_manifest(desired.manifest, adopted.manifest) == ()


def test_deleting_an_adopted_bucket_is_refused(
    provider: AwsProvider, manifest: Callable[..., Manifest], boto: Boto, uid: str
) -> None:
    existing = f"legacy-logs-{uid}"
    _foreign_bucket(boto, existing)
    desired = resource(
        _with(manifest("bucket", name=f"logs-{uid}"), annotations={EXTERNAL_NAME: existing})
    )
    provider.apply(desired)

    with pytest.raises(ProviderError) as refused:
        provider.delete(desired.key)
    assert "refusing to delete" in str(refused.value)
    assert TAG_OWNER in str(refused.value)
    assert refused.value.key == desired.key
    assert "deletionPolicy: Orphan" in refused.value.hint
    assert _bucket_exists(boto, existing)


def test_a_same_named_resource_is_not_taken_over_without_the_annotation(
    provider: AwsProvider, manifest: Callable[..., Manifest], boto: Boto, uid: str
) -> None:
    name = f"taken-{uid}"
    _foreign_bucket(boto, name)
    desired = resource(manifest("bucket", name=name))

    with pytest.raises(ProviderError) as refused:
        provider.apply(desired)
    assert "was not created by gitwave" in str(refused.value)
    assert f"{EXTERNAL_NAME}: {name}" in refused.value.hint
    assert _bucket_tags(boto, name) == {"created-by": "terraform"}, "nothing was written"


def test_two_objects_cannot_manage_one_resource(
    provider: AwsProvider, manifest: Callable[..., Manifest], uid: str
) -> None:
    first = resource(manifest("queue", name=f"jobs-{uid}"))
    provider.apply(first)
    second = resource(
        _with(
            manifest("queue", name=f"jobs-copy-{uid}"), annotations={EXTERNAL_NAME: first.key.name}
        )
    )
    with pytest.raises(ProviderError, match="belongs to another gitwave object"):
        provider.apply(second)


def test_another_installation_cannot_delete_what_this_one_created(
    make_provider: Callable[..., AwsProvider],
    manifest: Callable[..., Manifest],
    boto: Boto,
    uid: str,
) -> None:
    desired = resource(manifest("queue", name=f"owned-{uid}"))
    make_provider().apply(desired)
    other = make_provider(owner="gitwave-staging")
    with pytest.raises(ProviderError, match="refusing to delete"):
        other.delete(desired.key)
    assert boto("sqs").get_queue_url(QueueName=desired.key.name)["QueueUrl"]


# ---------------------------------------------------------------- policies


def test_deletion_policy_orphan_leaves_the_resource_and_stops_tracking_it(
    provider: AwsProvider, manifest: Callable[..., Manifest], boto: Boto, uid: str, app: str
) -> None:
    desired = resource(
        _with(manifest("queue", name=f"keep-{uid}"), spec={"deletionPolicy": "Orphan"})
    )
    provider.apply(desired)
    assert [live.key for live in provider.list_tracked(app)] == [desired.key]

    entry = provider.delete(desired.key)
    assert entry.action is ChangeAction.ORPHANED
    assert "left in AWS" in entry.message and "Orphan" in entry.message
    url = boto("sqs").get_queue_url(QueueName=desired.key.name)["QueueUrl"]
    tags = boto("sqs").list_queue_tags(QueueUrl=url).get("Tags", {})
    assert TAG_APP not in tags, "no longer a prune candidate"
    assert tags[TAG_OWNER] and tags["team"] == "orders"
    assert provider.list_tracked(app) == []


def test_deletion_policy_is_remembered_by_a_fresh_process(
    make_provider: Callable[..., AwsProvider],
    manifest: Callable[..., Manifest],
    boto: Boto,
    uid: str,
) -> None:
    desired = resource(
        _with(manifest("queue", name=f"kept-{uid}"), spec={"deletionPolicy": "Orphan"})
    )
    make_provider().apply(desired)
    # A later `gitwave sync --prune` knows the object only by its key.
    entry = make_provider().delete(desired.key)
    assert "left in AWS" in entry.message
    assert boto("sqs").get_queue_url(QueueName=desired.key.name)["QueueUrl"]


@dataclass(frozen=True)
class ObserveOnlyCase:
    reason: str
    policies: list[str]


OBSERVE_ONLY = [
    ObserveOnlyCase("managementPolicies: [Observe]", ["Observe"]),
    ObserveOnlyCase("Observe and LateInitialize", ["Observe", "LateInitialize"]),
]


@pytest.mark.parametrize("case", OBSERVE_ONLY, ids=[c.reason for c in OBSERVE_ONLY])
def test_observe_only_never_writes(
    provider: AwsProvider,
    manifest: Callable[..., Manifest],
    boto: Boto,
    uid: str,
    case: ObserveOnlyCase,
) -> None:
    name = f"watched-{uid}"
    url = boto("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})[
        "QueueUrl"
    ]
    desired = resource(
        _with(
            manifest("queue", name=name),
            annotations={EXTERNAL_NAME: name},
            spec={"managementPolicies": case.policies},
        )
    )
    entry = provider.apply(desired)
    assert entry.action is ChangeAction.UNCHANGED
    assert "observe only" in entry.message
    attributes = boto("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "7"
    assert boto("sqs").list_queue_tags(QueueUrl=url).get("Tags", {}) == {}

    live = provider.observe(desired.key)
    assert live is not None
    assert live.manifest["spec"]["managementPolicies"] == case.policies
    drift = {c.path for c in diff_manifest(desired.manifest, live.manifest)}
    assert "spec.forProvider.visibilityTimeout" in drift, "what differs is still shown"

    # And delete leaves it alone.
    assert "left in AWS" in provider.delete(desired.key).message
    assert boto("sqs").get_queue_url(QueueName=name)["QueueUrl"] == url


def test_observe_only_on_a_missing_resource_is_an_error(
    provider: AwsProvider, manifest: Callable[..., Manifest], boto: Boto, uid: str
) -> None:
    desired = resource(
        _with(manifest("queue", name=f"nowhere-{uid}"), spec={"managementPolicies": ["Observe"]})
    )
    with pytest.raises(ProviderError, match="does not exist") as caught:
        provider.apply(desired)
    assert caught.value.key == desired.key
    assert provider.observe(desired.key) is None


# ---------------------------------------------------------------- idempotent creates


@pytest.mark.parametrize("kind", ["securitygroup", "dbinstance", "queue", "recordset"])
def test_a_new_process_finds_what_an_earlier_one_created(
    make_provider: Callable[..., AwsProvider],
    manifest: Callable[..., Manifest],
    boto: Boto,
    network: Network,
    kind: str,
) -> None:
    desired = resource(manifest(kind))
    first = make_provider().apply(desired)
    assert first.action is ChangeAction.CREATED

    # A process that died after AWS accepted the create knows nothing; the next one
    # must find the resource (by name, or for security groups by the key tag).
    again = make_provider().apply(desired)
    assert again.action is ChangeAction.UNCHANGED
    assert again.live is not None and first.live is not None
    assert again.live.manifest["metadata"]["uid"] == first.live.manifest["metadata"]["uid"]
    if kind == "securitygroup":
        groups = boto("ec2").describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [desired.key.name]}]
        )["SecurityGroups"]
        assert len(groups) == 1


def test_a_fresh_process_observes_a_security_group_without_being_told_its_id(
    make_provider: Callable[..., AwsProvider], manifest: Callable[..., Manifest], network: Network
) -> None:
    desired = resource(manifest("securitygroup"))
    created = make_provider().apply(desired)
    assert created.live is not None
    live = make_provider().observe(desired.key)
    assert live is not None
    assert live.manifest["metadata"]["annotations"][EXTERNAL_NAME].startswith("sg-")
    assert diff_manifest(desired.manifest, live.manifest) == ()


# ---------------------------------------------------------------- refused input


@dataclass(frozen=True)
class BadCase:
    reason: str
    kind: str
    change: dict[str, Any]  # merged into spec.forProvider
    message: str


BAD = [
    BadCase(
        "a field provider-aws has but gitwave does not support",
        "queue",
        {"fifoThroughputLimit": "perQueue"},
        "spec.forProvider.fifoThroughputLimit is not supported for Queue",
    ),
    BadCase(
        "an inline password is never accepted (use masterUserPasswordSecretRef)",
        "dbinstance",
        {"masterUserPassword": "hunter2hunter2"},
        "spec.forProvider.masterUserPassword is not supported for DBInstance",
    ),
    BadCase(
        "a missing required field",
        "dbinstance",
        {"engine": None},
        "spec.forProvider.engine is required",
    ),
    BadCase(
        "gitwave's tag prefix is reserved",
        "queue",
        {"tags": {"gitwave.dev/owner": "me"}},
        "keys starting with gitwave.dev/ are gitwave's own",
    ),
    BadCase(
        "a malformed security group rule",
        "securitygroup",
        {"ingress": [{"fromPort": 22, "toPort": 22}]},
        "ingress[0] needs an ipProtocol",
    ),
    BadCase(
        "a DB instance without a password source",
        "dbinstance",
        {"autogeneratePassword": False},
        "needs a master password",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c.reason for c in BAD])
def test_bad_input_is_refused_before_aws_is_touched(
    provider: AwsProvider, manifest: Callable[..., Manifest], network: Network, case: BadCase
) -> None:
    desired = resource(_with(manifest(case.kind), for_provider=case.change))
    with pytest.raises(ProviderError) as caught:
        provider.apply(desired)
    assert case.message in str(caught.value)
    assert str(desired.key.display) in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert provider.observe(desired.key) is None


def test_a_field_aws_cannot_change_in_place_is_refused(
    provider: AwsProvider, manifest: Callable[..., Manifest], boto: Boto
) -> None:
    desired = resource(manifest("dbinstance"))
    provider.apply(desired)
    changed = resource(_with(desired.manifest, for_provider={"engine": "mysql"}))
    with pytest.raises(ProviderError, match="engine cannot change in place") as caught:
        provider.apply(changed)
    assert "create a new resource" in caught.value.hint
    found = boto("rds").describe_db_instances(DBInstanceIdentifier=desired.key.name)
    assert found["DBInstances"][0]["Engine"] == "postgres"


def test_unknown_provider_config_is_named(
    provider: AwsProvider, manifest: Callable[..., Manifest]
) -> None:
    desired = resource(_with(manifest("queue"), spec={"providerConfigRef": {"name": "production"}}))
    with pytest.raises(ProviderError, match="providerConfigRef 'production' is not known"):
        provider.apply(desired)


@pytest.mark.xfail(
    strict=True, reason="moto 5.2: ModifyDBSubnetGroup pops the group and never stores it back"
)
def test_subnet_group_description_changes_in_place(
    provider: AwsProvider, manifest: Callable[..., Manifest], network: Network
) -> None:
    desired = resource(manifest("dbsubnetgroup"))
    provider.apply(desired)
    changed = resource(_with(desired.manifest, for_provider={"description": "renamed"}))
    assert provider.apply(changed).action is ChangeAction.CONFIGURED
    live = provider.observe(changed.key)
    assert live is not None and live.manifest["spec"]["forProvider"]["description"] == "renamed"

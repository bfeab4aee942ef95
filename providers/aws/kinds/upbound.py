"""Upbound's provider-aws kinds (``*.aws.upbound.io``), mapped onto the classic handlers.

Upbound's family providers (``provider-aws-rds``, ``-ec2``, ``-cloudwatch``,
``-s3``, …) are generated from Terraform, so the same AWS resource has other
kind and field names than in the classic ``*.aws.crossplane.io`` provider:
``rds.aws.upbound.io/v1beta1 Instance`` with ``instanceClass``, ``username``,
``passwordSecretRef`` and map ``tags`` is the classic ``DBInstance`` with
``dbInstanceClass``, ``masterUsername``, ``masterUserPasswordSecretRef`` and
list ``tags``. Each :class:`Alias` here names an Upbound kind, the classic
handler it runs on and the field map between them (written out, one entry per
field: what is not listed is refused naming the field and what is supported);
``upbound_handler.alias_handler`` makes a handler that speaks Upbound's names
and calls the classic one. Observed objects come back in Upbound's names, with
Upbound's ``atProvider`` fields (``id``, ``arn``, ``address``…) added next to
the classic ones.

An Upbound kind not listed (or at another version) is refused before anything
is called, naming the kind and the supported ones (:func:`unsupported`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey

from .base import Observed

__all__ = [
    "ALIASES",
    "UPBOUND_SUFFIX",
    "Alias",
    "is_upbound_group",
    "unsupported",
]

UPBOUND_SUFFIX = ".aws.upbound.io"


def is_upbound_group(group: str) -> bool:
    """True for an Upbound AWS provider group (``rds.aws.upbound.io``, …), the
    namespaced ``*.aws.m.upbound.io`` groups of Crossplane v2 included."""
    return group.endswith((UPBOUND_SUFFIX, ".aws.m.upbound.io"))


@dataclass(frozen=True)
class Alias:
    """An Upbound kind and how it maps onto a classic one.

    ``fields``: Upbound forProvider name → classic name (``tags`` is always a
    map in Upbound and converted to the classic handler's style). ``defaults``:
    classic fields Upbound does not require, with the value Terraform's AWS
    provider gives them. ``names_others``: fields naming another Upbound kind.
    ``at_provider``: Upbound's atProvider fields made from the classic ones.
    ``connection``: extra connection Secret keys from the classic ones.
    """

    group: str
    kind: str
    version: str
    base: tuple[str, str]
    fields: Mapping[str, str]
    required: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    names_others: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    at_provider: Callable[[Observed], dict[str, Any]] = lambda _: {}
    connection: Callable[[Mapping[str, str]], dict[str, str]] = lambda _: {}
    password_ref_field: str | None = None
    autogenerate_field: str | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def _same_names(*names: str) -> dict[str, str]:
    return {name: name for name in names}


def _instance_status(observed: Observed) -> dict[str, Any]:
    at = observed.at_provider
    found = at.get("endpoint")
    endpoint: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    out = {
        "id": at.get("dbInstanceIdentifier"),
        "arn": at.get("dbInstanceARN"),
        "status": at.get("dbInstanceStatus"),
        "resourceId": at.get("dbiResourceID"),
        "address": endpoint.get("address"),
        "port": endpoint.get("port"),
        "hostedZoneId": endpoint.get("hostedZoneID"),
    }
    return {k: v for k, v in out.items() if v is not None}


def _instance_connection(classic: Mapping[str, str]) -> dict[str, str]:
    # Upbound's Instance writes address (the host) and endpoint as host:port.
    out: dict[str, str] = {}
    if "endpoint" in classic:
        out["address"] = classic["endpoint"]
        if "port" in classic:
            out["endpoint"] = f"{classic['endpoint']}:{classic['port']}"
    return out


ALIASES: tuple[Alias, ...] = (
    Alias(
        group="rds.aws.upbound.io",
        kind="Instance",
        version="v1beta1",
        base=("rds.aws.crossplane.io", "DBInstance"),
        fields={
            **_same_names(
                "allocatedStorage",
                "allowMajorVersionUpgrade",
                "applyImmediately",
                "autoMinorVersionUpgrade",
                "availabilityZone",
                "backupRetentionPeriod",
                "copyTagsToSnapshot",
                "dbName",
                "dbSubnetGroupName",
                "deleteAutomatedBackups",
                "deletionProtection",
                "engine",
                "engineVersion",
                "iops",
                "licenseModel",
                "maxAllocatedStorage",
                "monitoringInterval",
                "port",
                "publiclyAccessible",
                "region",
                "skipFinalSnapshot",
                "storageEncrypted",
                "storageType",
                "tags",
            ),
            "autoGeneratePassword": "autogeneratePassword",
            "backupWindow": "preferredBackupWindow",
            "caCertIdentifier": "caCertificateIdentifier",
            "finalSnapshotIdentifier": "finalDBSnapshotIdentifier",
            "iamDatabaseAuthenticationEnabled": "enableIAMDatabaseAuthentication",
            "instanceClass": "dbInstanceClass",
            "kmsKeyId": "kmsKeyID",
            "maintenanceWindow": "preferredMaintenanceWindow",
            "multiAz": "multiAZ",
            "parameterGroupName": "dbParameterGroupName",
            "passwordSecretRef": "masterUserPasswordSecretRef",
            "performanceInsightsEnabled": "enablePerformanceInsights",
            "username": "masterUsername",
            "vpcSecurityGroupIds": "vpcSecurityGroupIDs",
        },
        required=frozenset({"region", "instanceClass", "engine"}),
        names_others={
            "dbSubnetGroupName": ("rds.aws.upbound.io", "SubnetGroup"),
            "vpcSecurityGroupIds": ("ec2.aws.upbound.io", "SecurityGroup"),
        },
        at_provider=_instance_status,
        connection=_instance_connection,
        password_ref_field="passwordSecretRef",
        autogenerate_field="autoGeneratePassword",
    ),
    Alias(
        group="rds.aws.upbound.io",
        kind="SubnetGroup",
        version="v1beta1",
        base=("database.aws.crossplane.io", "DBSubnetGroup"),
        fields=_same_names("description", "region", "subnetIds", "tags"),
        required=frozenset({"region", "subnetIds"}),
        defaults={"description": "Managed by Terraform"},
        at_provider=lambda o: {"id": o.external_name, "arn": o.at_provider.get("arn")},
    ),
    Alias(
        group="ec2.aws.upbound.io",
        kind="SecurityGroup",
        version="v1beta1",
        base=("ec2.aws.crossplane.io", "SecurityGroup"),
        # Rules are SecurityGroupRule/…IngressRule objects in Upbound's provider,
        # not fields: the group's own rules are left as they are.
        fields={**_same_names("description", "region", "tags", "vpcId"), "name": "groupName"},
        required=frozenset({"region", "name"}),
        defaults={"description": "Managed by Terraform"},
        at_provider=lambda o: {
            "id": o.external_name,
            "ownerId": o.at_provider.get("ownerId"),
            "ingress": o.for_provider.get("ingress"),
            "egress": o.for_provider.get("egress"),
        },
    ),
    Alias(
        group="cloudwatch.aws.upbound.io",
        kind="MetricAlarm",
        version="v1beta1",
        base=("cloudwatch.aws.crossplane.io", "MetricAlarm"),
        fields=_same_names(
            "actionsEnabled",
            "alarmActions",
            "alarmDescription",
            "comparisonOperator",
            "datapointsToAlarm",
            "dimensions",
            "evaluateLowSampleCountPercentiles",
            "evaluationPeriods",
            "extendedStatistic",
            "insufficientDataActions",
            "metricName",
            "namespace",
            "okActions",
            "period",
            "region",
            "statistic",
            "tags",
            "threshold",
            "thresholdMetricId",
            "treatMissingData",
            "unit",
        ),
        required=frozenset({"region", "comparisonOperator", "evaluationPeriods"}),
        at_provider=lambda o: {"id": o.external_name, "arn": o.at_provider.get("alarmArn")},
    ),
    Alias(
        group="s3.aws.upbound.io",
        kind="Bucket",
        version="v1beta1",
        base=("s3.aws.crossplane.io", "Bucket"),
        fields={
            "region": "locationConstraint",
            "objectLockEnabled": "objectLockEnabledForBucket",
            "tags": "tagging",
        },
        required=frozenset({"region"}),
        at_provider=lambda o: {
            "id": o.external_name,
            "arn": o.at_provider.get("arn"),
            "bucketDomainName": f"{o.external_name}.s3.amazonaws.com",
        },
    ),
)


def supported_text() -> str:
    """``Instance.rds.aws.upbound.io/v1beta1, …``: the Upbound kinds gitwave maps."""
    return ", ".join(f"{a.kind}.{a.api_version}" for a in ALIASES)


def unsupported(key: ResourceKey, api_version: str) -> ProviderError:
    """The error for an Upbound kind (or version) gitwave does not map."""
    known = next((a for a in ALIASES if (a.group, a.kind) == (key.group, key.kind)), None)
    if known is not None:
        detail = f"gitwave maps {key.kind}.{key.group} at {known.api_version} only"
    elif ".m." in f".{key.group}":
        detail = "the namespaced managed resources of Crossplane v2 are not supported"
    else:
        detail = "gitwave does not map this Upbound kind onto its AWS handlers"
    return ProviderError(
        key,
        f"{key.kind} ({api_version}) is not supported: {detail}; supported Upbound kinds: "
        f"{supported_text()} (or use the classic *.aws.crossplane.io kinds)",
    )

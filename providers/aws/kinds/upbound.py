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
:func:`alias_handler` makes a handler that speaks Upbound's names and calls
the classic one. Observed objects come back in Upbound's names, with
Upbound's ``atProvider`` fields (``id``, ``arn``, ``address``…) added next to
the classic ones.

An Upbound kind not listed (or at another version) is refused before anything
is called, naming the kind and the supported ones (:func:`unsupported`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest, ResourceKey

from .base import Context, Desired, FieldType, KindHandler, Observed, TagStyle

__all__ = [
    "ALIASES",
    "UPBOUND_SUFFIX",
    "Alias",
    "alias_handler",
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


# ---------------------------------------------------------------- the handler


def _tags_map(value: Any) -> dict[str, str] | None:
    """Upbound's tags (a map) as ``{k: v}``; None when absent or not a map."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return None


class AliasHandler(KindHandler):
    """A KindHandler speaking an Upbound kind's names over a classic handler.
    Subclasses are made by :func:`alias_handler`; see the module docstring."""

    alias: Alias
    base: KindHandler
    to_base: Mapping[str, str]
    from_base: Mapping[str, str]

    # ------------------------------------------------------------ translation

    def _base_for_provider(self, for_provider: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.alias.defaults)
        for name, value in for_provider.items():
            if name == "tags":
                tags = _tags_map(value) or {}
                out.update(self.base.tag_style.show(tags) if tags else _empty(self.base))
                continue
            out[self.to_base.get(name, name)] = value
        return out

    def _alias_for_provider(self, for_provider: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        tags_field = self.base.tag_style.field
        for name, value in for_provider.items():
            if name == tags_field:
                tags = self.base.tag_style.read(ResourceKey("", "", "", ""), for_provider)
                out["tags"] = dict(sorted((tags or {}).items()))
            elif name in self.from_base:
                out[self.from_base[name]] = value
        return out

    def _observed(self, observed: Observed | None) -> Observed | None:
        if observed is None:
            return None
        extra = {k: v for k, v in self.alias.at_provider(observed).items() if v is not None}
        return replace(
            observed,
            for_provider=self._alias_for_provider(observed.for_provider),
            at_provider={**observed.at_provider, **extra},
        )

    def _base_observed(self, observed: Observed) -> Observed:
        return replace(observed, for_provider=self._base_for_provider(observed.for_provider))

    def _base_desired(self, desired: Desired) -> Desired:
        return replace(desired, for_provider=self._base_for_provider(desired.for_provider))

    def _base_names(self, names: frozenset[str]) -> frozenset[str]:
        out = {self.to_base.get(n, n) for n in names}
        if "tags" in names and self.base.tag_style.field:
            out.add(self.base.tag_style.field)
        return frozenset(out)

    # ------------------------------------------------------------ AWS calls

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        return self._observed(self.base.get(ctx, external_name, self._base_for_provider(hint)))

    def find_owned(self, ctx: Context, owner_key: str, hint: Mapping[str, Any]) -> Observed | None:
        found = self.base.find_owned(ctx, owner_key, self._base_for_provider(hint))
        return self._observed(found)

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        return [o for o in (self._observed(o) for o in self.base.scan(ctx, app)) if o is not None]

    def create(self, ctx: Context, desired: Desired) -> str:
        return self.base.create(ctx, self._base_desired(desired))

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        self.base.update(
            ctx,
            self._base_observed(observed),
            self._base_desired(desired),
            self._base_names(changed),
        )

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        self.base.delete(ctx, self._base_observed(observed), self._base_for_provider(inputs))

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        self.base.retag(ctx, self._base_observed(observed), put, remove)

    # ------------------------------------------------------------ pure parts

    def health(self, manifest: Manifest) -> Health:
        return self.base.health(manifest)

    def check(self, key: ResourceKey, for_provider: Mapping[str, Any]) -> None:
        if "tags" in for_provider and _tags_map(for_provider["tags"]) is None:
            raise ProviderError(key, "spec.forProvider.tags must be a map")
        self.base.check(key, self._base_for_provider(for_provider))

    def same(self, name: str, want: Any, have: Any) -> bool:
        if name == "tags":
            return super().same(name, want, have)
        return self.base.same(self.to_base.get(name, name), want, have)

    def uses(self, for_provider: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        found = super().uses(for_provider)
        # What the classic handler finds (an alarm's DB instance) names classic
        # kinds: the Upbound kinds of the same resource are named too.
        for group, kind, name in self.base.uses(self._base_for_provider(for_provider)):
            found.append((group, kind, name))
            for alias in ALIASES:
                if alias.base == (group, kind):
                    found.append((alias.group, alias.kind, name))
        return sorted(set(found))

    def connection(self, observed: Observed) -> dict[str, str]:
        classic = self.base.connection(self._base_observed(observed))
        return {**classic, **self.alias.connection(classic)}

    def planned_name(self, key: ResourceKey, external_name: str | None) -> str | None:
        return self.base.planned_name(key, external_name)


def _empty(base: KindHandler) -> dict[str, Any]:
    """The classic field for "no user tags" (an explicit empty map in Upbound)."""
    if base.tag_style is TagStyle.MAP:
        return {"tags": {}}
    if base.tag_style is TagStyle.LIST:
        return {"tags": []}
    if base.tag_style is TagStyle.TAG_SET:
        return {"tagging": {"tagSet": []}}
    return {}


def alias_handler(alias: Alias, base: KindHandler) -> type[AliasHandler]:
    """The handler class of ``alias``, over the classic ``base`` handler."""
    to_base = dict(alias.fields)
    from_base = {classic: upbound for upbound, classic in to_base.items()}
    types: dict[str, FieldType] = {
        name: base.types[classic] for name, classic in to_base.items() if classic in base.types
    }
    if "tags" in to_base:
        types.pop("tags", None)
    attrs: dict[str, Any] = {
        "alias": alias,
        "base": base,
        "to_base": to_base,
        "from_base": from_base,
        "group": alias.group,
        "kind": alias.kind,
        "version": alias.version,
        "service": base.service,
        "region_field": "region" if base.region_field else None,
        "named_by_aws": base.named_by_aws,
        "global_listing": base.global_listing,
        "tag_style": TagStyle.MAP if base.tag_style is not TagStyle.NONE else TagStyle.NONE,
        "fields": frozenset(to_base),
        "write_only": frozenset(from_base[f] for f in base.write_only if f in from_base),
        "immutable": frozenset(from_base[f] for f in base.immutable if f in from_base),
        "required": alias.required,
        "unordered": frozenset(from_base[f] for f in base.unordered if f in from_base),
        "needs_password": base.needs_password,
        "names_others": dict(alias.names_others),
        "types": types,
        "password_ref_field": alias.password_ref_field or base.password_ref_field,
        "autogenerate_field": alias.autogenerate_field or base.autogenerate_field,
    }
    return type(f"Upbound{alias.kind}", (AliasHandler,), attrs)

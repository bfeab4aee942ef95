"""``rds.aws.crossplane.io/v1alpha1 DBInstance``: an RDS database instance.

External name: the DB instance identifier (``metadata.name`` by default).
The master password is never read back from AWS; it comes from
``masterUserPasswordSecretRef`` or is generated (``autogeneratePassword``)
and only ever leaves gitwave in the connection Secret.

One module on purpose: the spec's fields, their AWS names and the read-back
comparison of one resource kind change together; what RDS's statuses mean
(health, readiness) is ``dbinstance_status``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest

from ..record import TAG_APP
from .base import Context, Desired, FieldType, KindHandler, Observed, retag_rds
from .dbinstance_status import instance_health, instance_readiness
from .registry import register
from .translate import params, pick, rfc3339, tag_dict, tag_list

_MISSING = ("DBInstanceNotFound", "DBInstanceNotFoundFault")

# forProvider field → the DescribeDBInstances / CreateDBInstance field of the same meaning.
_SIMPLE = {
    "allocatedStorage": "AllocatedStorage",
    "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "availabilityZone": "AvailabilityZone",
    "backupRetentionPeriod": "BackupRetentionPeriod",
    "caCertificateIdentifier": "CACertificateIdentifier",
    "copyTagsToSnapshot": "CopyTagsToSnapshot",
    "dbInstanceClass": "DBInstanceClass",
    "dbName": "DBName",
    "deletionProtection": "DeletionProtection",
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "iops": "Iops",
    "kmsKeyID": "KmsKeyId",
    "licenseModel": "LicenseModel",
    "masterUsername": "MasterUsername",
    "maxAllocatedStorage": "MaxAllocatedStorage",
    "monitoringInterval": "MonitoringInterval",
    "multiAZ": "MultiAZ",
    "preferredBackupWindow": "PreferredBackupWindow",
    "preferredMaintenanceWindow": "PreferredMaintenanceWindow",
    "publiclyAccessible": "PubliclyAccessible",
    "storageEncrypted": "StorageEncrypted",
    "storageType": "StorageType",
}
# Fields whose request name differs from the describe output.
_REQUEST = {
    "port": "Port",
    "dbSubnetGroupName": "DBSubnetGroupName",
    "dbParameterGroupName": "DBParameterGroupName",
    "vpcSecurityGroupIDs": "VpcSecurityGroupIds",
    "enableIAMDatabaseAuthentication": "EnableIAMDatabaseAuthentication",
    "enablePerformanceInsights": "EnablePerformanceInsights",
}
# ModifyDBInstance: what can change in place.
_MODIFY = {
    **{
        k: v
        for k, v in _SIMPLE.items()
        if k
        not in {
            "engine",
            "masterUsername",
            "dbName",
            "storageEncrypted",
            "kmsKeyID",
            "availabilityZone",
        }
    },
    **_REQUEST,
    "port": "DBPortNumber",
}
_WRITE_ONLY = frozenset(
    {
        "autogeneratePassword",
        "masterUserPasswordSecretRef",
        "skipFinalSnapshot",
        "finalDBSnapshotIdentifier",
        "applyImmediately",
        "allowMajorVersionUpgrade",
        "deleteAutomatedBackups",
    }
)

# Windows RDS reports lower-cased whatever case they were asked in.
_WINDOWS = frozenset({"preferredMaintenanceWindow", "preferredBackupWindow"})


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


@register
class DBInstance(KindHandler):
    group = "rds.aws.crossplane.io"
    kind = "DBInstance"
    version = "v1alpha1"
    service = "rds"
    fields = frozenset({"region", "tags", *_SIMPLE, *_REQUEST, *_WRITE_ONLY})
    write_only = _WRITE_ONLY
    immutable = frozenset(_SIMPLE) - frozenset(_MODIFY)
    required = frozenset({"dbInstanceClass", "engine"})
    unordered = frozenset({"vpcSecurityGroupIDs", "tags"})
    needs_password = True
    names_others = {
        "dbSubnetGroupName": ("database.aws.crossplane.io", "DBSubnetGroup"),
        "vpcSecurityGroupIDs": ("ec2.aws.crossplane.io", "SecurityGroup"),
    }
    types = {
        **dict.fromkeys(
            (
                "allocatedStorage",
                "backupRetentionPeriod",
                "iops",
                "maxAllocatedStorage",
                "monitoringInterval",
                "port",
            ),
            FieldType.INTEGER,
        ),
        **dict.fromkeys(
            (
                "autoMinorVersionUpgrade",
                "copyTagsToSnapshot",
                "deletionProtection",
                "multiAZ",
                "publiclyAccessible",
                "storageEncrypted",
                "enableIAMDatabaseAuthentication",
                "enablePerformanceInsights",
                "autogeneratePassword",
                "skipFinalSnapshot",
                "applyImmediately",
                "allowMajorVersionUpgrade",
                "deleteAutomatedBackups",
            ),
            FieldType.BOOLEAN,
        ),
        **dict.fromkeys(
            (
                "dbInstanceClass",
                "engine",
                "engineVersion",
                "dbName",
                "masterUsername",
                "preferredBackupWindow",
                "preferredMaintenanceWindow",
                "storageType",
            ),
            FieldType.STRING,
        ),
        "vpcSecurityGroupIDs": FieldType.STRING_LIST,
    }

    # ------------------------------------------------------------ AWS calls

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        found = ctx.client.call(
            ctx.key, "describe_db_instances", missing=_MISSING, DBInstanceIdentifier=external_name
        )
        instances = (found or {}).get("DBInstances") or []
        return self._observed(ctx.region, instances[0]) if instances else None

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        found = []
        for page in ctx.client.pages(ctx.key, "describe_db_instances"):
            for instance in page.get("DBInstances") or ():
                if tag_dict(instance.get("TagList")).get(TAG_APP) == app:
                    found.append(self._observed(ctx.region, instance))
        return found

    def create(self, ctx: Context, desired: Desired) -> str:
        name = desired.external_name or desired.key.name
        if desired.password is None:
            raise ProviderError(ctx.key, "a DB instance needs a master password")
        request = {
            **params(desired.for_provider, _SIMPLE),
            **params(desired.for_provider, _REQUEST),
            "DBInstanceIdentifier": name,
            "MasterUserPassword": desired.password,
            "Tags": tag_list(desired.tags),
        }
        ctx.client.call(ctx.key, "create_db_instance", secrets=(desired.password,), **request)
        return name

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        pending = observed.handle or {}
        # A change AWS already holds for the maintenance window is not asked for twice.
        todo = {f for f in changed if not self.same(f, desired.for_provider[f], pending.get(f))}
        request = params(desired.for_provider, _MODIFY, only=todo)
        if not request:
            return
        for name, theirs in (
            ("applyImmediately", "ApplyImmediately"),
            ("allowMajorVersionUpgrade", "AllowMajorVersionUpgrade"),
        ):
            if desired.for_provider.get(name) is not None:
                request[theirs] = desired.for_provider[name]
        ctx.call("modify_db_instance", DBInstanceIdentifier=observed.external_name, **request)

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"DBInstanceIdentifier": observed.external_name}
        if inputs.get("skipFinalSnapshot") is True:
            request["SkipFinalSnapshot"] = True
        elif inputs.get("finalDBSnapshotIdentifier"):
            request["SkipFinalSnapshot"] = False
            request["FinalDBSnapshotIdentifier"] = str(inputs["finalDBSnapshotIdentifier"])
        else:
            raise ProviderError(
                ctx.key,
                f"deleting DB instance {observed.external_name} would lose its data: set "
                "spec.forProvider.finalDBSnapshotIdentifier (a final snapshot is taken) or "
                "skipFinalSnapshot: true, apply, then delete",
            )
        if inputs.get("deleteAutomatedBackups") is not None:
            request["DeleteAutomatedBackups"] = bool(inputs["deleteAutomatedBackups"])
        ctx.client.call(ctx.key, "delete_db_instance", missing=_MISSING, **request)

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        retag_rds(ctx, observed.at_provider["dbInstanceARN"], put, remove)

    # ------------------------------------------------------------ shapes

    def _observed(self, region: str, instance: Mapping[str, Any]) -> Observed:
        endpoint = instance.get("Endpoint") or {}
        port = endpoint.get("Port") or instance.get("DbInstancePort")
        for_provider: dict[str, Any] = {"region": region, **pick(instance, _SIMPLE)}
        if port:
            for_provider["port"] = port
        subnet_group = (instance.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
        if subnet_group:
            for_provider["dbSubnetGroupName"] = subnet_group
        parameter_groups = instance.get("DBParameterGroups") or []
        if parameter_groups:
            for_provider["dbParameterGroupName"] = parameter_groups[0].get("DBParameterGroupName")
        for_provider["vpcSecurityGroupIDs"] = sorted(
            g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups") or ()
        )
        for ours, theirs in (
            ("enableIAMDatabaseAuthentication", "IAMDatabaseAuthenticationEnabled"),
            ("enablePerformanceInsights", "PerformanceInsightsEnabled"),
        ):
            if instance.get(theirs) is not None:
                for_provider[ours] = instance[theirs]
        tags = tag_dict(instance.get("TagList"))
        for_provider.update(self.tag_style.show(tags))

        status = str(instance.get("DBInstanceStatus") or "")
        pending = {
            _lower_first(k): v
            for k, v in (instance.get("PendingModifiedValues") or {}).items()
            if k != "MasterUserPassword"
        }
        pending_fields = {
            ours: pending[_lower_first(theirs)]
            for ours, theirs in _MODIFY.items()
            if _lower_first(theirs) in pending
        }
        state: dict[str, Any] = {
            "dbInstanceStatus": status,
            "dbInstanceARN": instance.get("DBInstanceArn"),
            "dbInstanceIdentifier": instance.get("DBInstanceIdentifier"),
            "dbiResourceID": instance.get("DbiResourceId"),
            "engineVersion": instance.get("EngineVersion"),
        }
        if endpoint:
            state["endpoint"] = {
                k: v
                for k, v in (
                    ("address", endpoint.get("Address")),
                    ("port", endpoint.get("Port")),
                    ("hostedZoneID", endpoint.get("HostedZoneId")),
                )
                if v is not None
            }
        if instance.get("InstanceCreateTime"):
            state["instanceCreateTime"] = rfc3339(instance["InstanceCreateTime"])
        if pending:
            state["pendingModifiedValues"] = pending
        connection: dict[str, str] = {}
        if endpoint.get("Address"):
            connection["endpoint"] = str(endpoint["Address"])
        if port:
            connection["port"] = str(port)
        if instance.get("MasterUsername"):
            connection["username"] = str(instance["MasterUsername"])
        return Observed(
            external_name=str(instance["DBInstanceIdentifier"]),
            region=region,
            for_provider=for_provider,
            at_provider={k: v for k, v in state.items() if v is not None},
            tags=tags,
            readiness=instance_readiness(status),
            message=f"DB instance status is {status}" if status != "available" else "",
            created=rfc3339(instance.get("InstanceCreateTime")),
            connection=connection,
            handle=pending_fields,
        )

    def connection(self, observed: Observed) -> dict[str, str]:
        return dict(observed.connection)

    def same(self, name: str, want: Any, have: Any) -> bool:
        if name == "engineVersion" and isinstance(want, str) and isinstance(have, str):
            # "16" asks for the major version; AWS picks and reports the minor one.
            return have == want or have.startswith(f"{want}.")
        if name in _WINDOWS and isinstance(want, str) and isinstance(have, str):
            # RDS stores "Mon:03:00-Mon:04:00" as "mon:03:00-mon:04:00".
            return want.lower() == have.lower()
        return super().same(name, want, have)

    def health(self, manifest: Manifest) -> Health:
        return instance_health(manifest)

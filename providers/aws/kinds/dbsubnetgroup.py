"""``database.aws.crossplane.io/v1beta1 DBSubnetGroup``: an RDS DB subnet group.

External name: the group name (``metadata.name`` by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.model import Health, HealthCode, Manifest

from ..record import TAG_APP
from .base import Context, Desired, FieldType, KindHandler, Observed, Readiness, retag_rds
from .registry import register
from .translate import at_provider, tag_dict, tag_list

_MISSING = ("DBSubnetGroupNotFoundFault", "DBSubnetGroupNotFound")


@register
class DBSubnetGroup(KindHandler):
    group = "database.aws.crossplane.io"
    kind = "DBSubnetGroup"
    version = "v1beta1"
    service = "rds"
    fields = frozenset({"region", "description", "subnetIds", "tags"})
    required = frozenset({"description", "subnetIds"})
    types = {"description": FieldType.STRING, "subnetIds": FieldType.STRING_LIST}
    unordered = frozenset({"subnetIds", "tags"})

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        found = ctx.client.call(
            ctx.key, "describe_db_subnet_groups", missing=_MISSING, DBSubnetGroupName=external_name
        )
        groups = (found or {}).get("DBSubnetGroups") or []
        return self._observed(ctx, groups[0]) if groups else None

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        found = []
        for page in ctx.client.pages(ctx.key, "describe_db_subnet_groups"):
            for group in page.get("DBSubnetGroups") or ():
                observed = self._observed(ctx, group)
                if observed.tags.get(TAG_APP) == app:
                    found.append(observed)
        return found

    def create(self, ctx: Context, desired: Desired) -> str:
        name = desired.external_name or desired.key.name
        ctx.call(
            "create_db_subnet_group",
            DBSubnetGroupName=name,
            DBSubnetGroupDescription=str(desired.for_provider["description"]),
            SubnetIds=list(desired.for_provider["subnetIds"]),
            Tags=tag_list(desired.tags),
        )
        return name

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        if not changed & {"description", "subnetIds"}:
            return
        # ModifyDBSubnetGroup always takes the whole subnet list.
        ctx.call(
            "modify_db_subnet_group",
            DBSubnetGroupName=observed.external_name,
            DBSubnetGroupDescription=str(
                desired.for_provider.get("description", observed.for_provider["description"])
            ),
            SubnetIds=list(
                desired.for_provider.get("subnetIds", observed.for_provider["subnetIds"])
            ),
        )

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        ctx.client.call(
            ctx.key,
            "delete_db_subnet_group",
            missing=_MISSING,
            DBSubnetGroupName=observed.external_name,
        )

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        retag_rds(ctx, observed.at_provider["arn"], put, remove)

    def _observed(self, ctx: Context, group: Mapping[str, Any]) -> Observed:
        arn = str(group.get("DBSubnetGroupArn") or "")
        listed = ctx.call("list_tags_for_resource", ResourceName=arn) if arn else {}
        tags = tag_dict(listed.get("TagList"))
        subnets = group.get("Subnets") or []
        state = str(group.get("SubnetGroupStatus") or "")
        return Observed(
            external_name=str(group["DBSubnetGroupName"]),
            region=ctx.region,
            for_provider={
                "region": ctx.region,
                "description": group.get("DBSubnetGroupDescription", ""),
                "subnetIds": sorted(s["SubnetIdentifier"] for s in subnets),
                **self.tag_style.show(tags),
            },
            at_provider={
                "state": state,
                "arn": arn,
                "vpcId": group.get("VpcId", ""),
                "subnets": [
                    {"subnetID": s["SubnetIdentifier"], "subnetStatus": s.get("SubnetStatus", "")}
                    for s in sorted(subnets, key=lambda s: str(s["SubnetIdentifier"]))
                ],
            },
            tags=tags,
            readiness=Readiness.AVAILABLE if state == "Complete" else Readiness.UNAVAILABLE,
            message="" if state == "Complete" else f"subnet group state is {state}",
        )

    def health(self, manifest: Manifest) -> Health:
        state = at_provider(manifest).get("state")
        if state == "Complete":
            return Health(HealthCode.HEALTHY, "DB subnet group is complete")
        if not state:
            return Health(HealthCode.PROGRESSING, "Waiting for the DB subnet group to report")
        return Health(HealthCode.DEGRADED, f"DB subnet group state is {state}")

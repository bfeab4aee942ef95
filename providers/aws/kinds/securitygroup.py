"""``ec2.aws.crossplane.io/v1beta1 SecurityGroup``: a VPC security group.

External name: the group id AWS assigns (``sg-…``). Until gitwave knows it,
the group is found by its ``gitwave.dev/key`` tag, so a create interrupted
after AWS accepted it is picked up rather than repeated.

Rules are compared as sets of single permissions (protocol, ports, one
source), because AWS merges and splits the permission lists it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest, ResourceKey

from ..record import TAG_APP, TAG_KEY
from .base import Context, Desired, FieldType, KindHandler, Observed
from .registry import register
from .translate import healthy_when_present, tag_dict, tag_list

_MISSING = ("InvalidGroup.NotFound",)
_RULE_FIELDS = ("ingress", "egress")

# (crossplane list, crossplane value field, AWS list, AWS value field)
_SOURCES = (
    ("ipRanges", "cidrIp", "IpRanges", "CidrIp"),
    ("ipv6Ranges", "cidrIPv6", "Ipv6Ranges", "CidrIpv6"),
    ("prefixListIds", "prefixListId", "PrefixListIds", "PrefixListId"),
    ("userIdGroupPairs", "groupId", "UserIdGroupPairs", "GroupId"),
)


@dataclass(frozen=True, slots=True)
class _Atom:
    """One permission: a protocol and port range from one source."""

    protocol: str
    from_port: int | None
    to_port: int | None
    source: str  # which list the source sits in (ipRanges, …)
    value: str
    description: str | None

    def same_rule(self, other: _Atom) -> bool:
        """Equal, where a desired rule without a description accepts any."""
        return (self.protocol, self.from_port, self.to_port, self.source, self.value) == (
            other.protocol,
            other.from_port,
            other.to_port,
            other.source,
            other.value,
        ) and (self.description is None or self.description == other.description)

    def to_aws(self) -> dict[str, Any]:
        permission: dict[str, Any] = {"IpProtocol": self.protocol}
        if self.from_port is not None:
            permission["FromPort"] = self.from_port
        if self.to_port is not None:
            permission["ToPort"] = self.to_port
        theirs_list, theirs_value = next((c, d) for a, _, c, d in _SOURCES if a == self.source)
        item: dict[str, Any] = {theirs_value: self.value}
        if self.description is not None:
            item["Description"] = self.description
        permission[theirs_list] = [item]
        return permission


def _protocol(value: Any) -> str:
    text = str(value).lower()
    return "-1" if text in ("all", "-1") else text


def _atoms(key: ResourceKey, rules: Any, *, where: str) -> list[_Atom]:
    """Crossplane-shaped rules as single permissions; ProviderError when malformed."""
    if not isinstance(rules, list):
        raise ProviderError(key, f"spec.forProvider.{where} must be a list of rules")
    atoms = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or "ipProtocol" not in rule:
            raise ProviderError(key, f"spec.forProvider.{where}[{index}] needs an ipProtocol")
        protocol = _protocol(rule["ipProtocol"])
        every_port = protocol == "-1"
        low = None if every_port else rule.get("fromPort")
        high = None if every_port else rule.get("toPort")
        sources = 0
        for ours_list, ours_value, _, _ in _SOURCES:
            for item in rule.get(ours_list) or ():
                if not isinstance(item, Mapping) or not item.get(ours_value):
                    raise ProviderError(
                        key, f"spec.forProvider.{where}[{index}].{ours_list} needs {ours_value}"
                    )
                description = item.get("description")
                atoms.append(
                    _Atom(
                        protocol,
                        None if low is None else int(low),
                        None if high is None else int(high),
                        ours_list,
                        str(item[ours_value]),
                        None if description is None else str(description),
                    )
                )
                sources += 1
        if not sources:
            raise ProviderError(
                key, f"spec.forProvider.{where}[{index}] needs a source (ipRanges, …)"
            )
    return atoms


def _from_aws(permissions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """AWS's permissions in Crossplane's shape, sorted for a stable output."""
    rules = []
    for permission in permissions:
        rule: dict[str, Any] = {"ipProtocol": permission.get("IpProtocol")}
        if permission.get("FromPort") is not None:
            rule["fromPort"] = permission["FromPort"]
        if permission.get("ToPort") is not None:
            rule["toPort"] = permission["ToPort"]
        for ours_list, ours_value, theirs_list, theirs_value in _SOURCES:
            items = []
            for item in permission.get(theirs_list) or ():
                shown = {ours_value: item[theirs_value]}
                if item.get("Description"):
                    shown["description"] = item["Description"]
                items.append(shown)
            if items:
                rule[ours_list] = sorted(items, key=lambda i: str(i[ours_value]))
        rules.append(rule)
    return sorted(rules, key=lambda r: (str(r["ipProtocol"]), r.get("fromPort", -2), repr(r)))


def _same_rules(want: list[_Atom], have: list[_Atom]) -> bool:
    if len(want) != len(have):
        return False
    left = list(have)
    for atom in want:
        found = next((i for i, h in enumerate(left) if atom.same_rule(h)), None)
        if found is None:
            return False
        left.pop(found)
    return True


@register
class SecurityGroup(KindHandler):
    group = "ec2.aws.crossplane.io"
    kind = "SecurityGroup"
    version = "v1beta1"
    service = "ec2"
    named_by_aws = True
    fields = frozenset(
        {
            "region",
            "groupName",
            "description",
            "vpcId",
            "ingress",
            "egress",
            "tags",
            "ignoreIngress",
            "ignoreEgress",
        }
    )
    write_only = frozenset({"ignoreIngress", "ignoreEgress"})
    immutable = frozenset({"groupName", "description", "vpcId"})
    required = frozenset({"groupName", "description"})
    types = {
        "groupName": FieldType.STRING,
        "description": FieldType.STRING,
        "vpcId": FieldType.STRING,
    }
    unordered = frozenset({"tags"})

    def check(self, key: ResourceKey, for_provider: Mapping[str, Any]) -> None:
        for name in _RULE_FIELDS:
            if name in for_provider:
                _atoms(key, for_provider[name], where=name)

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        found = ctx.client.call(
            ctx.key, "describe_security_groups", missing=_MISSING, GroupIds=[external_name]
        )
        groups = (found or {}).get("SecurityGroups") or []
        return self._observed(ctx.region, groups[0]) if groups else None

    def find_owned(self, ctx: Context, owner_key: str, hint: Mapping[str, Any]) -> Observed | None:
        groups = self._filtered(ctx, TAG_KEY, owner_key)
        if len(groups) > 1:
            ids = ", ".join(g.external_name for g in groups)
            raise ProviderError(
                ctx.key,
                f"several security groups carry the tag {TAG_KEY}={owner_key} ({ids}); "
                "delete the extra ones or set crossplane.io/external-name to the right one",
            )
        return groups[0] if groups else None

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        return self._filtered(ctx, TAG_APP, app)

    def _filtered(self, ctx: Context, tag: str, value: str) -> list[Observed]:
        found = []
        for page in ctx.client.pages(
            ctx.key,
            "describe_security_groups",
            Filters=[{"Name": f"tag:{tag}", "Values": [value]}],
        ):
            found += [self._observed(ctx.region, g) for g in page.get("SecurityGroups") or ()]
        return found

    def create(self, ctx: Context, desired: Desired) -> str:
        fp = desired.for_provider
        request: dict[str, Any] = {
            "GroupName": str(fp["groupName"]),
            "Description": str(fp["description"]),
            "TagSpecifications": [
                {"ResourceType": "security-group", "Tags": tag_list(desired.tags)}
            ],
        }
        if fp.get("vpcId"):
            request["VpcId"] = str(fp["vpcId"])
        group_id = str(ctx.call("create_security_group", **request)["GroupId"])
        created = self.get(ctx, group_id, fp)
        if created is not None:
            self._sync_rules(ctx, created, desired, frozenset(_RULE_FIELDS))
        return group_id

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        self._sync_rules(ctx, observed, desired, changed)

    def _sync_rules(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        fp = desired.for_provider
        for name, ignore, direction in (
            ("ingress", "ignoreIngress", "ingress"),
            ("egress", "ignoreEgress", "egress"),
        ):
            if name not in changed or name not in fp or fp.get(ignore) is True:
                continue
            want = _atoms(ctx.key, fp[name], where=name)
            have = _atoms(ctx.key, observed.for_provider.get(name) or [], where=name)
            extra = [h for h in have if not any(w.same_rule(h) for w in want)]
            missing = [w for w in want if not any(w.same_rule(h) for h in have)]
            group = observed.external_name
            if extra:
                ctx.call(
                    f"revoke_security_group_{direction}",
                    GroupId=group,
                    IpPermissions=[a.to_aws() for a in extra],
                )
            if missing:
                ctx.call(
                    f"authorize_security_group_{direction}",
                    GroupId=group,
                    IpPermissions=[a.to_aws() for a in missing],
                )

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        ctx.client.call(
            ctx.key, "delete_security_group", missing=_MISSING, GroupId=observed.external_name
        )

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        group = [observed.external_name]
        if remove:
            ctx.call("delete_tags", Resources=group, Tags=[{"Key": k} for k in remove])
        if put:
            ctx.call("create_tags", Resources=group, Tags=tag_list(put))

    def same(self, name: str, want: Any, have: Any) -> bool:
        if name in _RULE_FIELDS:
            try:
                return _same_rules(
                    _atoms(ResourceKey("", "", "", ""), want, where=name),
                    _atoms(ResourceKey("", "", "", ""), have or [], where=name),
                )
            except ProviderError:
                return False
        return super().same(name, want, have)

    def _observed(self, region: str, group: Mapping[str, Any]) -> Observed:
        tags = tag_dict(group.get("Tags"))
        for_provider: dict[str, Any] = {
            "region": region,
            "groupName": group.get("GroupName"),
            "description": group.get("Description"),
            "ingress": _from_aws(group.get("IpPermissions") or ()),
            "egress": _from_aws(group.get("IpPermissionsEgress") or ()),
            **self.tag_style.show(tags),
        }
        if group.get("VpcId"):
            for_provider["vpcId"] = group["VpcId"]
        return Observed(
            external_name=str(group["GroupId"]),
            region=region,
            for_provider=for_provider,
            at_provider={
                "securityGroupID": group["GroupId"],
                "ownerId": group.get("OwnerId", ""),
            },
            tags=tags,
        )

    def health(self, manifest: Manifest) -> Health:
        return _HEALTH(manifest)


_HEALTH = healthy_when_present("Security group")

"""``route53.aws.crossplane.io/v1alpha1 ResourceRecordSet``: a Route 53 record set.

External name: the record name (``metadata.name`` by default, e.g.
``www.example.com``); ``forProvider.zoneId``, ``type`` and ``setIdentifier``
complete its identity. Route 53 is global, so ``forProvider.region`` here is
the latency-routing region, not where the API is called.

Records cannot carry tags, so gitwave keeps its ownership and record in a TXT
record next to it, as external-dns does: ``_gitwave-a.www.example.com`` holds
``"gitwave.dev/owner=…" "gitwave.dev/key=…" …``. Both are changed in one
atomic change batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest

from ..record import TAG_APP, TAG_KEY
from .base import Context, Desired, FieldType, KindHandler, Observed, TagStyle
from .registry import register
from .translate import healthy_when_present

_MISSING = ("NoSuchHostedZone",)
_REGISTRY_PREFIX = "_gitwave-"
_REGISTRY_TTL = 300
_TXT_STRING_LIMIT = 255

_SIMPLE = {
    "setIdentifier": "SetIdentifier",
    "weight": "Weight",
    "region": "Region",
    "failover": "Failover",
    "healthCheckId": "HealthCheckId",
    "multiValueAnswer": "MultiValueAnswer",
}


def zone_id(value: Any) -> str:
    """``/hostedzone/Z123`` and ``Z123`` both → ``Z123``."""
    return str(value or "").rsplit("/", 1)[-1]


def dns_name(value: Any) -> str:
    """A record name as compared: lower case, no trailing dot, ``*`` unescaped."""
    return str(value or "").replace("\\052", "*").rstrip(".").lower()


def registry_name(name: str, record_type: str, set_identifier: str | None) -> str:
    """The TXT record that holds gitwave's tags for one record set."""
    label = f"{_REGISTRY_PREFIX}{record_type.lower()}"
    if set_identifier:
        label += "-" + hashlib.sha256(set_identifier.encode()).hexdigest()[:8]
    name = dns_name(name)
    if name.startswith("*."):
        # A wildcard must stay the leftmost label.
        return f"{label}-wildcard.{name[2:]}"
    return f"{label}.{name}"


def _encode(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """TXT values for ``tags``: one quoted ``key=value`` string each, split
    into numbered parts (``key~0=…``) when longer than a TXT string allows."""
    strings = []
    for name, value in sorted(tags.items()):
        text = f"{name}={value}"
        if len(text) <= _TXT_STRING_LIMIT:
            strings.append(text)
            continue
        room = _TXT_STRING_LIMIT - len(name) - 6
        for index, start in enumerate(range(0, len(value), room)):
            strings.append(f"{name}~{index}={value[start : start + room]}")
    return [{"Value": f'"{s}"'} for s in strings]


def _decode(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    parts: dict[str, dict[int, str]] = {}
    tags: dict[str, str] = {}
    for record in records:
        text = str(record.get("Value", "")).strip()
        for piece in text.split('" "'):
            piece = piece.strip('"')
            name, _, value = piece.partition("=")
            base, tilde, index = name.partition("~")
            if tilde and index.isdigit():
                parts.setdefault(base, {})[int(index)] = value
            elif name:
                tags[name] = value
    for base, pieces in parts.items():
        tags[base] = "".join(pieces[i] for i in sorted(pieces))
    return tags


@register
class ResourceRecordSet(KindHandler):
    group = "route53.aws.crossplane.io"
    kind = "ResourceRecordSet"
    version = "v1alpha1"
    service = "route53"
    region_field = None
    global_listing = True
    tag_style = TagStyle.NONE
    fields = frozenset(
        {"zoneId", "type", "ttl", "resourceRecords", "aliasTarget", "geoLocation", *_SIMPLE}
    )
    immutable = frozenset({"zoneId", "type", "setIdentifier"})
    required = frozenset({"zoneId", "type"})
    unordered = frozenset({"resourceRecords"})
    types = {
        "ttl": FieldType.INTEGER,
        "weight": FieldType.INTEGER,
        "zoneId": FieldType.STRING,
        "type": FieldType.STRING,
    }

    # ------------------------------------------------------------ reads

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        zone, record_type = zone_id(hint.get("zoneId")), str(hint.get("type") or "")
        if not zone or not record_type:
            return self.find_owned(ctx, str(ctx.key), hint)
        set_id = hint.get("setIdentifier")
        record = self._record(ctx, zone, external_name, record_type, set_id)
        if record is None:
            return None
        registry = self._record(
            ctx, zone, registry_name(external_name, record_type, set_id), "TXT", None
        )
        return self._observed(ctx, zone, record, registry)

    def find_owned(self, ctx: Context, owner_key: str, hint: Mapping[str, Any]) -> Observed | None:
        zones = [zone_id(hint["zoneId"])] if hint.get("zoneId") else self._zones(ctx)
        for zone in zones:
            for observed in self._owned(ctx, zone, TAG_KEY, owner_key):
                return observed
        return None

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        return [o for zone in self._zones(ctx) for o in self._owned(ctx, zone, TAG_APP, app)]

    def _zones(self, ctx: Context) -> list[str]:
        return [
            zone_id(z["Id"])
            for page in ctx.client.pages(ctx.key, "list_hosted_zones")
            for z in page.get("HostedZones") or ()
        ]

    def _owned(self, ctx: Context, zone: str, tag: str, value: str) -> list[Observed]:
        """Record sets of ``zone`` whose registry carries ``tag: value``."""
        records = list(self._records(ctx, zone))
        found = []
        for registry in records:
            name = dns_name(registry.get("Name"))
            if registry.get("Type") != "TXT" or not name.startswith(_REGISTRY_PREFIX):
                continue
            tags = _decode(registry.get("ResourceRecords") or ())
            if tags.get(tag) != value:
                continue
            label, _, rest = name.partition(".")
            record_type = label[len(_REGISTRY_PREFIX) :].split("-", 1)[0].upper()
            target = f"*.{rest}" if label.endswith("-wildcard") else rest
            for record in records:
                if (
                    dns_name(record.get("Name")) == target
                    and record.get("Type") == record_type
                    and registry_name(target, record_type, record.get("SetIdentifier")) == name
                ):
                    found.append(self._observed(ctx, zone, record, registry))
        return found

    def _records(self, ctx: Context, zone: str, **start: Any) -> Iterable[Mapping[str, Any]]:
        for page in ctx.client.pages(
            ctx.key, "list_resource_record_sets", missing=_MISSING, HostedZoneId=zone, **start
        ):
            yield from page.get("ResourceRecordSets") or ()

    def _record(
        self, ctx: Context, zone: str, name: str, record_type: str, set_id: Any
    ) -> Mapping[str, Any] | None:
        found = ctx.client.call(
            ctx.key,
            "list_resource_record_sets",
            missing=_MISSING,
            HostedZoneId=zone,
            StartRecordName=name,
            StartRecordType=record_type,
            MaxItems="100",
        )
        for record in (found or {}).get("ResourceRecordSets") or ():
            if dns_name(record.get("Name")) != dns_name(name) or record.get("Type") != record_type:
                break
            if (record.get("SetIdentifier") or None) == (set_id or None):
                return dict(record)
        return None

    # ------------------------------------------------------------ writes

    def create(self, ctx: Context, desired: Desired) -> str:
        name = desired.external_name or desired.key.name
        zone = zone_id(desired.for_provider["zoneId"])
        record = _aws_record(name, desired.for_provider, {})
        self._change(
            ctx,
            zone,
            [
                ("CREATE", record),
                ("UPSERT", self._registry(name, desired.for_provider, desired.tags)),
            ],
        )
        return name

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        current = observed.handle["record"]
        record = _aws_record(observed.external_name, desired.for_provider, current)
        if record != current:
            self._change(ctx, observed.handle["zone"], [("UPSERT", record)])

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        changes = [("DELETE", observed.handle["record"])]
        if observed.handle.get("registry"):
            changes.append(("DELETE", observed.handle["registry"]))
        self._change(ctx, observed.handle["zone"], changes)

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        tags = {k: v for k, v in observed.tags.items() if k not in remove}
        tags.update(put)
        registry = observed.handle.get("registry")
        if tags:
            wanted = self._registry(observed.external_name, observed.for_provider, tags)
            self._change(ctx, observed.handle["zone"], [("UPSERT", wanted)])
        elif registry:
            self._change(ctx, observed.handle["zone"], [("DELETE", registry)])

    def _registry(
        self, name: str, for_provider: Mapping[str, Any], tags: Mapping[str, str]
    ) -> dict[str, Any]:
        return {
            "Name": registry_name(
                name, str(for_provider["type"]), for_provider.get("setIdentifier")
            ),
            "Type": "TXT",
            "TTL": _REGISTRY_TTL,
            "ResourceRecords": _encode(tags),
        }

    def _change(
        self, ctx: Context, zone: str, changes: list[tuple[str, Mapping[str, Any]]]
    ) -> None:
        ctx.call(
            "change_resource_record_sets",
            HostedZoneId=zone,
            ChangeBatch={
                "Comment": f"gitwave: {ctx.key.display}",
                "Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes],
            },
        )

    # ------------------------------------------------------------ shapes

    def same(self, name: str, want: Any, have: Any) -> bool:
        if name == "zoneId":
            return zone_id(want) == zone_id(have)
        if name == "aliasTarget" and isinstance(want, Mapping) and isinstance(have, Mapping):
            return super().same(name, {**want, "dnsName": dns_name(want.get("dnsName"))}, have)
        return super().same(name, want, have)

    def _observed(
        self, ctx: Context, zone: str, record: Mapping[str, Any], registry: Mapping[str, Any] | None
    ) -> Observed:
        for_provider: dict[str, Any] = {
            "zoneId": zone,
            "type": record.get("Type"),
            **{ours: record[theirs] for ours, theirs in _SIMPLE.items() if theirs in record},
        }
        if record.get("TTL") is not None:
            for_provider["ttl"] = record["TTL"]
        if record.get("ResourceRecords"):
            for_provider["resourceRecords"] = [
                {"value": r["Value"]} for r in record["ResourceRecords"]
            ]
        alias = record.get("AliasTarget")
        if alias:
            for_provider["aliasTarget"] = {
                "dnsName": dns_name(alias.get("DNSName")),
                "evaluateTargetHealth": bool(alias.get("EvaluateTargetHealth")),
                "hostedZoneId": alias.get("HostedZoneId"),
            }
        geo = record.get("GeoLocation")
        if geo:
            for_provider["geoLocation"] = {
                ours: geo[theirs]
                for ours, theirs in (
                    ("continentCode", "ContinentCode"),
                    ("countryCode", "CountryCode"),
                    ("subdivisionCode", "SubdivisionCode"),
                )
                if theirs in geo
            }
        tags = _decode(registry.get("ResourceRecords") or ()) if registry else {}
        return Observed(
            external_name=dns_name(record.get("Name")),
            region=ctx.region,
            for_provider=for_provider,
            at_provider={},
            tags=tags,
            handle={"zone": zone, "record": dict(record), "registry": registry},
        )

    def health(self, manifest: Manifest) -> Health:
        return _HEALTH(manifest)


_HEALTH = healthy_when_present("Record set")


def _aws_record(
    name: str, for_provider: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The full AWS record set: desired fields over the current ones."""
    record: dict[str, Any] = {k: v for k, v in current.items()}
    record["Name"] = current.get("Name") or name
    record["Type"] = str(for_provider.get("type") or current.get("Type"))
    for ours, theirs in _SIMPLE.items():
        if for_provider.get(ours) is not None:
            record[theirs] = for_provider[ours]
    if for_provider.get("ttl") is not None:
        record["TTL"] = int(for_provider["ttl"])
    records = for_provider.get("resourceRecords")
    if records is not None:
        if not isinstance(records, list):
            raise ProviderError(None, "spec.forProvider.resourceRecords must be a list")
        record["ResourceRecords"] = [{"Value": str(r.get("value"))} for r in records]
    alias = for_provider.get("aliasTarget")
    if isinstance(alias, Mapping):
        record.pop("TTL", None)
        record.pop("ResourceRecords", None)
        record["AliasTarget"] = {
            "DNSName": str(alias.get("dnsName")),
            "EvaluateTargetHealth": bool(alias.get("evaluateTargetHealth", False)),
            "HostedZoneId": str(alias.get("hostedZoneId")),
        }
    geo = for_provider.get("geoLocation")
    if isinstance(geo, Mapping):
        record["GeoLocation"] = {
            theirs: geo[ours]
            for ours, theirs in (
                ("continentCode", "ContinentCode"),
                ("countryCode", "CountryCode"),
                ("subdivisionCode", "SubdivisionCode"),
            )
            if ours in geo
        }
    return record

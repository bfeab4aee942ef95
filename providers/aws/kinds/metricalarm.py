"""``cloudwatch.aws.crossplane.io/v1alpha1 MetricAlarm``: a CloudWatch metric alarm.

The community provider-aws has no CloudWatch alarm kind, so this one takes
the ``forProvider`` of Upbound's ``cloudwatch.aws.upbound.io`` MetricAlarm
(camelCase names of PutMetricAlarm, ``dimensions`` and ``tags`` as maps) under
the ``aws.crossplane.io`` group every other kind here uses.

External name: the alarm name (``metadata.name`` by default). PutMetricAlarm
replaces the whole alarm, so an update sends the observed settings with the
desired ones on top (fields Git does not set stay as they are).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, HealthCode, Manifest

from ..record import TAG_APP
from .base import Context, Desired, FieldType, KindHandler, Observed, TagStyle
from .registry import register
from .translate import at_provider, params, pick, rfc3339, tag_dict, tag_list

_SIMPLE = {
    "alarmDescription": "AlarmDescription",
    "actionsEnabled": "ActionsEnabled",
    "okActions": "OKActions",
    "alarmActions": "AlarmActions",
    "insufficientDataActions": "InsufficientDataActions",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "period": "Period",
    "unit": "Unit",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "thresholdMetricId": "ThresholdMetricId",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
}
_ACTIONS = frozenset({"okActions", "alarmActions", "insufficientDataActions"})
# Dimensions that name a resource gitwave manages: the alarm watches it.
_WATCHED = {
    "DBInstanceIdentifier": ("rds.aws.crossplane.io", "DBInstance"),
    "QueueName": ("sqs.aws.crossplane.io", "Queue"),
}


@register
class MetricAlarm(KindHandler):
    group = "cloudwatch.aws.crossplane.io"
    kind = "MetricAlarm"
    version = "v1alpha1"
    service = "cloudwatch"
    tag_style = TagStyle.MAP
    fields = frozenset({"region", "dimensions", "tags", *_SIMPLE})
    required = frozenset({"comparisonOperator", "evaluationPeriods"})
    types = {
        **dict.fromkeys(("period", "evaluationPeriods", "datapointsToAlarm"), FieldType.INTEGER),
        "threshold": FieldType.NUMBER,
        "actionsEnabled": FieldType.BOOLEAN,
        **dict.fromkeys(_ACTIONS, FieldType.STRING_LIST),
        **dict.fromkeys(
            ("metricName", "namespace", "statistic", "comparisonOperator", "treatMissingData"),
            FieldType.STRING,
        ),
    }
    unordered = _ACTIONS

    def uses(self, for_provider: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        dimensions = for_provider.get("dimensions")
        if not isinstance(dimensions, Mapping):
            return []
        return [
            (*_WATCHED[name], str(value))
            for name, value in sorted(dimensions.items())
            if name in _WATCHED and value
        ]

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        found = ctx.call("describe_alarms", AlarmNames=[external_name], AlarmTypes=["MetricAlarm"])
        alarms = found.get("MetricAlarms") or []
        return self._observed(ctx, alarms[0]) if alarms else None

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        found = []
        for page in ctx.client.pages(ctx.key, "describe_alarms", AlarmTypes=["MetricAlarm"]):
            for alarm in page.get("MetricAlarms") or ():
                observed = self._observed(ctx, alarm)
                if observed.tags.get(TAG_APP) == app:
                    found.append(observed)
        return found

    def create(self, ctx: Context, desired: Desired) -> str:
        name = desired.external_name or desired.key.name
        ctx.call(
            "put_metric_alarm",
            **_request(ctx, name, desired.for_provider),
            Tags=tag_list(desired.tags),
        )
        return name

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        merged = {**observed.for_provider, **desired.for_provider}
        ctx.call("put_metric_alarm", **_request(ctx, observed.external_name, merged))

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        ctx.call("delete_alarms", AlarmNames=[observed.external_name])

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        arn = observed.at_provider["arn"]
        if remove:
            ctx.call("untag_resource", ResourceARN=arn, TagKeys=list(remove))
        if put:
            ctx.call("tag_resource", ResourceARN=arn, Tags=tag_list(put))

    def _observed(self, ctx: Context, alarm: Mapping[str, Any]) -> Observed:
        arn = str(alarm.get("AlarmArn") or "")
        tags = tag_dict(ctx.call("list_tags_for_resource", ResourceARN=arn).get("Tags"))
        for_provider: dict[str, Any] = {"region": ctx.region, **pick(alarm, _SIMPLE)}
        for name in _ACTIONS:
            for_provider[name] = sorted(for_provider.get(name) or [])
        for_provider["dimensions"] = {
            str(d["Name"]): str(d["Value"]) for d in alarm.get("Dimensions") or ()
        }
        for_provider.update(self.tag_style.show(tags))
        state: dict[str, Any] = {
            "arn": arn,
            "stateValue": alarm.get("StateValue", ""),
            "stateReason": alarm.get("StateReason", ""),
        }
        updated = rfc3339(alarm.get("StateUpdatedTimestamp"))
        if updated:
            state["stateUpdatedTimestamp"] = updated
        return Observed(
            external_name=str(alarm["AlarmName"]),
            region=ctx.region,
            for_provider=for_provider,
            at_provider=state,
            tags=tags,
            created=rfc3339(alarm.get("AlarmConfigurationUpdatedTimestamp")),
        )

    def health(self, manifest: Manifest) -> Health:
        state = at_provider(manifest).get("stateValue")
        if not state:
            return Health(HealthCode.HEALTHY, "Alarm exists")
        # A firing alarm is a working alarm: its state is news, not ill health.
        return Health(HealthCode.HEALTHY, f"Alarm exists (state {state})")


def _request(ctx: Context, name: str, for_provider: Mapping[str, Any]) -> dict[str, Any]:
    request = params(for_provider, _SIMPLE)
    request["AlarmName"] = name
    dimensions = for_provider.get("dimensions")
    if dimensions is not None and not isinstance(dimensions, Mapping):
        # A list of {name, value} is provider-aws' older shape; silently
        # dropping it would create an alarm watching nothing.
        raise ProviderError(
            ctx.key,
            "spec.forProvider.dimensions must be a map of dimension name to value, "
            f"got a {type(dimensions).__name__}",
        )
    if isinstance(dimensions, Mapping):
        request["Dimensions"] = [
            {"Name": str(k), "Value": str(v)} for k, v in sorted(dimensions.items())
        ]
    if "Threshold" in request:
        request["Threshold"] = float(request["Threshold"])
    return request

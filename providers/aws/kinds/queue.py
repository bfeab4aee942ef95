"""``sqs.aws.crossplane.io/v1beta1 Queue``: an SQS queue.

External name: the queue name (``metadata.name`` by default); the queue URL
is looked up from it. SQS reports every attribute as a string; they are
turned back into Crossplane's numbers and booleans here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest, ResourceKey

from ..record import TAG_APP
from .base import Context, Desired, FieldType, KindHandler, Observed, TagStyle
from .registry import register
from .translate import healthy_when_present, rfc3339

_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

_NUMBERS = {
    "delaySeconds": "DelaySeconds",
    "maximumMessageSize": "MaximumMessageSize",
    "messageRetentionPeriod": "MessageRetentionPeriod",
    "receiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeout": "VisibilityTimeout",
    "kmsDataKeyReusePeriodSeconds": "KmsDataKeyReusePeriodSeconds",
}
_FLAGS = {"fifoQueue": "FifoQueue", "contentBasedDeduplication": "ContentBasedDeduplication"}
_TEXTS = {"kmsMasterKeyId": "KmsMasterKeyId", "policy": "Policy"}


def _json(text: Any) -> Any:
    try:
        return json.loads(str(text))
    except ValueError:
        return None


@register
class Queue(KindHandler):
    group = "sqs.aws.crossplane.io"
    kind = "Queue"
    version = "v1beta1"
    service = "sqs"
    tag_style = TagStyle.MAP
    fields = frozenset({"region", "tags", "redrivePolicy", *_NUMBERS, *_FLAGS, *_TEXTS})
    immutable = frozenset({"fifoQueue"})
    types = {
        **dict.fromkeys(_NUMBERS, FieldType.INTEGER),
        **dict.fromkeys(_FLAGS, FieldType.BOOLEAN),
        "kmsMasterKeyId": FieldType.STRING,
    }

    def check(self, key: ResourceKey, for_provider: Mapping[str, Any]) -> None:
        policy = for_provider.get("policy")
        if policy is not None and _json(policy) is None:
            raise ProviderError(key, "spec.forProvider.policy must be a JSON policy document")

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        found = ctx.client.call(ctx.key, "get_queue_url", missing=_MISSING, QueueName=external_name)
        if found is None:
            return None
        return self._observed(ctx, external_name, str(found["QueueUrl"]))

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        found = []
        for page in ctx.client.pages(ctx.key, "list_queues"):
            for url in page.get("QueueUrls") or ():
                listed = ctx.client.call(ctx.key, "list_queue_tags", missing=_MISSING, QueueUrl=url)
                if ((listed or {}).get("Tags") or {}).get(TAG_APP) == app:
                    observed = self._observed(ctx, str(url).rsplit("/", 1)[-1], str(url))
                    if observed is not None:
                        found.append(observed)
        return found

    def create(self, ctx: Context, desired: Desired) -> str:
        name = desired.external_name or desired.key.name
        if desired.for_provider.get("fifoQueue") is True and not name.endswith(".fifo"):
            raise ProviderError(
                ctx.key, f"a FIFO queue's name must end in .fifo, and {name!r} does not"
            )
        ctx.call(
            "create_queue",
            QueueName=name,
            Attributes=_attributes(desired.for_provider, create=True),
            tags=dict(desired.tags),
        )
        return name

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        attributes = _attributes({k: desired.for_provider[k] for k in changed}, create=False)
        if attributes:
            ctx.call("set_queue_attributes", QueueUrl=observed.handle, Attributes=attributes)

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        ctx.client.call(ctx.key, "delete_queue", missing=_MISSING, QueueUrl=observed.handle)

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        if remove:
            ctx.call("untag_queue", QueueUrl=observed.handle, TagKeys=list(remove))
        if put:
            ctx.call("tag_queue", QueueUrl=observed.handle, Tags=dict(put))

    def same(self, name: str, want: Any, have: Any) -> bool:
        if name == "policy":
            return bool(_json(want) == _json(have))
        return super().same(name, want, have)

    def _observed(self, ctx: Context, name: str, url: str) -> Observed | None:
        found = ctx.client.call(
            ctx.key, "get_queue_attributes", missing=_MISSING, QueueUrl=url, AttributeNames=["All"]
        )
        if found is None:
            return None
        attributes: Mapping[str, str] = found.get("Attributes") or {}
        listed = ctx.client.call(ctx.key, "list_queue_tags", missing=_MISSING, QueueUrl=url)
        tags = {str(k): str(v) for k, v in ((listed or {}).get("Tags") or {}).items()}
        for_provider: dict[str, Any] = {"region": ctx.region}
        for ours, theirs in _NUMBERS.items():
            if attributes.get(theirs) not in (None, ""):
                for_provider[ours] = int(attributes[theirs])
        for ours, theirs in _FLAGS.items():
            for_provider[ours] = str(attributes.get(theirs, "false")).lower() == "true"
        for ours, theirs in _TEXTS.items():
            if attributes.get(theirs):
                for_provider[ours] = attributes[theirs]
        redrive = (
            _json(attributes.get("RedrivePolicy")) if attributes.get("RedrivePolicy") else None
        )
        if isinstance(redrive, Mapping):
            for_provider["redrivePolicy"] = {
                "deadLetterQueueARN": redrive.get("deadLetterTargetArn"),
                "maxReceiveCount": int(redrive.get("maxReceiveCount", 0)),
            }
        for_provider.update(self.tag_style.show(tags))
        at_provider: dict[str, Any] = {"url": url, "arn": attributes.get("QueueArn", "")}
        for ours, theirs in (
            ("approximateNumberOfMessages", "ApproximateNumberOfMessages"),
            ("approximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesDelayed"),
            ("approximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesNotVisible"),
        ):
            if attributes.get(theirs) is not None:
                at_provider[ours] = int(attributes[theirs])
        created = rfc3339(attributes.get("CreatedTimestamp"))
        if created:
            at_provider["createdTimestamp"] = created
        return Observed(
            external_name=name,
            region=ctx.region,
            for_provider=for_provider,
            at_provider=at_provider,
            tags=tags,
            created=created,
            handle=url,
        )

    def health(self, manifest: Manifest) -> Health:
        return _HEALTH(manifest)


_HEALTH = healthy_when_present("Queue")


def _attributes(for_provider: Mapping[str, Any], *, create: bool) -> dict[str, str]:
    """SQS attributes (all strings) for the given forProvider fields."""
    attributes: dict[str, str] = {}
    for ours, theirs in _NUMBERS.items():
        if for_provider.get(ours) is not None:
            attributes[theirs] = str(int(for_provider[ours]))
    for ours, theirs in _FLAGS.items():
        value = for_provider.get(ours)
        # FifoQueue may only be sent when true, and only at create.
        if value is None or (ours == "fifoQueue" and (not create or value is not True)):
            continue
        attributes[theirs] = "true" if value else "false"
    for ours, theirs in _TEXTS.items():
        if for_provider.get(ours) is not None:
            attributes[theirs] = str(for_provider[ours])
    redrive = for_provider.get("redrivePolicy")
    if isinstance(redrive, Mapping):
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": redrive.get("deadLetterQueueARN"),
                "maxReceiveCount": int(redrive.get("maxReceiveCount", 0)),
            }
        )
    return attributes

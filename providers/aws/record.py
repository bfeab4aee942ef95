"""What gitwave remembers about a managed resource, kept on the resource itself.

Crossplane keeps a managed resource's spec in Kubernetes and only
``forProvider`` in AWS. gitwave has no cluster in between, so the rest of the
object — ``deletionPolicy``, ``managementPolicies``, ``providerConfigRef``,
``writeConnectionSecretToRef``, the ``forProvider`` inputs AWS never reports
back (``autogeneratePassword``, ``skipFinalSnapshot``, …) and the object's own
labels and annotations — is kept in AWS tags next to the ownership tags. A
later ``gitwave plan`` in a fresh process then sees the same object gitwave
applied, and ``delete`` knows the deletion policy without the desired manifest.

Tag values only allow letters, digits, spaces and ``_ . : / = + - @`` (RDS
enforces it), so the record is compact JSON in URL-safe base64, split over
``gitwave.dev/record``, ``gitwave.dev/record-1``, … (256 characters each).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.model import ResourceKey

TAG_PREFIX = "gitwave.dev/"
TAG_OWNER = "gitwave.dev/owner"
TAG_KEY = "gitwave.dev/key"
TAG_APP = "gitwave.dev/app"
TAG_TRACKING_ID = "gitwave.dev/tracking-id"
TAG_RECORD = "gitwave.dev/record"

TAG_VALUE_LIMIT = 256
# Ten chunks (2.5 KB of JSON) leave room under AWS's limit of 50 tags per resource.
RECORD_CHUNK_LIMIT = 10

EMPTY_BODY: Mapping[str, Any] = {}


class RecordTooLargeError(ValueError):
    """The record does not fit into the tags AWS allows."""


def is_gitwave_tag(name: str) -> bool:
    return name.startswith(TAG_PREFIX)


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags that are not gitwave's bookkeeping."""
    return {k: v for k, v in tags.items() if not is_gitwave_tag(k)}


def _record_tag(index: int) -> str:
    return TAG_RECORD if index == 0 else f"{TAG_RECORD}-{index}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """gitwave's bookkeeping on one AWS resource.

    ``owner`` is set only on resources gitwave created: an adopted resource
    (``crossplane.io/external-name``) records its key but never an owner, so
    gitwave never deletes what it did not create. ``body`` holds
    ``{"spec": …, "metadata": …}``: the gitwave-side part of the object.
    """

    key: str | None = None
    owner: str | None = None
    app: str | None = None
    tracking_id: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)

    def belongs_to(self, key: ResourceKey) -> bool:
        return self.key == str(key)

    def owned_by(self, owner: str) -> bool:
        return self.owner == owner

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else EMPTY_BODY

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, Mapping) else EMPTY_BODY

    def tags(self) -> dict[str, str]:
        """The tags that store this record.

        Raises RecordTooLargeError when a value or the body does not fit.
        """
        tags: dict[str, str] = {}
        for name, value in (
            (TAG_OWNER, self.owner),
            (TAG_KEY, self.key),
            (TAG_APP, self.app),
            (TAG_TRACKING_ID, self.tracking_id),
        ):
            if value:
                if len(value) > TAG_VALUE_LIMIT:
                    raise RecordTooLargeError(
                        f"{name} is {len(value)} characters; AWS tag values hold at most "
                        f"{TAG_VALUE_LIMIT}"
                    )
                tags[name] = value
        if self.body:
            text = json.dumps(self.body, sort_keys=True, separators=(",", ":"))
            encoded = base64.urlsafe_b64encode(text.encode()).decode("ascii")
            chunks = [
                encoded[i : i + TAG_VALUE_LIMIT] for i in range(0, len(encoded), TAG_VALUE_LIMIT)
            ]
            if len(chunks) > RECORD_CHUNK_LIMIT:
                raise RecordTooLargeError(
                    f"labels, annotations and gitwave settings take {len(text)} bytes; "
                    f"at most {RECORD_CHUNK_LIMIT * TAG_VALUE_LIMIT * 3 // 4} fit into AWS tags"
                )
            for index, chunk in enumerate(chunks):
                tags[_record_tag(index)] = chunk
        return tags

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Record:
        """The record stored in ``tags``; a damaged body reads as empty (the
        object then shows its defaults, and the next apply rewrites it)."""
        chunks: list[str] = []
        index = 0
        while _record_tag(index) in tags:
            chunks.append(tags[_record_tag(index)])
            index += 1
        body: Mapping[str, Any] = {}
        if chunks:
            try:
                decoded = json.loads(base64.urlsafe_b64decode("".join(chunks)))
            except (binascii.Error, ValueError):
                decoded = None
            if isinstance(decoded, dict):
                body = decoded
        return cls(
            key=tags.get(TAG_KEY) or None,
            owner=tags.get(TAG_OWNER) or None,
            app=tags.get(TAG_APP) or None,
            tracking_id=tags.get(TAG_TRACKING_ID) or None,
            body=body,
        )


def tag_changes(
    current: Mapping[str, str], wanted: Mapping[str, str], *, manage_user_tags: bool
) -> tuple[dict[str, str], list[str]]:
    """The tags to put and the tag keys to remove to get from ``current`` to ``wanted``.

    gitwave's own tags follow ``wanted`` exactly, except that an owner or key
    tag is never removed (dropping it would turn a gitwave resource into a
    foreign one). User tags are only removed when the desired object sets its
    tags (``manage_user_tags``): then the desired list is the whole set, as in
    Crossplane.
    """
    put = {k: v for k, v in wanted.items() if current.get(k) != v}
    remove = []
    for name in current:
        if name in wanted or name in (TAG_OWNER, TAG_KEY):
            continue
        if is_gitwave_tag(name) or manage_user_tags:
            remove.append(name)
    return put, sorted(remove)

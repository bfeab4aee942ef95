"""What a target holds: observed objects (``Live``) and their health.

Re-exported by ``engine.model`` (the core types' home, see its docstring):
import from there.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gitwave.engine.model_keys import Manifest, ResourceKey


@dataclass(frozen=True, slots=True)
class Live:
    """What a provider observed of one object.

    ``complete`` is False when the read failed part-way (a timed-out list, a
    403): such a Live is never taken as proof that an object is absent, and
    nothing is pruned on it.
    """

    key: ResourceKey
    # Not in repr: a logged or printed object must never show a Secret's values.
    manifest: Manifest = field(repr=False)
    resource_version: str = ""
    complete: bool = True
    # A digest of the object as the target stores it, "" when the target gives
    # none: the same digest is the same object, so a plan that found it in sync
    # with the same desired object need not compare them again (plan_memo).
    digest: str = field(default="", repr=False)

    @property
    def annotations(self) -> Mapping[str, str]:
        meta = self.manifest.get("metadata") or {}
        ann = meta.get("annotations")
        return ann if isinstance(ann, dict) else {}

    @property
    def labels(self) -> Mapping[str, str]:
        meta = self.manifest.get("metadata") or {}
        labels = meta.get("labels")
        return labels if isinstance(labels, dict) else {}

    @staticmethod
    def stored(
        key: ResourceKey,
        text: str,
        resource_version: str = "",
        *,
        complete: bool = True,
        digest: str = "",
    ) -> Live:
        """A Live whose manifest is the JSON ``text`` a target stores, decoded
        the first time something reads it. A plan of objects an earlier plan
        found in sync (``plan_memo``) compares digests and reads none of them:
        decoding 10,000 stored objects was a third of such a plan. Equal to the
        Live of the decoded manifest. Raises what ``json.loads`` raises when read."""
        return _stored_live(key, text, resource_version, complete, digest)


# The slot Live keeps its manifest in, which _StoredLive fills on first read.
_MANIFEST_SLOT = Live.__dict__["manifest"]
_LIVE_FIELDS = ("key", "manifest", "resource_version", "complete", "digest")


class _StoredLive(Live):
    """``Live.stored``: the manifest is decoded from ``_text`` when first read."""

    __slots__ = ("_text",)
    _text: str | None

    @property  # a field read lazily, still read-only
    def manifest(self) -> Manifest:
        try:
            found: Manifest = _MANIFEST_SLOT.__get__(self, Live)
        except AttributeError:
            found = json.loads(self._text or "{}")
            _MANIFEST_SLOT.__set__(self, found)
            object.__setattr__(self, "_text", None)
        return found

    @manifest.setter
    def manifest(self, value: Manifest) -> None:
        # Only __setstate__ (pickle, deepcopy) sets it: the Live stays frozen.
        _MANIFEST_SLOT.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Live):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _LIVE_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # as Live's: a manifest is a dict


_KEY_SLOT, _VERSION_SLOT, _COMPLETE_SLOT, _DIGEST_SLOT = (
    Live.__dict__[name] for name in ("key", "resource_version", "complete", "digest")
)
_TEXT_SLOT = _StoredLive.__dict__["_text"]


def _stored_live(
    key: ResourceKey, text: str, resource_version: str, complete: bool, digest: str
) -> Live:
    """A ``_StoredLive`` made slot by slot: an ``__init__`` call per object was
    a fifth of reading 10,000 objects back (``Live.stored``)."""
    live = object.__new__(_StoredLive)
    _KEY_SLOT.__set__(live, key)
    _VERSION_SLOT.__set__(live, resource_version)
    _COMPLETE_SLOT.__set__(live, complete)
    _DIGEST_SLOT.__set__(live, digest)
    _TEXT_SLOT.__set__(live, text)
    return live


class HealthCode(enum.Enum):
    """Health of an object, ordered from best to worst (Argo CD's order)."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        return _HEALTH_RANK[self]

    def worse_than(self, other: HealthCode) -> bool:
        return self.rank > other.rank

    @staticmethod
    def worst(codes: Iterable[HealthCode]) -> HealthCode:
        """The worst code of ``codes``; Healthy when empty."""
        result = HealthCode.HEALTHY
        for code in codes:
            if code.rank > result.rank:
                result = code
        return result

    @property
    def is_settled(self) -> bool:
        """A wave may move on past an object in this state (Healthy or Suspended)."""
        return self in (HealthCode.HEALTHY, HealthCode.SUSPENDED)


_HEALTH_RANK = {code: i for i, code in enumerate(HealthCode)}


@dataclass(frozen=True, slots=True)
class Health:
    code: HealthCode
    message: str = ""

    @staticmethod
    def worst(healths: Iterable[Health]) -> Health:
        """The worst of ``healths``; Healthy when empty."""
        result = Health(HealthCode.HEALTHY)
        for health in healths:
            if health.code.rank > result.code.rank:
                result = health
        return result

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}" if self.message else self.code.value

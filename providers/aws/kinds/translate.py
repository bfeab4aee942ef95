"""Translating between AWS's shapes and Crossplane's, the same for every kind:
tags as AWS lists them, fields picked by name map, times as RFC 3339, the
comparison of a desired field with the one read back, and the health of a
kind that is ready once it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from gitwave.engine.model import Health, HealthCode, Manifest


def matches(want: Any, have: Any, *, unordered: bool = False) -> bool:
    """True when ``have`` carries every field of ``want`` with the same value.

    Maps may have extra keys in ``have``; lists must have the same length and
    match item by item (in any order when ``unordered``); ``1`` and ``1.0``
    match, ``true`` and ``1`` do not.
    """
    if want is None:
        return True
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(
            matches(v, have.get(k), unordered=unordered) for k, v in want.items()
        )
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return False
        if not unordered:
            return all(matches(w, h) for w, h in zip(want, have, strict=True))
        left = list(have)
        for item in want:
            found = next((i for i, h in enumerate(left) if matches(item, h)), None)
            if found is None:
                return False
            left.pop(found)
        return True
    if isinstance(want, bool) or isinstance(have, bool):
        return type(want) is type(have) and want == have
    if isinstance(want, int | float) and isinstance(have, int | float):
        return float(want) == float(have)
    return bool(want == have)


def rfc3339(value: Any) -> str:
    """A datetime or epoch seconds as ``2024-01-02T03:04:05Z``; "" when unknown."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return ""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{k: v}`` → AWS's ``[{"Key": k, "Value": v}]``, sorted."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def tag_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` → ``{k: v}``."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in items or ()}


def pick(source: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``{crossplane: source[aws]}`` for every AWS field present in ``source``."""
    return {
        ours: source[theirs] for ours, theirs in names.items() if source.get(theirs) is not None
    }


def params(
    for_provider: Mapping[str, Any], names: Mapping[str, str], only: Iterable[str] | None = None
) -> dict[str, Any]:
    """``{aws: for_provider[crossplane]}`` for the set fields (among ``only``)."""
    wanted = set(only) if only is not None else None
    return {
        theirs: for_provider[ours]
        for ours, theirs in names.items()
        if for_provider.get(ours) is not None and (wanted is None or ours in wanted)
    }


def healthy_when_present(kind: str) -> Callable[[Manifest], Health]:
    """A health check for kinds that are ready as soon as they exist."""

    def check(manifest: Manifest) -> Health:
        status = manifest.get("status")
        conditions = status.get("conditions") if isinstance(status, Mapping) else None
        for condition in conditions or ():
            if isinstance(condition, Mapping) and condition.get("type") == "Ready":
                if condition.get("status") == "True":
                    return Health(HealthCode.HEALTHY, f"{kind} exists")
                reason = str(condition.get("reason") or "")
                message = str(condition.get("message") or reason)
                return Health(HealthCode.PROGRESSING, f"{kind} is not ready yet: {message}")
        return Health(HealthCode.HEALTHY, f"{kind} exists")

    return check


def at_provider(manifest: Manifest) -> Mapping[str, Any]:
    """``status.atProvider`` of a Live manifest; {} when absent."""
    status = manifest.get("status")
    found = status.get("atProvider") if isinstance(status, Mapping) else None
    return found if isinstance(found, Mapping) else {}

"""Crossplane readiness checks: when is a composed resource ready?

One small function per check type (Crossplane's spelling). With no checks a
resource is ready when its ``Ready`` condition is ``True``, as in Crossplane.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gitwave.compositions.values import json_type
from gitwave.engine.api import MISSING_FIELD, FieldPathError, get_field

__all__ = ["CHECKS", "DEFAULT_CHECKS", "Readiness", "ReadinessError", "check_readiness"]


class ReadinessError(ValueError):
    """A malformed readiness check; the caller names the composition and resource."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether one composed resource is ready, and if not, why (for `gitwave status`)."""

    ready: bool
    reason: str = ""


DEFAULT_CHECKS: tuple[Mapping[str, Any], ...] = (
    MappingProxyType(
        {"type": "MatchCondition", "matchCondition": {"type": "Ready", "status": "True"}}
    ),
)

Check = Callable[[Mapping[str, Any], Mapping[str, Any]], Readiness]


def check_readiness(
    checks: Sequence[Mapping[str, Any]] | None, observed: Mapping[str, Any] | None
) -> Readiness:
    """Run ``checks`` (all must pass) against the observed object.

    An object that is not observed is never ready. Raises ReadinessError for
    an unknown check type or a check missing its fields.
    """
    if observed is None:
        return Readiness(False, "not created yet")
    for number, check in enumerate(checks or DEFAULT_CHECKS):
        if not isinstance(check, Mapping):
            raise ReadinessError(f"readiness check {number} must be an object")
        kind = check.get("type")
        handler = CHECKS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise ReadinessError(
                f"readiness check {number} has unknown type {kind!r}; use one of "
                f"{', '.join(CHECKS)}"
            )
        result = handler(check, observed)
        if not result.ready:
            return result
    return Readiness(True)


def _field_path(check: Mapping[str, Any]) -> str:
    path = check.get("fieldPath")
    if not isinstance(path, str) or not path:
        raise ReadinessError(f"readiness check {check.get('type')} needs a fieldPath")
    return path


def _value(check: Mapping[str, Any], observed: Mapping[str, Any]) -> tuple[str, Any]:
    path = _field_path(check)
    try:
        return path, get_field(observed, path)
    except FieldPathError as err:
        raise ReadinessError(str(err)) from None


def _match_string(check: Mapping[str, Any], observed: Mapping[str, Any]) -> Readiness:
    want = check.get("matchString")
    if not isinstance(want, str):
        raise ReadinessError("readiness check MatchString needs matchString")
    path, value = _value(check, observed)
    if value == want:
        return Readiness(True)
    return Readiness(False, f"{path} is {_shown(value)}, not {want!r}")


def _match_integer(check: Mapping[str, Any], observed: Mapping[str, Any]) -> Readiness:
    want = check.get("matchInteger")
    if isinstance(want, bool) or not isinstance(want, int):
        raise ReadinessError("readiness check MatchInteger needs matchInteger")
    path, value = _value(check, observed)
    if not isinstance(value, bool) and isinstance(value, int | float) and value == want:
        return Readiness(True)
    return Readiness(False, f"{path} is {_shown(value)}, not {want}")


def _match_bool(want: bool) -> Check:
    def check_bool(check: Mapping[str, Any], observed: Mapping[str, Any]) -> Readiness:
        path, value = _value(check, observed)
        if value is want:
            return Readiness(True)
        return Readiness(False, f"{path} is {_shown(value)}, not {str(want).lower()}")

    return check_bool


def _non_empty(check: Mapping[str, Any], observed: Mapping[str, Any]) -> Readiness:
    path, value = _value(check, observed)
    if value is MISSING_FIELD:
        return Readiness(False, f"{path} is not set")
    return Readiness(True)


def _match_condition(check: Mapping[str, Any], observed: Mapping[str, Any]) -> Readiness:
    spec = check.get("matchCondition")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise ReadinessError("readiness check MatchCondition needs matchCondition.type")
    kind, want = spec["type"], str(spec.get("status", "True"))
    conditions = get_field(observed, "status.conditions")
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, Mapping) and condition.get("type") == kind:
            if str(condition.get("status")) == want:
                return Readiness(True)
            reason = condition.get("reason") or condition.get("message") or ""
            extra = f" ({reason})" if reason else ""
            return Readiness(False, f"condition {kind} is {condition.get('status')}{extra}")
    return Readiness(False, f"condition {kind} is not reported")


def _none(check: Mapping[str, Any], observed: Mapping[str, Any]) -> Readiness:
    return Readiness(True)


def _shown(value: Any) -> str:
    if value is MISSING_FIELD:
        return "not set"
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)
    return f"an {json_type(value)}"


CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        "MatchString": _match_string,
        "MatchInteger": _match_integer,
        "MatchTrue": _match_bool(True),
        "MatchFalse": _match_bool(False),
        "MatchCondition": _match_condition,
        "NonEmpty": _non_empty,
        "None": _none,
    }
)

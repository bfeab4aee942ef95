"""Composition functions: the request and response of one pipeline step.

They mirror Crossplane's ``RunFunctionRequest`` / ``RunFunctionResponse`` as
plain dicts (proto JSON field names), so a function written against
Crossplane's shapes reads naturally::

    request.observed == {
        "composite": {"resource": {...XR...}, "connectionDetails": {"key": b"..."}},
        "resources": {"db": {"resource": {...}, "connectionDetails": {...}}},
    }
    request.desired == {
        "composite": {"resource": {...}, "connectionDetails": {...}},
        "resources": {"db": {"resource": {...}, "ready": "READY_UNSPECIFIED"}},
    }

A function is any callable ``(FunctionRequest) -> FunctionResponse``. It gets
its own copy of the desired state and returns the new desired state; it may
report problems as ``results`` (a Fatal result stops the composition) or raise
FunctionError. Functions are Python code installed with gitwave (entry point
group ``gitwave.composition_functions``) or passed in a FunctionRegistry —
never code from the repository being synced.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CompositionFunction",
    "FunctionError",
    "FunctionRequest",
    "FunctionResponse",
    "FunctionResult",
    "Ready",
    "Severity",
    "empty_desired",
]


class Ready(enum.Enum):
    """A function's verdict on one desired composed resource (Crossplane's enum)."""

    UNSPECIFIED = "READY_UNSPECIFIED"
    TRUE = "READY_TRUE"
    FALSE = "READY_FALSE"

    @staticmethod
    def of(value: Any) -> Ready:
        """Read a ``ready`` field: the enum, its string, a bool or None (unspecified).

        Raises ValueError for anything else.
        """
        if isinstance(value, Ready):
            return value
        if value is None:
            return Ready.UNSPECIFIED
        if isinstance(value, bool):
            return Ready.TRUE if value else Ready.FALSE
        return Ready(value)


class Severity(enum.Enum):
    FATAL = "SEVERITY_FATAL"
    WARNING = "SEVERITY_WARNING"
    NORMAL = "SEVERITY_NORMAL"

    @property
    def stops(self) -> bool:
        """A Fatal result stops the composition of that composite."""
        return self is Severity.FATAL


@dataclass(frozen=True, slots=True)
class FunctionResult:
    """A message from a function. ``resource`` names the composed resource it is
    about ("" for the composite as a whole), so status can show it in place."""

    severity: Severity
    message: str
    resource: str = ""


class FunctionError(Exception):
    """A function refused its input. The message must not contain secret values."""


@dataclass(frozen=True)
class FunctionRequest:
    """What one pipeline step is given. Not in repr: connection details are secrets."""

    observed: Mapping[str, Any] = field(repr=False)
    desired: dict[str, Any] = field(repr=False)
    input: Any = None
    context: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def composite(self) -> Mapping[str, Any]:
        """The observed composite resource (the XR, defaults applied)."""
        resource: Mapping[str, Any] = self.observed.get("composite", {}).get("resource", {})
        return resource

    def observed_resource(self, name: str) -> Mapping[str, Any] | None:
        """The observed composed resource ``name``, or None when it does not exist yet."""
        entry = self.observed.get("resources", {}).get(name)
        return entry.get("resource") if isinstance(entry, Mapping) else None


@dataclass(frozen=True)
class FunctionResponse:
    """What a step returns: the full new desired state (not a delta)."""

    desired: dict[str, Any] = field(repr=False)
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    results: tuple[FunctionResult, ...] = ()


CompositionFunction = Callable[[FunctionRequest], FunctionResponse]


def empty_desired() -> dict[str, Any]:
    """The desired state before the first step: nothing composed yet."""
    return {"composite": {"resource": {}, "connectionDetails": {}}, "resources": {}}

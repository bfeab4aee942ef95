"""Flux ``GitRepository.spec.ref.semver``: the highest tag a version constraint allows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_CONSTRAINT = re.compile(r"^(>=|<=|!=|=|>|<|~|\^)?\s*v?([0-9x*X]+(?:\.[0-9x*X]+){0,2})$")

Version = tuple[int, int, int]


def pick_semver(constraint: str, tags: Iterable[str]) -> str | None:
    """The tag with the highest version satisfying ``constraint`` (Masterminds syntax subset).

    Supports ``||`` alternatives of comma/space separated comparisons
    (``>=1.2 <2``), ``~1.2``, ``^1.2``, x-ranges (``1.2.x``, ``*``) and hyphen
    ranges (``1.0 - 2.0``). Pre-release tags are never picked. Raises
    ValueError for a malformed constraint.
    """
    alternatives = [_parse_alternative(part) for part in constraint.split("||")]
    best: tuple[Version, str] | None = None
    for tag in tags:
        match = _VERSION.match(tag)
        if match is None:
            continue
        version = (int(match[1]), int(match[2] or 0), int(match[3] or 0))
        if any(all(check(version) for check in alt) for alt in alternatives) and (
            best is None or version > best[0]
        ):
            best = (version, tag)
    return best[1] if best else None


def _parse_alternative(text: str) -> list[Any]:
    text = re.sub(r"(\S+)\s+-\s+(\S+)", r">=\1 <=\2", text.strip())
    terms = [t for t in re.split(r"[,\s]+", re.sub(r"(>=|<=|!=|=|>|<|~|\^)\s+", r"\1", text)) if t]
    if not terms:
        raise ValueError("empty constraint")
    checks = []
    for term in terms:
        match = _CONSTRAINT.match(term)
        if match is None:
            raise ValueError(f"cannot read constraint {term!r}")
        checks.append(_check(match[1] or "=", match[2]))
    return checks


def _check(op: str, text: str) -> Any:
    parts = text.split(".")
    wild = next((i for i, p in enumerate(parts) if p in ("x", "X", "*")), len(parts))
    numbers = [int(p) for p in parts[:wild]]
    given = len(numbers)
    padded = [*numbers, 0, 0, 0]
    low: Version = (padded[0], padded[1], padded[2])

    def bump(index: int) -> Version:
        values = [*low]
        values[index] += 1
        for i in range(index + 1, 3):
            values[i] = 0
        return (values[0], values[1], values[2])

    if given == 0:
        return lambda v: op not in ("<", "!=")
    high = bump(given - 1) if given < 3 else None  # the first version past an x-range
    if op == "=":
        return (lambda v: low <= v < high) if high else (lambda v: v == low)
    if op == "!=":
        return (lambda v: not low <= v < high) if high else (lambda v: v != low)
    if op == ">":
        return (lambda v: v >= high) if high else (lambda v: v > low)
    if op == ">=":
        return lambda v: v >= low
    if op == "<":
        return lambda v: v < low
    if op == "<=":
        return (lambda v: v < high) if high else (lambda v: v <= low)
    if op == "~":
        upper = bump(1) if given >= 2 else bump(0)
        return lambda v: low <= v < upper
    # "^": compatible with the left-most non-zero part
    index = next((i for i, n in enumerate(numbers) if n != 0), given - 1)
    upper = bump(min(index, 2))
    return lambda v: low <= v < upper

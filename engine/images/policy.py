"""Flux ``ImagePolicy.spec.policy`` and ``spec.filterTags``: which tag is the latest.

Pure functions over a list of tags, as image-reflector-controller decides:

- ``filterTags.pattern`` keeps the tags the regular expression matches
  (anywhere in the tag, like Go's ``MatchString``), and ``extract`` (``$1``,
  ``$name``, ``${name}``) is what the policy then compares; the chosen tag is
  the original. The pattern is RE2, as in Go, so a pattern from Git runs in
  linear time whatever it is (no catastrophic backtracking).
- ``semver.range``: the highest version the Masterminds-style constraint allows;
  tags that are not versions (``latest``) are ignored, and a pre-release
  (``1.2.0-rc.1``) only counts when the constraint names a pre-release of the
  same version (npm's rule, which semantic_version's ``NpmSpec`` implements).
- ``alphabetical.order``: ``asc`` (default) picks the last tag in byte order,
  ``desc`` the first.
- ``numerical.order``: tags read as numbers; ``asc`` picks the largest. A tag
  that is not a number is an error, as in Flux (filter such tags out).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]
from semantic_version import NpmSpec, Version

from gitwave.engine.errors import ValidationError

# Masterminds' NewVersion: optional "v", one to three numbers, pre-release, build.
_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_OPERATOR_GAP = re.compile(r"(>=|<=|!=|=|>|<|~|\^)\s*v?")
_EXPAND = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


class Order(enum.Enum):
    """``asc`` picks the greatest tag, ``desc`` the least (Flux's meaning)."""

    ASC = "asc"
    DESC = "desc"

    @staticmethod
    def parse(text: str, where: str, field_name: str) -> Order:
        try:
            return Order((text or "asc").lower())
        except ValueError:
            raise ValidationError(where, f"{field_name}: {text!r} is not asc or desc") from None


class PolicyKind(enum.Enum):
    SEMVER = "semver"
    ALPHABETICAL = "alphabetical"
    NUMERICAL = "numerical"


@dataclass(frozen=True)
class TagFilter:
    """``spec.filterTags``: a compiled RE2 pattern and the ``extract`` template."""

    pattern: str
    extract: str

    def apply(self, tags: Iterable[str]) -> list[tuple[str, str]]:
        """``(tag, value compared)`` for every tag the pattern matches."""
        compiled = re2.compile(self.pattern)
        kept = []
        for tag in tags:
            match = compiled.search(tag)
            if match is None:
                continue
            kept.append((tag, _expand(self.extract, match) if self.extract else tag))
        return kept


@dataclass(frozen=True)
class TagPolicy:
    """One ImagePolicy's rule: ``kind`` with ``semver_range`` or ``order``, and a filter."""

    kind: PolicyKind
    semver_range: str = ""
    order: Order = Order.ASC
    filter: TagFilter | None = None

    def latest(self, tags: Iterable[str]) -> str | None:
        """The tag this policy selects among ``tags`` (None: no tag qualifies).

        Raises ValueError for a tag a numerical policy cannot read as a number.
        """
        candidates = self.filter.apply(tags) if self.filter is not None else [(t, t) for t in tags]
        if self.kind is PolicyKind.SEMVER:
            return _latest_semver(self.semver_range, candidates)
        if not candidates:
            return None
        if self.kind is PolicyKind.ALPHABETICAL:
            ranked = sorted(candidates, key=lambda pair: (pair[1].encode(), pair[0]))
        else:
            numbers = []
            for tag, value in candidates:
                if not _NUMBER.match(value):
                    raise ValueError(f"tag {tag!r}: {value!r} is not a number")
                numbers.append((float(value), tag))
            ranked = [(tag, "") for _number, tag in sorted(numbers)]
        chosen = ranked[-1] if self.order is Order.ASC else ranked[0]
        return chosen[0]


def parse_tag_policy(spec: Mapping[str, Any], where: str) -> TagPolicy:
    """``spec.policy`` and ``spec.filterTags`` of the ImagePolicy at ``where``;
    ValidationError naming the field for anything Flux would refuse."""
    policy = spec.get("policy")
    if not isinstance(policy, Mapping) or not policy:
        raise ValidationError(where, "spec.policy is required (semver, alphabetical or numerical)")
    chosen = [key for key in ("semver", "alphabetical", "numerical") if key in policy]
    if len(chosen) != 1:
        raise ValidationError(
            where, "spec.policy must hold exactly one of semver, alphabetical, numerical"
        )
    kind = PolicyKind(chosen[0])
    body = policy.get(chosen[0]) or {}
    if not isinstance(body, Mapping):
        raise ValidationError(where, f"spec.policy.{chosen[0]} must be a mapping")
    tag_filter = _parse_filter(spec.get("filterTags"), where)
    if kind is PolicyKind.SEMVER:
        constraint = body.get("range")
        if not isinstance(constraint, str) or not constraint.strip():
            raise ValidationError(where, "spec.policy.semver.range is required")
        try:
            _alternatives(constraint)
        except ValueError as exc:
            raise ValidationError(where, f"spec.policy.semver.range: {exc}") from None
        return TagPolicy(kind=kind, semver_range=constraint, filter=tag_filter)
    order = Order.parse(str(body.get("order") or ""), where, f"spec.policy.{kind.value}.order")
    return TagPolicy(kind=kind, order=order, filter=tag_filter)


def _parse_filter(value: Any, where: str) -> TagFilter | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(where, "spec.filterTags must be a mapping")
    pattern = value.get("pattern") or ""
    extract = value.get("extract") or ""
    if not isinstance(pattern, str) or not isinstance(extract, str):
        raise ValidationError(where, "spec.filterTags.pattern and .extract must be strings")
    if not pattern:
        if extract:
            raise ValidationError(where, "spec.filterTags.extract needs a pattern")
        return None
    try:
        compiled = re2.compile(pattern)
    except re2.error as exc:
        raise ValidationError(where, f"spec.filterTags.pattern {pattern!r}: {exc}") from None
    names = set(compiled.groupindex)
    for found in _EXPAND.finditer(extract):
        name = found.group(2) or found.group(3)
        if name and not name.isdigit() and name not in names:
            raise ValidationError(
                where, f"spec.filterTags.extract: the pattern has no group named {name!r}"
            )
    return TagFilter(pattern=pattern, extract=extract)


def _expand(template: str, match: Any) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``$name``, ``${name}``; ``$$`` is a dollar;
    a group that does not exist or did not take part is empty."""

    def one(found: re.Match[str]) -> str:
        if found.group(1) == "$":
            return "$"
        name = found.group(2) or found.group(3)
        try:
            value = match.group(int(name) if name.isdigit() else name)
        except (IndexError, KeyError, re2.error):
            return ""
        return str(value or "")

    return _EXPAND.sub(one, template)


def _latest_semver(constraint: str, candidates: Iterable[tuple[str, str]]) -> str | None:
    alternatives = _alternatives(constraint)
    best: tuple[Version, str] | None = None
    for tag, value in candidates:
        version = _version(value)
        if version is None or not any(a.allows(version) for a in alternatives):
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    return best[1] if best else None


def _version(text: str) -> Version | None:
    found = _VERSION.match(text)
    if found is None:
        return None
    return Version(
        major=int(found[1]),
        minor=int(found[2] or 0),
        patch=int(found[3] or 0),
        prerelease=tuple(found[4].split(".")) if found[4] else (),
        build=tuple(found[5].split(".")) if found[5] else (),
    )


@dataclass(frozen=True)
class _Alternative:
    allowed: NpmSpec
    excluded: tuple[NpmSpec, ...]

    def allows(self, version: Version) -> bool:
        return bool(self.allowed.match(version)) and not any(
            spec.match(version) for spec in self.excluded
        )


def _alternatives(constraint: str) -> list[_Alternative]:
    """Masterminds' constraint language read as npm ranges (see engine/apps/semver.py):
    commas become spaces, ``>= v1`` loses its gap and ``v``, ``!=`` subtracts."""
    found = []
    for part in constraint.split("||"):
        terms = _OPERATOR_GAP.sub(r"\1", part.replace(",", " ")).split()
        if not terms:
            raise ValueError(f"cannot read constraint {constraint!r}")
        excluded = tuple(_spec(t.removeprefix("!=")) for t in terms if t.startswith("!="))
        kept = " ".join(t for t in terms if not t.startswith("!=")) or "*"
        found.append(_Alternative(allowed=_spec(kept), excluded=excluded))
    return found


def _spec(text: str) -> NpmSpec:
    try:
        return NpmSpec(text)
    except ValueError as err:
        raise ValueError(f"cannot read constraint {text!r}: {err}") from None

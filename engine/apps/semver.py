"""Flux ``GitRepository.spec.ref.semver``: the highest tag a version constraint allows.

Flux reads constraints with Masterminds/semver. semantic_version's ``NpmSpec``
reads the same language — comparisons joined by spaces (``>=1.2 <2``), ``~1.2``,
``^1.2``, x-ranges (``1.2.x``, ``*``), hyphen ranges (``1.0 - 2.0``) and ``||``
— with the same meaning for partial versions (``>1.2`` is ``>=1.3.0``). Three
Masterminds forms npm ranges lack are translated here: a comma between
comparisons, a space or a ``v`` after an operator (``>= 1.0``, ``~v1.2``) and ``!=``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from semantic_version import NpmSpec, Version

# A tag counts when it is a plain release version, "v" optional: pre-releases and
# other tags ("latest") are never picked, as Flux does without a pre-release constraint.
_RELEASE_TAG = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_OPERATOR_GAP = re.compile(r"(>=|<=|!=|=|>|<|~|\^)\s*v?")


def pick_semver(constraint: str, tags: Iterable[str]) -> str | None:
    """The tag with the highest version satisfying ``constraint`` (None: no tag does).

    The first of several tags naming one version wins. Raises ValueError for
    a malformed constraint.
    """
    alternatives = [_Alternative.parse(part) for part in constraint.split("||")]
    best: tuple[Version, str] | None = None
    for tag in tags:
        match = _RELEASE_TAG.match(tag)
        if match is None:
            continue
        version = Version(major=int(match[1]), minor=int(match[2] or 0), patch=int(match[3] or 0))
        if any(alternative.allows(version) for alternative in alternatives) and (
            best is None or version > best[0]
        ):
            best = (version, tag)
    return best[1] if best else None


@dataclass(frozen=True)
class _Alternative:
    """One side of ``||``: what ``allowed`` matches, less what any of ``excluded`` matches."""

    allowed: NpmSpec
    excluded: tuple[NpmSpec, ...]

    @staticmethod
    def parse(text: str) -> _Alternative:
        terms = _OPERATOR_GAP.sub(r"\1", text.replace(",", " ")).split()
        if not terms:
            raise ValueError("empty constraint")
        excluded = tuple(_spec(t.removeprefix("!=")) for t in terms if t.startswith("!="))
        kept = " ".join(t for t in terms if not t.startswith("!=")) or "*"
        return _Alternative(allowed=_spec(kept), excluded=excluded)

    def allows(self, version: Version) -> bool:
        return bool(self.allowed.match(version)) and not any(
            spec.match(version) for spec in self.excluded
        )


def _spec(text: str) -> NpmSpec:
    try:
        return NpmSpec(text)
    except ValueError as err:
        raise ValueError(f"cannot read constraint {text!r}: {err}") from None

"""Durations and times given on the command line (``--interval 3m``, ``--since 10m``).

Durations are Go durations read by durationpy (``300ms``, ``1m30s``, ``1.5h``),
which also takes days and weeks (``2d``, ``1w``). A negative duration or one
with spaces inside is refused: no flag here means "the future".
"""

from __future__ import annotations

import datetime
import re

import durationpy

from gitwave.engine.errors import ValidationError

_BARE_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_duration(text: str, *, bare_seconds: bool = False) -> float:
    """Seconds in a Go duration; with ``bare_seconds`` a plain number counts as seconds.

    Raises ValueError for anything else."""
    value = text.strip()
    if bare_seconds and _BARE_SECONDS.fullmatch(value):
        return float(value)
    try:
        if not value or value[0] in "+-" or any(c.isspace() for c in value):
            raise durationpy.DurationError(value)
        return float(durationpy.from_str(value).total_seconds())
    except durationpy.DurationError:
        raise ValueError(f"{text!r} is not a duration (like 30s, 5m, 1h30m)") from None


def duration_flag(text: str, flag: str) -> float:
    """Seconds in the value of ``flag`` (a plain number is seconds).

    Raises ValidationError naming the flag."""
    try:
        return parse_duration(text, bare_seconds=True)
    except ValueError as exc:
        raise ValidationError(flag, str(exc)) from None


def parse_since(text: str, *, now: float) -> float:
    """``--since``: a duration back from ``now`` (``10m``, ``2h``) or an RFC 3339 time.

    Raises ValidationError for anything else."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        stamp = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            "--since",
            f"{text!r} is neither a duration (10m, 2h) nor an RFC 3339 time",
            hint="e.g. --since 10m or --since 2026-01-02T15:04:05Z",
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.astimezone()  # a time without zone is local time
    return stamp.timestamp()

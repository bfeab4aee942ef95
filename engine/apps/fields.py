"""Reading fields of parsed YAML, with errors that name ``file:line`` and the field.

``Reader`` is typed access to one document's fields; ``parse_duration`` reads
Go durations (what Argo CD and Flux write: ``30s``, ``1m30s``);
``clean_path`` keeps a path inside its repository.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any, NoReturn, overload

import durationpy

from gitwave.engine.errors import PathEscapeError, ValidationError
from gitwave.engine.model import ANNOTATION_SYNC_WAVE, ANNOTATION_SYNC_WAVE_ARGO
from gitwave.engine.names import LABEL_MAX, dns_problem

# durationpy also takes days, weeks, months and years, a sign and spaces between
# the parts; Go's time.ParseDuration (what Argo CD and Flux use) takes none of
# them, so a value is held to Go's grammar before durationpy reads it.
_GO_DURATION = re.compile(r"(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_BARE_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_duration(text: str, *, bare_seconds: bool = False) -> float:
    """Seconds in a Go duration (``1m30s``, ``10m``, ``1.5h``, ``300ms``).

    With ``bare_seconds`` a plain number counts as seconds (Argo's backoff
    durations). Raises ValueError for anything else.
    """
    value = text.strip()
    if bare_seconds and _BARE_SECONDS.fullmatch(value):
        return float(value)
    if value != "0" and not _GO_DURATION.fullmatch(value):
        raise ValueError(f"{text!r} is not a duration (like 30s, 5m, 1h30m)")
    try:
        seconds: float = durationpy.from_str(value).total_seconds()
    except durationpy.DurationError:  # too large for a timedelta
        raise ValueError(f"{text!r} is not a duration (like 30s, 5m, 1h30m)") from None
    return seconds


class Reader:
    """Typed field access on parsed YAML; every failure is a ValidationError naming the field.

    ``dotted`` names the field as a user writes it (``spec.source.path``); its
    last part is the key read from ``parent``.
    """

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, detail: str) -> NoReturn:
        """Raise ValidationError for this document with ``detail``."""
        raise ValidationError(self.where, detail)

    def _get(self, parent: Mapping[str, Any], dotted: str) -> Any:
        return parent.get(dotted.rpartition(".")[2].split("[")[0])

    def dns_name(
        self, value: str, dotted: str, *, max_len: int = LABEL_MAX, dots: bool = False
    ) -> str:
        """``value`` (read from ``dotted``) if it is an RFC 1123 name, else ValidationError.

        "" passes: absence is for the caller's ``required``. These values reach
        tool command lines, so one shaped like a flag must stop here.
        """
        problem = dns_problem(value, max_len=max_len, dots=dots) if value else None
        if problem:
            self.fail(f"{dotted}: {problem}")
        return value

    def mapping(
        self, parent: Mapping[str, Any], dotted: str, *, required: bool = False
    ) -> Mapping[str, Any]:
        """The mapping at ``dotted`` ({} when absent and not required)."""
        value = self._get(parent, dotted)
        if value is None:
            if required:
                self.fail(f"{dotted} is required")
            return {}
        if not isinstance(value, dict):
            self.fail(f"{dotted} must be a mapping, not {_type_name(value)}")
        result: Mapping[str, Any] = value
        return result

    def mappings(self, parent: Mapping[str, Any], dotted: str) -> list[Mapping[str, Any]]:
        """The list of mappings at ``dotted`` ([] when absent)."""
        value = self._get(parent, dotted)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(f"{dotted} must be a list of mappings")
        return list(value)

    def string(self, parent: Mapping[str, Any], dotted: str, *, required: bool = False) -> str:
        """The string at ``dotted`` ("" when absent and not required)."""
        value = self._get(parent, dotted)
        if value is None or value == "":
            if required:
                self.fail(f"{dotted} is required")
            return ""
        if not isinstance(value, str):
            self.fail(f"{dotted} must be a string, not {_type_name(value)} (quote it)")
        return str(value)

    def strings(self, parent: Mapping[str, Any], dotted: str) -> list[str]:
        """The list of strings at ``dotted`` ([] when absent)."""
        value = self._get(parent, dotted)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{dotted} must be a list of strings")
        return list(value)

    def boolean(self, parent: Mapping[str, Any], dotted: str) -> bool:
        """The boolean at ``dotted`` (False when absent)."""
        value = self._get(parent, dotted)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(f"{dotted} must be true or false, not {value!r}")
        return bool(value)

    @overload
    def duration(
        self, parent: Mapping[str, Any], dotted: str, default: str, *, argo: bool = False
    ) -> float: ...

    @overload
    def duration(
        self, parent: Mapping[str, Any], dotted: str, default: None, *, argo: bool = False
    ) -> float | None: ...

    def duration(
        self, parent: Mapping[str, Any], dotted: str, default: str | None, *, argo: bool = False
    ) -> float | None:
        """Seconds in the Go duration at ``dotted`` (``default`` when absent).

        ``argo``: a bare number counts as seconds, as in Argo's retry backoff.
        """
        value = self._get(parent, dotted)
        if value is None:
            return None if default is None else parse_duration(default)
        if argo and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, str):
            self.fail(f"{dotted} must be a duration like 30s or 5m, not {value!r}")
        try:
            return parse_duration(value, bare_seconds=argo)
        except ValueError as err:
            self.fail(f"{dotted}: {err}")


def read_wave(reader: Reader, meta: Mapping[str, Any]) -> int:
    """The sync wave in ``metadata.annotations`` (gitwave's, then Argo's; 0 without one)."""
    annotations = reader.mapping(meta, "metadata.annotations")
    for key in (ANNOTATION_SYNC_WAVE, ANNOTATION_SYNC_WAVE_ARGO):
        if key in annotations:
            value = annotations[key]
            try:
                return int(str(value).strip())
            except ValueError:
                reader.fail(f"metadata.annotations[{key}]: {value!r} is not an integer")
    return 0


def read_labels(reader: Reader, meta: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``metadata.labels``, sorted, each value as the string Kubernetes stores
    (a label selector compares strings; a bare YAML ``1`` or ``true`` is refused,
    as the API server refuses it)."""
    labels = reader.mapping(meta, "metadata.labels")
    found = []
    for key, value in labels.items():
        if not isinstance(value, str):
            reader.fail(
                f"metadata.labels[{key}] must be a string, not {_type_name(value)} (quote it)"
            )
        found.append((str(key), value))
    return tuple(sorted(found))


ANNOTATION_POLICY = "gitwave.dev/policy"


def read_policy_dirs(reader: Reader, meta: Mapping[str, Any]) -> tuple[str, ...]:
    """The app's policy directories: ``gitwave.dev/policy``, comma-separated
    paths in the app's source repository (checked before every plan and sync,
    as ``--policy`` directories are)."""
    annotations = reader.mapping(meta, "metadata.annotations")
    text = annotations.get(ANNOTATION_POLICY)
    if text is None:
        return ()
    where = f"{reader.where}: metadata.annotations[{ANNOTATION_POLICY}]"
    return tuple(clean_path(part.strip(), where) for part in str(text).split(",") if part.strip())


ANNOTATION_PRUNE_LIMIT = "gitwave.dev/prune-limit"


def parse_percent(text: str) -> float | None:
    """``"40%"`` or ``"40"`` as a number in [0, 100]; None for anything else."""
    try:
        value = float(text.strip().removesuffix("%").strip())
    except ValueError:
        return None
    return value if 0 <= value <= 100 else None


def read_prune_limit(reader: Reader, meta: Mapping[str, Any]) -> float | None:
    """The app's prune limit: ``gitwave.dev/prune-limit`` as a percentage
    (``"40%"``), None without one; a bad value names the annotation."""
    annotations = reader.mapping(meta, "metadata.annotations")
    text = annotations.get(ANNOTATION_PRUNE_LIMIT)
    if text is None:
        return None
    limit = parse_percent(str(text))
    if limit is None:
        reader.fail(
            f"metadata.annotations[{ANNOTATION_PRUNE_LIMIT}]: {text!r} is not a percentage "
            "between 0% and 100%"
        )
    return limit


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def clean_path(path: str, subject: str) -> str:
    """A repo-relative path in normal form; PathEscapeError for absolute or ``..`` paths.

    ``subject`` names the file, line and field in the error.
    """
    text = path.strip() or "."
    if "\x00" in text:
        raise PathEscapeError(f"{subject} {path!r}", reason="a path may not hold a NUL character")
    if text.startswith("/"):
        raise PathEscapeError(f"{subject} {path!r}", reason="absolute paths are not allowed")
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../"):
        raise PathEscapeError(f"{subject} {path!r}", reason="'..' leads outside the repository")
    return normal

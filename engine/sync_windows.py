"""Argo CD sync windows (an AppProject's ``spec.syncWindows``): may this app
sync now, automatically or by hand?

Pure: the time is passed in (``now``, an aware ``datetime``), never read here,
so the loop's clock and a test's frozen clock decide alike.

Argo CD's rules, as its documentation gives them:

- a window matches an app by ``applications`` (the app's name),
  ``namespaces`` (its destination namespace) or ``clusters`` (its destination
  server or name), globs, OR-ed (AND-ed with ``andOperator: true``); a window
  that lists none of them matches no app;
- a window is active from each time its cron ``schedule`` fires (in its
  ``timeZone``, UTC when absent) for ``duration``;
- no matching window: every sync is allowed; an active matching deny window
  blocks syncs (deny wins over allow); when matching allow windows exist,
  syncs are allowed only while one of them is active;
- ``manualSync: true`` lets a manual sync through: through the active deny
  windows when every one of them has it, through the closed allow windows
  when one of them has it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gitwave.engine.errors import GitwaveError
from gitwave.engine.globs import argo_glob


class WindowKind(enum.Enum):
    """What an active window does to syncs."""

    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class SyncWindow:
    """One ``spec.syncWindows`` entry, validated (``engine.apps.projects``)."""

    kind: WindowKind
    schedule: str
    duration_s: float
    time_zone: str = "UTC"
    applications: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    manual_sync: bool = False
    and_operator: bool = False
    index: int = 0  # its place in spec.syncWindows, to name it

    @property
    def label(self) -> str:
        """``deny window #0 (0 22 * * *, 1h0m0s, UTC)``: how messages name it."""
        return (
            f"{self.kind.value} window #{self.index} "
            f"({self.schedule}, {_duration_text(self.duration_s)}, {self.time_zone})"
        )

    def matches(self, *, app: str, namespace: str, server: str, name: str) -> bool:
        """True when this window applies to the app with that destination."""
        checks: list[bool] = []
        if self.applications:
            checks.append(any(_glob(p, app) for p in self.applications))
        if self.namespaces:
            checks.append(any(_glob(p, namespace) for p in self.namespaces))
        if self.clusters:
            checks.append(
                any(_glob(p, server) or _glob(p, name) for p in self.clusters if server or name)
            )
        if not checks:
            return False
        return all(checks) if self.and_operator else any(checks)

    def open_until(self, now: datetime) -> datetime | None:
        """When the window closes, if it is open at ``now`` (an aware
        datetime); None when it is closed. Of overlapping runs (a duration
        longer than the schedule's period), the latest start counts."""
        from zoneinfo import ZoneInfo  # only apps with sync windows need it

        from croniter import croniter

        local = now.astimezone(ZoneInfo(self.time_zone))
        # The latest start at or before now: croniter's get_prev is strictly before.
        latest: datetime = croniter(self.schedule, local).get_prev(datetime)
        following: datetime = croniter(self.schedule, latest).get_next(datetime)
        if following <= local:
            latest = following
        end = latest + timedelta(seconds=self.duration_s)
        return end if local < end else None

    def next_open(self, now: datetime) -> datetime:
        """The next time this window opens after ``now``."""
        from zoneinfo import ZoneInfo

        from croniter import croniter

        local = now.astimezone(ZoneInfo(self.time_zone))
        nxt: datetime = croniter(self.schedule, local).get_next(datetime)
        return nxt


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """A window open now, and until when (in the window's time zone)."""

    window: SyncWindow
    until: datetime

    def __str__(self) -> str:
        return f"{self.window.label} until {self.until:%Y-%m-%d %H:%M %Z}"


@dataclass(frozen=True, slots=True)
class WindowVerdict:
    """What the app's sync windows say at one time. ``blocked_by`` names why a
    sync is held ("" when allowed); ``manual_ok`` is True when a manual sync
    may go through anyway (``manualSync``)."""

    matching: tuple[SyncWindow, ...] = ()
    active: tuple[OpenWindow, ...] = ()
    blocked_by: str = ""
    manual_ok: bool = True

    @property
    def auto_allowed(self) -> bool:
        """True when an automated sync (auto-sync, self-heal) may run."""
        return not self.blocked_by

    @property
    def manual_allowed(self) -> bool:
        """True when a manual sync may run."""
        return not self.blocked_by or self.manual_ok

    @property
    def summary(self) -> str:
        """One line for status: the active windows, or what blocks; "" without windows."""
        if not self.matching:
            return ""
        if self.blocked_by:
            manual = "; manual sync allowed (manualSync)" if self.manual_ok else ""
            return f"sync blocked by {self.blocked_by}{manual}"
        if self.active:
            return "sync allowed by " + ", ".join(str(w) for w in self.active)
        return "sync allowed (no window active)"

    @property
    def brief(self) -> str:
        """A short form for a narrow screen: ``blocked: deny window #0 until
        06:00 CET``; "" without a matching window."""
        if not self.matching:
            return ""
        if self.blocked_by:
            denies = [a for a in self.active if a.window.kind is WindowKind.DENY]
            if denies:
                first = denies[0]
                what = f"{first.window.kind.value} window #{first.window.index}"
                what += f" until {first.until:%H:%M %Z}"
            else:
                what = "no allow window open"
            manual = " (manual ok)" if self.manual_ok else ""
            return f"sync blocked: {what}{manual}"
        if self.active:
            first = self.active[0]
            return f"allow window #{first.window.index} until {first.until:%H:%M %Z}"
        return ""


class SyncWindowError(GitwaveError):
    """A manual sync refused by the app's sync windows; nothing was applied."""

    def __init__(self, app: str, project: str, verdict: WindowVerdict) -> None:
        self.verdict = verdict
        super().__init__(
            f"app {app}: AppProject/{project} refuses a manual sync now: "
            f"{verdict.blocked_by}; nothing was applied",
        )


def verdict(
    windows: Iterable[SyncWindow],
    *,
    now: datetime,
    app: str,
    namespace: str,
    server: str = "",
    name: str = "",
) -> WindowVerdict:
    """What ``windows`` say about syncing ``app`` at ``now`` (an aware datetime)."""
    matching = tuple(
        w for w in windows if w.matches(app=app, namespace=namespace, server=server, name=name)
    )
    if not matching:
        return WindowVerdict()
    active = tuple(
        OpenWindow(w, until) for w in matching if (until := w.open_until(now)) is not None
    )
    denies = [a for a in active if a.window.kind is WindowKind.DENY]
    if denies:
        return WindowVerdict(
            matching=matching,
            active=active,
            blocked_by=", ".join(str(d) for d in denies),
            manual_ok=all(d.window.manual_sync for d in denies),
        )
    allows = [w for w in matching if w.kind is WindowKind.ALLOW]
    if allows and not active:
        opens = min(allows, key=lambda w: w.next_open(now))
        at = opens.next_open(now)
        return WindowVerdict(
            matching=matching,
            blocked_by=(
                f"no allow window open (next: {opens.label} opens at {at:%Y-%m-%d %H:%M %Z})"
            ),
            manual_ok=any(w.manual_sync for w in allows),
        )
    return WindowVerdict(matching=matching, active=active)


def utc_now() -> datetime:
    """The current time, aware (UTC): the default clock of manual syncs."""
    return datetime.now(UTC)


def _glob(pattern: str, text: str) -> bool:
    return argo_glob(pattern, text)


def _duration_text(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def valid_schedule(schedule: str) -> bool:
    """True for a five-field cron schedule croniter reads."""
    from croniter import croniter

    return len(schedule.split()) == 5 and croniter.is_valid(schedule)


__all__ = [
    "OpenWindow",
    "SyncWindow",
    "SyncWindowError",
    "WindowKind",
    "WindowVerdict",
    "utc_now",
    "valid_schedule",
    "verdict",
]

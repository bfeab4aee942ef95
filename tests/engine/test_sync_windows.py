"""Sync windows of an AppProject (engine.sync_windows, parsed by
engine.apps.projects): which window matches which app, when it is open, and
what it says to automated and manual syncs. The time is always passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from gitwave.engine.apps.projects import parse_app_project
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import SourceRef
from gitwave.engine.sync_windows import SyncWindow, WindowVerdict, verdict


def windows(*entries: dict[str, Any]) -> tuple[SyncWindow, ...]:
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "team-a"},
        "spec": {"syncWindows": list(entries)},
    }
    return parse_app_project(doc, SourceRef("projects.yaml", 3)).sync_windows


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def say(found: tuple[SyncWindow, ...], now: str, **app: str) -> WindowVerdict:
    where = {"app": "web", "namespace": "team-a", "server": "", "name": "in-cluster"} | app
    return verdict(found, now=at(now), **where)


# Monday 2026-11-30 is the reference week.
NIGHT_DENY = {"kind": "deny", "schedule": "0 22 * * *", "duration": "8h", "applications": ["*"]}
WORK_ALLOW = {
    "kind": "allow",
    "schedule": "0 9 * * 1-5",
    "duration": "8h",
    "namespaces": ["team-*"],
}


@dataclass(frozen=True)
class Case:
    reason: str
    given: tuple[dict[str, Any], ...]
    now: str
    auto: bool
    manual: bool
    says: str = ""


CASES = [
    Case("no window: everything allowed", (), "2026-11-30T23:00", True, True),
    Case("deny open at 23:00", (NIGHT_DENY,), "2026-11-30T23:00", False, False, "deny window #0"),
    Case("deny open from its first minute", (NIGHT_DENY,), "2026-11-30T22:00", False, False),
    Case(
        "deny past midnight",
        (NIGHT_DENY,),
        "2026-12-01T05:59",
        False,
        False,
        "until 2026-12-01 06:00",
    ),
    Case("deny closed at 06:00", (NIGHT_DENY,), "2026-12-01T06:00", True, True),
    Case("deny closed by day", (NIGHT_DENY,), "2026-12-01T12:00", True, True),
    Case(
        "manualSync lets a manual sync through a deny",
        ({**NIGHT_DENY, "manualSync": True},),
        "2026-11-30T23:00",
        False,
        True,
        "manual sync allowed (manualSync)",
    ),
    Case(
        "allow open on a weekday", (WORK_ALLOW,), "2026-12-01T10:00", True, True, "allowed by allow"
    ),
    Case(
        "allow closed at night",
        (WORK_ALLOW,),
        "2026-12-01T20:00",
        False,
        False,
        "no allow window open",
    ),
    Case(
        "allow closed on Saturday",
        (WORK_ALLOW,),
        "2026-12-05T10:00",
        False,
        False,
        "opens at 2026-12-07 09:00",
    ),
    Case(
        "manualSync on a closed allow window lets manual syncs through",
        ({**WORK_ALLOW, "manualSync": True},),
        "2026-12-01T20:00",
        False,
        True,
    ),
    Case(
        "deny wins over an open allow",
        (WORK_ALLOW, {**NIGHT_DENY, "schedule": "0 9 * * *", "duration": "1h"}),
        "2026-12-01T09:30",
        False,
        False,
        "deny window #1",
    ),
    Case(
        "a deny with manualSync does not open a second deny without it",
        ({**NIGHT_DENY, "manualSync": True}, {**NIGHT_DENY, "schedule": "0 23 * * *"}),
        "2026-11-30T23:30",
        False,
        False,
    ),
    Case(
        "time zone: 22:00 in Berlin is 21:00 UTC",
        ({**NIGHT_DENY, "timeZone": "Europe/Berlin"},),
        "2026-11-30T21:30",
        False,
        False,
        "Europe/Berlin",
    ),
    Case(
        "time zone: 21:30 UTC is before 22:00 in New York",
        ({**NIGHT_DENY, "timeZone": "America/New_York"},),
        "2026-11-30T21:30",
        True,
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_what_the_windows_say_at_a_time(case: Case) -> None:
    found = say(windows(*case.given), case.now)

    assert (found.auto_allowed, found.manual_allowed) == (case.auto, case.manual), found.summary
    assert case.says in found.summary


@pytest.mark.parametrize(
    ("selector", "app", "matches"),
    [
        ({"applications": ["web-*"]}, {"app": "web-prod"}, True),
        ({"applications": ["web-*"]}, {"app": "api"}, False),
        ({"namespaces": ["team-*"]}, {"namespace": "team-b"}, True),
        ({"namespaces": ["team-*"]}, {"namespace": "ops"}, False),
        ({"clusters": ["in-cluster"]}, {"name": "in-cluster"}, True),
        ({"clusters": ["https://prod.*"]}, {"server": "https://prod.example", "name": ""}, True),
        ({"clusters": ["prod"]}, {"name": "in-cluster"}, False),
        # OR-ed by default, AND-ed with andOperator.
        ({"applications": ["web"], "namespaces": ["ops"]}, {}, True),
        ({"applications": ["web"], "namespaces": ["ops"], "andOperator": True}, {}, False),
        ({"applications": ["web"], "namespaces": ["team-a"], "andOperator": True}, {}, True),
    ],
)
def test_a_window_applies_to_the_apps_it_selects(
    selector: dict[str, Any], app: dict[str, str], matches: bool
) -> None:
    deny = {"kind": "deny", "schedule": "* * * * *", "duration": "1h", **selector}

    found = say(windows(deny), "2026-11-30T12:00", **app)

    assert found.auto_allowed is not matches


@pytest.mark.parametrize(
    ("entry", "want"),
    [
        ({"kind": "block"}, "spec.syncWindows[0].kind must be allow or deny"),
        ({"schedule": "every night"}, "spec.syncWindows[0].schedule: 'every night' is not"),
        ({"schedule": "0 22 * *"}, "is not a five-field cron schedule"),
        ({"duration": "one hour"}, "spec.syncWindows[0].duration"),
        ({"duration": None}, "spec.syncWindows[0].duration is required"),
        ({"timeZone": "Mars/Olympus"}, "spec.syncWindows[0].timeZone: unknown time zone"),
        ({"applications": []}, "it matches no app"),
        ({"someday": True}, "spec.syncWindows[0].someday: unknown sync window field"),
    ],
)
def test_a_malformed_window_is_refused_naming_file_and_field(
    entry: dict[str, Any], want: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        windows({**NIGHT_DENY, **entry})

    assert "projects.yaml:3" in str(caught.value)
    assert want in str(caught.value)

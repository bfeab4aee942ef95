"""What ``--controller`` asks of an app object, and how its status reads (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, AppObject
from gitwave.engine.controller.requests import (
    REQUESTED_AT,
    SKIP_RECONCILE,
    app_row,
    is_suspended,
    operation_revision,
    reconcile_requested,
    refresh_ask,
    refresh_requested,
    rollback_ask,
    source_refresh_asked,
    suspend_ask,
    sync_ask,
)
from gitwave.engine.errors import GitwaveError

NOW = "2026-12-04T05:00:00Z"


def argo(body: dict[str, Any] | None = None) -> AppObject:
    return AppObject(ARGO_KIND, "argocd", "shop", 3, {"metadata": {}, "spec": {}, **(body or {})})


def flux(body: dict[str, Any] | None = None) -> AppObject:
    return AppObject(FLUX_KIND, "flux-system", "feed", 2, {"metadata": {}, **(body or {})})


HISTORY = {
    "status": {
        "history": [
            {"id": 0, "revision": "a" * 40, "initiatedBy": {"automated": True}},
            {"id": 1, "revision": "b" * 40, "initiatedBy": {"username": "alice"}},
        ]
    }
}


@dataclass
class AskCase:
    reason: str
    obj: AppObject
    want: dict[str, Any]
    token: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)


SYNC_CASES = [
    AskCase(
        "argocd app sync sets the operation",
        argo(),
        {"operation": {"sync": {}, "initiatedBy": {"username": "bob"}}},
    ),
    AskCase(
        "argocd app sync --revision --prune",
        argo(),
        {
            "operation": {
                "sync": {"revision": "v2", "prune": True},
                "initiatedBy": {"username": "bob"},
            }
        },
        kwargs={"revision": "v2", "prune": True},
    ),
    AskCase(
        "flux reconcile sets requestedAt and waits for it",
        flux(),
        {"metadata": {"annotations": {REQUESTED_AT: NOW}}},
        token=NOW,
    ),
]


@pytest.mark.parametrize("case", SYNC_CASES, ids=lambda c: c.reason)
def test_sync_asks_as_the_upstream_clients_do(case: AskCase) -> None:
    ask = sync_ask(case.obj, user="bob", now=NOW, **case.kwargs)
    assert ask.patch == case.want
    assert ask.token == case.token


def test_a_flux_sync_cannot_name_a_revision() -> None:
    with pytest.raises(GitwaveError, match="syncs its source's revision"):
        sync_ask(flux(), user="bob", now=NOW, revision="v2")


SUSPEND_CASES = [
    AskCase("argo pause", argo(), {"metadata": {"annotations": {SKIP_RECONCILE: "true"}}}),
    AskCase(
        "argo resume removes the annotation",
        argo(),
        {"metadata": {"annotations": {SKIP_RECONCILE: None}}},
        kwargs={"suspended": False},
    ),
    AskCase("flux suspend", flux(), {"spec": {"suspend": True}}),
    AskCase(
        "flux resume also asks for a reconcile",
        flux(),
        {"spec": {"suspend": False}, "metadata": {"annotations": {REQUESTED_AT: NOW}}},
        token=NOW,
        kwargs={"suspended": False},
    ),
]


@pytest.mark.parametrize("case", SUSPEND_CASES, ids=lambda c: c.reason)
def test_suspend_and_resume(case: AskCase) -> None:
    ask = suspend_ask(case.obj, now=NOW, **{"suspended": True, **case.kwargs})
    assert ask.patch == case.want
    assert ask.token == case.token


def test_suspended_reads_each_tools_own_switch() -> None:
    assert is_suspended(argo({"metadata": {"annotations": {SKIP_RECONCILE: "true"}}}))
    assert not is_suspended(argo({"metadata": {"annotations": {SKIP_RECONCILE: "false"}}}))
    assert is_suspended(flux({"spec": {"suspend": True}}))
    assert not is_suspended(flux({"spec": {"suspend": "yes"}}))


def test_a_reconcile_request_is_pending_until_status_says_it_was_handled() -> None:
    asked = {"metadata": {"annotations": {REQUESTED_AT: "t1"}}}
    assert reconcile_requested(flux(asked)) == "t1"
    assert reconcile_requested(flux({**asked, "status": {"lastHandledReconcileAt": "t1"}})) == ""
    assert reconcile_requested(flux({**asked, "status": {"lastHandledReconcileAt": "t0"}})) == "t1"
    assert reconcile_requested(argo(asked)) == ""


def test_rollback_syncs_a_history_entrys_revision() -> None:
    ask = rollback_ask(argo(HISTORY), 0, user="bob")
    operation = ask.patch["operation"]
    assert operation["sync"] == {"revision": "a" * 40}
    assert operation["initiatedBy"] == {"username": "bob"}
    # No id: the entry before the last, as argocd app rollback.
    assert rollback_ask(argo(HISTORY), None, user="bob").patch["operation"]["sync"] == {
        "revision": "a" * 40
    }
    obj = argo({**HISTORY, "operation": ask.patch["operation"]})
    assert operation_revision(obj) == "a" * 40


@dataclass
class Refused:
    reason: str
    obj: AppObject
    history_id: int | None
    message: str


REFUSED = [
    Refused("unknown id", argo(HISTORY), 7, "no history entry 7 (ids: 0, 1)"),
    Refused("nothing earlier", argo(), None, "no earlier history entry"),
    Refused(
        "automated apps, as Argo CD",
        argo({**HISTORY, "spec": {"syncPolicy": {"automated": {}}}}),
        0,
        "while automated sync is on",
    ),
    Refused("flux", flux(), None, "Flux has no rollback"),
]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.reason)
def test_rollback_refusals_name_the_app(case: Refused) -> None:
    with pytest.raises(GitwaveError, match=re.escape(case.message)) as raised:
        rollback_ask(case.obj, case.history_id, user="bob")
    assert case.obj.app_id in str(raised.value)


def test_rows_read_argo_and_flux_status() -> None:
    row = app_row(
        argo(
            {
                "spec": {"syncPolicy": {"automated": {"prune": True}}},
                "status": {
                    "sync": {"status": "Synced", "revision": "c" * 40},
                    "health": {"status": "Healthy"},
                    "operationState": {"phase": "Succeeded"},
                },
            }
        )
    )
    assert (row.sync, row.health, row.revision, row.automated, row.operation) == (
        "Synced",
        "Healthy",
        "c" * 40,
        True,
        "Succeeded",
    )
    pending = app_row(argo({"operation": {"sync": {}}}))
    assert pending.operation == "Requested"
    ready = app_row(
        flux(
            {
                "status": {
                    "lastAppliedRevision": "main@sha1:" + "d" * 40,
                    "conditions": [
                        {"type": "Ready", "status": "False", "reason": "HealthCheckFailed"}
                    ],
                }
            }
        )
    )
    assert (ready.sync, ready.health, ready.revision) == ("OutOfSync", "Degraded", "d" * 40)


@dataclass(frozen=True)
class RefreshCase:
    reason: str
    given: AppObject
    want: bool


@pytest.mark.parametrize(
    "case",
    [
        RefreshCase("an Argo app as it is", argo(), False),
        RefreshCase("argocd app sync", argo({"operation": {"sync": {}}}), True),
        RefreshCase(
            "argocd app get --refresh",
            argo({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}),
            True,
        ),
        RefreshCase("a Flux app as it is", flux(), False),
        RefreshCase(
            "flux reconcile",
            flux({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t1"}}}),
            True,
        ),
        RefreshCase(
            "a Flux request already handled",
            flux(
                {
                    "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "t1"}},
                    "status": {"lastHandledReconcileAt": "t1"},
                }
            ),
            False,
        ),
    ],
    ids=lambda case: case.reason,
)
def test_which_requests_resolve_the_source_anew(case: RefreshCase) -> None:
    assert source_refresh_asked(case.given) is case.want


def refresh(value: object) -> AppObject:
    return argo({"metadata": {"annotations": {"argocd.argoproj.io/refresh": value}}})


@pytest.mark.parametrize(
    ("given", "want"),
    [
        (argo(), ""),
        (refresh("normal"), "normal"),
        (refresh("hard"), "hard"),
        # As Argo CD's IsRefreshRequested: any other value is a normal refresh.
        (refresh("refreshing"), "normal"),
        (refresh(""), "normal"),
        (flux({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}}), ""),
    ],
)
def test_the_refresh_asked_for_reads_as_argo_cd_reads_it(given: AppObject, want: str) -> None:
    assert refresh_requested(given) == want


def test_a_refresh_is_asked_with_the_annotation_argocd_sets() -> None:
    normal = refresh_ask(argo(), hard=False, now=NOW)
    assert normal.patch == {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
    hard = refresh_ask(argo(), hard=True, now=NOW)
    assert hard.patch == {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}}
    # A Flux app compares only by applying: a reconcile request, waited for by its token.
    flux_ask = refresh_ask(flux(), hard=False, now=NOW)
    assert flux_ask.patch == {"metadata": {"annotations": {REQUESTED_AT: NOW}}}
    assert flux_ask.token == NOW
